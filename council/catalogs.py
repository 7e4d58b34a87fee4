"""The message catalogs: extract the strings, update each language's .po, compile the .mo.

``council i18n extract|update|compile|check`` (council/cli.py) runs these from a
checkout; babel.cfg at the top of it says which files hold strings and how to read them.

The compiled ``.mo`` files are committed beside their ``.po`` rather than built by a
hatch hook: a checkout (the tests, ``council serve`` while developing, an editable
install) reads the very same files a wheel ships, building needs no Babel, and
tests/test_i18n.py fails whenever a ``.mo`` no longer matches its ``.po``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from council import __version__
from council.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, translations

ROOT = Path(__file__).parent.parent
BABEL_CFG = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
# Only these two: other libraries' ``gettext`` calls are not ours to translate.
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "ngettext": (1, 2)}
SOURCE_LANGUAGE = "en"
# {name}, {field!r} (str.format and the JavaScript format()), %(name)s (Jinja, argparse), %%.
PLACEHOLDER = re.compile(r"\{[^{}\s]*\}|%\(\w+\)[a-z]|%%")


class CatalogError(Exception):
    """A catalog cannot be worked on (no babel.cfg: not a checkout)."""


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _in_sources(dirpath: str) -> bool:
    relative = Path(dirpath).relative_to(ROOT).parts
    skipped = {"__pycache__", "locale", "migrations"}
    return (not relative or relative[0] in ("council", "templates")) and not (
        skipped & set(relative)
    )


def extract_catalog() -> Catalog:
    """Every translatable string in Python and templates, as a fresh template catalog."""
    if not BABEL_CFG.is_file():
        raise CatalogError(f"{BABEL_CFG} is missing: extract from a checkout of Council")
    with BABEL_CFG.open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, filename=str(BABEL_CFG))  # type: ignore[no-untyped-call]
    catalog = Catalog(
        domain=DOMAIN,
        project="Council",
        version=__version__,
        charset="utf-8",
        fuzzy=False,
    )
    found = extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
        directory_filter=_in_sources,
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def _write_po(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    # Sorted by msgid and without line numbers: a string moving within a file is no diff.
    write_po(buffer, catalog, width=100, sort_output=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def extract() -> Path:
    """Write council/locale/council.pot from the sources."""
    _write_po(TEMPLATE, extract_catalog())
    return TEMPLATE


def update(languages: Iterable[str] = LANGUAGES) -> list[Path]:
    """Merge the template into each language's .po: new strings added, gone ones obsolete."""
    template = read_catalog(TEMPLATE) if TEMPLATE.is_file() else extract_catalog()
    written = []
    for language in languages:
        path = po_path(language)
        if path.is_file():
            catalog = read_catalog(path, language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="Council", fuzzy=False)
        catalog.update(template)
        _write_po(path, catalog)
        written.append(path)
    return written


def compile_catalog(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)  # a fuzzy guess is no translation
    return buffer.getvalue()


def compile_all(languages: Iterable[str] = LANGUAGES) -> list[Path]:
    written = []
    for language in languages:
        catalog = read_catalog(po_path(language), language)
        path = mo_path(language)
        path.write_bytes(compile_catalog(catalog))
        written.append(path)
    translations.cache_clear()
    return written


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def _msgid(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _problem(message: Message) -> str | None:
    if not isinstance(message.id, str):
        ids, strings = message.id, message.string
        if strings is None or isinstance(strings, str) or not all(strings):
            return "untranslated"
        # Each plural form takes the plural's placeholders (the count comes in as num).
        expected = placeholders(ids[1])
        if any(placeholders(s) != expected for s in strings[1:]):
            return "placeholders differ"
        if not set(placeholders(strings[0])) <= set(expected):
            return "placeholders differ"
    else:
        if not message.string:
            return "untranslated"
        if placeholders(str(message.string)) != placeholders(_msgid(message)):
            return "placeholders differ"
    if message.fuzzy:
        return "fuzzy"
    return None


def problems(language: str, sources: Catalog | None = None) -> list[tuple[str, str]]:
    """(msgid, what is wrong) for every source string ``language`` does not translate well."""
    sources = sources or extract_catalog()
    translated = read_catalog(po_path(language), language)
    found = []
    for message in sources:
        if not message.id:
            continue  # the header
        key = _msgid(message)
        existing = translated.get(message.id, context=message.context)
        if existing is None:
            found.append((key, "missing"))
            continue
        problem = _problem(existing)
        if problem is not None:
            found.append((key, problem))
    return found


def translated_languages() -> list[str]:
    return [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
