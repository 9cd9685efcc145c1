"""DatawayConfig validation, tokens, request URLs, the file:// sink and the package surface."""

from __future__ import annotations

import base64

import orjson
import pytest
from dataway_testkit import TOKEN_A, TOKEN_B, log_points
from prometheus_client import REGISTRY

import offload.dataway
from offload.dataway import DatawayConfig, DatawayWriter, check_token
from offload.dataway.endpoint import Endpoint
from offload.errors import ConfigError
from offload.point import Point, UInt



def test_public_names():
    assert set(offload.dataway.__all__) >= {"DatawayConfig", "DatawayWriter", "WriterFull"}
    assert issubclass(offload.dataway.WriterFull, offload.errors.RetryableError)


def test_from_mapping_reads_the_receiver_example_keys(tmp_path):
    cfg = DatawayConfig.from_mapping({
        "urls": [f"http://dw:9528?token={TOKEN_A}"], "content_encoding": "v1", "gzip": False,
        "max_raw_body_size": 1048576, "timeout": "1m30s", "retry_delay": "200ms", "max_retry_delay": 30,
        "wal_dir": str(tmp_path), "wal_max_bytes": 2147483648, "max_body_age": 43200, "workers": 2,
    })
    assert (cfg.content_encoding, cfg.gzip, cfg.timeout, cfg.retry_delay, cfg.max_body_age) == (
        "line-protocol", False, 90.0, 0.2, 43200.0)
    assert cfg.wal_dir == tmp_path
    assert DatawayConfig.from_mapping({}).urls == [offload.dataway.DEFAULT_URL]
    datakit = DatawayConfig.from_mapping({"timeout_v2": "30s", "max_retry_count": 3, "drop_expired_package_at": "1h",
                                          "http_proxy": "http://proxy:3128"})
    assert (datakit.timeout, datakit.max_body_age, datakit.proxy) == (30.0, 3600.0, "http://proxy:3128")
    assert DatawayConfig(urls=["file:///x"], content_encoding="protobuf").content_encoding == "protobuf"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        pytest.param({"urls": ["ftp://dw"]}, "dataway.urls", id="scheme"),
        pytest.param({"urls": []}, "dataway.urls", id="empty"),
        pytest.param({"urls": ["http://dw:9528?token=tkn_short"]}, "dataway.urls", id="token"),
        pytest.param({"content_encoding": "v3"}, "dataway.content_encoding", id="encoding"),
        pytest.param({"gzip": "yes"}, "dataway.gzip", id="gzip"),
        pytest.param({"retry_delay": "soon"}, "dataway.retry_delay", id="duration"),
        pytest.param({"timeout": 0}, "dataway.timeout", id="zero-timeout"),
        pytest.param({"retry_delay": 5, "max_retry_delay": 1}, "dataway.max_retry_delay", id="max<delay"),
        pytest.param({"max_raw_body_size": "1MiB"}, "dataway.max_raw_body_size", id="size"),
        pytest.param({"workers": 0}, "dataway.workers", id="workers"),
        pytest.param({"wal_max_byte": 10}, "dataway.wal_max_byte", id="unknown-key"),
    ],
)
def test_from_mapping_names_the_bad_key(table, key):
    with pytest.raises(ConfigError) as info:
        DatawayConfig.from_mapping(table)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        ("tkn_" + "a" * 32, True), ("token_" + "a" * 32, True), ("tokn_" + "a" * 24, True),
        ("", False), ("tkn_" + "a" * 31, False), ("tokn_" + "a" * 32, False), ("abc_" + "a" * 32, False),
        ("tkn_a_" + "a" * 30, False),
    ],
)
def test_check_token(token, ok):
    assert (check_token(token) is None) is ok


def test_request_url_sorts_query_and_replaces_the_token():
    ep = Endpoint.parse(f"https://openway.example.com/some/path?zz=1&token={TOKEN_A}&aa=x%20y")
    base = "https://openway.example.com/v1/write"
    assert ep.request_url("logging") == f"{base}/logging?aa=x+y&token={TOKEN_A}&zz=1"
    assert ep.request_url("metric", TOKEN_B) == f"{base}/metric?aa=x+y&token={TOKEN_B}&zz=1"
    plain = Endpoint.parse("http://dw:9528")
    assert plain.request_url("rum", TOKEN_B) == f"http://dw:9528/v1/write/rum?token={TOKEN_B}"
    assert Endpoint.parse("file://data/out.jsonl").path == "data/out.jsonl"
    assert Endpoint.parse("file:///var/out.jsonl").path == "/var/out.jsonl"


