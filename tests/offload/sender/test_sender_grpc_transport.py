"""GrpcTransport against a real in-process gRPC server: body, metadata, ack, status translation, health."""

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc
from offload.errors import PermanentError, RetryableError
from offload.sender import Batch
from offload.sender.config import parse_offload
from offload.sender.transport import BusyError, make_transport
from offload.sender.transport.grpc_transport import GrpcTransport


class Servicer(offload_pb2_grpc.PipelineOffloadServicer):
    def __init__(self):
        self.requests = []
        self.metadata = []
        self.fail = None
        self.seen = set()

    async def Offload(self, request, context):
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        if self.fail is not None:
            await context.abort(self.fail, "configured failure")
        dup = request.batch_id in self.seen
        self.seen.add(request.batch_id)
        n = len(request.lines.lines)
        return offload_pb2.OffloadAck(batch_id=request.batch_id, points=n,
                                      status=offload_pb2.OffloadAck.DUPLICATE if dup else offload_pb2.OffloadAck.ACCEPTED)


@pytest.fixture
async def server():
    srv = grpc.aio.server()
    servicer = Servicer()
    offload_pb2_grpc.add_PipelineOffloadServicer_to_server(servicer, srv)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, srv)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    port = srv.add_insecure_port("127.0.0.1:0")
    await srv.start()
    yield srv, servicer, health_servicer, port
    await srv.stop(0)


def address(port):
    return parse_offload({"receiver": "ploffload", "addresses": [f"grpc://127.0.0.1:{port}"]}).addresses[0]


async def test_send_raw_lines_with_token_and_hop(server):
    _, servicer, _, port = server
    t = make_transport(address(port), timeout=5, token="tkn_" + "a" * 32)
    assert isinstance(t, GrpcTransport)
    b = Batch(source="nginx", pipeline="nginx2", lines=["a", "b"], times=[1, 2], hop=1, token="tkn_" + "a" * 32)
    ack = await t.send(b)
    assert ack.points == 2 and not ack.duplicate
    assert (await t.send(b)).duplicate, "a resend keeps its id"
    req = servicer.requests[0]
    assert (req.batch_id, req.source, req.pipeline, req.hop, req.category) == (b.batch_id, "nginx", "nginx2", 1,
                                                                                 "logging")
    assert list(req.lines.lines) == ["a", "b"] and list(req.lines.times) == [1, 2]
    assert servicer.metadata[0]["authorization"] == "Bearer tkn_" + "a" * 32
    assert servicer.requests[1].SerializeToString() == req.SerializeToString()
    assert await t.probe()
    await t.aclose()


@pytest.mark.parametrize(
    "code, error",
    [
        (grpc.StatusCode.RESOURCE_EXHAUSTED, BusyError),
        (grpc.StatusCode.UNAVAILABLE, RetryableError),
        (grpc.StatusCode.INTERNAL, RetryableError),
        (grpc.StatusCode.INVALID_ARGUMENT, PermanentError),
        (grpc.StatusCode.UNAUTHENTICATED, PermanentError),
    ],
)
async def test_status_translation(server, code, error):
    _, servicer, _, port = server
    servicer.fail = code
    t = GrpcTransport(address(port), timeout=5)
    with pytest.raises(error) as err:
        await t.send(Batch(source="x", lines=["a"]))
    assert code.name in str(err.value)
    await t.aclose()


async def test_health_and_unreachable(server):
    _, _, health_servicer, port = server
    t = GrpcTransport(address(port), timeout=5)
    assert await t.probe()
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert not await t.probe()
    await t.aclose()
    from support.procs import free_port

    dead = GrpcTransport(address(free_port()), timeout=2)
    with pytest.raises(RetryableError):
        await dead.send(Batch(source="x", lines=["a"]))
    assert not await dead.probe()
    await dead.aclose()
