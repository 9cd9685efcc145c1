"""`offload-agent send` in process against an in-process gRPC receiver: summary, exit codes, progress bar."""

from __future__ import annotations

import argparse
import io
import json
import sys
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from offload._proto.offload.v1 import offload_pb2, offload_pb2_grpc
from offload.agent.send import send_command
from support.procs import free_port


class Receiver(offload_pb2_grpc.PipelineOffloadServicer):
    def __init__(self):
        self.lines = []
        self.refuse = False

    def Offload(self, request, context):
        if self.refuse:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
        self.lines.extend(request.lines.lines)
        return offload_pb2.OffloadAck(batch_id=request.batch_id, points=len(request.lines.lines))


@pytest.fixture
def receiver():
    server = grpc.server(futures.ThreadPoolExecutor(4))
    servicer = Receiver()
    offload_pb2_grpc.add_PipelineOffloadServicer_to_server(servicer, server)
    h = health.HealthServicer()
    h.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(h, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def run(tmp_path, port, files, extra="", no_progress=False):
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[http]\nlisten = ""\n[pipeline.offload]\nreceiver = "ploffload"\n'
                   f'addresses = ["grpc://127.0.0.1:{port}"]\n[sender]\nbatch_size = 100\n{extra}')
    return send_command(argparse.Namespace(config=str(cfg), source="app", files=[str(f) for f in files],
                                           no_progress=no_progress))


def make_file(path, n, trailing_newline=True):
    text = "\n".join(f"line {i}" for i in range(n)) + ("\n" if trailing_newline else "")
    path.write_text(text)
    return path


def test_summary_and_progress_bar_on_a_terminal(tmp_path, receiver, capsys, monkeypatch):
    servicer, port = receiver
    fake = FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    files = [make_file(tmp_path / "a.log", 1000), make_file(tmp_path / "b.log", 234, trailing_newline=False)]
    assert run(tmp_path, port, files) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 1234, "acked": 1234, "failed": 0}
    assert sorted(servicer.lines) == sorted([f"line {i}" for i in range(1000)] + [f"line {i}" for i in range(234)])
    bar = fake.getvalue()
    assert "\r[" in bar and "1,234/1,234 lines acked" in bar and bar.endswith("\n")


def test_no_progress_flag(tmp_path, receiver, capsys, monkeypatch):
    _, port = receiver
    fake = FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    assert run(tmp_path, port, [make_file(tmp_path / "a.log", 10)], no_progress=True) == 0
    assert fake.getvalue() == ""


def test_refused_batches_fail_the_command(tmp_path, receiver, capsys):
    servicer, port = receiver
    servicer.refuse = True
    assert run(tmp_path, port, [make_file(tmp_path / "a.log", 250)]) == 1
    assert json.loads(capsys.readouterr().out) == {"sent": 250, "acked": 0, "failed": 250}


def test_gives_up_when_no_receiver_answers(tmp_path, capsys):
    assert run(tmp_path, free_port(), [make_file(tmp_path / "a.log", 250)],
               extra="give_up_after = 0.5\neject_base = 0.1\n") == 1
    assert json.loads(capsys.readouterr().out) == {"sent": 250, "acked": 0, "failed": 250}


def test_usage_errors(tmp_path, receiver, capsys):
    _, port = receiver
    assert run(tmp_path, port, [tmp_path / "missing.log"]) == 2
    assert "cannot read" in capsys.readouterr().err
    cfg = tmp_path / "plain.toml"
    cfg.write_text('[http]\nlisten = ""\n')
    rc = send_command(argparse.Namespace(config=str(cfg), source="app", files=[str(make_file(tmp_path / "a", 1))],
                                         no_progress=True))
    assert rc == 2 and "pipeline.offload.addresses" in capsys.readouterr().err
