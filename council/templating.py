"""The Jinja environment: autoescaping on, translations installed, a static URL helper."""

from __future__ import annotations

import jinja2
from fastapi.templating import Jinja2Templates

from council.i18n import _, ngettext
from council.resources import resource_dir
from council.settings import Settings


def make_templates(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates")),
        autoescape=True,  # every template, whatever its file name
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = settings.default_language
    return Jinja2Templates(env=env)
