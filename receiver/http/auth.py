"""Write-token authentication shared by the HTTP and gRPC ingest and the aggregate endpoint.

With `[auth] tokens` empty every write is accepted. Otherwise a write must carry
one of the listed tokens:

    HTTP   `Authorization: Bearer <t>`, else the `token` query parameter
    gRPC   metadata `authorization: Bearer <t>`, else metadata `token`, else the batch's `token` field

No token -> 401 / UNAUTHENTICATED ("missingToken"); a token not in the list ->
403 / UNAUTHENTICATED ("tokenNotAccepted"). Comparison is constant-time.

The `token` query parameter (and the batch's `token` field) is also the
workspace token the results are written with; an `Authorization` header only
authenticates.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from receiver.errors import AuthError

__all__ = ["TokenAuth", "bearer"]


def bearer(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <t>` value (None when absent or another scheme)."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class TokenAuth:
    """Checks tokens against the configured list."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def check(self, token: str | None) -> None:
        """Raise AuthError unless auth is off or `token` is listed."""
        if not self._tokens:
            return
        if not token:
            raise AuthError(missing=True)
        given = token.encode()
        ok = False
        for t in self._tokens:
            ok |= hmac.compare_digest(given, t)
        if not ok:
            raise AuthError(missing=False)

    def http_token(self, headers, query) -> str | None:
        """The token an HTTP request authenticates with."""
        return bearer(headers.get("authorization")) or query.get("token") or None

    def starlette_auth(self, request):
        """`auth(request) -> Response | None` for Starlette routes (the aggregate endpoint)."""
        from receiver.http.errors import error_response

        try:
            self.check(self.http_token(request.headers, request.query_params))
        except AuthError as exc:
            return error_response(exc.code, exc.message)
        return None
