"""Stand-in X, Mastodon and Bluesky APIs on 127.0.0.1, for ``council demo`` and the tests.

Each is a small ASGI app in its service's JSON shapes, served by uvicorn in a thread on a
free loopback port. Council's real collectors (tweepy, Mastodon.py, atproto) are pointed
at them through their base-URL settings, so the demo shows posts travelling the same
path as in a meeting: API, collector, queue. Nothing here reaches the network.
"""

from __future__ import annotations

from typing import Any

from council.sandbox.bluesky import FakeBluesky
from council.sandbox.mastodon import FakeMastodon
from council.sandbox.x import SandboxX

__all__ = ["Sandbox"]

MASTODON_DOMAIN = "jun.social"
BLUESKY_ACCOUNT = "ayuntamiento-jun.bsky.social"
BLUESKY_PASSWORD = "demo-demo-demo-demo"  # noqa: S105 - the stand-in's own, nothing real
MASTODON_TOKEN = "sandbox-mastodon-token"  # noqa: S105
X_TOKEN = "sandbox-x-token"  # noqa: S105


class Sandbox:
    """The three stand-ins together, and the settings that point Council at them."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self.x = SandboxX()
        self.mastodon = FakeMastodon(MASTODON_DOMAIN, title="Jun Social")
        self.bluesky = FakeBluesky()

    def start(self) -> Sandbox:
        try:
            self.x.start()
            self.mastodon.start()
            self.bluesky.start()
        except BaseException:
            self.stop()
            raise
        self.mastodon.require_token(MASTODON_TOKEN)
        self.bluesky.add_account(
            BLUESKY_ACCOUNT, display_name="Ayuntamiento de Jun", app_password=BLUESKY_PASSWORD
        )
        return self

    def stop(self) -> None:
        self.x.stop()
        self.mastodon.stop()
        self.bluesky.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "x_bearer_token": X_TOKEN,
            "x_api_base_url": self.x.base_url,
            "x_poll_seconds": self.poll_seconds,
            "mastodon_instances": self.mastodon.base_url,
            "mastodon_token": MASTODON_TOKEN,
            "mastodon_poll_seconds": self.poll_seconds,
            "bluesky_base_url": self.bluesky.base_url,
            "bluesky_handle": BLUESKY_ACCOUNT,
            "bluesky_app_password": BLUESKY_PASSWORD,
            "bluesky_poll_seconds": self.poll_seconds,
        }

    def post(self, source: str, *, name: str, handle: str, text: str) -> None:
        """A resident posts on a stand-in: ``@user`` on X, ``@user@server`` on Mastodon,
        ``@user.bsky.social`` on Bluesky."""
        handle = handle.lstrip("@")
        if source == "x":
            self.x.post(text, username=handle, name=name)
        elif source == "mastodon":
            user, _sep, server = handle.partition("@")
            self.mastodon.post(text, username=user, display_name=name, domain=server or None)
        elif source == "bluesky":
            self.bluesky.post(text, handle=handle, display_name=name)
        else:
            raise ValueError(f"no stand-in for {source!r}")
