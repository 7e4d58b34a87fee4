"""Collectors: bring posts carrying the meeting's hashtag into the same queue as the web form.

Every source fits one shape (:class:`council.collectors.base.Collector`): it starts when
a meeting goes live and stops when it ends, keeps a resume point per meeting and source,
reports its health to moderators, and hands posts to :func:`council.intake.collect`,
which ignores any post it has seen before.
"""
