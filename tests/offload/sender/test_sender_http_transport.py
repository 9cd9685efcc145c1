"""HttpTransport against a real HTTP server (the Dataway stand-in records what arrives)."""

import gzip

import pytest

from offload.codec import lineproto, protobuf
from offload.errors import PermanentError, RetryableError
from offload.sender import Batch
from offload.sender.config import parse_offload
from offload.sender.transport import BusyError, make_transport
from support.dataway import DatawayStandIn
from support.procs import free_port


@pytest.fixture(scope="module")
def _server():
    server = DatawayStandIn().start()
    yield server
    server.stop()  # 0.5 s (serve_forever's poll): once per module, not per test


@pytest.fixture
def dataway(_server):
    _server.fail_with(None)
    _server.set_down(False)
    _server.requests.clear()
    return _server


def transport(url, receiver, **kw):
    addr = parse_offload({"receiver": receiver, "addresses": [url]}).addresses[0]
    return make_transport(addr, timeout=5, **kw)


def lines_batch():
    return Batch(source="nginx", lines=["GET / 200", 'say "hi"'], times=[1700000000000000000, 1700000000000000001])


async def test_datakit_http_request_is_shaped_like_datakit(dataway):
    t = transport(dataway.url, "datakit-http")
    b = lines_batch()
    ack = await t.send(b)
    assert ack.points == 2
    req = dataway.requests[-1]
    assert (req.method, req.path, req.query) == ("POST", "/v1/write/logging", {})
    assert "content-type" not in req.headers and "content-encoding" not in req.headers
    assert req.headers["x-offload-hop"] == "1" and req.headers["x-offload-batch-id"] == b.batch_id.hex()
    assert not req.body.endswith(b"\n")
    assert [(p.name, p.fields["message"], p.time) for p in lineproto.decode(req.body)] == [
        ("nginx", "GET / 200", 1700000000000000000), ("nginx", 'say "hi"', 1700000000000000001)]
    await t.send(b)
    assert dataway.requests[-1].raw_body == req.raw_body, "a resend carries the same body"
    await t.aclose()


async def test_datakit_http_gzip_when_asked(dataway):
    t = transport(dataway.url, "datakit-http", compression="gzip")
    await t.send(lines_batch())
    req = dataway.requests[-1]
    assert req.headers["content-encoding"] == "gzip"
    assert lineproto.decode(gzip.decompress(req.raw_body))[0].fields["message"] == "GET / 200"
    await t.aclose()


async def test_ploffload_posts_protobuf_never_compressed(dataway):
    t = transport(dataway.url, "ploffload", compression="gzip", token="tkn_" + "c" * 32)
    await t.send(lines_batch())
    req = dataway.requests[-1]
    assert req.path == "/v1/write/ploffload/logging" and req.query == {}
    assert req.headers["content-type"] == "application/protobuf; proto=com.guance.Point"
    assert "content-encoding" not in req.headers
    assert req.headers["authorization"] == "Bearer tkn_" + "c" * 32
    assert [p.fields["message"] for p in protobuf.decode(req.raw_body)] == ["GET / 200", 'say "hi"']
    assert await t.probe()  # GET /v1/ping answered 200
    assert dataway.requests[-1].path == "/v1/ping"
    dataway.fail_with(503)
    assert not await t.probe()
    await t.aclose()


@pytest.mark.parametrize("status, error", [(429, BusyError), (503, RetryableError), (500, RetryableError),
                                           (408, RetryableError), (400, PermanentError), (401, PermanentError)])
async def test_status_translation(dataway, status, error):
    dataway.fail_with(status)
    t = transport(dataway.url, "datakit-http")
    with pytest.raises(error) as err:
        await t.send(lines_batch())
    assert f"HTTP {status}" in str(err.value)
    await t.aclose()


async def test_connection_errors_are_retryable(dataway):
    t = transport(f"http://127.0.0.1:{free_port()}", "ploffload")
    with pytest.raises(RetryableError):
        await t.send(lines_batch())
    assert not await t.probe()
    await t.aclose()
    dataway.set_down(True)
    t = transport(dataway.url, "ploffload")
    with pytest.raises(RetryableError):
        await t.send(lines_batch())
    await t.aclose()
