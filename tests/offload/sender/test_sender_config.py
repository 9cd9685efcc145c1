"""[pipeline.offload] and [sender] parsing: DataKit's keys and env variables, errors naming the key."""

import pytest

from offload.errors import ConfigError
from offload.sender.config import (
    DEFAULT_BATCH_GRPC,
    DEFAULT_BATCH_HTTP,
    apply_datakit_env,
    check_token,
    parse_offload,
    parse_sender,
)


def test_ploffload_addresses_pick_transports():
    cfg = parse_offload({"receiver": "ploffload",
                         "addresses": ["grpc://10.0.0.2:9530", "http://rx:9529", "https://rx2", "grpcs://[::1]:9530"]})
    assert cfg.enabled
    assert [a.transport for a in cfg.addresses] == ["grpc", "http-ploffload", "http-ploffload", "grpc"]
    assert [a.url for a in cfg.addresses] == ["grpc://10.0.0.2:9530", "http://rx:9529", "https://rx2:443",
                                              "grpcs://[::1]:9530"]
    assert cfg.addresses[3].hostport == "[::1]:9530" and cfg.addresses[3].tls


def test_datakit_http_uses_line_protocol_transport():
    cfg = parse_offload({"receiver": "datakit-http", "addresses": ["http://10.0.0.3:9529"]})
    assert cfg.addresses[0].transport == "http-datakit"


def test_absent_or_empty_section_disables_offload():
    assert not parse_offload(None).enabled
    assert not parse_offload({}).enabled
    assert not parse_offload({"receiver": ""}).enabled


@pytest.mark.parametrize(
    "table, key, words",
    [
        pytest.param({"receiver": "kafka", "addresses": ["http://a:1"]}, "pipeline.offload.receiver",
                     "unknown receiver kind", id="unknown-kind"),
        pytest.param({"receiver": "ploffload", "addresses": []}, "pipeline.offload.addresses", "empty list",
                     id="empty-list"),
        pytest.param({"receiver": "ploffload"}, "pipeline.offload.addresses", "empty list", id="missing-list"),
        pytest.param({"receiver": "ploffload", "addresses": ["grpc://a:1", "10.0.0.2:9530"]},
                     "pipeline.offload.addresses[1]", "no scheme", id="no-scheme"),
        pytest.param({"receiver": "ploffload", "addresses": ["localhost:9530"]},
                     "pipeline.offload.addresses[0]", "no scheme", id="no-scheme-name"),
        pytest.param({"receiver": "datakit-http", "addresses": ["grpc://a:9530"]},
                     "pipeline.offload.addresses[0]", "ploffload", id="grpc-with-datakit-http"),
        pytest.param({"receiver": "ploffload", "addresses": ["ftp://a:1"]}, "pipeline.offload.addresses[0]",
                     "scheme 'ftp'", id="bad-scheme"),
        pytest.param({"receiver": "ploffload", "addresses": ["grpc://a"]}, "pipeline.offload.addresses[0]",
                     "needs a port", id="grpc-without-port"),
        pytest.param({"receiver": "ploffload", "addresses": ["http://a:1/v1/write"]},
                     "pipeline.offload.addresses[0]", "only scheme://host:port", id="path"),
        pytest.param({"receiver": "ploffload", "addresses": ["http://a:1", "http://a:1/"]},
                     "pipeline.offload.addresses[1]", "listed twice", id="duplicate"),
        pytest.param({"receiver": "ploffload", "addresses": ["http://:1"]}, "pipeline.offload.addresses[0]",
                     "no host", id="no-host"),
        pytest.param({"receiver": "ploffload", "addresses": "grpc://a:1", "extra": 1}, "pipeline.offload.extra",
                     "unknown key", id="unknown-key"),
        pytest.param({"receiver": "ploffload", "addresses": {"a": 1}}, "pipeline.offload.addresses",
                     "list", id="not-a-list"),
    ],
)
def test_errors_name_the_key(table, key, words):
    with pytest.raises(ConfigError) as err:
        parse_offload(table)
    assert err.value.key == key
    assert words in str(err.value)


def test_datakit_env_overrides_file():
    table = {"receiver": "ploffload", "addresses": ["grpc://a:1"]}
    apply_datakit_env(table, {"ENV_PIPELINE_OFFLOAD_RECEIVER": "datakit-http",
                              "ENV_PIPELINE_OFFLOAD_ADDRESSES": "http://x:9529, http://y:9529"})
    cfg = parse_offload(table)
    assert cfg.receiver == "datakit-http"
    assert [a.url for a in cfg.addresses] == ["http://x:9529", "http://y:9529"]


def test_addresses_env_alone_defaults_receiver_to_datakit_http():
    table: dict = {}
    apply_datakit_env(table, {"ENV_PIPELINE_OFFLOAD_ADDRESSES": "http://x:9529"})
    assert parse_offload(table).receiver == "datakit-http"
    # A receiver already chosen in the file is kept.
    table = {"receiver": "ploffload"}
    apply_datakit_env(table, {"ENV_PIPELINE_OFFLOAD_ADDRESSES": "grpc://x:9530"})
    assert parse_offload(table).receiver == "ploffload"


def test_sender_defaults_and_batch_size_by_transport():
    cfg = parse_sender(None)
    grpc_only = parse_offload({"receiver": "ploffload", "addresses": ["grpc://a:1", "grpc://b:1"]})
    mixed = parse_offload({"receiver": "ploffload", "addresses": ["grpc://a:1", "http://b:1"]})
    assert cfg.resolved_batch_size(grpc_only) == DEFAULT_BATCH_GRPC
    assert cfg.resolved_batch_size(mixed) == DEFAULT_BATCH_HTTP == 128
    assert parse_sender({"batch_size": 1000}).resolved_batch_size(mixed) == 1000
    assert cfg.resolved_concurrency(grpc_only) == 8


@pytest.mark.parametrize(
    "table, key",
    [
        pytest.param({"batch_size": "big"}, "sender.batch_size", id="type"),
        pytest.param({"batch_size": True}, "sender.batch_size", id="bool"),
        pytest.param({"queue_batches": 0}, "sender.queue_batches", id="range"),
        pytest.param({"timeout": -1}, "sender.timeout", id="negative"),
        pytest.param({"token": "tkn_short"}, "sender.token", id="token"),
        pytest.param({"compression": "br"}, "sender.compression", id="compression"),
        pytest.param({"batchsize": 1}, "sender.batchsize", id="unknown"),
        pytest.param({"eject_base": 10, "eject_max": 1}, "sender.eject_max", id="eject"),
    ],
)
def test_sender_errors_name_the_key(table, key):
    with pytest.raises(ConfigError) as err:
        parse_sender(table)
    assert err.value.key == key


def test_token_shapes():
    assert check_token("tkn_" + "a" * 32) is None
    assert check_token("token_" + "a" * 32) is None
    assert check_token("tokn_" + "a" * 24) is None
    assert check_token("tkn_" + "a" * 31)
    assert check_token("abc_" + "a" * 32)
    assert check_token("tkn_a_b")
