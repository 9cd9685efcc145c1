import pytest

from offload.envconfig import apply_env
from offload.errors import ConfigError

KNOWN = ["http.listen", "dataway.urls", "aggregator_tolerance", "pipeline.offload.addresses", "workers"]


def test_rule_sets_nested_and_top_level_keys():
    data = {"dataway": {"urls": ["file:///tmp/x"]}}
    env = {
        "OFFLOAD_RECEIVER_HTTP__LISTEN": "0.0.0.0:1",
        "OFFLOAD_RECEIVER_DATAWAY__URLS": "http://a?token=t,http://b?token=t",
        "OFFLOAD_RECEIVER_AGGREGATOR_TOLERANCE": "5s",
        "OFFLOAD_RECEIVER_WORKERS": "4",
        "OTHER": "x",
    }
    applied = apply_env(data, "OFFLOAD_RECEIVER", env, KNOWN)
    assert data == {
        "http": {"listen": "0.0.0.0:1"},
        "dataway": {"urls": ["http://a?token=t", "http://b?token=t"]},
        "aggregator_tolerance": "5s",
        "workers": 4,
    }
    assert sorted(applied) == ["aggregator_tolerance", "dataway.urls", "http.listen", "workers"]


def test_toml_list_value_and_unknown_key():
    data = {}
    apply_env(data, "OFFLOAD_AGENT", {"OFFLOAD_AGENT_PIPELINE__OFFLOAD__ADDRESSES": '["grpc://a:1"]'}, KNOWN)
    assert data == {"pipeline": {"offload": {"addresses": ["grpc://a:1"]}}}
    with pytest.raises(ConfigError) as err:
        apply_env({}, "OFFLOAD_AGENT", {"OFFLOAD_AGENT_NOPE": "1"}, KNOWN)
    assert err.value.key == "OFFLOAD_AGENT_NOPE"
