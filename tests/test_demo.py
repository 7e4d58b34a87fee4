"""``council demo`` for real: it starts, serves its pages, questions arrive, Ctrl-C ends it."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^\s+(?P<label>[A-Za-z ]+):\s+(?P<value>\S+)\s*$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Keep reading, so the demo never blocks on a full pipe."""
    for line in stream:
        lines.put(line.rstrip("\n"))


def read_banner(lines: queue.Queue[str], proc: subprocess.Popen[str]) -> tuple[dict[str, str], str]:
    """The labelled values (URLs, user name, password) and the data folder, as printed."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + 20
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            assert proc.poll() is None, f"the demo exited early: {seen}"
            continue
        seen.append(line)
        match = LINE.match(line)
        if match:
            found[match["label"]] = match["value"]
        data = re.match(r"^Data is in (\S+) ", line)
        if data:
            return found, data.group(1)
    raise AssertionError(f"no banner within 20 s: {seen}")


def count_submissions(client: httpx.Client) -> int:
    answer = client.get("/api/meetings/demo/submissions")
    assert answer.status_code == 200, answer.text
    return len(answer.json()["submissions"])


def test_demo_runs_a_live_meeting_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    # A real database URL in the environment must not be touched by the demo.
    env["COUNCIL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'must-not-exist.db'}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "council.cli",
            "demo",
            "--port",
            str(port),
            "--trickle-seconds",
            "0.5",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    errors: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, errors), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        found, data_dir = read_banner(lines, proc)
        base = f"http://127.0.0.1:{port}"
        assert found["Chamber screen"] == f"{base}/screen/demo"
        assert found["Moderate"] == f"{base}/moderate/demo"
        assert found["Log in"] == f"{base}/login"
        assert found["Public page"] == f"{base}/m/demo"
        assert found["Track question"].startswith(f"{base}/")
        assert found["Username"] == "moderator"
        password = found["Password"]
        assert len(password) >= 12
        assert Path(data_dir).is_dir()

        with httpx.Client(base_url=base, timeout=5) as client:
            for url in (found["Public page"], found["Chamber screen"], found["Track question"]):
                assert client.get(url).status_code == 200, url
            state = client.get("/api/meetings/demo/state").json()
            assert state["meeting"]["status"] == "live"
            assert state["on_screen"] is not None  # something to look at from the first second

            assert client.get("/api/meetings/demo/submissions").status_code == 401
            login_page = client.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
            assert csrf, login_page.text
            login = client.post(
                "/login",
                data={
                    "username": "moderator",
                    "password": password,
                    "csrf_token": csrf.group(1),
                    "next": "/moderate/demo",
                },
                follow_redirects=True,
            )
            assert login.status_code == 200, login.text  # followed to the moderation page
            assert str(login.url) == found["Moderate"]

            first = count_submissions(client)
            deadline = time.monotonic() + 10
            while count_submissions(client) < first + 2:
                assert time.monotonic() < deadline, "no sample questions arrived in 10 s"
                time.sleep(0.2)
            queue_now = client.get("/api/meetings/demo/submissions").json()["submissions"]
            texts = " ".join(s["text"] for s in queue_now)
            assert any(ch in texts for ch in "áéíóúñ¿")
            assert {s["status"] for s in queue_now} >= {"pending", "on_screen"}

            # Posts on the stand-in X, Mastodon and Bluesky arrive through the real collectors.
            deadline = time.monotonic() + 30
            while True:
                answer = client.get("/api/meetings/demo/submissions").json()
                sources = {s["source"] for s in answer["submissions"]}
                if sources >= {"web", "x", "mastodon", "bluesky"}:
                    break
                assert time.monotonic() < deadline, f"only these sources arrived: {sources}"
                time.sleep(0.2)
            health = {c["source"]: c["status"] for c in answer["collectors"]}
            assert health == {"x": "running", "mastodon": "running", "bluesky": "running"}
            social = {s["source"]: s for s in answer["submissions"] if s["source"] != "web"}
            assert social["x"]["url"].startswith("https://x.com/")
            assert social["mastodon"]["external_id"].startswith("https://")
            assert social["mastodon"]["handle"].count("@") == 1  # user@server
            assert social["bluesky"]["external_id"].startswith("at://")
            assert social["bluesky"]["url"].startswith("https://bsky.app/profile/")
            verified = {s["handle"] for s in answer["submissions"] if s["verified"]}
            assert verified & {"paco@jun.social", "begosaez.bsky.social", "antonio_jun"}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert not Path(data_dir).exists()
        assert not (tmp_path / "must-not-exist.db").exists()
        for reader in readers:
            reader.join(timeout=5)
        stderr = []
        while not errors.empty():
            stderr.append(errors.get())
        assert not any("Traceback" in line for line in stderr), stderr
    finally:
        if proc.poll() is None:
            # Ctrl-C first, so even a failed test leaves no temporary folder behind.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
