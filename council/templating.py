"""The Jinja environment: autoescaping on, translations installed, a static URL helper."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from council.i18n import (
    LANGUAGES,
    _,
    current_language,
    format_datetime,
    format_day,
    format_number,
    ngettext,
    switch_links,
)
from council.resources import resource_dir
from council.settings import Settings


def _language_context(request: Request) -> dict[str, Any]:
    """Per render: the page's language (``<html lang>``) and the header's switch links."""
    path, query = request.url.path, request.url.query
    if request.method != "GET":
        # A form's answer (POST /admin/meetings): a link back to that address would 405.
        referer = request.headers.get("referer", "")
        origin = f"{request.url.scheme}://{request.url.netloc}"
        if referer.startswith(origin + "/"):
            path, _sep, query = referer.removeprefix(origin).partition("?")
        else:
            path, query = "/", ""
    return {
        "language": current_language(),
        "language_links": switch_links(path, query),
        "languages": LANGUAGES,
    }


def make_templates(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        autoescape=True,  # every template, whatever its file name
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["datetime"] = format_datetime
    env.filters["day"] = format_day
    env.filters["number"] = format_number
    return Jinja2Templates(env=env, context_processors=[_language_context])
