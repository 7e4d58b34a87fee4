"""Shared ways to make meetings, questions and moderators in tests, through the real domain code."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import imageio_ffmpeg
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import council.meetings
import council.moderation.accounts
from council.app import create_app
from council.db import Database
from council.intake import Limits, check_question, submit
from council.meetings import create_meeting, start_meeting
from council.models import CollectorState, Event, Meeting, Recording, Submission
from council.moderation import actions
from council.moderation.accounts import add_user, create_token
from council.settings import Settings

if TYPE_CHECKING:
    # A type only: the module is a pytest plugin, registered (and rewritten) by conftest.
    from council.sandbox.bluesky import FakeBluesky
    from council.sandbox.mastodon import FakeMastodon
    from tests.fakes.x_api import FakeX

PASSWORD = "correct-horse-battery"
T = TypeVar("T")


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail with its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; last answer: {value!r}")
        time.sleep(every)


def receive_until(ws: Any, predicate: Callable[[dict[str, Any]], bool], limit: int = 50) -> list:
    """Websocket messages up to and including the first that matches (pings skipped)."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == "ping":
            continue
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"no matching message in {seen}")


def make_meeting(db: Database, slug: str = "pleno", *, live: bool = True, **kwargs: Any) -> str:
    db.run_write(
        create_meeting,
        slug=slug,
        title=kwargs.pop("title", "Pleno de Jun"),
        hashtags=kwargs.pop("hashtags", ["PlenoJun"]),
        **kwargs,
    )
    if live:
        db.run_write(start_meeting, slug=slug)
    return slug


def make_question(
    db: Database,
    slug: str = "pleno",
    *,
    name: str = "Ana García",
    text: str = "¿Cuándo arreglan la farola de la calle Mayor?",
    neighborhood: str | None = None,
    status: str = "pending",
) -> Submission:
    question = check_question(name=name, text=text, neighborhood=neighborhood, limits=Limits())
    sub, _events = db.run_write(submit, slug=slug, question=question)
    path = {
        "pending": [],
        "approved": ["approve"],
        "on_screen": ["approve", "show"],
        "answered": ["approve", "show", "answer"],
        "rejected": ["reject"],
    }[status]
    for action in path:
        sub, _events = db.run_write(
            getattr(actions, action), slug=slug, submission_id=sub.id, actor="factory"
        )
    return sub


def make_user(db: Database, username: str = "mod", role: str = "moderator") -> str:
    db.run_write(add_user, username=username, password=PASSWORD, role=role)
    return username


def make_token(db: Database, username: str = "mod") -> str:
    token, _events = db.run_write(create_token, username=username)
    return token


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def log_in(client: TestClient, username: str = "mod", password: str = PASSWORD) -> str:
    """Log in through the real form; return the CSRF token for later requests."""
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)


# -- running the CLI as a clerk does ------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def council_env(data_dir: Path) -> dict[str, str]:
    # The developer's own COUNCIL_* settings (a real database above all) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    env["COUNCIL_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# -- the archive: a finished recording, and events at known moments -----------------------------

