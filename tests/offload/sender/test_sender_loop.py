"""Loop detection: an offload address naming the agent's own listener is refused at config load."""

import socket

import psutil
import pytest

from offload.errors import LoopError
from offload.sender.config import parse_offload
from offload.sender.loop import check_no_loop, host_is_local, parse_listen

PORT = 9539


def addresses(*urls):
    return parse_offload({"receiver": "ploffload", "addresses": list(urls)}).addresses


def interface_ip() -> str:
    """A non-loopback IPv4 address of this machine (falls back to another loopback address)."""
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return "127.0.0.2"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.3.2.1", "localhost", "LocalHost", "0.0.0.0", "[::1]", "[::]", socket.gethostname(),
     socket.getfqdn(), "interface"],
)
@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_own_listener_is_a_loop(host, scheme):
    host = interface_ip() if host == "interface" else host
    with pytest.raises(LoopError) as err:
        check_no_loop(addresses("grpc://10.9.9.9:9530", f"{scheme}://{host}:{PORT}"), f"127.0.0.1:{PORT}")
    assert err.value.key == "pipeline.offload.addresses[1]"
    assert "would form a loop" in str(err.value)


def test_names_are_resolved(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "me.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (interface_ip(), 0))]
        if host == "other.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.7", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(LoopError):
        check_no_loop(addresses(f"http://me.example.test:{PORT}"), f"0.0.0.0:{PORT}")
    check_no_loop(addresses(f"http://other.example.test:{PORT}"), f"0.0.0.0:{PORT}")


@pytest.mark.parametrize(
    "url, listen",
    [
        pytest.param(f"http://127.0.0.1:{PORT + 1}", f"127.0.0.1:{PORT}", id="other-port"),
        pytest.param(f"http://203.0.113.7:{PORT}", f"0.0.0.0:{PORT}", id="remote-host"),
        pytest.param(f"http://nonexistent.invalid:{PORT}", f"0.0.0.0:{PORT}", id="unresolvable"),
        pytest.param(f"http://127.0.0.1:{PORT}", "", id="no-listener"),
        pytest.param("http://127.0.0.1", "127.0.0.1:9529", id="default-port-80"),
    ],
)
def test_not_a_loop(url, listen):
    check_no_loop(addresses(url), listen)


def test_default_http_port_counts():
    with pytest.raises(LoopError):
        check_no_loop(addresses("http://localhost"), "0.0.0.0:80")


def test_listen_parsing():
    assert parse_listen("0.0.0.0:9529") == ("0.0.0.0", 9529)
    assert parse_listen("[::1]:9529") == ("::1", 9529)
    assert parse_listen(":9529") == ("", 9529)
    for bad in ("9529", "host:", "host:99999", "::1:9529"):
        with pytest.raises(Exception) as err:
            parse_listen(bad)
        assert err.value.key == "http.listen"


def test_remote_ip_is_not_local():
    assert not host_is_local("203.0.113.7")
    assert host_is_local(interface_ip())
