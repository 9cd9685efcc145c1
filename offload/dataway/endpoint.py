"""Dataway endpoints: configured URLs, request URLs per category and token, DataKit's token check.

A configured URL such as `https://openway.example.com?token=tkn_x&foo=1` becomes,
for category `logging` and batch token `tkn_y`,
`https://openway.example.com/v1/write/logging?foo=1&token=tkn_y`: the path of the
configured URL is dropped, the query keys are sorted and re-escaped, and a
per-batch token replaces the URL's own (wire.md e.1), so each host's results land
in its own workspace.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from offload.point import CATEGORIES

__all__ = ["Endpoint", "WRITE_CATEGORIES", "check_token"]

# /v1/write/<category> APIs Dataway serves (wire.md e.1), deprecated aliases included.
WRITE_CATEGORIES = frozenset(CATEGORIES | {"profiling", "metrics", "object_change"})

_TOKEN_SUFFIX_LEN = {"tkn": 32, "token": 32, "tokn": 24}


def check_token(token: str) -> str | None:
    """DataKit's CheckToken (wire.md g): None when valid, else what is wrong."""
    if not token:
        return "empty token"
    parts = token.split("_")
    if len(parts) != 2:
        return f"malformed token {token!r}: expected <prefix>_<suffix>"
    want = _TOKEN_SUFFIX_LEN.get(parts[0])
    if want is None:
        return f"malformed token {token!r}: prefix must be tkn, token or tokn"
    if len(parts[1].encode()) != want:
        return f"malformed token {token!r}: {parts[0]}_ needs {want} characters after the underscore"
    return None


@dataclass(frozen=True)
class Endpoint:
    """One configured Dataway URL (http, https) or local file sink (file)."""

    url: str
    scheme: str
    netloc: str
    query: tuple[tuple[str, str], ...]
    token: str | None
    path: str  # file sinks only: the file to append to

    @classmethod
    def parse(cls, url: str) -> "Endpoint":
        parts = urlsplit(url)
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        token = next((v for k, v in reversed(query) if k == "token"), None)
        # file://data/out.jsonl is relative to the working directory, file:///abs/out.jsonl absolute.
        path = parts.netloc + parts.path if parts.scheme == "file" and parts.netloc != "localhost" else parts.path
        return cls(url, parts.scheme, parts.netloc, query, token, path)

    @property
    def is_file(self) -> bool:
        return self.scheme == "file"

    @property
    def key(self) -> str:
        """A stable directory name for this endpoint's WAL queue."""
        digest = hashlib.sha1(f"{self.scheme}://{self.netloc}?{urlencode(sorted(self.query))}".encode()).hexdigest()
        host = "".join(c if c.isalnum() else "_" for c in self.netloc)[:40]
        return f"{host}-{digest[:12]}"

    @property
    def display(self) -> str:
        """The URL without its query (tokens stay out of logs and metric labels)."""
        return f"{self.scheme}://{self.netloc}"

    def request_url(self, category: str, token: str | None = None) -> str:
        """`<scheme>://<host>/v1/write/<category>?<query>`, the batch token replacing the URL's."""
        query = [(k, v) for k, v in self.query if not (token is not None and k == "token")]
        if token is not None:
            query.append(("token", token))
        query.sort(key=lambda kv: kv[0])
        qs = urlencode(query)
        return f"{self.scheme}://{self.netloc}/v1/write/{category}" + (f"?{qs}" if qs else "")
