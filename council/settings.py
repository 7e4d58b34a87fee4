"""One typed place for every setting; each is read from a ``COUNCIL_*`` variable or ``.env``.

Every field here is documented in README.md (a test checks that), so a clerk
can configure Council without reading code.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")
_PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
_BASE_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def parse_rate(text: str) -> tuple[int, int]:
    """``"5/minute"`` -> ``(5, 60)``: how many requests in how many seconds."""
    match = _RATE.match(text)
    if not match:
        raise ValueError(
            f"rate must look like '5/minute' (per second, minute or hour), got {text!r}"
        )
    return int(match.group(1)), _PERIOD_SECONDS[match.group(2)]


def split_urls(text: str) -> tuple[str, ...]:
    """``"https://a.social/, https://b.social"`` -> both, without trailing slashes or repeats."""
    urls = (part.strip().rstrip("/") for part in text.split(","))
    return tuple(dict.fromkeys(url for url in urls if url))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COUNCIL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("council-data"),
        description="Folder for the SQLite database and the generated secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file `council.db` in the data folder.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for several workers (`redis://host:6379/0`): events committed by one "
        "reach the websockets of all at once. Empty: one process, or workers that learn of each "
        "other's events from the database within a second.",
    )
    event_tail_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each worker reads the event log for changes made elsewhere (the "
        "CLI, other workers); with Redis this is only the safety net.",
    )
    lease_seconds: float = Field(
        default=15.0,
        ge=1,
        description="Collectors, the recorder and replies run in one worker at a time; when "
        "that worker dies another takes over within this many seconds.",
    )
    max_body_bytes: int = Field(
        default=65_536,
        gt=0,
        description="Request bodies larger than this are refused with 413 before anything "
        "reads them.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; empty: generated once and kept in the data folder.",
    )
    host: str = Field(default="127.0.0.1", description="Address `council serve` listens on.")
    port: int = Field(default=8000, description="Port `council serve` listens on.")
    public_url: str | None = Field(
        default=None,
        description="Address residents use to reach Council (for the QR code on the screen); "
        "empty means the address the screen itself was opened with.",
    )
    submission_rate_limit: str = Field(
        default="5/minute", description="Questions each client may send, as `N/second|minute|hour`."
    )
    login_rate_limit: str = Field(
        default="10/minute", description="Login attempts per client and user name."
    )
    vote_rate_limit: str = Field(
        default="30/minute", description="'Me too' votes each client may cast, as `N/minute`."
    )
    vote_broadcast_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Vote counts go out to screens and phones at most once per this many "
        "seconds per meeting, however many votes arrive.",
    )
    show_delay_seconds: int = Field(
        default=0,
        ge=0,
        le=300,
        description="Default seconds between a moderator's show and the chamber screen (a "
        "meeting may set its own); 0: at once.",
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (turn on behind TLS)."
    )
    auto_migrate: bool = Field(
        default=True, description="Upgrade the database schema when the app starts."
    )
    ws_queue_size: int = Field(
        default=256, description="Messages a websocket client may fall behind before it is dropped."
    )
    ws_ping_seconds: float = Field(
        default=15.0, description="Seconds between keep-alive pings on idle websockets."
    )
    resync_limit: int = Field(
        default=500,
        description="Most missed events replayed on reconnect; further behind gets a snapshot.",
    )
    max_question_length: int = Field(default=500, description="Longest question text accepted.")
    max_name_length: int = Field(default=80, description="Longest author name accepted.")
    default_language: str = Field(
        default="en",
        description="Language (es or en) when neither ?lang=, the language cookie nor the "
        "browser's Accept-Language picks one; also the chamber screen's for meetings "
        "without a language of their own.",
    )

    priority_verified_weight: float = Field(
        default=5.0, description="Priority points for a question from a verified resident."
    )
    priority_asked_weight: float = Field(
        default=3.0, description="Priority points for each other person who asked the same."
    )
    priority_vote_weight: float = Field(default=1.0, description="Priority points per 'me too'.")
    priority_age_weight: float = Field(
        default=0.2, description="Priority points per minute a question has waited."
    )
    duplicate_threshold: float = Field(
        default=80.0,
        ge=50,
        le=100,
        description="Similarity (0-100) from which an open question is listed as a likely "
        "duplicate of a new one.",
    )
    flag_long_characters: int = Field(
        default=280, ge=1, description="Questions longer than this are flagged 'long'."
    )

    x_bearer_token: str | None = Field(
        default=None,
        description="X API bearer token (app-only); collecting hashtag posts is on when set.",
    )
    x_api_base_url: str = Field(
        default="https://api.x.com",
        description="Where the X API is: the official host, a proxy, or a fake in tests.",
    )
    x_poll_seconds: float = Field(default=5.0, description="Seconds between X searches.")
    x_stream: bool = Field(
        default=False,
        description="Use X's filtered stream instead of polling (needs an access level with it).",
    )
    x_start_minutes_before: float = Field(
        default=0.0,
        description="Start collecting this many minutes before a scheduled meeting's start time.",
    )
    x_cost_cap: float | None = Field(
        default=None,
        description="Default per-meeting cap, in US dollars, on estimated X read costs; polling "
        "pauses there. Empty: no cap.",
    )
    x_post_read_cost: float = Field(default=0.005, description="Dollars X charges per post read.")
    x_user_read_cost: float = Field(default=0.010, description="Dollars X charges per user read.")
    x_replies: bool = Field(
        default=False, description="Reply on X with a link when a tweeted question is answered."
    )
    x_consumer_key: str | None = Field(default=None, description="X app's API key, for replies.")
    x_consumer_secret: str | None = Field(
        default=None, description="X app's API key secret, for replies."
    )
    x_access_token: str | None = Field(
        default=None, description="Access token of the account that replies."
    )
    x_access_token_secret: str | None = Field(
        default=None, description="Access token secret of the account that replies."
    )

    mastodon_instances: str = Field(
        default="",
        description="Mastodon servers to collect meeting hashtags from, as comma-separated base "
        "URLs (the town's own first); a meeting can list its own. Empty: no Mastodon.",
    )
    mastodon_token: str | None = Field(
        default=None,
        description="Access token of the town's account on the first Mastodon server: read "
        "there with it, stream and reply. Other servers are read without it.",
    )
    mastodon_poll_seconds: float = Field(
        default=10.0, description="Seconds between reads of each Mastodon hashtag timeline."
    )
    mastodon_stream: bool = Field(
        default=False,
        description="Also stream the hashtag from the first server (needs the token) so posts "
        "arrive at once; polling continues to fill any gap.",
    )
    mastodon_replies: bool = Field(
        default=False,
        description="Reply on Mastodon with a link when a tooted question is answered.",
    )
    bluesky_base_url: str = Field(
        default="https://bsky.social",
        description="Where the town's Bluesky account lives (its PDS or bsky.social), or a fake.",
    )
    bluesky_handle: str | None = Field(
        default=None,
        description="Handle of the town's Bluesky account; collecting is on when it and the app "
        "password are set (Bluesky's search needs a login).",
    )
    bluesky_app_password: str | None = Field(
        default=None, description="An app password of that account (Settings > App passwords)."
    )
    bluesky_poll_seconds: float = Field(
        default=10.0, description="Seconds between Bluesky searches."
    )
    bluesky_replies: bool = Field(
        default=False,
        description="Reply on Bluesky with a link when a posted question is answered.",
    )

    rtmp_host: str = Field(
        default="127.0.0.1",
        description="Interface the recorder listens on for RTMP and SRT. ffmpeg's RTMP listener "
        "ignores the stream key: bind it to a trusted network only.",
    )
    rtmp_port: int = Field(default=1935, description="Port the recorder listens on for RTMP.")
    srt_port: int = Field(default=8890, description="Port the recorder listens on for SRT.")
    srt_passphrase: str | None = Field(
        default=None,
        description="SRT passphrase (10-79 characters) that encoders must use; recommended.",
    )
    ingest_public_host: str | None = Field(
        default=None,
        description="The host name encoders use to reach the recorder, shown in the ingest "
        "address (default: the listening interface).",
    )
    recording_low_disk_gb: float = Field(
        default=5.0, description="Warn moderators when free disk space drops below this."
    )
    record_when_live: Literal["rtmp", "srt"] | None = Field(
        default=None,
        description="Record every meeting automatically from when it goes live until it ends, "
        "listening with this protocol. Empty: recordings are started by hand.",
    )
    recording_latency_seconds: float = Field(
        default=0.6,
        description="How long the picture takes from the camera to the recorder; calibrate it "
        "once by filming a clock on the chamber screen (replay offsets are shifted by it).",
    )

    @field_validator("record_when_live", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value in ("", "off", "none") else value

    @field_validator("submission_rate_limit", "login_rate_limit", "vote_rate_limit")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("mastodon_instances")
    @classmethod
    def _instances_are_urls(cls, value: str) -> str:
        for url in split_urls(value):
            if not _BASE_URL.match(url):
                raise ValueError(
                    f"COUNCIL_MASTODON_INSTANCES: {url!r} is not a server address; write base "
                    "URLs separated by commas, like https://jun.social,https://mastodon.social"
                )
        return value

    @model_validator(mode="after")
    def _replies_need_credentials(self) -> Settings:
        needs = {
            "x_replies": (
                "x_consumer_key",
                "x_consumer_secret",
                "x_access_token",
                "x_access_token_secret",
                "public_url",
            ),
            "mastodon_replies": ("mastodon_instances", "mastodon_token", "public_url"),
            "bluesky_replies": ("bluesky_handle", "bluesky_app_password", "public_url"),
        }
        for switch, names in needs.items():
            if not getattr(self, switch):
                continue
            missing = [f"COUNCIL_{name.upper()}" for name in names if not getattr(self, name)]
            if missing:
                raise ValueError(
                    f"COUNCIL_{switch.upper()} is on, so these must be set too: "
                    + ", ".join(missing)
                )
        return self

    @property
    def mastodon_instance_list(self) -> tuple[str, ...]:
        return split_urls(self.mastodon_instances)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'council.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept, so logins survive restarts."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()
