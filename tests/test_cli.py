"""The ``council`` command, run for real in subprocesses against a fresh data folder."""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from council import cli
from council.app import create_app
from council.db import Database
from council.meetings import get_meeting
from council.models import Event
from council.settings import Settings
from tests.factories import council_env

REPO = Path(__file__).resolve().parents[1]


def council(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "council.cli", *args],
        cwd=data_dir,
        env=council_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("council: error: ")
    for word in words:
        assert word in lines[0]
    return lines[0]


def db_url(data_dir: Path) -> str:
    return Settings(data_dir=data_dir, database_url=None).resolved_database_url


def table_rows(output: str) -> dict[str, list[str]]:
    """``council meeting list`` as {slug: [status, accepting, starts_at]} (titles have spaces)."""
    rows = {}
    for line in output.splitlines()[2:]:
        slug, status, accepting, starts_at, *_title = line.split()
        rows[slug] = [status, accepting, starts_at]
    return rows


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def test_meeting_round_trip_is_in_the_database(data_dir: Path) -> None:
    empty = council(data_dir, "meeting", "list")
    assert empty.returncode == 0, empty.stderr
    assert "No meetings yet" in empty.stdout

    created = council(
        data_dir,
        "meeting",
        "create",
        "pleno-2026-11",
        "--title",
        "Pleno ordinario de noviembre",
        "--hashtag",
        "PlenoJun",
        "--hashtag",
        "#JunDirecto",
        "--starts-at",
        "2026-11-24T19:00+01:00",
    )
    assert created.returncode == 0, created.stderr
    assert "pleno-2026-11" in created.stdout
    assert created.stderr == ""

    listed = council(data_dir, "meeting", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "SLUG",
        "STATUS",
        "ACCEPTING",
        "STARTS",
        "AT",
        "TITLE",
    ]
    assert table_rows(listed.stdout) == {
        "pleno-2026-11": ["scheduled", "yes", "2026-11-24T18:00:00Z"]
    }
    assert "Pleno ordinario de noviembre" in listed.stdout

    assert council(data_dir, "meeting", "start", "pleno-2026-11").returncode == 0
    assert table_rows(council(data_dir, "meeting", "list").stdout)["pleno-2026-11"][:2] == [
        "live",
        "yes",
    ]

    database = Database(db_url(data_dir))
    try:
        meeting = database.run_read(get_meeting, slug="pleno-2026-11")
        assert meeting.status == "live"
        assert meeting.started_at is not None
        assert meeting.hashtags == ["PlenoJun", "JunDirecto"]
    finally:
        database.close()

    ended = council(data_dir, "meeting", "end", "pleno-2026-11")
    assert ended.returncode == 0, ended.stderr
    assert table_rows(council(data_dir, "meeting", "list").stdout)["pleno-2026-11"][:2] == [
        "ended",
        "no",
    ]

    database = Database(db_url(data_dir))
    try:
        meeting = database.run_read(get_meeting, slug="pleno-2026-11")
        assert meeting.status == "ended"
        assert meeting.ended_at is not None
        # Created, started, ended: each one event, like the same changes made through the API.
        events = database.run_read(
            lambda s: s.scalar(
                select(func.count()).select_from(Event).where(Event.meeting_id == meeting.id)
            )
        )
        assert events == 3
        assert meeting.last_seq == 3
    finally:
        database.close()

    again = council(data_dir, "meeting", "start", "pleno-2026-11")
    assert_one_line_error(again, "ended")


def test_duplicate_slug_is_one_line_and_status_2(data_dir: Path) -> None:
    assert council(data_dir, "meeting", "create", "pleno", "--title", "Uno").returncode == 0
    again = council(data_dir, "meeting", "create", "pleno", "--title", "Dos")
    assert_one_line_error(again, "pleno", "exists")
    assert again.stdout == ""
    assert len(table_rows(council(data_dir, "meeting", "list").stdout)) == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["meeting", "create", "Pleno Nov!", "--title", "T"], ["address"]),
        (
            ["meeting", "create", "pleno", "--title", "T", "--starts-at", "2026-11-24T19:00"],
            ["time zone"],
        ),
        (
            ["meeting", "create", "pleno", "--title", "T", "--starts-at", "tomorrow"],
            ["--starts-at", "council meeting create --help"],
        ),
        (["meeting", "create", "pleno", "--title", "T", "--hashtag", "no spaces"], ["hashtag"]),
        (["meeting", "create", "pleno"], ["--title", "council meeting create --help"]),
        (["meeting", "start", "nowhere"], ["nowhere"]),
        (["meeting", "end", "nowhere"], ["nowhere"]),
        (["meeting", "list", "--colour"], ["--colour", "council meeting list --help"]),
        (["meeting", "frobnicate"], ["frobnicate", "council meeting --help"]),
        (["meeting"], ["council meeting --help"]),
        ([], ["council --help"]),
        (["--verbose", "meeting", "list"], ["--verbose"]),
        (["serve", "--port", "http"], ["--port", "council serve --help"]),
        (["serve", "--workers", "0"], ["--workers"]),
        (["demo", "--trickle-seconds", "0"], ["--trickle-seconds"]),
        (["user", "add", "ana", "--role", "mayor"], ["--role", "mayor"]),
        (["user", "add", "bad name", "--no-password"], ["user name"]),
        (["token", "create", "nobody"], ["nobody"]),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    data_dir: Path, args: list[str], words: list[str]
) -> None:
    assert_one_line_error(council(data_dir, *args), *words)


