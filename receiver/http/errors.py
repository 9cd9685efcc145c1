"""DataKit's error body (wire.md d.7) and the status of every error name the receiver answers with.

    {"error_code": "datakit.<name>", "message": "..."}   Content-Type: application/json
                                                         X-Content-Type-Options: nosniff

    400  invalidCategory emptyBody decodeBodyFailed invalidLinePoint invalidJsonPoint
         invalidProtobufPoint noPoints pointGotWarning   (DataKit's, d.7)
         invalidToken     the `token` parameter is not a DataKit token shape (wire.md g)
    401  missingToken     [auth] tokens set and the request has none
    403  tokenNotAccepted the token is not in [auth] tokens
    413  bodyTooLarge     body (raw or decompressed) over [http] max_body_bytes
    429  reachMaxAPILimit in-flight bound reached or the WAL is full (retry later)
    500  invalidAPIHandler / batchFailed   internal trouble (a batch that keeps killing workers)
    503  shuttingDown     draining after SIGTERM
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

__all__ = ["STATUS", "error_response", "status_for"]

STATUS = {
    "invalidCategory": 400, "emptyBody": 400, "decodeBodyFailed": 400, "invalidLinePoint": 400,
    "invalidJsonPoint": 400, "invalidProtobufPoint": 400, "noPoints": 400, "pointGotWarning": 400,
    "invalidToken": 400, "badRequest": 400,
    "missingToken": 401, "tokenNotAccepted": 403,
    "bodyTooLarge": 413, "reachMaxAPILimit": 429,
    "invalidAPIHandler": 500, "batchFailed": 500, "shuttingDown": 503,
}

NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def status_for(code: str) -> int:
    return STATUS.get(code, 500)


def error_response(code: str, message: str = "", status: int | None = None) -> Response:
    """The DataKit-shaped JSON error for `code` (without the `datakit.` prefix)."""
    body: dict[str, str] = {"error_code": f"datakit.{code}"}
    if message:
        body["message"] = message
    return Response(orjson.dumps(body), status_code=status or status_for(code),
                    media_type="application/json", headers=NOSNIFF)
