"""The ``council`` command: run the server, the demo, and the clerk's chores.

Every command reads its settings from ``COUNCIL_*`` variables (and ``.env``),
brings the database schema up to date, and changes things only through the
same domain functions the web app uses, so a meeting started here writes the
same events as one started from the admin page.

Anything the user can fix (a bad argument, a slug taken, a meeting that does
not exist) is one line on standard error and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from council import __version__
from council.i18n import LANGUAGES, _, set_language, supported

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from council.settings import Settings

# Heavier modules (SQLAlchemy, pydantic, uvicorn, the app) are imported by the commands that
# use them, so `--help` and argument mistakes answer at once.

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Something the user typed is wrong; the message says what."""


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (and a hint), not the whole usage text."""

    def error(self, message: str) -> NoReturn:
        one_line = " ".join(message.split())
        self.exit(
            EXIT_USAGE,
            _("council: error: {message} (see '{prog} --help')").format(
                message=one_line, prog=self.prog
            )
            + "\n",
        )


# -- argument types ----------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a port number").format(text=text)
        ) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            _("a port is between 0 and 65535, not {port}").format(port=port)
        )
    return port


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a whole number").format(text=text)
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be 1 or more, not {value}").format(value=value))
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a number of seconds").format(text=text)
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(
            _("must be more than 0 seconds, not {text}").format(text=text)
        )
    return value


def _iso_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a date and time like 2026-11-24T19:00+01:00").format(text=text)
        ) from None


# -- helpers -----------------------------------------------------------------------------------


def _settings() -> Settings:
    from council.settings import Settings

    return Settings()


def _prepared_url() -> str:
    """The database URL from the settings, with its schema brought up to date."""
    from council import db

    url = _settings().resolved_database_url
    db.upgrade(url)
    return url


def _write(fn: Callable[..., T], **kwargs: Any) -> T:
    from council.db import Database

    database = Database(_prepared_url())
    try:
        result, _events = database.run_write(fn, **kwargs)
        return result
    finally:
        database.close()


def _read(fn: Callable[..., T], **kwargs: Any) -> T:
    from council.db import Database

    database = Database(_prepared_url())
    try:
        return database.run_read(fn, **kwargs)
    finally:
        database.close()


def _out(text: str = "") -> None:
    print(text, flush=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# -- commands ----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from council import db

    settings = _settings()
    # Migrate once here, before any worker starts: workers that each ran the migrations
    # at the same moment would race on the schema.
    db.upgrade(settings.resolved_database_url)
    os.environ["COUNCIL_AUTO_MIGRATE"] = "false"
    from council.archive.ffmpeg_bin import describe

    # Which ffmpeg will record, or why none can: better known now than mid-meeting.
    _out(describe())
    uvicorn.run(
        "council.app:create_app_from_env",
        factory=True,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        workers=args.workers,
        # Browsers offer per-message deflate; for small messages it doubles fan-out time
        # and memory (shared/notes/performance.md).
        ws_per_message_deflate=False,
        proxy_headers=True,
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from council.demo import run_demo

    return run_demo(host=args.host, port=args.port, trickle_seconds=args.trickle_seconds)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from council.db import upgrade

    url = _settings().resolved_database_url
    upgrade(url)
    _out(_("The database is up to date."))
    return EXIT_OK


def cmd_meeting_create(args: argparse.Namespace) -> int:
    from council.meetings import create_meeting
    from council.views import meeting_view

    view = _write(
        lambda session, **kw: meeting_view(create_meeting(session, **kw)),
        slug=args.slug,
        title=args.title,
        hashtags=args.hashtag or [],
        starts_at=args.starts_at,
        x_cost_cap=args.x_cost_cap,
        stream_url=args.stream_url,
        mastodon_instances=args.mastodon_instance,
        language=args.language,
        actor=None,
    )
    _out(_("Created meeting {slug!r} ({status}): {title}").format(**view))
    _out(_("Start it with: council meeting start {slug}").format(slug=view["slug"]))
    return EXIT_OK


def cmd_i18n(args: argparse.Namespace) -> int:
    from council import catalogs

    try:
        if args.i18n_command == "extract":
            _out(_("Wrote {path}").format(path=catalogs.extract()))
        elif args.i18n_command == "update":
            for path in catalogs.update():
                _out(_("Updated {path}").format(path=path))
        elif args.i18n_command == "compile":
            for path in catalogs.compile_all():
                _out(_("Compiled {path}").format(path=path))
        else:
            found = [
                (language, msgid, problem)
                for language in catalogs.translated_languages()
                for msgid, problem in catalogs.problems(language)
            ]
            for language, msgid, problem in found:
                _out(f"{language}: {problem}: {msgid!r}")
            if found:
                return _fail(
                    _("{n} strings need a translator's look").format(n=len(found)), EXIT_FAILURE
                )
            _out(_("Every string is translated."))
    except catalogs.CatalogError as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


def cmd_meeting_start(args: argparse.Namespace) -> int:
    from council.meetings import start_meeting
    from council.views import meeting_view

    view = _write(
        lambda session, **kw: meeting_view(start_meeting(session, **kw)), slug=args.slug, actor=None
    )
    _out(_("Meeting {slug!r} is live: {title}").format(**view))
    return EXIT_OK


def cmd_meeting_end(args: argparse.Namespace) -> int:
    from council.meetings import end_meeting
    from council.views import meeting_view

    view = _write(
        lambda session, **kw: meeting_view(end_meeting(session, **kw)), slug=args.slug, actor=None
    )
    _out(_("Meeting {slug!r} has ended; it takes no more questions.").format(**view))
    return EXIT_OK


def cmd_meeting_stream(args: argparse.Namespace) -> int:
    from council.meetings import set_stream_url

    url = None if args.url == "none" else args.url
    _write(set_stream_url, slug=args.slug, url=url, actor=None)
    _out(
        _("The public page of {slug!r} now shows {url}.").format(slug=args.slug, url=url)
        if url
        else _("The public page of {slug!r} shows no outside player.").format(slug=args.slug)
    )
    return EXIT_OK


def cmd_meeting_mastodon(args: argparse.Namespace) -> int:
    from council.meetings import set_mastodon_instances

    urls: list[str] | None = args.url or None
    if args.url == ["none"]:
        urls = []
    _write(set_mastodon_instances, slug=args.slug, urls=urls, actor=None)
    if urls is None:
        _out(
            _("{slug!r} reads the Mastodon servers of COUNCIL_MASTODON_INSTANCES.").format(
                slug=args.slug
            )
        )
    elif not urls:
        _out(_("{slug!r} reads no Mastodon server.").format(slug=args.slug))
    else:
        _out(_("{slug!r} reads Mastodon at {urls}.").format(slug=args.slug, urls=", ".join(urls)))
    return EXIT_OK


def cmd_meeting_list(args: argparse.Namespace) -> int:
    from council.meetings import list_meetings
    from council.views import meeting_view

    def views(session: Session) -> list[dict[str, Any]]:
        return [meeting_view(m) for m in list_meetings(session)]

    found = _read(views)
    if not found:
        _out(_("No meetings yet. Create one with: council meeting create SLUG --title TITLE"))
        return EXIT_OK
    rows = [
        [
            m["slug"],
            m["status"],
            _("yes") if m["accepting"] else _("no"),
            m["starts_at"] or "-",
            m["title"],
        ]
        for m in found
    ]
    headers = [_("SLUG"), _("STATUS"), _("ACCEPTING"), _("STARTS AT"), _("TITLE")]
    _out(_table(headers, rows))
    return EXIT_OK


def _read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError(_("no password came on standard input"))
        return password
    if not sys.stdin.isatty():
        raise UsageError(
            _("there is no terminal to ask for the password: pipe it in with --password-stdin")
        )
    try:
        first = getpass.getpass(_("Password for {username}: ").format(username=args.username))
        second = getpass.getpass(_("The same password again: "))
    except EOFError:
        raise UsageError(_("no password was typed")) from None
    if first != second:
        raise UsageError(_("the two passwords differ; nothing was saved"))
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from council.moderation.accounts import add_user

    password = _read_password(args)
    user = _write(
        lambda session, **kw: add_user(session, **kw).username,
        username=args.username,
        password=password,
        role=args.role,
    )
    _out(_("Added {role} {username!r}.").format(role=args.role, username=user))
    if password is None:
        _out(
            _("It has no password: give it an API token with: council token create {u}").format(
                u=user
            )
        )
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    from council.moderation.accounts import create_token

    token = _write(create_token, username=args.username)
    _out(_("Token for {username} (shown once, keep it secret):").format(username=args.username))
    _out(token)
    return EXIT_OK


def cmd_resident_add(args: argparse.Namespace) -> int:
    from council.residents import add_resident

    handle = _write(
        lambda session, **kw: add_resident(session, **kw).handle,
        handle=args.handle,
        source=args.source,
        note=args.note,
        actor=None,
    )
    _out(
        _("{handle} ({source}) is now a verified resident.").format(
            handle=handle, source=args.source
        )
    )
    return EXIT_OK


def cmd_resident_remove(args: argparse.Namespace) -> int:
    from council.residents import remove_resident

    _write(remove_resident, handle=args.handle, source=args.source, actor=None)
    _out(
        _("{handle} ({source}) is no longer a verified resident.").format(
            handle=args.handle, source=args.source
        )
    )
    return EXIT_OK


def cmd_resident_list(args: argparse.Namespace) -> int:
    from council.residents import list_residents

    def rows(session: Session) -> list[list[str]]:
        return [
            [r.handle, r.source, r.note or "", r.created_at.date().isoformat()]
            for r in list_residents(session, source=args.source)
        ]

    found = _read(rows)
    if not found:
        _out(_("No verified residents yet. Add one with: council resident add HANDLE"))
        return EXIT_OK
    _out(_table([_("HANDLE"), _("SOURCE"), _("NOTE"), _("ADDED")], found))
    return EXIT_OK


def cmd_resident_import(args: argparse.Namespace) -> int:
    from council.residents import import_csv

    try:
        with open(args.file, encoding="utf-8-sig") as csv_file:
            text = csv_file.read()
    except UnicodeDecodeError as exc:
        raise UsageError(_("{file} is not UTF-8 text").format(file=args.file)) from exc
    result = _write(import_csv, text=text, actor=None)
    _out(
        _("Added {added}; {already} were already registered.").format(
            added=result.added, already=result.already
        )
    )
    for problem in result.errors:
        print(problem, file=sys.stderr)
    return EXIT_OK if not result.errors else EXIT_USAGE


def cmd_record_start(args: argparse.Namespace) -> int:
    from council.archive.recordings import recording_view, start_recording

    mode = "pull" if args.pull else "srt" if args.srt else "rtmp"
    view = _write(
        lambda session, **kw: recording_view(start_recording(session, **kw)),
        slug=args.slug,
        mode=mode,
        url=args.pull,
        actor=None,
    )
    _out(
        _("Recording of {slug!r} requested ({mode}); the running server starts it.").format(
            slug=args.slug, mode=view["mode"]
        )
    )
    _out(_("Its state, ingest address and parts are on the moderator page."))
    return EXIT_OK


def cmd_record_stop(args: argparse.Namespace) -> int:
    from council.archive.recordings import stop_recording

    _write(stop_recording, slug=args.slug, actor=None)
    _out(
        _("Stop of the recording of {slug!r} requested; the server then builds the MP4.").format(
            slug=args.slug
        )
    )
    return _follow_processing(args.slug, args.server_timeout) if args.wait else EXIT_OK


def _bar(fraction: float, width: int = 30) -> str:
    done = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * done + "." * (width - done) + f"] {fraction:4.0%}"


def _follow_processing(slug: str, server_timeout: float) -> int:
    """Show the server building the MP4, with a progress bar, until it is ready."""
    import time

    from council.archive.recordings import latest_recording, recording_view

    def latest(session: Session) -> dict[str, Any]:
        rec = latest_recording(session, slug=slug)
        assert rec is not None
        return recording_view(rec)

    interactive = sys.stdout.isatty()
    asked = time.monotonic()
    shown = ""
    while True:
        rec = _read(latest)
        status, progress = rec["status"], rec["progress"]
        if status in ("ready", "failed") and interactive and shown:
            print()
        if status == "ready":
            _out(
                _("Ready: {duration:.0f} s of video at /archive/{slug}").format(
                    duration=rec["duration_s"] or 0, slug=slug
                )
            )
            return EXIT_OK
        if status == "failed":
            raise UsageError(_("the recording failed: {error}").format(error=rec["error"]))
        if status not in ("stopping", "processing") and time.monotonic() - asked > server_timeout:
            raise UsageError(
                _("the server did not act within {n:.0f} s: is 'council serve' running?").format(
                    n=server_timeout
                )
            )
        line = _("Building the MP4 {bar}").format(bar=_bar(progress or 0.0))
        if status == "processing" and line != shown:
            shown = line
            if interactive:
                print("\r" + line, end="", flush=True)
            else:
                print(line, flush=True)
        time.sleep(0.5)


def _print_agenda(view: dict[str, Any]) -> None:
    if not view["items"]:
        _out(_("No agenda yet. Add items with: council agenda add SLUG TITLE"))
        return
    for item in view["items"]:
        mark = "▶" if item["id"] == view["current"] else " "
        _out(f"{mark} {item['position']:>2}. {item['title']}  (#{item['id']})")


def cmd_agenda_add(args: argparse.Namespace) -> int:
    from council.agenda import add_item

    _print_agenda(_write(add_item, slug=args.slug, title=" ".join(args.title), actor=None))
    return EXIT_OK


def cmd_agenda_list(args: argparse.Namespace) -> int:
    from council.agenda import agenda_view
    from council.meetings import get_meeting

    def view(session: Session) -> dict[str, Any]:
        return agenda_view(session, get_meeting(session, slug=args.slug))

    _print_agenda(_read(view))
    return EXIT_OK


def cmd_agenda_current(args: argparse.Namespace) -> int:
    from council.agenda import next_item, set_current

    if args.item == "next":
        view = _write(next_item, slug=args.slug, actor=None)
    elif args.item == "none":
        view = _write(set_current, slug=args.slug, item_id=None, actor=None)
    else:
        try:
            item_id = int(args.item.lstrip("#"))
        except ValueError:
            raise UsageError(_("ITEM is an item's number (#id), next, or none")) from None
        view = _write(set_current, slug=args.slug, item_id=item_id, actor=None)
    _print_agenda(view)
    return EXIT_OK


# -- the parser --------------------------------------------------------------------------------


def _leaf(parser: Parser, handler: Callable[[argparse.Namespace], int]) -> None:
    # The command's own parser rides along, for errors noticed after parsing.
    parser.set_defaults(handler=handler, command_parser=parser)


def build_parser() -> Parser:
    parser = Parser(
        prog="council",
        description=_(
            "Residents' questions, moderated, on the council chamber screen. "
            "Settings come from COUNCIL_* environment variables (and a .env file)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"council {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help=_("run the web server"),
        description=_("Run Council's web server (upgrading the database schema first)."),
    )
    serve.add_argument("--host", help=_("address to listen on (default: COUNCIL_HOST)"))
    serve.add_argument("--port", type=_port, help=_("port to listen on (default: COUNCIL_PORT)"))
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help=_("worker processes (default: 1; more need COUNCIL_REDIS_URL and PostgreSQL)"),
    )
    _leaf(serve, cmd_serve)

    demo = commands.add_parser(
        "demo",
        help=_("run a self-contained live meeting to look at"),
        description=_(
            "Run a throwaway live meeting with sample questions arriving, a moderator "
            "account and every page to look at. Its data lives in a temporary folder "
            "that is removed when you stop it with Ctrl-C."
        ),
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (default: %(default)s)")
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=None,
        help=_("port to listen on (default: COUNCIL_PORT, 8000; 0 picks a free one)"),
    )
    demo.add_argument(
        "--trickle-seconds",
        type=_positive_seconds,
        default=6.0,
        metavar="SECONDS",
        help=_("seconds between sample questions (default: %(default)s)"),
    )
    _leaf(demo, cmd_demo)

    database = commands.add_parser(
        "db", help=_("manage the database"), description=_("Manage the database schema.")
    )
    db_commands = database.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help=_("bring the schema up to date"),
        description=_("Bring the database schema up to date (safe to run again)."),
    )
    _leaf(upgrade, cmd_db_upgrade)

    i18n = commands.add_parser(
        "i18n",
        help=_("extract, update and compile the translations"),
        description=_(
            "Work on the translations, from a checkout: extract the strings to "
            "council/locale/council.pot, update each language's .po from it, compile the "
            ".po files to the .mo files Council reads, or check that none is missing."
        ),
    )
    i18n_commands = i18n.add_subparsers(dest="i18n_command", metavar="COMMAND", required=True)
    for name, summary in (
        ("extract", _("write council/locale/council.pot from the code and templates")),
        ("update", _("merge council.pot into each language's .po")),
        ("compile", _("compile each .po into the .mo Council reads")),
        ("check", _("list strings a language does not translate yet")),
    ):
        _leaf(i18n_commands.add_parser(name, help=summary, description=summary), cmd_i18n)

    meeting = commands.add_parser(
        "meeting",
        help=_("create, start, end and list meetings"),
        description=_("Create, start, end and list meetings."),
    )
    meeting_commands = meeting.add_subparsers(
        dest="meeting_command", metavar="COMMAND", required=True
    )
    create = meeting_commands.add_parser(
        "create",
        help=_("create a meeting"),
        description=_("Create a scheduled meeting; residents find it at /m/SLUG."),
    )
    create.add_argument("slug", metavar="SLUG", help=_("its address, like pleno-2026-11"))
    create.add_argument("--title", required=True, help=_("its title, shown on every page"))
    create.add_argument(
        "--hashtag",
        action="append",
        metavar="TAG",
        help=_("a hashtag to collect questions from (repeat for several)"),
    )
    create.add_argument(
        "--starts-at",
        type=_iso_datetime,
        metavar="ISO",
        help=_("when it starts, with its time zone, like 2026-11-24T19:00+01:00"),
    )
    create.add_argument(
        "--x-cost-cap",
        type=float,
        metavar="DOLLARS",
        help=_(
            "pause X polling once its estimated read cost reaches this (default: the "
            "COUNCIL_X_COST_CAP setting)"
        ),
    )
    create.add_argument(
        "--stream-url",
        metavar="URL",
        help=_("an https player the town already streams to, shown on the public page"),
    )
    create.add_argument(
        "--mastodon-instance",
        action="append",
        metavar="URL",
        help=_(
            "a Mastodon server to read the hashtags from, like https://mastodon.social "
            "(repeat for several; default: the COUNCIL_MASTODON_INSTANCES setting)"
        ),
    )
    create.add_argument(
        "--language",
        choices=sorted(LANGUAGES),
        help=_("the chamber screen's language (default: the COUNCIL_DEFAULT_LANGUAGE setting)"),
    )
    _leaf(create, cmd_meeting_create)
    start = meeting_commands.add_parser(
        "start",
        help=_("make a meeting live"),
        description=_("Make a meeting live: it shows on the home page as happening now."),
    )
    start.add_argument("slug", metavar="SLUG")
    _leaf(start, cmd_meeting_start)
    end = meeting_commands.add_parser(
        "end",
        help=_("end a meeting"),
        description=_("End a meeting: it takes no more questions and goes to the archive."),
    )
    end.add_argument("slug", metavar="SLUG")
    _leaf(end, cmd_meeting_end)
    stream = meeting_commands.add_parser(
        "stream",
        help=_("set the player shown on the public page"),
        description=_(
            "Set the player the public page shows: an https embed address the town already "
            "streams to (like https://www.youtube.com/embed/VIDEO_ID), or none."
        ),
    )
    stream.add_argument("slug", metavar="SLUG")
    stream.add_argument("url", metavar="URL")
    _leaf(stream, cmd_meeting_stream)
    mastodon = meeting_commands.add_parser(
        "mastodon",
        help=_("set the Mastodon servers a meeting reads"),
        description=_(
            "Set the Mastodon servers whose hashtag timelines feed this meeting: base URLs "
            "(the town's own and large public ones), 'none' for no Mastodon, or nothing to "
            "go back to the COUNCIL_MASTODON_INSTANCES setting."
        ),
    )
    mastodon.add_argument("slug", metavar="SLUG")
    mastodon.add_argument("url", metavar="URL", nargs="*")
    _leaf(mastodon, cmd_meeting_mastodon)
    listing = meeting_commands.add_parser(
        "list", help=_("list meetings"), description=_("List every meeting, oldest first.")
    )
    _leaf(listing, cmd_meeting_list)

    user = commands.add_parser(
        "user",
        help=_("manage moderator and admin accounts"),
        description=_("Manage moderator and admin accounts."),
    )
    user_commands = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    add = user_commands.add_parser(
        "add",
        help=_("add an account"),
        description=_(
            "Add an account. The password is asked twice on a terminal, or read from the "
            "first line of standard input with --password-stdin."
        ),
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument(
        "--role",
        choices=["admin", "moderator"],
        default="moderator",
        help=_("admins also manage meetings and accounts (default: %(default)s)"),
    )
    how = add.add_mutually_exclusive_group()
    how.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("read the password from the first line of standard input"),
    )
    how.add_argument(
        "--no-password",
        action="store_true",
        help=_("no password: the account can only use API tokens"),
    )
    _leaf(add, cmd_user_add)

    resident = commands.add_parser(
        "resident",
        help=_("the register of residents verified in person"),
        description=_(
            "The register of residents verified in person at town hall: their posts carry "
            "a 'verified resident' badge. Handles are matched without regard to case."
        ),
    )
    resident_commands = resident.add_subparsers(
        dest="resident_command", metavar="COMMAND", required=True
    )
    source_help = _("where the handle lives: x, mastodon or bluesky (default: %(default)s)")
    resident_add = resident_commands.add_parser(
        "add", help=_("register a handle"), description=_("Register a verified handle.")
    )
    resident_add.add_argument("handle", metavar="HANDLE", help=_("like @vecina_jun"))
    resident_add.add_argument(
        "--source", choices=["x", "mastodon", "bluesky"], default="x", help=source_help
    )
    resident_add.add_argument("--note", help=_("for staff, e.g. who checked and when"))
    _leaf(resident_add, cmd_resident_add)
    resident_remove = resident_commands.add_parser(
        "remove", help=_("unregister a handle"), description=_("Remove a handle from the register.")
    )
    resident_remove.add_argument("handle", metavar="HANDLE")
    resident_remove.add_argument(
        "--source", choices=["x", "mastodon", "bluesky"], default="x", help=source_help
    )
    _leaf(resident_remove, cmd_resident_remove)
    resident_list = resident_commands.add_parser(
        "list", help=_("list the register"), description=_("List the verified handles.")
    )
    resident_list.add_argument("--source", choices=["x", "mastodon", "bluesky"])
    _leaf(resident_list, cmd_resident_list)
    resident_import = resident_commands.add_parser(
        "import",
        help=_("register handles from a CSV file"),
        description=_(
            "Register handles from a CSV file with rows handle[,source[,note]]; "
            "a header row is optional. Bad rows are reported and the rest are added."
        ),
    )
    resident_import.add_argument("file", metavar="FILE")
    _leaf(resident_import, cmd_resident_import)

    agenda = commands.add_parser(
        "agenda",
        help=_("a meeting's agenda, and the item under discussion"),
        description=_(
            "A meeting's agenda. The item under discussion shows on the chamber screen, "
            "and the replay gets a chapter for each."
        ),
    )
    agenda_commands = agenda.add_subparsers(dest="agenda_command", metavar="COMMAND", required=True)
    agenda_add = agenda_commands.add_parser(
        "add", help=_("add an item at the end"), description=_("Add an item at the end.")
    )
    agenda_add.add_argument("slug", metavar="SLUG")
    agenda_add.add_argument("title", metavar="TITLE", nargs="+")
    _leaf(agenda_add, cmd_agenda_add)
    agenda_list = agenda_commands.add_parser(
        "list",
        help=_("show the agenda"),
        description=_("Show the agenda (▶ marks the current item)."),
    )
    agenda_list.add_argument("slug", metavar="SLUG")
    _leaf(agenda_list, cmd_agenda_list)
    agenda_current = agenda_commands.add_parser(
        "current",
        help=_("move the item under discussion"),
        description=_("Move the item under discussion: an item's #id, next, or none."),
    )
    agenda_current.add_argument("slug", metavar="SLUG")
    agenda_current.add_argument("item", metavar="ITEM")
    _leaf(agenda_current, cmd_agenda_current)

    record = commands.add_parser(
        "record",
        help=_("start and stop recording a meeting's stream"),
        description=_(
            "Start and stop recording a meeting's video. The running server (council serve) "
            "does the recording; these commands tell it what to do."
        ),
    )
    record_commands = record.add_subparsers(dest="record_command", metavar="COMMAND", required=True)
    record_start = record_commands.add_parser(
        "start",
        help=_("start recording"),
        description=_(
            "Start recording. --rtmp (the default) and --srt: Council listens and the "
            "encoder (OBS) pushes to it; --pull URL: Council reads a stream the town "
            "already publishes."
        ),
    )
    record_start.add_argument("slug", metavar="SLUG")
    how_to_record = record_start.add_mutually_exclusive_group()
    how_to_record.add_argument("--rtmp", action="store_true", help=_("listen for RTMP"))
    how_to_record.add_argument("--srt", action="store_true", help=_("listen for SRT"))
    how_to_record.add_argument("--pull", metavar="URL", help=_("read this stream"))
    _leaf(record_start, cmd_record_start)
    record_stop = record_commands.add_parser(
        "stop", help=_("stop recording"), description=_("Stop recording and build the MP4.")
    )
    record_stop.add_argument("slug", metavar="SLUG")
    record_stop.add_argument(
        "--wait",
        action="store_true",
        help=_("wait until the MP4 is built, with a progress bar"),
    )
    record_stop.add_argument(
        "--server-timeout",
        type=_positive_seconds,
        default=15.0,
        metavar="SECONDS",
        help=_("give up if the server has not started stopping by then (default: %(default)s)"),
    )
    _leaf(record_stop, cmd_record_stop)

    token = commands.add_parser(
        "token", help=_("manage API tokens"), description=_("Manage API tokens.")
    )
    token_commands = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    token_create = token_commands.add_parser(
        "create",
        help=_("create an API token for an account"),
        description=_(
            "Create an API token for an account, for 'Authorization: Bearer TOKEN'. "
            "The token is printed once, alone on the last line."
        ),
    )
    token_create.add_argument("username", metavar="USERNAME")
    _leaf(token_create, cmd_token_create)
    return parser


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(
        _("council: error: {message}").format(message=" ".join(message.split())),
        file=sys.stderr,
        flush=True,
    )
    return status


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status instead of exiting."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Named by the command they were given to, so the hint points at the right --help.
        leaf: Parser = getattr(args, "command_parser", parser)
        leaf.error(_("unrecognized arguments: {args}").format(args=" ".join(extra)))
    handler: Callable[[argparse.Namespace], int] = args.handler
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from council.errors import CouncilError

    try:
        return handler(args)
    except (CouncilError, UsageError) as exc:
        return _fail(str(exc))
    except ValidationError as exc:  # the settings: a COUNCIL_* variable has a bad value
        problems = "; ".join(
            f"COUNCIL_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        return _fail(_("bad setting: {problems}").format(problems=problems))
    except SQLAlchemyError as exc:
        return _fail(
            _("the database is not usable: {reason}").format(reason=str(exc).splitlines()[0]),
            EXIT_FAILURE,
        )
    except OSError as exc:  # a data folder that cannot be written, a port already taken
        return _fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if type(exc).__module__.startswith("alembic"):  # e.g. a database newer than this Council
            return _fail(
                _("cannot upgrade the database: {reason}").format(reason=exc), EXIT_FAILURE
            )
        raise


def main(argv: Sequence[str] | None = None) -> NoReturn:
    # The clerk's commands speak the server's language. From the environment only: the
    # settings (and a .env) are read by the commands that need them, after parsing.
    set_language(supported(os.environ.get("COUNCIL_DEFAULT_LANGUAGE")) or "en")
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