@pytest.mark.parametrize(
    "args, stdin, words",
    [
        (["--password-stdin"], "short\n", ["password", "8"]),
        (["--password-stdin"], "", ["standard input"]),
        ([], "not a terminal\n", ["--password-stdin"]),
        (["--password-stdin", "--no-password"], "", ["not allowed"]),
    ],
)
def test_password_problems_are_one_line(
    data_dir: Path, args: list[str], stdin: str, words: list[str]
) -> None:
    result = council(data_dir, "user", "add", "bob", *args, stdin=stdin)
    assert_one_line_error(result, *words)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "typed, status, message",
    [
        (["correct horse", "correct horse"], 0, "Added moderator 'carla'."),
        (["correct horse", "correct h0rse"], 2, "council: error: the two passwords differ"),
    ],
)
def test_password_is_asked_twice_on_a_terminal(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    status: int,
    message: str,
) -> None:
    for key in [k for k in os.environ if k.startswith("COUNCIL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("COUNCIL_DATA_DIR", str(data_dir))
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    answers = iter(typed)
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(cli.getpass, "getpass", fake_getpass)
    assert cli.run(["user", "add", "carla"]) == status
    assert len(prompts) == 2 and "carla" in prompts[0]
    out, err = capsys.readouterr()
    assert message in (out if status == 0 else err)


def test_bad_setting_is_one_line(data_dir: Path) -> None:
    env = council_env(data_dir) | {"COUNCIL_SUBMISSION_RATE_LIMIT": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "council.cli", "meeting", "list"],
        cwd=data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_line_error(result, "COUNCIL_SUBMISSION_RATE_LIMIT")


def test_user_token_authenticates_against_the_app(data_dir: Path) -> None:
    assert council(data_dir, "meeting", "create", "pleno", "--title", "Pleno").returncode == 0
    added = council(
        data_dir,
        "user",
        "add",
        "ana",
        "--role",
        "admin",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    duplicate = council(data_dir, "user", "add", "ana", "--password-stdin", stdin="another-one\n")
    assert_one_line_error(duplicate, "ana")

    created = council(data_dir, "token", "create", "ana")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    token = lines[-1]
    assert token == token.strip() and " " not in token and len(token) >= 32
    assert len(lines) == 2 and "ana" in lines[0]

    app = create_app(Settings(data_dir=data_dir, database_url=None, redis_url=None))
    with TestClient(app) as client:
        path = "/api/meetings/pleno/submissions"
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["submissions"] == []
        # The password works for the browser login too.
        login_page = client.get("/login")
        assert login_page.status_code == 200
        csrf = login_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        login = client.post(
            "/login",
            data={
                "username": "ana",
                "password": "correct horse battery",
                "csrf_token": csrf,
                "next": "/moderate/pleno",
            },
            follow_redirects=False,
        )
        assert login.status_code == 303
        assert login.headers["location"] == "/moderate/pleno"


def test_db_upgrade_is_idempotent(data_dir: Path) -> None:
    for _round in range(2):
        result = council(data_dir, "db", "upgrade")
        assert result.returncode == 0, result.stderr
    assert (data_dir / "council.db").exists()


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command and subcommand the parser knows, so a new one is covered without edits."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _command_paths(sub, (*prefix, name))
    return paths


COMMANDS = _command_paths(cli.build_parser())


def test_the_contract_commands_exist() -> None:
    for command in [
        ("serve",),
        ("demo",),
        ("db", "upgrade"),
        ("meeting", "create"),
        ("meeting", "start"),
        ("meeting", "end"),
        ("meeting", "list"),
        ("user", "add"),
        ("token", "create"),
    ]:
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "council")
def test_every_command_has_help(data_dir: Path, command: tuple[str, ...]) -> None:
    result = council(data_dir, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(('council', *command))}")
    assert result.stderr == ""
    # Asking for help touches nothing.
    assert not (data_dir / "council.db").exists()


def test_serve_runs_the_app_and_stops_on_ctrl_c(data_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert council(data_dir, "meeting", "create", "pleno", "--title", "Pleno").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "council.cli", "serve", "--port", str(port)],
        cwd=data_dir,
        env=council_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, "council serve exited early"
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/meetings", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "council serve did not answer in 15 s"
                time.sleep(0.1)
        assert answer.status_code == 200
        assert [m["slug"] for m in answer.json()["meetings"]] == ["pleno"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout is not None
        # At startup it says which ffmpeg will record the meetings.
        assert "Recording with ffmpeg" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_meeting_create_takes_an_x_cost_cap(tmp_path: Path) -> None:
    result = council(
        tmp_path, "meeting", "create", "caro", "--title", "Caro", "--x-cost-cap", "2.5"
    )
    assert result.returncode == 0, result.stderr
    from council.db import Database
    from council.meetings import get_meeting

    database = Database(db_url(tmp_path))
    try:
        assert database.run_read(get_meeting, slug="caro").x_cost_cap == 2.5
    finally:
        database.close()
    bad = council(tmp_path, "meeting", "create", "otro", "--title", "Otro", "--x-cost-cap", "-1")
    assert_one_line_error(bad, "dollars")


def test_record_start_and_stop_ask_the_server(tmp_path: Path) -> None:
    council(tmp_path, "meeting", "create", "pleno", "--title", "Pleno")
    started = council(tmp_path, "record", "start", "pleno", "--pull", "https://tv.jun.es/a.m3u8")
    assert started.returncode == 0, started.stderr
    assert_one_line_error(council(tmp_path, "record", "start", "pleno"), "already being recorded")
    assert council(tmp_path, "record", "stop", "pleno").returncode == 0
    assert_one_line_error(council(tmp_path, "record", "stop", "pleno"), "not being recorded")
    assert_one_line_error(council(tmp_path, "record", "start", "pleno", "--pull", "ftp://x"))


def test_agenda_from_the_command_line(tmp_path: Path) -> None:
    council(tmp_path, "meeting", "create", "pleno", "--title", "Pleno")
    council(tmp_path, "agenda", "add", "pleno", "Aprobación", "del", "acta")
    added = council(tmp_path, "agenda", "add", "pleno", "Presupuestos 2027")
    assert added.returncode == 0 and "2. Presupuestos 2027" in added.stdout
    moved = council(tmp_path, "agenda", "current", "pleno", "next")
    assert "▶  1. Aprobación del acta" in moved.stdout
    listed = council(tmp_path, "agenda", "list", "pleno")
    assert listed.stdout.count("▶") == 1
    assert_one_line_error(council(tmp_path, "agenda", "current", "pleno", "soon"), "next, or none")
    assert_one_line_error(council(tmp_path, "agenda", "current", "pleno", "#999"), "not on this")


def test_record_stop_wait_says_when_no_server_acts(tmp_path: Path) -> None:
    council(tmp_path, "meeting", "create", "pleno", "--title", "Pleno")
    council(tmp_path, "record", "start", "pleno")
    waited = council(tmp_path, "record", "stop", "pleno", "--wait", "--server-timeout", "1")
    assert_one_line_error(waited, "is 'council serve' running?")


def test_meeting_stream_player_is_set_and_checked(tmp_path: Path) -> None:
    council(
        tmp_path,
        "meeting",
        "create",
        "pleno",
        "--title",
        "Pleno",
        "--stream-url",
        "https://www.youtube.com/embed/abc",
    )
    assert council(tmp_path, "meeting", "stream", "pleno", "none").returncode == 0
    assert_one_line_error(
        council(tmp_path, "meeting", "stream", "pleno", "javascript:alert(1)"), "https://"
    )
    assert (
        council(tmp_path, "meeting", "stream", "pleno", "https://tv.jun.es/embed").returncode == 0
    )


def test_residents_of_every_source_are_added_from_the_command_line(tmp_path: Path) -> None:
    added = council(tmp_path, "resident", "add", "@Paco@Mastodon.Social", "--source", "mastodon")
    assert added.returncode == 0, added.stderr
    assert "paco@mastodon.social (mastodon)" in added.stdout
    bluesky = council(tmp_path, "resident", "add", "@bego.bsky.social", "--source", "bluesky")
    assert bluesky.returncode == 0, bluesky.stderr
    listed = council(tmp_path, "resident", "list").stdout
    assert "paco@mastodon.social" in listed and "bego.bsky.social" in listed
    wrong = council(tmp_path, "resident", "add", "@paco", "--source", "mastodon")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "@vecina@mastodon.social" in wrong.stderr


def test_a_meeting_reads_its_own_mastodon_servers(tmp_path: Path) -> None:
    created = council(
        tmp_path,
        "meeting",
        "create",
        "pleno",
        "--title",
        "Pleno",
        "--hashtag",
        "PlenoJun",
        "--mastodon-instance",
        "https://jun.social/",
    )
    assert created.returncode == 0, created.stderr
    none = council(tmp_path, "meeting", "mastodon", "pleno", "none")
    assert none.returncode == 0 and "no Mastodon server" in none.stdout
    bad = council(tmp_path, "meeting", "mastodon", "pleno", "jun.social")
    assert bad.returncode == 2 and "https://mastodon.social" in bad.stderr
