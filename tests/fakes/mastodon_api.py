"""Fake Mastodon servers for tests: ``council.sandbox.mastodon.FakeMastodon`` as fixtures.

The fake ships inside the package (``council demo`` runs it too); this plugin starts one
per test on a free 127.0.0.1 port. The real Mastodon.py client talks to it through its
``api_base_url``, exactly as Council's collector and reply sender do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from council.sandbox.mastodon import FakeMastodon, MastodonRequest

__all__ = ["FakeMastodon", "MastodonRequest", "fake_mastodon", "other_mastodon"]


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    """The town's own server, ``jun.social``."""
    with FakeMastodon("jun.social", heartbeat_seconds=0.2) as fake:
        yield fake


@pytest.fixture
def other_mastodon() -> Iterator[FakeMastodon]:
    """A large public server, ``mastodon.example``."""
    with FakeMastodon("mastodon.example", title="Mastodon Example") as fake:
        yield fake
