"""systemd readiness notification (`Type=notify`) without a dependency.

`notify("READY=1")` sends one datagram to $NOTIFY_SOCKET when systemd started us;
outside systemd it does nothing. Abstract-namespace sockets (`@...`) are supported.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify"]


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1", "STOPPING=1") to systemd; return True when sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False
