"""Spanish and English (#8): complete catalogs, a language per request, per meeting on screen."""

from __future__ import annotations

import asyncio
import gettext
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from council import catalogs, cli
from council.db import Database
from council.errors import NotFound
from council.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    _,
    format_datetime,
    format_day,
    format_number,
    from_accept_language,
    language,
    switch_links,
)
from council.meetings import create_meeting, end_meeting, get_meeting, set_language
from council.moderation import actions
from council.settings import Settings
from tests.factories import (
    council_env,
    csrf_from,
    log_in,
    make_meeting,
    make_question,
    make_user,
    recorded,
)

ROOT = Path(__file__).parent.parent
SPANISH = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture(scope="module")
def sources() -> Catalog:
    """The catalog extracted from the code and templates as they are now."""
    return catalogs.extract_catalog()


# -- the catalogs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", catalogs.translated_languages())
def test_every_source_string_is_translated_with_the_same_placeholders(
    code: str, sources: Catalog
) -> None:
    """Fails on a new ``_()`` without a Spanish msgstr, a fuzzy one, or a lost {name}/%(name)s."""
    assert len(sources) > 500  # extraction found the templates and the Python code
    problems = catalogs.problems(code, sources)
    assert problems == [], (
        f"{len(problems)} {code} messages need work (run `council i18n extract`, "
        f"`council i18n update`, translate, `council i18n compile`): {problems[:20]}"
    )


def test_council_i18n_check_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["i18n", "check"]) == 0, capsys.readouterr()
    assert "Every string is translated." in capsys.readouterr().out


def test_the_placeholder_check_catches_a_lost_or_renamed_placeholder() -> None:
    assert catalogs.placeholders("Wait {n} seconds, %(name)s, 100%%") == catalogs.placeholders(
        "Espera {n} segundos, %(name)s, 100%%"
    )
    assert catalogs.placeholders("Wait {n} seconds") != catalogs.placeholders("Espera {m} s")
    assert catalogs.placeholders("%(num)d shown") != catalogs.placeholders("mostradas")


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_compiled_catalogs_match_their_po_files(code: str) -> None:
    """The committed .mo is what `council i18n compile` would write from the .po now."""
    expected = gettext.GNUTranslations(
        io.BytesIO(catalogs.compile_catalog(catalogs.read_catalog(catalogs.po_path(code), code)))
    )
    with catalogs.mo_path(code).open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)
    stale = "stale: run `council i18n compile`"
    assert shipped._catalog == expected._catalog, stale  # type: ignore[attr-defined]
    counts = range(0, 1_000_001, 1_001)
    assert [shipped.plural(n) for n in counts] == [expected.plural(n) for n in counts]  # type: ignore[attr-defined]


def test_spanish_plurals_follow_the_count() -> None:
    with language("es"):
        from council.i18n import ngettext

        assert ngettext("%(num)d question shown", "%(num)d questions shown", 1) % {"num": 1} == (
            "1 pregunta mostrada"
        )
        assert ngettext("%(num)d question shown", "%(num)d questions shown", 3) % {"num": 3} == (
            "3 preguntas mostradas"
        )


