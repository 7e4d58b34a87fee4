"""JSON text for what Council stores and sends: one encoder, in C.

Every question's ``received`` event carries the moderators' view of it (about 1.2 KB);
encoding it with the standard library was a tenth of the writer's time under a burst of
questions (bench/intake.py). orjson writes the same JSON faster: UTF-8 as is, no spaces,
aware datetimes as ISO 8601 (``...+00:00``, as ``datetime.isoformat``).
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=_OPTIONS).decode()
