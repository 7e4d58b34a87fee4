"""A fake Bluesky for tests: ``council.sandbox.bluesky.FakeBluesky`` as a fixture.

The fake ships inside the package (``council demo`` runs it too); this plugin starts one
per test on a free 127.0.0.1 port, with the town's account able to log in. The real
atproto client talks to it through ``Client(base_url=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from council.sandbox.bluesky import BlueskyRequest, FakeBluesky

__all__ = ["TOWN_HANDLE", "TOWN_PASSWORD", "BlueskyRequest", "FakeBluesky", "fake_bluesky"]

TOWN_HANDLE = "ayto-jun.bsky.social"
TOWN_PASSWORD = "abcd-efgh-ijkl-mnop"


@pytest.fixture
def fake_bluesky() -> Iterator[FakeBluesky]:
    with FakeBluesky() as fake:
        fake.add_account(
            TOWN_HANDLE, display_name="Ayuntamiento de Jun", app_password=TOWN_PASSWORD
        )
        yield fake