async def test_file_sink_writes_json_lines(tmp_path, dataway):
    out = tmp_path / "sub" / "out.jsonl"
    before = REGISTRY.get_sample_value("dataway_send_total", {"category": "logging", "status": "file"}) or 0
    cfg = DatawayConfig(urls=[f"file://{out}?token={TOKEN_A}", f"{dataway.url}?token={TOKEN_A}"],
                        wal_dir=tmp_path / "wal", retry_delay=0.01, max_retry_delay=0.05)
    async with DatawayWriter(cfg) as w:
        odd = Point("app", {"host": "h"}, {"n": 1, "u": UInt(7), "f": 0.5, "ok": True, "raw": b"\x00hi", "s": "x"}, 5)
        await w.write("logging", [odd])
        await w.write("logging", log_points(2), token=TOKEN_B)
        lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]  # flushed before write() returned
        assert await w.flush(timeout=10)
    assert lines[0] == {"category": "logging", "token": TOKEN_A, "name": "app", "tags": {"host": "h"},
                        "fields": {"n": 1, "u": 7, "f": 0.5, "ok": True, "raw": base64.b64encode(b"\x00hi").decode(),
                                   "s": "x"}, "time": 5}
    assert [(d["token"], d["fields"]["seq"]) for d in lines[1:]] == [(TOKEN_B, 0), (TOKEN_B, 1)]
    assert dataway.point_count() == 3  # the http URL got the same points
    assert w.stats["points_written_file"] == 3
    assert REGISTRY.get_sample_value("dataway_send_total", {"category": "logging", "status": "file"}) == before + 2


async def test_file_only_writer_needs_no_wal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with DatawayWriter(DatawayConfig.from_mapping({"urls": ["file://data/out.jsonl"]})) as w:
        await w.write("metric", [Point("cpu", {}, {"v": 1.0}, 1)])
        assert await w.flush(timeout=1)
    assert (tmp_path / "data" / "out.jsonl").read_bytes().count(b"\n") == 1
    assert not (tmp_path / "data" / "wal").exists()


async def test_wal_bytes_gauge_follows_the_writers(dataway, tmp_path):
    dataway.set_down(True)
    cfg = DatawayConfig(urls=[f"{dataway.url}?token={TOKEN_A}"], wal_dir=tmp_path / "wal", retry_delay=5,
                        max_retry_delay=5)
    async with DatawayWriter(cfg) as w:
        await w.write("logging", log_points(10))
        assert w.stats["wal_bytes"] > 0
        assert REGISTRY.get_sample_value("dataway_wal_bytes") >= w.stats["wal_bytes"]


def test_datakit_environment_variables():
    table = {"urls": ["file://x"], "timeout": 5}
    env = {"ENV_DATAWAY": f"http://a:9528?token={TOKEN_A}, http://b:9528?token={TOKEN_B}",
           "ENV_DATAWAY_CONTENT_ENCODING": "v1", "ENV_DATAWAY_TIMEOUT": "45s", "ENV_DATAWAY_WAL_CAPACITY": "0.5",
           "ENV_DATAWAY_DROP_EXPIRED_PACKAGE_AT": "1h", "ENV_DATAWAY_MAX_RAW_BODY_SIZE": "204800"}
    assert sorted(offload.dataway.apply_datakit_env(table, env)) == sorted(env)
    cfg = DatawayConfig.from_mapping(table)
    assert cfg.urls == [f"http://a:9528?token={TOKEN_A}", f"http://b:9528?token={TOKEN_B}"]
    assert (cfg.content_encoding, cfg.timeout, cfg.wal_max_bytes, cfg.max_body_age, cfg.max_raw_body_size) == (
        "line-protocol", 45.0, 1 << 29, 3600.0, 204800)
    with pytest.raises(ConfigError) as info:
        offload.dataway.apply_datakit_env({}, {"ENV_DATAWAY_MAX_RAW_BODY_SIZE": "1MB"})
    assert info.value.key == "ENV_DATAWAY_MAX_RAW_BODY_SIZE"
