"""The moderator's dashboard in a real browser: the keyboard alone, two moderators at once,
soft locks, the activity log, counts, search and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Response, WebSocketRoute, expect

import council.intake
import council.moderation.accounts
from tests.e2e.conftest import PASSWORD, SLUG, Contexts, LiveServer

pytestmark = pytest.mark.browser

OTHER = "ana"


def selected_id(page: Page) -> int:
    selected = page.locator("#queue .item.selected")
    expect(selected).to_have_count(1, timeout=5_000)
    return int(selected.get_attribute("data-id") or 0)


def focused_id(page: Page) -> int | None:
    """The question whose card has the keyboard focus (None: focus is elsewhere)."""
    found: int | None = page.evaluate(
        "() => { const item = document.activeElement && document.activeElement.closest"
        " && document.activeElement.closest('#queue .item');"
        " return item ? Number(item.dataset.id) : null; }"
    )
    return found


def listed_ids(page: Page) -> list[int]:
    ids: list[int] = page.eval_on_selector_all(
        "#queue .item", "items => items.map(i => Number(i.dataset.id))"
    )
    return ids


def gone(page: Page, sub_id: int) -> Callable[[], bool]:
    return lambda: sub_id not in listed_ids(page)


def wait_for(probe: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last: {value!r}")
        time.sleep(0.02)


def log_in_as(contexts: Contexts, username: str, context: BrowserContext | None = None) -> Page:
    """A second moderator's browser (the fixture's `contexts.moderator()` is the first's)."""
    page = (context or contexts.new(1440, 900)).new_page()
    page.goto(f"/login?next=/moderate/{SLUG}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/moderate/{SLUG}")
    expect(page.locator("#moderate")).to_be_visible()
    return page


def add_moderator(server: LiveServer, username: str = OTHER) -> None:
    server.write(
        council.moderation.accounts.add_user,
        username=username,
        password=PASSWORD,
        role="moderator",
    )


def queue_of(server: LiveServer, token: str) -> dict[int, dict[str, Any]]:
    with server.api(token) as client:
        response = client.get(f"/api/meetings/{SLUG}/submissions")
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["submissions"]}


