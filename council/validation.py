"""FastAPI's validation errors, rewritten as sentences a person can act on."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi.exceptions import RequestValidationError

from council.i18n import _

# Ids and seqs are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A number beyond them
# used to reach the driver and come back as a 500 (found by tests/test_openapi_fuzz.py);
# bounded here it is a 422 that names the field, and the OpenAPI schema says the range.
DB_INT_MAX = 2**31 - 1
RowId = Annotated[int, Ge(1), Le(DB_INT_MAX)]
Seq = Annotated[int, Ge(0), Le(DB_INT_MAX)]


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or _("the request")


def _sentence(error: dict[str, Any]) -> str:
    field, kind = _field(tuple(error.get("loc", ()))), error.get("type", "")
    if kind == "extra_forbidden":
        return _("Unknown field {field!r}: leave it out.").format(field=field)
    if kind == "missing":
        return _("{field!r} is required.").format(field=field)
    if kind in {"string_type", "int_type", "int_parsing", "bool_type"}:
        return _("{field!r} has the wrong type: {msg}.").format(field=field, msg=error.get("msg"))
    if kind == "string_too_long":
        return _("{field!r} is far too long.").format(field=field)
    if kind == "json_invalid":
        return _("The request body is not valid JSON.")
    if kind == "enum":
        return _("{field!r}: {msg}.").format(field=field, msg=error.get("msg"))
    return f"{field}: {error.get('msg')}"


def readable_validation_error(exc: RequestValidationError) -> dict[str, Any]:
    errors = list(exc.errors())
    return {
        "detail": " ".join(_sentence(e) for e in errors),
        "code": "invalid",
        "errors": {_field(tuple(e.get("loc", ()))): _sentence(e) for e in errors},
    }