T0 = datetime(2026, 11, 24, 19, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def recorded(db: Database, settings: Settings, *, mp4_bytes: bytes = b"\0" * 4096) -> None:
    """A finished recording of two parts (as the recorder leaves it), with its files."""
    folder = settings.data_dir / "recordings" / "pleno" / "x"
    folder.mkdir(parents=True)
    (folder / "meeting.mp4").write_bytes(mp4_bytes)
    (folder / "poster.jpg").write_bytes(b"\xff\xd8\xff")
    with db.session() as session, session.begin():
        session.add(
            Recording(
                meeting_id=1,
                desired="stopped",
                status="ready",
                mode="rtmp",
                folder="recordings/pleno/x",
                mp4="recordings/pleno/x/meeting.mp4",
                poster="recordings/pleno/x/poster.jpg",
                duration_s=90.0,
                started_at=at(0),
                parts=[
                    {"index": 0, "anchor": at(0.6).isoformat(), "duration_s": 60.0},
                    {"index": 1, "anchor": at(100.6).isoformat(), "duration_s": 30.0},
                ],
            )
        )


def recorded_media(folder: Path, seconds: float, *, poster_at: float) -> Path:
    """A real H.264/AAC MP4 of ``seconds`` (test pattern and tone, faststart) and a poster
    frame in ``folder``, as a finished recording leaves them; made with imageio-ffmpeg's
    ffmpeg."""
    video = folder / "meeting.mp4"
    common = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    subprocess.run(
        [
            *common,
            *("-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(video)),
        ],
        check=True,
        timeout=60,
    )
    poster = folder / "poster.jpg"
    subprocess.run(
        [*common, "-y", "-ss", str(poster_at), "-i", str(video), "-frames:v", "1", str(poster)],
        check=True,
        timeout=30,
    )
    return folder


def add_ready_recording(server: LiveServer, media: Path, *, seconds: float) -> None:
    """A finished one-part recording of the live meeting, with ``media``'s files, whose
    media time 0 is T0: the part's anchor is when that frame reached the recorder, the
    recording latency after the camera saw it."""
    folder = server.data_dir / "recordings" / LIVE_SLUG / "test"
    folder.mkdir(parents=True)
    for name in ("meeting.mp4", "poster.jpg"):
        (folder / name).write_bytes((media / name).read_bytes())
    latency = server.app.state.council.settings.recording_latency_seconds
    with server.db.session() as session, session.begin():
        session.add(
            Recording(
                meeting_id=session.scalar(select(Meeting.id).where(Meeting.slug == LIVE_SLUG)),
                desired="stopped",
                status="ready",
                mode="rtmp",
                folder=f"recordings/{LIVE_SLUG}/test",
                mp4=f"recordings/{LIVE_SLUG}/test/meeting.mp4",
                poster=f"recordings/{LIVE_SLUG}/test/poster.jpg",
                duration_s=seconds,
                started_at=at(0),
                parts=[{"index": 0, "anchor": at(latency).isoformat(), "duration_s": seconds}],
            )
        )


def happened_at(db: Database, event_type: str, seconds: float, nth: int = 0) -> None:
    """Put an event at a known moment (the test cannot wait real minutes)."""
    with db.session() as session, session.begin():
        events = session.query(Event).filter(Event.type == event_type).order_by(Event.seq).all()
        session.execute(
            update(Event).where(Event.id == events[nth].id).values(created_at=at(seconds))
        )


# -- the X collector against the fake X API -----------------------------------------------------


def x_settings(tmp_path: Path, fake_x: FakeX, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "x_bearer_token": "app-bearer-token",
        "x_api_base_url": fake_x.base_url,
        "x_poll_seconds": 0.05,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running(settings: Settings, *, meeting: bool = True) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app with its lifespan running (so its collectors run), a live meeting if asked."""
    app = create_app(settings)
    if meeting and not questions(app.state.council.db) and not _has_meeting(app):
        make_meeting(app.state.council.db)
    with TestClient(app) as client:
        yield app, client


def _has_meeting(app: FastAPI) -> bool:
    from council.meetings import list_meetings

    return bool(app.state.council.db.run_read(list_meetings))


def questions(db: Database) -> list[Submission]:
    with db.session() as session:
        return list(session.scalars(select(Submission).order_by(Submission.id)).all())


def collector(db: Database, source: str = "x") -> CollectorState | None:
    with db.session() as session:
        return session.scalar(select(CollectorState).where(CollectorState.source == source))


# -- the Mastodon and Bluesky collectors against their fakes -------------------------------------


def mastodon_settings(tmp_path: Path, *servers: FakeMastodon, **overrides: Any) -> Settings:
    """Collect from these fake servers (the first is the town's own, with its token)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "mastodon_instances": ",".join(s.base_url for s in servers),
        "mastodon_token": "town-token",
        "mastodon_poll_seconds": 0.05,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def bluesky_settings(tmp_path: Path, fake: FakeBluesky, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "bluesky_base_url": fake.base_url,
        "bluesky_handle": "ayto-jun.bsky.social",
        "bluesky_app_password": "abcd-efgh-ijkl-mnop",
        "bluesky_poll_seconds": 0.05,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def act_live(client: TestClient, app: FastAPI, fn: Callable[..., T], **kwargs: Any) -> T:
    """A domain write through the running app's own writer, as a request makes it.

    While collectors write every few milliseconds, a second writer (``db.run_write`` on
    the test thread) would only compete with them for SQLite's lock.
    """
    council = app.state.council
    assert client.portal is not None, "inside `with TestClient(app)` only"
    result: T = client.portal.call(functools.partial(council.act, fn, **kwargs))
    return result


def timeline_reads(fake: FakeMastodon) -> list[Any]:
    return fake.requests_to("/api/v1/timelines/tag/")


def bluesky_searches(fake: FakeBluesky) -> list[Any]:
    return fake.requests_to("app.bsky.feed.searchPosts")


def searches(fake_x: FakeX) -> list[Any]:
    return [r for r in fake_x.requests if r.path == "/2/tweets/search/recent"]


# -- the real app under uvicorn, for browser and socket tests ---------------------------------

LIVE_SLUG = "pleno"
LIVE_TITLE = "Pleno de Jun"
LIVE_MODERATOR = "mod"
LIVE_PASSWORD = "correct-horse-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A Council app under uvicorn in a thread; `start` again makes a new app on the same data."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        # Extra settings for the next start, e.g. the X collector pointed at the fake X API.
        self.overrides: dict[str, Any] = {}

    def settings(self) -> Settings:
        # Everything explicit, so COUNCIL_* variables or a .env of the machine cannot leak in.
        values: dict[str, Any] = {
            "data_dir": self.data_dir,
            "database_url": f"sqlite:///{(self.data_dir / 'council.db').resolve()}",
            "submission_rate_limit": "1000/minute",
            "login_rate_limit": "1000/minute",
        }
        return Settings(_env_file=None, **{**values, **self.overrides})

    @property
    def db(self) -> Any:
        return self.app.state.council.db

    def start(self) -> None:
        assert self._server is None, "already running"
        self.app = create_app(self.settings())
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            ws_per_message_deflate=False,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"uvicorn took over 20 s to start on port {self.port}")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's event loop (where the hub lives) and return its result."""
        assert self._server is not None and self._server.servers, "not running"
        loop = self._server.servers[0].get_loop()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        alive = self._thread.is_alive()
        self._server, self._thread = None, None
        if alive:
            raise RuntimeError("uvicorn did not stop within 15 s")

    # -- data through the domain layer, on the same database ----------------------------------

    def write(self, fn: Any, **kwargs: Any) -> Any:
        result, _events = self.db.run_write(fn, **kwargs)
        return result

    def moderator_token(self) -> str:
        token: str = self.write(council.moderation.accounts.create_token, username=LIVE_MODERATOR)
        return token

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def submit(self, *, name: str, text: str, neighborhood: str | None = None) -> dict[str, Any]:
        """A question through the public API, as a phone sends it: ``{id, status, track_url}``."""
        body = {"name": name, "text": text}
        if neighborhood is not None:
            body["neighborhood"] = neighborhood
        with self.api() as client:
            response = client.post(f"/api/meetings/{LIVE_SLUG}/submissions", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def act(self, token: str, submission_id: int, action: str) -> dict[str, Any]:
        """A moderator action through the API with a bearer token."""
        with self.api(token) as client:
            url = f"/api/meetings/{LIVE_SLUG}/submissions/{submission_id}/{action}"
            response = client.post(url)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def state(self) -> dict[str, Any]:
        """The public state of the meeting: ``{meeting, seq, on_screen, approved}``."""
        with self.api() as client:
            response = client.get(f"/api/meetings/{LIVE_SLUG}/state")
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state


# -- PostgreSQL and Redis: the city-scale path, on the services these machines run -----------

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(message: str) -> None:
    """Skip where a service is missing, but never in CI: there these tests must run."""
    import pytest

    if in_ci():
        pytest.fail(message + " (CI=true: these tests must run, not skip)")
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"council_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        skip_or_fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc.orig}); start it "
            "(127.0.0.1:5432, trust auth, database test) or set TEST_POSTGRES_URL"
        )
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_available() -> None:
    """Skip (or, in CI, fail) when the test Redis does not answer."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        skip_or_fail(
            f"Redis is not reachable at {REDIS_TEST_URL} ({exc}); start it (127.0.0.1:6379) "
            "or set TEST_REDIS_URL"
        )
    finally:
        client.close()


class Worker:
    """One `council serve` process: a worker of a cluster sharing a database and Redis."""

    def __init__(self, data_dir: Path, env: dict[str, str], port: int | None = None) -> None:
        import subprocess
        import sys

        # A given port: a restart where the browsers already are (tests/e2e/test_browser_crash.py).
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"worker-{self.port}-{time.monotonic_ns()}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "council.cli", "serve", "--port", str(self.port)],
                cwd=data_dir,
                env=council_env(data_dir) | env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base_url + "/api/meetings", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"worker did not start in 30 s:\n{self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except Exception:
                self.kill()
