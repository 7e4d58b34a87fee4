"""Every error Council raises on purpose, each carrying the HTTP status it maps to.

    CouncilError (500)
    ├── NotAuthenticated (401)      no session or token
    ├── Forbidden (403)             logged in, but not allowed; bad CSRF token
    ├── NotFound (404)              no such meeting, submission, user
    ├── Conflict (409)
    │   ├── InvalidTransition       the action does not apply to the current status
    │   ├── StaleAction             someone acted first: the status is not the one the moderator saw
    │   └── NotAccepting            the meeting takes no questions now
    ├── TooLarge (413)              a request body over COUNCIL_MAX_BODY_BYTES, refused unread
    ├── InvalidInput (422)          a person can fix it: the message says how
    ├── RateLimited (429)           carries ``retry_after`` seconds
    └── Unavailable (503)           the database or another service is away

Routes never build error responses themselves: the app's handlers turn these
into JSON for ``/api`` and the one error page for everything else.
"""

from __future__ import annotations

from typing import Any


class CouncilError(Exception):
    status_code = 500
    code = "error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.extra}


class NotAuthenticated(CouncilError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(CouncilError):
    status_code = 403
    code = "forbidden"


class NotFound(CouncilError):
    status_code = 404
    code = "not_found"


class Conflict(CouncilError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StaleAction(Conflict):
    code = "stale"


class NotAccepting(Conflict):
    code = "not_accepting"


class InvalidInput(CouncilError):
    status_code = 422
    code = "invalid"


class TooLarge(CouncilError):
    status_code = 413
    code = "too_large"


class RateLimited(CouncilError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(CouncilError):
    status_code = 503
    code = "unavailable"
