"""The moderation page with 5,000 questions: server time for what a moderator waits on.

One meeting is filled with ``--questions`` questions (default 5,000: half pending, the rest
approved, rejected, answered and merged, each with its ``received`` event and the events of
its moderation, like a long busy meeting), then each operation below runs ``--runs`` times
in this process against the real app (SQLite file in a temporary folder, as ``council
serve`` runs by default; ``--database-url`` for PostgreSQL):

- **moderation snapshot**: the first message of a moderator's websocket (every question's
  full view), built, then encoded as JSON; **public snapshot** for comparison.
- **moderator page**: ``GET /moderate/{slug}`` through the app, logged in (snapshot +
  template, the whole response).
- **approve / reject / show / move**: one action, committed with its event (what a key
  press costs the server before the event goes out), on different questions each run.
- **new question**: the intake of a web question, triage included (category, flags,
  duplicates, score), committed with its ``received`` event.
- **suggest duplicates**: ``council.moderation.duplicates.similar`` for a new question
  against every open question of the meeting (warm: the folded texts cached, as in a running
  server; cold: after a restart).
- **activity log** (newest 100) and **CSV export** (every question).

With ``--browser``, the same meeting is then served by uvicorn and opened in headless
Chromium (Debian's ``chromium``, through Playwright, as the browser tests do), and the wait
a moderator sees is timed in the browser: the page loading until the queue shows, switching
to the tab of every question, a key press moving the selection, a question arriving until it
is counted, and a key press approving until the card is gone.

    python bench/moderation.py                  # 5,000 questions, 20 runs each (~1 min)
    python bench/moderation.py --quick          # 1,000 questions, 5 runs (~10 s)
    python bench/moderation.py --browser        # and the browser's side (~1.5 min)
    python bench/moderation.py --questions 20000 --runs 10 --json moderation.json

Timings are wall-clock medians (and the 95th percentile and worst) in milliseconds, on
whatever else the machine is doing: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from council.app import create_app
from council.intake import Limits, check_question, submit
from council.live.hub import encode
from council.live.snapshot import snapshot_message
from council.meetings import create_meeting, get_meeting, start_meeting
from council.models import Event, Meeting, Status, Submission
from council.moderation import actions, activity, categories, duplicates, export, priority
from council.moderation.accounts import add_user
from council.moderation.context import triage_of
from council.settings import Settings
from council.views import moderation_submission

SLUG = "bench"
USER = "bench"
# A throwaway account in a throwaway database.
PASSWORD = secrets.token_urlsafe(16)

STREETS = [
    "Mayor", "Real", "del Sol", "de la Iglesia", "San Juan", "del Río", "Nueva", "Ancha",
    "del Molino", "de la Fuente", "Cervantes", "Goya", "del Carmen", "Santiago", "Alta",
    "Baja", "de las Eras", "del Pilar", "San Roque", "del Castillo",
]  # fmt: skip
BARRIOS = ["El Barrio Alto", "La Vega", "Los Olivos", "El Centro", "La Estación", "Las Huertas"]
TOPICS = [
    "la farola de la calle {street}", "el bache de la calle {street}",
    "la recogida de basura en {barrio}", "el horario de la piscina municipal",
    "las fiestas de {barrio}", "el autobús al hospital", "el agua del grifo en {barrio}",
    "el ruido del bar de la calle {street}", "los contenedores de la calle {street}",
    "el parque infantil de {barrio}", "the streetlight on {street} street",
    "the pothole on {street} street", "bin collection in {barrio}",
]  # fmt: skip
FRAMES = [
    "¿Cuándo van a arreglar {topic}?", "¿Qué pasa con {topic}?",
    "Quería preguntar por {topic}, gracias.", "¿Para cuándo {topic}? Llevamos meses esperando.",
    "Buenas tardes, ¿alguien sabe algo de {topic}?", "When will you fix {topic}?",
    "Any news about {topic}? Thanks.",
]  # fmt: skip
NAMES = ["Ana", "Luis", "Carmen", "Javier", "Lucía", "Íñigo", "Marta", "Pedro", "Rosa", "Tomás"]

# Status of the seeded questions, as shares of the whole (the rest pending).
MIX = {"approved": 0.30, "rejected": 0.12, "answered": 0.05, "merged": 0.03}


def question_text(rng: random.Random) -> str:
    topic = rng.choice(TOPICS).format(street=rng.choice(STREETS), barrio=rng.choice(BARRIOS))
    return rng.choice(FRAMES).format(topic=topic)


# -- seeding -------------------------------------------------------------------------------------


def seed(session: Session, *, count: int, rng: random.Random) -> dict[str, list[int]]:
    """``count`` questions over the last three hours, with their events; ids by status."""
    meeting = get_meeting(session, slug=SLUG)
    now = datetime.now(UTC)
    start = now - timedelta(hours=3)
    statuses = []
    for status, share in MIX.items():
        statuses += [status] * int(count * share)
    statuses += ["pending"] * (count - len(statuses))
    rng.shuffle(statuses)
    subs: list[Submission] = []
    for n, status in enumerate(statuses):
        text = question_text(rng)
        received = start + timedelta(seconds=10_800 * n / count)
        sub = Submission(
            meeting=meeting,
            source=rng.choice(["web", "web", "web", "x", "mastodon"]),
            author_name=f"{rng.choice(NAMES)} {n}",
            neighborhood=rng.choice(BARRIOS),
            verified=rng.random() < 0.1,
            original_text=text,
            display_text=text,
            status=status if status != "merged" else Status.PENDING,
            track_token=secrets.token_urlsafe(24),
            received_at=received,
            category=categories.suggest(session, text),
            category_suggested=True,
            flags=[],
            duplicates=[],
        )
        if status in ("approved", "answered"):
            sub.approved_at, sub.approved_by = received + timedelta(seconds=40), "ana"
        if status == "answered":
            sub.shown_at, sub.shown_by = received + timedelta(seconds=300), "ana"
            sub.answered_at, sub.answered_by = received + timedelta(seconds=420), "ana"
        if status == "rejected":
            sub.rejected_at, sub.rejected_by = received + timedelta(seconds=30), "luis"
            sub.rejection_key = rng.choice(["off_topic", "spam", "duplicate", "offensive"])
        subs.append(sub)
    session.add_all(subs)
    session.flush()
    approved = [s for s in subs if s.status == Status.APPROVED]
    for sub, status in zip(subs, statuses, strict=True):
        if status == "merged" and approved:
            target = rng.choice(approved)
            sub.status, sub.merged_into_id = Status.MERGED, target.id
            sub.merged_at, sub.merged_by = sub.received_at + timedelta(seconds=60), "ana"
            target.asked_count += 1
    priority.rescore(session, meeting_id=meeting.id)
    session.flush()

    # The event log as the meeting would have written it: one `received` per question and
    # one event per moderation.
    rows: list[dict[str, Any]] = []
    for sub in subs:
        view = {"submissions": [moderation_submission(sub)]}
        rows.append(_event(meeting, "received", view, sub, None, sub.received_at))
        later = {
            Status.APPROVED: ("approved", sub.approved_by, sub.approved_at),
            Status.ANSWERED: ("answered", sub.answered_by, sub.answered_at),
            Status.REJECTED: ("rejected", sub.rejected_by, sub.rejected_at),
            Status.MERGED: ("merged", sub.merged_by, sub.merged_at),
        }.get(Status(sub.status))
        if later:
            rows.append(_event(meeting, later[0], view, sub, later[1], later[2]))
    rows.sort(key=lambda r: r["created_at"])
    for seq, row in enumerate(rows, start=meeting.last_seq + 1):
        row["seq"] = seq
    for begin in range(0, len(rows), 1000):
        session.execute(insert(Event), rows[begin : begin + 1000])
    session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(last_seq=meeting.last_seq + len(rows))
    )
    by_status: dict[str, list[int]] = {}
    for sub in subs:
        by_status.setdefault(sub.status, []).append(sub.id)
    return by_status


def _event(
    meeting: Meeting,
    kind: str,
    payload: dict[str, Any],
    sub: Submission,
    actor: str | None,
    at: Any,
) -> dict[str, Any]:
    return {
        "meeting_id": meeting.id,
        "type": kind,
        "payload": payload,
        "public_payload": None,
        "submission_id": sub.id,
        "actor": actor,
        "created_at": at,
    }


# -- timing --------------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def time(
        self,
        name: str,
        runs: int,
        fn: Callable[[int], Any],
        note: str | Callable[[Any], str] = "",
    ) -> Any:
        samples = []
        result = None
        for n in range(runs):
            began = time.perf_counter()
            result = fn(n)
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        row = {
            "operation": name,
            "runs": runs,
            "median_ms": statistics.median(samples),
            "p95_ms": p95,
            "max_ms": samples[-1],
            "note": note(result) if callable(note) else note,
        }
        self.rows.append(row)
        print(
            f"  {name:<44} {row['median_ms']:>9.2f} {p95:>9.2f} {samples[-1]:>9.2f}  {row['note']}",
            flush=True,
        )
        return result


@contextmanager
def app_on(database_url: str | None) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="council-bench-") as folder:
        values: dict[str, Any] = {
            "_env_file": None,
            "data_dir": Path(folder),
            "submission_rate_limit": "100000/second",
            "login_rate_limit": "100000/second",
        }
        if database_url:
            values["database_url"] = database_url
        app = create_app(Settings(**values))
        try:
            yield app
        finally:
            app.state.council.db.close()


def logged_in(app: Any) -> TestClient:
    client = TestClient(app)
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token, "no CSRF token on the login page"
    response = client.post(
        "/login",
        data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def browser_stage(app: Any, results: Results, *, runs: int) -> None:
    """The moderator's side: the page in headless Chromium, served by uvicorn."""
    import shutil
    import socket
    import threading

    import httpx
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    print(f"\n  in Chromium ({runs} runs each)", flush=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(
                base_url=base, viewport={"width": 1440, "height": 900}
            ).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"/login?next=/moderate/{SLUG}")
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"**/moderate/{SLUG}")
            pending = page.locator("[data-count=pending]")
            total = page.locator("[data-count=all]")

            def load(n: int) -> None:
                page.goto(f"/moderate/{SLUG}")
                page.locator("#queue .item.selected").wait_for()

            results.time(
                "browser: page load until the queue shows",
                runs,
                load,
                note=lambda _r: (
                    f"{pending.text_content()} pending, "
                    f"{page.locator('#queue .item').count()} cards shown"
                ),
            )

            def all_tab(n: int) -> None:
                page.keyboard.press("1")
                page.keyboard.press("7")
                count = int(total.text_content() or 0)
                # The list shows its first 200 cards (then "Show more").
                page.locator("#queue .item").nth(min(count, 200) - 1).wait_for(state="attached")

            results.time(
                "browser: switch to the All tab",
                runs,
                all_tab,
                note=lambda _r: f"{page.locator('#queue .item').count()} cards shown",
            )
            page.keyboard.press("1")
            page.locator("#queue .item.selected").wait_for()

            def key_j(n: int) -> float:
                # In the page: the key's handling until the next frame is painted.
                took: float = page.evaluate(
                    """() => new Promise((done) => {
                        const t0 = performance.now();
                        const key = new KeyboardEvent("keydown", {key: "j", bubbles: true});
                        document.dispatchEvent(key);
                        requestAnimationFrame(() => done(performance.now() - t0));
                    })"""
                )
                return took

            results.time(
                "browser: j (next question), round trip",
                runs,
                key_j,
                note=lambda took: f"{took:.1f} ms in the page",
            )
            with httpx.Client(base_url=base) as client:

                def arrival(n: int) -> None:
                    before = int(pending.text_content() or 0)
                    response = client.post(
                        f"/api/meetings/{SLUG}/submissions",
                        json={"name": f"Llega {n}", "text": question_text(random.Random(n))},
                    )
                    assert response.status_code == 201, response.text
                    expect(pending).to_have_text(str(before + 1))

                results.time(
                    "browser: a question arrives until counted",
                    runs,
                    arrival,
                    note="POST to the count on the page",
                )

            def approve(n: int) -> None:
                before = int(pending.text_content() or 0)
                page.locator("#queue .item.selected").focus()
                page.keyboard.press("a")
                expect(pending).to_have_text(str(before - 1))

            results.time("browser: a (approve) until the card goes", runs, approve, note="")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=5000, help="questions in the meeting")
    parser.add_argument("--runs", type=int, default=20, help="runs of each operation")
    parser.add_argument("--quick", action="store_true", help="1,000 questions, 5 runs")
    parser.add_argument("--database-url", help="another database (e.g. PostgreSQL); empty")
    parser.add_argument("--seed", type=int, default=5, help="random seed for the questions")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    args = parser.parse_args(argv)
    if args.quick:
        args.questions, args.runs = 1000, 5
    if not 10 <= args.questions <= 100_000 or not 1 <= args.runs <= 1000:
        parser.error("--questions must be 10-100000 and --runs 1-1000")
    rng = random.Random(args.seed)

    with app_on(args.database_url) as app:
        db = app.state.council.db
        db.run_write(create_meeting, slug=SLUG, title="Pleno de bench", hashtags=["Bench"])
        db.run_write(start_meeting, slug=SLUG)
        db.run_write(add_user, username=USER, password=PASSWORD, role="moderator")
        began = time.perf_counter()
        ids, _events = db.run_write(seed, count=args.questions, rng=rng)
        meeting_id = db.run_read(lambda s: get_meeting(s, slug=SLUG).id)
        seeded = time.perf_counter() - began
        counts = ", ".join(f"{len(v):,} {k}" for k, v in sorted(ids.items()))
        print(
            f"{args.questions:,} questions ({counts}) seeded in {seeded:.1f} s; "
            f"{args.runs} runs each; Python {platform.python_version()}, "
            f"{db.engine.dialect.name}\n"
        )
        print(f"  {'operation':<44} {'median ms':>9} {'p95 ms':>9} {'max ms':>9}  note")
        results = Results()
        runs = args.runs

        snapshot = results.time(
            "moderation snapshot: build",
            runs,
            lambda n: db.run_read(snapshot_message, meeting_id=meeting_id, audience="moderation"),
            note=lambda s: f"{len(s['submissions']):,} questions",
        )
        results.time(
            "moderation snapshot: encode as JSON",
            runs,
            lambda n: encode(snapshot),
            note=lambda text: kib(len(text.encode())),
        )
        results.time(
            "public snapshot: build + encode",
            runs,
            lambda n: encode(
                db.run_read(snapshot_message, meeting_id=meeting_id, audience="public")
            ),
            note=lambda text: kib(len(text.encode())),
        )
        client = logged_in(app)
        results.time(
            "moderator page: GET /moderate/{slug}",
            runs,
            lambda n: client.get(f"/moderate/{SLUG}"),
            note=lambda r: f"HTTP {r.status_code}, {kib(len(r.content))}",
        )

        pending = list(ids.get("pending", []))
        rng.shuffle(pending)

        def action(fn: Any, **extra: Any) -> Callable[[int], Any]:
            def run(n: int) -> Any:
                sub_id = pending.pop()
                extra_args = {k: v(sub_id) if callable(v) else v for k, v in extra.items()}
                return db.run_write(fn, slug=SLUG, submission_id=sub_id, actor=USER, **extra_args)

            return run

        def event_note(result: Any) -> str:
            _sub, events = result
            return f"event {kib(len(encode(events[0].message('moderation') or {})))}"

        results.time(
            "approve (committed, with its event)", runs, action(actions.approve), event_note
        )
        results.time(
            "reject with a reason (committed)",
            runs,
            action(actions.reject, reason="spam"),
            event_note,
        )
        approved_now = db.run_read(
            lambda s: [q.id for q in priority.queue(s, meeting_id=meeting_id)]
        )

        def show(n: int) -> Any:
            return db.run_write(actions.show, slug=SLUG, submission_id=approved_now[n], actor=USER)

        results.time("show (takes the previous one down)", runs, show, event_note)

        def move(n: int) -> Any:
            queue = db.run_read(lambda s: [q.id for q in priority.queue(s, meeting_id=meeting_id)])
            return db.run_write(
                priority.move,
                slug=SLUG,
                submission_id=queue[-1 - n % 10],
                actor=USER,
                before=queue[n % 10],
            )

        results.time("move in the approved queue (drag, Shift+K)", runs, move, event_note)

        limits = Limits()

        def new_question(n: int) -> Any:
            question = check_question(
                name=f"Nueva {n}", text=question_text(rng), neighborhood=None, limits=limits
            )
            return db.run_write(submit, slug=SLUG, question=question)

        results.time(
            "new question: intake + triage (committed)",
            runs,
            new_question,
            lambda r: f"{len(r[0].duplicates or [])} likely duplicates",
        )

        def similar(n: int, *, cold: bool = False) -> Any:
            def fn(session: Session) -> Any:
                if cold:
                    triage_of(session).folded.clear()
                return duplicates.similar(session, meeting_id=meeting_id, text=question_text(rng))

            return db.run_read(fn)

        open_count = db.run_read(lambda s: len(duplicates.open_texts(s, meeting_id=meeting_id)))
        results.time(
            "suggest duplicates: warm cache",
            runs,
            similar,
            lambda r: f"{open_count:,} open questions, {len(r)} found",
        )
        results.time(
            "suggest duplicates: cold (after a restart)",
            max(1, runs // 4),
            lambda n: similar(n, cold=True),
            lambda r: f"{len(r)} found",
        )
        results.time(
            "activity log: newest 100",
            runs,
            lambda n: db.run_read(activity.activity, slug=SLUG, limit=100),
            note=lambda r: f"of {r['seq']:,} events",
        )
        results.time(
            "CSV export: every question",
            max(1, runs // 4),
            lambda n: db.run_read(export.questions_csv, slug=SLUG),
            note=lambda text: kib(len(text.encode())),
        )
        if args.browser:
            browser_stage(app, results, runs=max(3, min(args.runs, 10)))

    if args.json:
        args.json.write_text(
            json.dumps(
                {"questions": args.questions, "runs": args.runs, "results": results.rows},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
