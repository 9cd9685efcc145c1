"""HTTP ingest: DataKit's write API (Starlette on uvicorn), /v1/ping, /metrics, token auth.

    build_app(...)     the Starlette app (routes, handlers)
    HTTPServer         uvicorn driven by the daemon's lifecycle
    TokenAuth          [auth] tokens, shared with the gRPC ingest and the aggregate endpoint
    ServiceStatus      what /v1/ping reports
    error_response     DataKit's error body
"""

from receiver.http.app import ServiceStatus, build_app
from receiver.http.auth import TokenAuth
from receiver.http.errors import error_response
from receiver.http.server import HTTPServer

__all__ = ["HTTPServer", "ServiceStatus", "TokenAuth", "build_app", "error_response"]
