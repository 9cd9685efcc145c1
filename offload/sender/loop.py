"""Loop detection: refuse offload addresses that point back at the agent's own listener.

The agent serves DataKit's write API on `[http] listen`. An offload address with
the same port whose host is this machine would send every batch back to the
agent itself. "This machine" means: 127.0.0.0/8, ::1, 0.0.0.0, ::, `localhost`,
the host name (short and fully qualified), or any address of one of its
interfaces — checked for literal IPs and again for every address a name resolves
to. An IP is ours when a socket can be bound to it: the kernel knows its own
interface addresses better than any list we could build (no psutil needed).

This is the config-time half; the run-time half is the hop count carried by every
offloaded batch (gRPC `hop`, HTTP header `X-Offload-Hop`), see `offload.sender.batch`.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

from offload.errors import ConfigError, LoopError
from offload.sender.config import Address

__all__ = ["check_no_loop", "host_is_local", "parse_listen"]

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def parse_listen(listen: str, key: str = "http.listen") -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:9529`); ConfigError naming `key` when malformed."""
    text = listen.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(key, f"{listen!r}: expected host:port such as 127.0.0.1:9529")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(key, f"{listen!r}: write an IPv6 host in brackets, e.g. [::1]:{port}")
    return host, int(port)


def _own_names() -> set[str]:
    names = set(_LOCAL_NAMES)
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower().rstrip("."))
            names.add(name.lower().split(".")[0])
    return names


def _ip_is_local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, scope_id: int = 0) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return True
    try:
        if ip.version == 6:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind((str(ip), 0, 0, scope_id))
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((str(ip), 0))
        return True
    except OSError:
        return False


def host_is_local(host: str) -> bool:
    """True when `host` (a name or a literal IP) designates this machine."""
    h = host.strip().strip("[]").lower().rstrip(".")
    if not h or h in _own_names():
        return True
    try:
        return _ip_is_local(ipaddress.ip_address(h.split("%")[0]))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(h, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return False  # unresolvable now: cannot be shown to be us
    for family, _, _, _, sockaddr in infos:
        try:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        except ValueError:
            continue
        scope_id = sockaddr[3] if family == socket.AF_INET6 else 0
        if _ip_is_local(ip, scope_id):
            return True
    return False


def check_no_loop(addresses: Iterable[Address], listen: str, key: str = "pipeline.offload.addresses",
                  listen_key: str = "http.listen") -> None:
    """Raise LoopError (naming `key[i]`) when an address is the agent's own `listen` endpoint.

    An empty `listen` (no HTTP listener) cannot be looped into.
    """
    if not listen:
        return
    listen_host, listen_port = parse_listen(listen, listen_key)
    for i, addr in enumerate(addresses):
        if addr.port != listen_port:
            continue
        same_host = addr.host.lower() == listen_host.lower()
        if same_host or host_is_local(addr.host):
            raise LoopError(
                f"{key}[{i}]",
                f"{addr.url} is this agent's own listener ({listen_key} = {listen!r}); "
                "offloading to it would form a loop",
            )
