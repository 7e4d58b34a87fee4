"""The sources that are switched on, each a factory of collectors (see base.py).

X collects when its bearer token is set; Mastodon when there are servers to read (the
setting, or a meeting's own list); Bluesky when the town's handle and app password are
set, since its search answers logged-in accounts only.
"""

from __future__ import annotations

from council.collectors.base import CollectorFactory
from council.collectors.bluesky import bluesky_factory
from council.collectors.mastodon import mastodon_collector
from council.collectors.x import x_collector
from council.collectors.x_stream import stream_factory
from council.services import Council


def collector_factories(council: Council) -> dict[str, CollectorFactory]:
    settings = council.settings
    factories: dict[str, CollectorFactory] = {}
    if settings.x_bearer_token:
        factories["x"] = stream_factory(council) if settings.x_stream else x_collector
    # A meeting may list its own servers even when the setting lists none.
    factories["mastodon"] = mastodon_collector
    if settings.bluesky_handle and settings.bluesky_app_password:
        factories["bluesky"] = bluesky_factory(council)
    return factories