# -- choosing the language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-ES,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.3", "es"),  # French first: the best we speak
        ("en;q=0.2, es-MX;q=0.8", "es"),  # weights, not order
        ("es;q=0", None),  # refused outright
        ("de, fr", None),
        ("", None),
    ],
)
def test_accept_language_is_negotiated(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def _lang_attribute(html: str) -> str:
    found = re.search(r"<html lang=\"([a-z]+)\"", html)
    assert found is not None, html[:200]
    return found.group(1)


def test_accept_language_es_gives_spanish_pages(client: TestClient, meeting: str) -> None:
    index = client.get("/", headers=SPANISH)
    assert _lang_attribute(index.text) == "es"
    assert "Sesiones del pleno" in index.text and "Council meetings" not in index.text
    assert "Saltar al contenido" in index.text
    page = client.get("/m/pleno", headers=SPANISH).text
    assert "Tu pregunta" in page and "Your question" not in page
    assert "Accept-Language" in index.headers["vary"]
    english = client.get("/", headers=ENGLISH)
    assert _lang_attribute(english.text) == "en" and "Council meetings" in english.text


def test_without_a_preference_the_default_language_is_used(tmp_path: Path) -> None:
    from council.app import create_app

    with language("en"):  # create_app sets the server's language for its caller: not ours
        app = create_app(Settings(data_dir=tmp_path, default_language="es", _env_file=None))
    try:
        with TestClient(app) as client:
            assert _lang_attribute(client.get("/").text) == "es"
            assert _lang_attribute(client.get("/", headers={"Accept-Language": "de"}).text) == "es"
            assert _lang_attribute(client.get("/", headers=ENGLISH).text) == "en"
    finally:
        app.state.council.db.close()


def test_lang_switch_is_remembered_and_lang_overrides_it(client: TestClient) -> None:
    switched = client.get("/?lang=es", headers=ENGLISH)
    assert _lang_attribute(switched.text) == "es"
    [cookie] = _language_cookies(switched.headers.get_list("set-cookie"))
    assert cookie.startswith("council_lang=es;") and "SameSite=Lax" in cookie
    assert "Max-Age=" in cookie and "Path=/" in cookie
    # Remembered: the browser still says English, the cookie wins.
    later = client.get("/login", headers=ENGLISH)
    assert _lang_attribute(later.text) == "es"
    assert _language_cookies(later.headers.get_list("set-cookie")) == []
    # ?lang= beats the cookie, and becomes the new one.
    assert _lang_attribute(client.get("/login?lang=en", headers=SPANISH).text) == "en"
    assert _lang_attribute(client.get("/login", headers=SPANISH).text) == "en"
    # Something we do not speak changes nothing.
    assert _language_cookies(client.get("/login?lang=xx").headers.get_list("set-cookie")) == []


def _language_cookies(cookies: list[str]) -> list[str]:
    return [c for c in cookies if c.startswith("council_lang=")]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_switch = False
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "nav" and ("class", "language-switch") in attrs:
            self.in_switch = True
        elif tag == "a" and self.in_switch:
            self.links.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self.in_switch = False


def test_the_switch_links_keep_the_address_and_name_each_language_in_itself(
    client: TestClient,
) -> None:
    parser = _Links()
    parser.feed(client.get("/archive?q=farola&lang=en").text)
    by_lang = {link["lang"]: link for link in parser.links}
    assert set(by_lang) == {"es", "en"}
    assert by_lang["es"]["href"] == "/archive?q=farola&lang=es"
    assert by_lang["en"]["href"] == "/archive?q=farola&lang=en"
    assert by_lang["en"].get("aria-current") == "true" and "aria-current" not in by_lang["es"]
    html = client.get("/archive?q=farola&lang=en").text
    assert ">Español</a>" in html and ">English</a>" in html


def test_the_switch_links_never_lead_to_another_site() -> None:
    for path in ("//evil.example/x", "///evil.example", "/\\evil.example"):
        hrefs = [link["href"] for link in switch_links(path, "")]
        assert all(str(h).startswith(("/?", "/%5C")) for h in hrefs), hrefs
    [es, _en] = switch_links("/archive/pleno día", "q=farola")
    assert es["href"] == "/archive/pleno%20d%C3%ADa?q=farola&lang=es"


# -- the chamber screen follows its meeting ------------------------------------------------------


def test_screen_speaks_the_meetings_language_whatever_the_browser(
    client: TestClient, db: Database
) -> None:
    make_meeting(db, "es-pleno", language="es")
    make_meeting(db, "en-pleno", language="en")
    spanish = client.get("/screen/es-pleno", headers=ENGLISH).text
    assert _lang_attribute(spanish) == "es"
    assert "Envía tu pregunta al Ayuntamiento" in spanish
    english = client.get("/screen/en-pleno?lang=es", headers=SPANISH).text
    assert _lang_attribute(english) == "en"
    assert "Send your question to the council" in english
    # The request's own choice still holds for the other pages.
    assert _lang_attribute(client.get("/m/en-pleno").text) == "es"


def test_screen_language_is_set_from_the_admin_page(client: TestClient, db: Database) -> None:
    make_meeting(db)
    make_user(db, "alcaldia", role="admin")
    log_in(client, "alcaldia")
    assert _lang_attribute(client.get("/screen/pleno", headers=SPANISH).text) == "en"
    admin = client.get("/admin", headers=SPANISH).text
    assert 'action="/admin/meetings/pleno/language"' in admin
    token = csrf_from(admin)
    saved = client.post(
        "/admin/meetings/pleno/language",
        data={"language": "es", "csrf_token": token},
        headers=SPANISH,
    )
    assert saved.status_code == 200 and "Idioma de la pantalla guardado." in saved.text
    assert _lang_attribute(client.get("/screen/pleno", headers=ENGLISH).text) == "es"
    refused = client.post(
        "/admin/meetings/pleno/language", data={"language": "fr", "csrf_token": token}
    )
    assert refused.status_code == 422
    created = client.post(
        "/admin/meetings",
        data={"slug": "junio", "title": "Junio", "language": "es", "csrf_token": token},
    )
    assert created.status_code == 200
    assert db.run_read(get_meeting, slug="junio").language == "es"


def test_meeting_create_takes_a_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("COUNCIL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COUNCIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no developer's .env
    assert cli.run(["meeting", "create", "pleno", "--title", "Pleno", "--language", "es"]) == 0
    with pytest.raises(SystemExit) as refused:
        cli.run(["meeting", "create", "otro", "--title", "Otro", "--language", "fr"])
    assert refused.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    database = Database(f"sqlite:///{tmp_path / 'data' / 'council.db'}")
    try:
        assert database.run_read(get_meeting, slug="pleno").language == "es"
    finally:
        database.close()


def test_the_command_line_speaks_the_servers_language(tmp_path: Path) -> None:
    env = council_env(tmp_path)
    for code, words in (("es", "Todavía no hay sesiones"), ("en", "No meetings yet")):
        listed = subprocess.run(
            [sys.executable, "-m", "council.cli", "meeting", "list"],
            cwd=tmp_path,
            env={**env, "COUNCIL_DEFAULT_LANGUAGE": code},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert words in listed.stdout


# -- errors and websockets in the request's language --------------------------------------------


def test_a_422_detail_comes_back_in_spanish(client: TestClient, meeting: str) -> None:
    body = {"name": "Ana", "text": ""}
    spanish = client.post("/api/meetings/pleno/submissions", json=body, headers=SPANISH)
    assert spanish.status_code == 422
    assert "Escribe tu pregunta" in spanish.json()["detail"], spanish.json()
    english = client.post("/api/meetings/pleno/submissions", json=body, headers=ENGLISH)
    assert "Please write your question." in english.json()["detail"]
    # FastAPI's own validation (a missing field) too.
    missing = client.post("/api/meetings/pleno/submissions", json={}, headers=SPANISH)
    assert missing.status_code == 422
    assert "es obligatorio" in missing.json()["detail"], missing.json()


def test_an_unexpected_error_is_apologised_for_in_the_requests_language(app: FastAPI) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    # Starlette answers these from its outermost layer, outside the language middleware.
    app.router.add_api_route("/api/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        spanish = client.get("/api/broken", headers=SPANISH)
        english = client.get("/api/broken", headers=ENGLISH)
    assert spanish.status_code == 500
    assert spanish.json()["detail"].startswith("Algo ha fallado"), spanish.json()
    assert english.json()["detail"].startswith("Something went wrong"), english.json()


def test_errors_raised_on_the_writer_thread_speak_the_requests_language(
    client: TestClient, db: Database, meeting: str
) -> None:
    """A refusal built on the single writer thread, and one from the intake batch."""
    db.run_write(end_meeting, slug="pleno")
    for headers, words in ((SPANISH, "ya no admite preguntas"), (ENGLISH, "takes no more")):
        refused = client.post(
            "/api/meetings/pleno/submissions",
            json={"name": "Ana", "text": "¿Y la farola?"},
            headers=headers,
        )
        assert refused.status_code == 409
        assert words in refused.json()["detail"], refused.json()


def test_writes_and_pooled_reads_carry_the_callers_language(db: Database) -> None:
    def missing(session: Session) -> None:
        raise NotFound(_("This meeting no longer exists."))

    async def attempt() -> list[str]:
        db.inline_reads = False  # as on PostgreSQL: reads go to the thread pool
        found = []
        for code in ("es", "en", "es"):
            with language(code):
                for run in (db.write, db.read):
                    try:
                        await run(missing)
                    except NotFound as exc:
                        found.append(exc.message)
        return found

    with language("en"):
        messages = asyncio.run(attempt())
    spanish = "Esta sesión ya no existe."
    english = "This meeting no longer exists."
    assert messages == [spanish, spanish, english, english, spanish, spanish]


def test_websocket_opening_uses_the_connections_language(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    db.run_write(
        actions.reject, slug="pleno", submission_id=sub.id, actor="mod", reason="off_topic"
    )
    for headers, label in ((SPANISH, "Fuera de tema"), (ENGLISH, "Off topic")):
        with client.websocket_connect(f"/ws/track/{sub.track_token}", headers=headers) as ws:
            snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert snapshot["submission"]["rejection_reason"] == label


def test_replies_on_social_networks_speak_the_meetings_language(db: Database) -> None:
    from council.intake import Post, collect
    from council.replies import enqueue_answered

    for slug, code in (("es-pleno", "es"), ("en-pleno", "en")):
        make_meeting(db, slug, language=code)
        meeting_id = db.run_read(get_meeting, slug=slug).id
        [sub], _events = db.run_write(
            collect,
            meeting_id=meeting_id,
            source="x",
            posts=[
                Post(external_id=f"{slug}-1", text="¿Y la farola?", author_name="Ana", handle="ana")
            ],
        )
        for action in ("approve", "show", "answer"):
            db.run_write(getattr(actions, action), slug=slug, submission_id=sub.id, actor="mod")
    with language("en"):
        db.run_write(enqueue_answered, sources=("x",), public_url="https://council.jun.es")
    with db.session() as session:
        from council.models import Reply

        texts = {r.in_reply_to: r.text for r in session.query(Reply)}
    assert texts["es-pleno-1"].startswith("Gracias, Ana"), texts
    assert texts["en-pleno-1"].startswith("Thank you, Ana"), texts


# -- dates and numbers ----------------------------------------------------------------------------


def test_dates_and_numbers_follow_the_locale() -> None:
    when = datetime(2026, 12, 2, 19, 5, tzinfo=UTC)
    with language("es"):
        assert format_datetime(when) == "2 dic 2026, 19:05 UTC"
        assert format_datetime("2026-12-02T19:05:00Z") == "2 dic 2026, 19:05 UTC"
        assert format_day(when) == "2 de diciembre de 2026"
        assert format_number(12345.5) == "12.345,5"
    with language("en"):
        assert format_datetime(when) == "Dec 2, 2026, 7:05\u202fPM UTC"
        assert format_day(when) == "December 2, 2026"
        assert format_number(12345.5) == "12,345.5"
    assert format_datetime(None) == "" and format_day("") == ""


def test_pages_show_dates_in_the_readers_locale(client: TestClient, db: Database) -> None:
    db.run_write(
        create_meeting,
        slug="diciembre",
        title="Pleno de diciembre",
        starts_at=datetime(2026, 12, 2, 19, 5, tzinfo=UTC),
    )
    assert "2 dic 2026, 19:05 UTC" in client.get("/", headers=SPANISH).text
    assert "Dec 2, 2026, 7:05\u202fPM UTC" in client.get("/", headers=ENGLISH).text


# -- every template, in both languages ------------------------------------------------------------


class _Visible(HTMLParser):
    """The text a person meets: text nodes, labels in attributes, strings in JSON blocks."""

    ATTRIBUTES = frozenset({"aria-label", "title", "placeholder", "alt", "value", "content"})

    def __init__(self) -> None:
        super().__init__()
        self.fragments: list[str] = []
        self._json = False
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._script = tag == "script"
        # The JavaScript's words ("strings" blocks); "state" blocks are data, like a status.
        self._json = (
            tag == "script"
            and ("type", "application/json") in attrs
            and (dict(attrs).get("id") or "").endswith("strings")
        )
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.fragments.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = self._json = False

    def handle_data(self, data: str) -> None:
        if self._json:
            self._strings(json.loads(data))
        elif not self._script:
            self.fragments.append(data)

    def _strings(self, value: Any) -> None:
        if isinstance(value, str):
            self.fragments.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                self._strings(item)
        elif isinstance(value, list):
            for item in value:
                self._strings(item)


def _visible(html: str) -> set[str]:
    parser = _Visible()
    parser.feed(html)
    return {" ".join(f.split()) for f in parser.fragments if f.strip()}


def _differing(sources: Catalog) -> dict[str, str]:
    """English to Spanish, where they differ: seeing one on the other's page is a miss."""
    spanish = gettext.translation("council", LOCALE_DIR, languages=["es"])
    found = {}
    for message in sources:
        if not message.id or not isinstance(message.id, str):
            continue
        if catalogs.PLACEHOLDER.search(message.id):
            continue  # filled in: the words around the value are checked through the others
        translated = spanish.gettext(message.id)
        if translated != message.id:
            found[" ".join(message.id.split())] = " ".join(translated.split())
    return found


def _every_page(db: Database) -> dict[str, str]:
    """One address per template (partials and base through the pages that use them)."""
    return {
        "index.html": "/",
        "meeting.html": "/m/pleno",
        "screen.html": "/screen/pleno",
        "track.html": f"/t/{make_question(db, status='rejected').track_token}",
        "login.html": "/login",
        "admin.html": "/admin",
        "moderate.html": "/moderate/pleno",
        "archive.html": "/archive",
        "replay.html": "/archive/pleno",
        "error.html": "/no-such-page",
    }


def test_every_template_renders_in_both_languages_without_untranslated_strings(
    client: TestClient, db: Database, settings: Settings, sources: Catalog
) -> None:
    make_meeting(db, "pleno")
    make_meeting(db, "luego", title="Pleno de diciembre", live=False)
    for status in ("approved", "on_screen", "answered", "pending"):
        make_question(db, status=status)
    recorded(db, settings)
    make_user(db, "alcaldia", role="admin")
    log_in(client, "alcaldia")
    pages = _every_page(db)
    templates = {p.name for p in (ROOT / "templates").glob("*.html")}
    covered = set(pages) | {"base.html", "_question.html"}
    assert templates <= covered, f"add a page for {templates - covered} to this test"

    differing = _differing(sources)
    english_only, spanish_only = set(differing), set(differing.values()) - set(differing)
    for code, headers in (("es", SPANISH), ("en", ENGLISH)):
        db.run_write(set_language, slug="pleno", language=code)  # the screen follows this
        for template, path in pages.items():
            response = client.get(path, headers={**headers, "Accept": "text/html"})
            assert response.status_code == (404 if template == "error.html" else 200), path
            assert _lang_attribute(response.text) == code, path
            other = english_only if code == "es" else spanish_only
            missed = _visible(response.text) & other
            assert not missed, f"{path} in {code} shows the other language: {sorted(missed)}"
    # Ended, the meeting's page is the replay: checked above through /archive/pleno.
    db.run_write(end_meeting, slug="pleno")
    replay = client.get("/archive/pleno", headers=SPANISH)
    assert replay.status_code == 200 and not (_visible(replay.text) & english_only)


# -- shipped -------------------------------------------------------------------------------------


# The wheel's catalogs and a Spanish page from the installed copy: tests/test_packaging.py.
