"""Where templates and static files are: in the installed package, or beside it in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).parent


def resource_dir(name: str) -> Path:
    # A wheel carries them inside the package (see pyproject's force-include); a source
    # checkout or editable install keeps them at the top level, as the project is laid out.
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"Council's {name}/ folder is missing: reinstall with 'pip install .'")
