"""Accessibility in real Chromium: axe-core on every page, landmarks, headings, focus, live
regions, reduced motion, and the chamber screen read from the back of a room.

axe-core is vendored under static/vendor/axe-core/ (see its README) and added to each page
by Playwright from the app's own origin, so the Content-Security-Policy stays as it is in
production. No product page loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

import council.meetings
import council.moderation.screen
from council.moderation.accounts import add_user
from tests.e2e.conftest import Contexts
from tests.e2e.test_browser_replay import mp4, recorded_meeting
from tests.factories import LIVE_PASSWORD as PASSWORD
from tests.factories import LIVE_SLUG as SLUG
from tests.factories import LiveServer

pytestmark = pytest.mark.browser

__all__ = ["mp4"]  # the replay test's module fixture: a real MP4 for the replay page

AXE = "/static/vendor/axe-core/axe.min.js"
# Spanish through ?lang=, which the page then remembers; English is the default.
LANGUAGES = ["en", "es"]

# axe.run over the whole document; only what a person is blocked by counts here.
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5)
        .map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
      more: Math.max(0, v.nodes.length - 5),
    }));
}"""

# Landmarks and the outline: one h1, no level skipped going down.
STRUCTURE = """() => {
  const visible = (el) => el.getClientRects().length > 0;
  const count = (selector) => [...document.querySelectorAll(selector)].filter(visible).length;
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .filter((h) => visible(h) && !h.closest("dialog:not([open])"))
    .map((h) => Number(h.tagName[1]));
  const skips = [];
  headings.forEach((level, i) => {
    if (i > 0 && level > headings[i - 1] + 1) skips.push([headings[i - 1], level]);
  });
  return {
    banner: count("body > header, [role=banner]"), navigation: count("nav, [role=navigation]"),
    main: count("main, [role=main]"), contentinfo: count("body > footer, [role=contentinfo]"),
    h1: headings.filter((l) => l === 1).length, first: headings[0] || 0, skips,
  };
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE)
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return found


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}  -- {summary}")
        if v["more"]:
            lines.append(f"    ... and {v['more']} more")
    return "\n".join(lines)


def structure_problems(where: str, page: Page, *, screen: bool = False) -> list[str]:
    found = page.evaluate(STRUCTURE)
    problems = []
    # The projector has nothing to navigate and no footer to read: a header and a main only.
    wanted = ("banner", "main") if screen else ("banner", "navigation", "main", "contentinfo")
    problems += [f"{where}: no {name} landmark" for name in wanted if found[name] < 1]
    if found["main"] > 1:
        problems.append(f"{where}: {found['main']} main landmarks")
    if found["h1"] != 1 or found["first"] != 1:
        problems.append(f"{where}: wants one h1 before any other heading: {found}")
    if found["skips"]:
        problems.append(f"{where}: heading levels skipped {found['skips']}")
    return problems


def with_lang(path: str, language: str) -> str:
    if language == "en":
        return path
    return f"{path}{'&' if '?' in path else '?'}lang={language}"


def wait_ready(page: Page) -> None:
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


def long_spanish(length: int = 500) -> str:
    words = "Electroencefalografistas desproporcionadamente "
    return (words * (length // len(words) + 1))[: length - 1] + "?"


def busy_meeting(server: LiveServer, media: Path) -> dict[str, Any]:
    """A recorded meeting with questions in every public state, and some pending."""
    ids: dict[str, Any] = recorded_meeting(server, media)
    token = server.moderator_token()
    waiting = server.submit(name="Carmen", text="¿Cuándo limpiarán el río?", neighborhood="La Vega")
    server.act(token, waiting["id"], "approve")
    pending = [
        server.submit(name="Luis", text="¿Hay ayudas para el alquiler de jóvenes?"),
        server.submit(name="Rosa", text=long_spanish(), neighborhood="Urbanización Los Almendros"),
    ]
    ids["waiting"] = waiting["id"]
    ids["track_url"] = pending[0]["track_url"]
    ids["track_approved"] = waiting["track_url"]
    return ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_passes_axe_with_landmarks_and_headings(
    server: LiveServer, contexts: Contexts, mp4: Path, language: str
) -> None:
    ids = busy_meeting(server, mp4)
    # The chamber screen speaks the meeting's language, whatever the projector's browser asks.
    server.write(council.meetings.set_language, slug=SLUG, language=language)
    problems: list[str] = []

    def check(where: str, page: Page, *, screen: bool = False) -> None:
        wait_ready(page)
        if language != "en":
            assert page.evaluate("document.documentElement.lang") == language, where
        problems.extend(describe(where, [v]) for v in axe_violations(page))
        problems.extend(structure_problems(where, page, screen=screen))

    visitor = contexts.page(1280, 800)
    pages = {
        "index": "/",
        "public meeting": f"/m/{SLUG}",
        "tracking (pending)": ids["track_url"],
        "tracking (approved)": ids["track_approved"],
        "archive list": "/archive",
        "archive search": "/archive?q=farola",
        "replay": f"/archive/{SLUG}",
        "login": "/login",
        "not found": "/m/no-such-meeting",
    }
    for where, path in pages.items():
        visitor.goto(with_lang(path, language))
        if where == "public meeting":
            expect(visitor.locator("#on-screen .question")).to_have_count(1)
            expect(visitor.locator("#approved .question")).to_have_count(3)
        if where == "replay":
            visitor.wait_for_function("document.getElementById('video').readyState >= 1")
        check(where, visitor)
        if where == "public meeting":
            # The form as a person who pressed Send too soon sees it, then after sending.
            visitor.locator("#ask-form button[type=submit]").click()
            expect(visitor.locator("#name-error")).to_be_visible()
            check("public meeting, form errors", visitor)
            visitor.fill("#name", "Ana")
            visitor.fill("#text", "¿Habrá fiestas en agosto?")
            visitor.locator("#ask-form button[type=submit]").click()
            expect(visitor.locator("#ask-done")).to_be_visible()
            check("public meeting, question sent", visitor)

    phone = contexts.page(360, 740, is_mobile=True, has_touch=True)
    for where, path in {
        "public meeting (phone)": f"/m/{SLUG}",
        "tracking (phone)": ids["track_url"],
    }.items():
        phone.goto(with_lang(path, language))
        check(where, phone)

    screen = contexts.page(1920, 1080)
    screen.goto(with_lang(f"/screen/{SLUG}", language))
    expect(screen.locator("#current-text")).to_be_visible()
    check("screen", screen, screen=True)

    moderator = contexts.moderator()
    moderator.goto(with_lang(f"/moderate/{SLUG}", language))
    expect(moderator.locator("#queue .item")).to_have_count(3)  # two, and the one just sent
    check("moderator", moderator)
    # The dialogs are closed (and so unchecked) until a key opens them.
    moderator.locator("#queue .item").first.click()
    for key, dialog in (("?", "help"), ("r", "reason"), ("e", "edit"), ("m", "merge")):
        moderator.keyboard.press(key)
        expect(moderator.locator(f"#{dialog}-dialog")).to_be_visible()
        check(f"moderator, {dialog} dialog", moderator)
        moderator.keyboard.press("Escape")
        expect(moderator.locator(f"#{dialog}-dialog")).to_be_hidden()

    server.write(add_user, username="clerk", password=PASSWORD, role="admin")
    admin = contexts.page(1280, 800)
    admin.goto("/login?next=/admin")
    admin.fill("#username", "clerk")
    admin.fill("#password", PASSWORD)
    admin.locator("form[action='/login'] button[type=submit]").click()
    admin.wait_for_url("**/admin")
    admin.goto(with_lang("/admin", language))
    check("admin", admin)

    assert not problems, "accessibility problems:\n" + "\n".join(problems)


def contrast(foreground: list[float], background: list[float]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours given as 0-255 channels."""

    def luminance(rgb: list[float]) -> float:
        channels = [c / 255 for c in rgb[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# An element's text colour and the first opaque background behind it, as [r, g, b] lists.
COLOURS = """(el) => {
  // Re-rendered by a live message between finding and reading it: no computed style.
  if (!el.isConnected || !getComputedStyle(el).color) return null;
  const rgb = (value) => value.match(/[\\d.]+/g).map(Number);
  const fg = rgb(getComputedStyle(el).color);
  let node = el, bg = null;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] === 1) { bg = c; break; }
    node = node.parentElement;
  }
  return { fg, bg: bg || [255, 255, 255], size: parseFloat(getComputedStyle(el).fontSize) };
}"""


def read_colours(page: Any) -> dict[str, Any]:
    """COLOURS of the question on screen, asked again if a live re-render got in between."""
    for _attempt in range(20):
        colours = page.locator("#current-text").evaluate(COLOURS)
        if colours is not None:
            return dict(colours)
        page.wait_for_timeout(50)
    raise AssertionError("the question on screen never held still long enough to be read")


# The outline a focused element shows, and the first opaque background around it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const rgb = (value) => value.match(/[\\d.]+/g).map(Number);
  let node = el.parentElement, bg = null;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] === 1) { bg = c; break; }
    node = node.parentElement;
  }
  const kind = el.className ? `.${String(el.className).split(" ")[0]}` : "";
  const name = el.id ? `#${el.id}` : el.tagName.toLowerCase() + kind;
  return { name, style: style.outlineStyle, width: parseFloat(style.outlineWidth),
           colour: rgb(style.outlineColor), bg: bg || [255, 255, 255],
           visible: el.getClientRects().length > 0 };
}"""


def tab_through(page: Page, presses: int) -> list[str]:
    """Press Tab: each element that takes the focus shows a ring of 3:1 against its background."""
    problems = []
    seen = 0
    for _ in range(presses):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None or not ring["visible"]:
            continue
        seen += 1
        ratio = contrast(ring["colour"], ring["bg"])
        if ring["style"] == "none" or ring["width"] < 2 or ratio < 3:
            problems.append(
                f"{ring['name']}: outline {ring['style']} {ring['width']}px, contrast {ratio:.2f}"
            )
    assert seen >= presses // 2, f"only {seen} of {presses} Tab presses reached something visible"
    return problems


def test_keyboard_focus_is_always_visible(server: LiveServer, contexts: Contexts) -> None:
    token = server.moderator_token()
    for name in ("Ana", "Pedro"):
        sub = server.submit(name=name, text=f"¿Pregunta de {name}?")
        server.act(token, sub["id"], "approve")
    page = contexts.page(1280, 800)
    problems: list[str] = []
    for path, presses in ((f"/m/{SLUG}", 16), ("/login", 8), ("/archive", 8)):
        page.goto(path)
        if path != "/login":  # the login form puts the focus in its first field itself
            # The keyboard's first stop is the skip link, and it is shown when focused.
            page.keyboard.press("Tab")
            expect(page.locator(".skip-link")).to_be_focused()
            box = page.locator(".skip-link").bounding_box()
            assert box is not None and box["x"] >= 0, f"skip link off screen on {path}: {box}"
        problems += [f"{path} {p}" for p in tab_through(page, presses)]
    moderator = contexts.moderator()
    expect(moderator.locator("#queue .item")).to_have_count(0)
    problems += [f"moderator {p}" for p in tab_through(moderator, 20)]
    assert not problems, "focus rings too faint or missing:\n" + "\n".join(problems)


def test_new_questions_are_announced_politely_once(server: LiveServer, contexts: Contexts) -> None:
    token = server.moderator_token()
    first = server.submit(name="Ana", text="¿Cuándo abre la biblioteca?")
    server.act(token, first["id"], "approve")
    page = contexts.page(1280, 800)
    page.goto(f"/m/{SLUG}")
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_text("")
    # Lists rebuilt at every vote must not be live regions: a reader would hear them all again.
    for region in ("#approved", "#on-screen"):
        assert page.locator(region).get_attribute("aria-live") is None, region

    moderator = contexts.moderator()
    expect(moderator.locator("#queue .item")).to_have_count(0)
    mod_announcer = moderator.locator("#announcer")
    expect(mod_announcer).to_have_attribute("aria-live", "polite")

    second = server.submit(name="Pedro Ruiz", text="¿Habrá autobús los domingos?")
    # The moderator hears that a question arrived; the public hears nothing yet.
    expect(mod_announcer).to_contain_text("Pedro Ruiz")
    server.act(token, second["id"], "approve")
    expect(announcer).to_contain_text("¿Habrá autobús los domingos?")
    expect(announcer).to_contain_text("Pedro Ruiz")

    server.act(token, first["id"], "show")
    expect(announcer).to_contain_text("¿Cuándo abre la biblioteca?")
    said = announcer.text_content()

    # A vote rebuilds the lists; nothing new is said.
    page.locator(f'[data-vote="{second["id"]}"]').click()
    expect(page.locator(f'[data-vote="{second["id"]}"] .me-too-count')).to_have_text("1")
    page.wait_for_timeout(300)
    assert announcer.text_content() == said

    # Taken off the screen it returns to the list: not new, not announced again.
    server.act(token, first["id"], "hide")
    expect(page.locator("#approved .question")).to_have_count(2)
    page.wait_for_timeout(300)
    assert announcer.text_content() == said


MOTION = """() => {
  const seconds = (value) => value.split(",")
    .map((v) => parseFloat(v) * (v.trim().endsWith("ms") ? 0.001 : 1));
  const moving = [];
  const probe = document.querySelector("main");
  // A transition set from script must be stopped too, not only those in our stylesheets.
  probe.style.transition = "opacity 2s";
  probe.style.animation = "none 3s";
  for (const el of document.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    const { transitionDuration: t, animationDuration: a } = style;
    const name = `${el.tagName.toLowerCase()}#${el.id}`;
    if (Math.max(...seconds(t), ...seconds(a)) > 0) moving.push(`${name}: ${t} / ${a}`);
  }
  probe.style.transition = probe.style.animation = "";
  return moving;
}"""


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_reduced_motion_stops_every_transition(
    server: LiveServer, contexts: Contexts, motion: str
) -> None:
    token = server.moderator_token()
    sub = server.submit(name="Ana", text="¿Cuándo abre la biblioteca?")
    server.act(token, sub["id"], "approve")
    server.act(token, sub["id"], "show")
    page = contexts.page(1280, 800, reduced_motion=motion)
    for path in (f"/m/{SLUG}", f"/screen/{SLUG}", sub["track_url"]):
        page.goto(path)
        moving = page.evaluate(MOTION)
        if motion == "reduce":
            assert moving == [], f"{path} still moves with reduced motion: {moving}"
        else:
            # The probe itself shows the check would catch motion when it is allowed.
            assert any(m.startswith("main") for m in moving), (path, moving)


# Questions that test the chamber screen's fitting: the longest accepted, made of long
# Spanish words; one very long word; and a word longer than any line.
SCREEN_TEXTS = {
    "500 characters of long words": long_spanish(500),
    "one long word": "¿Desproporcionadamente?",
    "a word wider than the screen": "¿" + "Electroencefalografistas" * 4 + "?",
}
VIEWPORTS = [(1920, 1080), (1280, 720)]

FIT = """() => {
  const box = document.getElementById("current-box");
  const text = document.getElementById("current-text");
  const doc = document.documentElement;
  const overflowing = [...document.querySelectorAll(".next-list li, .current-meta, .screen-header")]
    .filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.className || el.tagName);
  // Everything the room needs stays inside the projected picture.
  for (const selector of ["#current-box", ".screen-hashtags", ".side", "img.qr", ".join-url"]) {
    const r = document.querySelector(selector).getBoundingClientRect();
    const [left, top, right, bottom] = [r.left, r.top, r.right, r.bottom].map(Math.round);
    if (r.width === 0 || left < 0 || top < 0 || right > innerWidth || bottom > innerHeight) {
      overflowing.push(`${selector} at ${left},${top}-${right},${bottom}`);
    }
  }
  return {
    box: [box.scrollWidth, box.clientWidth, box.scrollHeight, box.clientHeight],
    text: [text.scrollWidth, text.clientWidth],
    page: [doc.scrollWidth, doc.clientWidth, doc.scrollHeight, doc.clientHeight],
    fontSize: parseFloat(getComputedStyle(text).fontSize), overflowing,
  };
}"""


def assert_fits(screen: Page, where: str) -> float:
    screen.evaluate("document.fonts.ready.then(() => true)")
    m = screen.evaluate(FIT)
    sw, cw, sh, ch = m["box"]
    assert sw <= cw and sh <= ch, f"{where}: the question overflows its box: {m}"
    assert m["text"][0] <= m["text"][1], f"{where}: a word sticks out of the question: {m}"
    pw, vw, ph, vh = m["page"]
    assert pw <= vw and ph <= vh, f"{where}: the screen scrolls: {m}"
    assert not m["overflowing"], f"{where}: text sticks out: {m}"
    size: float = m["fontSize"]
    return size


@pytest.mark.parametrize("language", LANGUAGES)
def test_chamber_screen_fits_long_spanish_and_reads_from_the_back(
    server: LiveServer, contexts: Contexts, language: str, tmp_path: Path
) -> None:
    server.write(council.meetings.set_language, slug=SLUG, language=language)
    token = server.moderator_token()
    ids = {}
    for label, text in SCREEN_TEXTS.items():
        ids[label] = server.submit(
            name="María José Fernández-Castellanos de la Peña",
            text=text,
            neighborhood="Urbanización Los Almendros del Río",
        )["id"]
        server.act(token, ids[label], "approve")
    problems = []
    for width, height in VIEWPORTS:
        screen = contexts.page(width, height)
        screen.goto(f"/screen/{SLUG}")
        assert screen.evaluate("document.documentElement.lang") == language
        for label, sub_id in ids.items():
            server.act(token, sub_id, "show")  # arrives live: laid out by screen.js
            expect(screen.locator("#current-text")).to_have_text(SCREEN_TEXTS[label])
            where = f"{width}x{height} {language} {label}"
            size = assert_fits(screen, where)
            # Read from the back of a room: never below 2.5% of the screen's height.
            assert size >= height * 0.025, f"{where}: type too small ({size}px)"
            if label == "one long word":
                # A word that fits at a readable size is kept whole, not cut across lines.
                lines = screen.locator("#current-text").evaluate(
                    "el => { const r = document.createRange(); r.selectNodeContents(el);"
                    " return new Set([...r.getClientRects()].map((c) => Math.round(c.top))).size; }"
                )
                assert lines == 1, f"{where}: the word is broken over {lines} lines"
            screen.screenshot(path=str(tmp_path / f"screen-{width}-{language}-{sub_id}.png"))
            # The question text: 7:1 at least (WCAG AAA), as a projector washes colours out.
            colours = read_colours(screen)
            ratio = contrast(colours["fg"], colours["bg"])
            assert ratio >= 7, f"{where}: question text contrast {ratio:.2f} {colours}"
        # A projector switched on late lays out the same question from the server's page.
        screen.reload()
        expect(screen.locator("#current-text")).to_have_text(SCREEN_TEXTS[label])
        assert_fits(screen, f"{width}x{height} {language} reloaded")
        problems += [describe(f"screen {width}x{height}", [v]) for v in axe_violations(screen)]

    # During a blackout only the meeting's title shows: it must be readable all the same.
    server.write(council.moderation.screen.set_blackout, slug=SLUG, on=True, actor="mod")
    dark = contexts.page(1280, 720)
    dark.goto(f"/screen/{SLUG}")
    expect(dark.locator("#blackout-title")).to_be_visible()
    problems += [describe("screen in blackout", [v]) for v in axe_violations(dark)]
    assert not problems, "\n".join(problems)