class Arrivals(threading.Thread):
    """Residents keep asking while the moderator works: one question every `every` s."""

    def __init__(self, server: LiveServer, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.every = every
        self.ids: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.done.wait(self.every):
            n += 1
            created = self.server.submit(name=f"Recién llegada {n}", text=f"Pregunta nueva {n}")
            self.ids.append(created["id"])

    def stop(self) -> list[int]:
        self.done.set()
        self.join(timeout=10)
        return self.ids


def test_a_moderator_works_fifty_questions_with_the_keyboard_alone_while_more_arrive(
    server: LiveServer, contexts: Contexts
) -> None:
    first = [
        server.submit(name=f"Vecina {n}", text=f"Pregunta {n}: ¿qué pasa en la calle {n}?")["id"]
        for n in range(50)
    ]
    page = contexts.moderator()
    expect(page.locator("[data-count=pending]")).to_have_text("50", timeout=10_000)
    keyboard = page.keyboard
    keyboard.press("j")
    keyboard.press("k")
    assert selected_id(page) == first[0]
    assert focused_id(page) == first[0]

    arrivals = Arrivals(server)
    arrivals.start()
    try:
        # Sitting on a question while others arrive: the place and the focus stay put.
        keyboard.press("j")
        assert selected_id(page) == first[1]
        wait_for(lambda: len(arrivals.ids) >= 3, "three new questions")
        expect(page.locator("#queue .item")).to_have_count(50 + len(arrivals.ids))
        assert (selected_id(page), focused_id(page)) == (first[1], first[1])
        keyboard.press("k")

        rejected: dict[int, str] = {}
        approved: list[int] = []
        handled = 0
        while handled < 50:
            ids = listed_ids(page)
            current = selected_id(page)
            index = ids.index(current)
            if handled == 20:
                # Look two ahead, come back one, approve that one out of turn, then go back.
                keyboard.press("j")
                keyboard.press("j")
                assert selected_id(page) == ids[index + 2]
                keyboard.press("k")
                assert (selected_id(page), focused_id(page)) == (ids[index + 1],) * 2
                keyboard.press("a")
                wait_for(gone(page, ids[index + 1]), "the approval")
                approved.append(ids[index + 1])
                assert (selected_id(page), focused_id(page)) == (ids[index + 2],) * 2
                keyboard.press("k")
                assert (selected_id(page), focused_id(page)) == (current,) * 2
                handled += 1
                continue
            following = ids[index + 1]
            if handled % 5 == 4:
                keyboard.press("r")
                expect(page.locator("#reason-dialog")).to_be_visible()
                if handled == 9:
                    keyboard.press("1")  # off topic, with a note for the asker
                    keyboard.press("Tab")
                    expect(page.locator("#reason-note")).to_be_focused()
                    keyboard.type("Esta pregunta es para el pleno de diciembre")
                    rejected[current] = "off_topic"
                else:
                    keyboard.press("6")  # spam
                    rejected[current] = "spam"
                keyboard.press("Enter")
                expect(page.locator("#reason-dialog")).to_be_hidden()
            else:
                keyboard.press("a")
                approved.append(current)
            wait_for(gone(page, current), f"question {current} to leave")
            # The next question is selected and has the focus, new arrivals or not.
            assert selected_id(page) == following, (handled, current)
            assert focused_id(page) == following, (handled, current)
            handled += 1
    finally:
        arrived = arrivals.stop()

    assert len(arrived) >= 10, "questions kept arriving while the moderator worked"
    expect(page.locator("[data-count=approved]")).to_have_text("40")
    expect(page.locator("[data-count=rejected]")).to_have_text("10")
    expect(page.locator("#action-error")).to_be_hidden()

    token = server.moderator_token()
    state = queue_of(server, token)
    assert sorted(s for s in state if state[s]["status"] == "approved") == sorted(approved)
    assert {s: state[s]["rejection_key"] for s in rejected} == rejected
    noted = next(s for s, key in rejected.items() if key == "off_topic")
    assert state[noted]["rejection_reason"] == "Esta pregunta es para el pleno de diciembre"
    assert all(state[s]["status"] == "pending" for s in arrived)
    assert all(state[s]["approved_by"] == "mod" for s in approved)

    # The approved tab: show, hide, show the next, mark it answered, all by key.
    keyboard.press("2")
    expect(page.locator("#queue .item")).to_have_count(40)
    keyboard.press("j")
    keyboard.press("k")
    top = selected_id(page)
    second = listed_ids(page)[1]
    # The page ignores keys for a question until the server has answered its last action on
    # it (moderate.js `inFlight`), and the websocket can tell of the show before that
    # answer arrives: each key below waits for the answer to the one before.
    with page.expect_response(answer_to(top, "show")):
        keyboard.press("s")
    wait_for(lambda: (server.state()["on_screen"] or {}).get("id") == top, "the show")
    expect(page.locator("#on-screen")).to_contain_text(state[top]["text"])
    assert (selected_id(page), focused_id(page)) == (second, second)
    with page.expect_response(answer_to(top, "hide")):
        keyboard.press("h")
    wait_for(lambda: server.state()["on_screen"] is None, "the hide")
    expect(page.locator("#on-screen")).to_contain_text("Nothing on screen.")
    expect(page.locator(f"#queue .item[data-id='{top}']")).to_be_visible()
    assert (selected_id(page), focused_id(page)) == (second, second)
    with page.expect_response(answer_to(second, "show")):
        keyboard.press("s")
    wait_for(lambda: (server.state()["on_screen"] or {}).get("id") == second, "the second show")
    # d answers what this page sees on screen: wait for the page to see it too.
    expect(page.locator("#on-screen")).to_contain_text(state[second]["text"])
    keyboard.press("d")
    wait_for(lambda: second in [s["id"] for s in server.state()["answered"]], "the answer")
    expect(page.locator("[data-count=answered]")).to_have_text("1")
    assert focused_id(page) == selected_id(page)
    assert queue_of(server, token)[second]["answered_by"] == "mod"


def answer_to(submission_id: int, action: str) -> Callable[[Response], bool]:
    """The server's answer to this page's action on one question."""
    return lambda response: response.url.endswith(f"/submissions/{submission_id}/{action}")


def hold_messages(context: BrowserContext) -> dict[str, Any]:
    """Route the moderation socket through the test, which can hold the server's messages
    (as if the network were slow) and release them later."""
    held: dict[str, Any] = {"on": False, "messages": [], "routes": []}

    def handler(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        held["routes"].append(page_side)

        def from_server(message: str | bytes) -> None:
            if held["on"]:
                held["messages"].append((page_side, message))
            else:
                page_side.send(message)

        server_side.on_message(from_server)
        page_side.on_message(lambda message: server_side.send(message))

    context.route_web_socket(re.compile(r".*/moderation.*"), handler)
    return held


def release(held: dict[str, Any]) -> None:
    held["on"] = False
    for route, message in held["messages"]:
        route.send(message)
    held["messages"].clear()


def test_two_moderators_on_one_question_the_second_gets_a_clear_conflict(
    server: LiveServer, contexts: Contexts
) -> None:
    add_moderator(server)
    question = server.submit(name="Carmen", text="¿Se arreglará el camino del cementerio?")
    later = server.submit(name="Javier", text="¿Habrá fiestas en agosto?")
    mine = contexts.moderator()
    theirs_context = contexts.new(1440, 900)
    held = hold_messages(theirs_context)
    theirs = log_in_as(contexts, OTHER, theirs_context)
    for page in (mine, theirs):
        expect(page.locator("#queue .item")).to_have_count(2)
        page.keyboard.press("j")
        page.keyboard.press("k")
        assert selected_id(page) == question["id"]

    # Ana's page hears nothing for a moment (a slow network): she still sees it pending.
    held["on"] = True
    mine.keyboard.press("a")
    expect(mine.locator("[data-count=approved]")).to_have_text("1")
    theirs.keyboard.press("r")
    theirs.keyboard.press("6")
    theirs.keyboard.press("Enter")

    error = theirs.locator("#action-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"Question {question['id']} is now approved, not pending")
    expect(error).to_contain_text("someone else acted on it first. Nothing was changed.")
    expect(error).to_contain_text("(by mod at")
    # Her page took the question's current state: it left her pending list.
    expect(theirs.locator(f"#queue .item[data-id='{question['id']}']")).to_have_count(0)
    expect(theirs.locator("[data-count=approved]")).to_have_text("1")
    assert (selected_id(theirs), focused_id(theirs)) == (later["id"], later["id"])
    token = server.moderator_token()
    kept = queue_of(server, token)[question["id"]]
    assert (kept["status"], kept["approved_by"], kept["rejected_by"]) == ("approved", "mod", None)
    release(held)

    # The other order: the news reaches her page while she has the question selected.
    mine.keyboard.press("a")
    notice = theirs.locator("#notice")
    expect(notice).to_contain_text(f"Question #{later['id']} changed while you had it selected")
    expect(notice).to_contain_text("It is now approved (by mod at")
    expect(theirs.locator("[data-count=approved]")).to_have_text("2")


def test_a_moderators_soft_lock_shows_on_the_other_moderators_page(
    server: LiveServer, contexts: Contexts
) -> None:
    add_moderator(server)
    ids = [server.submit(name=f"Vecino {n}", text=f"Pregunta {n}")["id"] for n in range(4)]
    theirs = log_in_as(contexts, OTHER)
    mine = contexts.moderator()
    expect(mine.locator("#queue .item")).to_have_count(4)

    mine.keyboard.press("j")
    mine.keyboard.press("j")
    assert selected_id(mine) == ids[2]
    card = theirs.locator(f"#queue .item[data-id='{ids[2]}']")
    expect(card.locator(".viewing-badge")).to_have_text("mod looking")
    expect(theirs.locator("#viewers")).to_have_text(
        f"Other moderators are looking at: mod (#{ids[2]})"
    )
    # Mine does not show my own lock, but does show Ana's (her first question, selected).
    expect(mine.locator(".viewing-badge")).to_have_count(1)
    expect(mine.locator(f"#queue .item[data-id='{ids[0]}'] .viewing-badge")).to_have_text(
        "ana looking"
    )

    mine.keyboard.press("j")  # moving on releases it
    expect(theirs.locator(f"#queue .item[data-id='{ids[3]}'] .viewing-badge")).to_have_text(
        "mod looking"
    )
    expect(card.locator(".viewing-badge")).to_have_count(0)

    mine.close()  # leaving clears it
    expect(theirs.locator(".viewing-badge")).to_have_count(0)
    expect(theirs.locator("#viewers")).to_be_hidden()


def test_the_activity_log_counts_and_search_follow_the_meeting_live(
    server: LiveServer, contexts: Contexts
) -> None:
    add_moderator(server)
    farola = server.submit(name="Lucía", text="¿Cuándo arreglan la farola de la plaza?")
    server.submit(name="Íñigo", text="¿Habrá verbena en San Juan?")
    page = contexts.moderator()
    theirs = log_in_as(contexts, OTHER)
    expect(page.locator("[data-total=received]")).to_have_text("2")
    expect(page.locator("[data-total=pending]")).to_have_text("2")

    theirs.keyboard.press("j")
    theirs.keyboard.press("k")
    theirs.keyboard.press("a")
    entry = page.locator("#activity-list .activity-entry").first
    expect(entry).to_contain_text(f"ana approved #{farola['id']} “¿Cuándo arreglan la farola")
    expect(page.locator("[data-total=approved]")).to_have_text("1")
    expect(page.locator("[data-total=pending]")).to_have_text("1")

    server.submit(name="Marta", text="¿Y el autobús al hospital?")
    expect(page.locator("[data-total=received]")).to_have_text("3")
    page.locator("#counts-detail summary").click()
    expect(page.locator("#by-source tbody tr")).to_have_count(1)
    expect(page.locator("#by-source tbody tr th")).to_have_text("web form")
    expect(page.locator("#by-source tbody [data-column=received]")).to_have_text("3")
    expect(page.locator("#qpm-chart")).to_have_attribute("data-peak", re.compile(r"^[1-9]"))
    expect(page.locator("#qpm-summary")).to_contain_text("a minute over the last 5 minutes")
    # New questions are in the log only when asked for.
    expect(page.locator("#activity-list")).not_to_contain_text("new question")
    page.locator("#activity-all").check()
    expect(page.locator("#activity-list")).to_contain_text("new question")
    page.locator("#activity-all").uncheck()

    # Search with "/" filters the list, accents and capitals aside; Esc clears it.
    page.locator("#queue").click()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("AUTOBUS")
    expect(page.locator("#queue .item")).to_have_count(1)
    expect(page.locator("#queue .item")).to_contain_text("autobús")
    page.keyboard.press("Enter")
    assert focused_id(page) == selected_id(page)
    page.keyboard.press("/")
    page.keyboard.press("Escape")
    expect(page.locator("#queue .item")).to_have_count(2)

    # The entry's button takes the moderator to that question, wherever it is.
    entry.locator("[data-goto]").click()
    expect(page.locator("[data-tab=approved]")).to_have_attribute("aria-selected", "true")
    assert selected_id(page) == farola["id"]

    with page.expect_download() as download_info:
        page.locator("#export-link").click()
    download = download_info.value
    assert download.suggested_filename == f"{SLUG}-questions.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["status"] for r in rows] == ["approved", "pending", "pending"]
    assert rows[0]["approved_by"] == OTHER

    with httpx.Client(base_url=server.base_url) as anonymous:
        assert anonymous.get(f"/api/meetings/{SLUG}/export.csv").status_code == 401


def test_approved_questions_are_reordered_with_shift_keys_drag_and_buttons(
    server: LiveServer, contexts: Contexts
) -> None:
    token = server.moderator_token()
    ids = [server.submit(name=f"Vecino {n}", text=f"Pregunta {n}")["id"] for n in range(4)]
    for sub_id in ids:
        server.act(token, sub_id, "approve")
    page = contexts.moderator()
    page.keyboard.press("2")
    expect(page.locator("#queue .item")).to_have_count(4)
    start = listed_ids(page)
    expect(page.locator("#queue .item .item-rank").first).to_have_text("1.")

    page.keyboard.press("j")
    page.keyboard.press("k")
    moved = selected_id(page)
    assert moved == start[0]
    page.keyboard.press("Shift+J")
    wait_for(lambda: listed_ids(page)[:2] == [start[1], start[0]], "Shift+J to move it down")
    assert (selected_id(page), focused_id(page)) == (moved, moved)
    page.keyboard.press("Shift+K")
    wait_for(lambda: listed_ids(page) == start, "Shift+K to move it back up")

    page.locator(f"#queue .item[data-id='{start[3]}']").drag_to(
        page.locator(f"#queue .item[data-id='{start[0]}']"),
        target_position={"x": 40, "y": 5},
    )
    wait_for(lambda: listed_ids(page)[0] == start[3], "the drag to the top")

    page.locator(f"#queue .item[data-id='{start[3]}'] [data-move=down]").click()
    wait_for(lambda: listed_ids(page)[:2] == [start[0], start[3]], "the ↓ button")

    # The order is the server's, for every page: the public queue follows it.
    order = listed_ids(page)
    positions = {s["id"]: s["position"] for s in server.state()["approved"]}
    assert sorted(order, key=lambda i: positions[i]) == order
    expect(page.locator("#action-error")).to_be_hidden()


def test_a_long_queue_shows_its_first_cards_and_the_rest_on_demand(
    server: LiveServer, contexts: Contexts
) -> None:
    limits = council.intake.Limits()
    ids = [
        server.write(
            council.intake.submit,
            slug=SLUG,
            question=council.intake.check_question(
                name=f"Vecina {n}", text=f"Pregunta número {n}", neighborhood=None, limits=limits
            ),
        ).id
        for n in range(210)
    ]
    page = contexts.moderator()
    expect(page.locator("[data-count=pending]")).to_have_text("210")
    expect(page.locator("#queue .item")).to_have_count(200)
    more = page.locator("#queue-more")
    expect(more).to_have_text("Show 10 more (10 not shown)")

    # j past the last card shown brings the next one in, selected and focused.
    page.locator(f"#queue .item[data-id='{ids[199]}'] .item-text").click()
    page.keyboard.press("j")
    assert (selected_id(page), focused_id(page)) == (ids[200], ids[200])
    expect(more).to_be_hidden()

    page.keyboard.press("7")  # another tab starts short again
    expect(page.locator("#queue .item")).to_have_count(200)
    more.click()
    expect(page.locator("#queue .item")).to_have_count(210)
    expect(more).to_be_hidden()


def test_merging_and_editing_work_from_the_keyboard(server: LiveServer, contexts: Contexts) -> None:
    kept = server.submit(name="Carmen", text="¿Cuándo arreglan la farola de la calle Mayor?")
    again = server.submit(name="Luis", text="¿cuando arreglan la farola de la calle mayor?")
    page = contexts.moderator()
    expect(page.locator("#queue .item")).to_have_count(2)
    page.keyboard.press("j")
    assert selected_id(page) == again["id"]

    page.keyboard.press("m")
    merge_input = page.locator("#merge-input")
    expect(merge_input).to_be_focused()
    # The likely duplicate is already filled in; Enter merges.
    expect(merge_input).to_have_value(str(kept["id"]))
    page.keyboard.press("Enter")
    expect(page.locator("[data-count=merged]")).to_have_text("1")
    expect(page.locator(f"#queue .item[data-id='{kept['id']}']")).to_contain_text("+1 asked this")
    assert (selected_id(page), focused_id(page)) == (kept["id"], kept["id"])

    page.keyboard.press("e")
    edit_input = page.locator("#edit-input")
    expect(edit_input).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("¿Cuándo arreglarán la farola de la calle Mayor?")
    page.keyboard.press("Control+Enter")
    card = page.locator(f"#queue .item[data-id='{kept['id']}']")
    expect(card.locator(".item-text")).to_have_text(
        "¿Cuándo arreglarán la farola de la calle Mayor?"
    )
    expect(card).to_contain_text("edited")
    assert focused_id(page) == kept["id"]
