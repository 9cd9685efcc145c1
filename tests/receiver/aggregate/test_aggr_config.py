"""AggregateConfig: the file keys, DW_AGGREGATOR_* winning over them, and the error cases."""

from __future__ import annotations

import pytest

from offload.errors import ConfigError
from receiver.aggregate import AggregateConfig


@pytest.mark.parametrize("data, env, mode, endpoints, tolerance_s", [
    pytest.param({}, {}, "", (), 10, id="both-empty-off"),
    pytest.param({"aggregator_mode": "standalone"}, {}, "standalone", (), 10, id="standalone"),
    pytest.param({"aggregator_endpoint": ["http://a:9528/"]}, {}, "proxy", ("http://a:9528",), 10,
                 id="empty-mode-with-endpoints-is-proxy"),
    pytest.param({"aggregator_mode": "proxy", "aggregator_endpoint": ["http://a:1", "http://b:2"],
                  "aggregator_tolerance": "1m30s"}, {}, "proxy", ("http://a:1", "http://b:2"), 90, id="proxy-file"),
    pytest.param({}, {"DW_AGGREGATOR_MODE": "standalone", "DW_AGGREGATOR_TOLERANCE": "2s"}, "standalone", (), 2,
                 id="env-only"),
    pytest.param({"aggregator_mode": "standalone"}, {"DW_AGGREGATOR_MODE": "proxy",
                                                     "DW_AGGREGATOR_ENDPOINTS": "http://x:1, http://y:2"},
                 "proxy", ("http://x:1", "http://y:2"), 10, id="env-wins"),
    pytest.param({"aggregator_mode": "standalone", "aggregator_tolerance": "3s"},
                 {"DW_AGGREGATOR_MODE": "", "DW_AGGREGATOR_TOLERANCE": ""}, "standalone", (), 3,
                 id="empty-env-does-not-win"),
    pytest.param({"aggregator_mode": " Standalone ", "aggregator_tolerance": "1500ms"}, {}, "standalone", (), 1,
                 id="tolerance-truncated"),
    pytest.param({"aggregator_mode": "standalone", "aggregator_tolerance": 5}, {}, "standalone", (), 5,
                 id="tolerance-number-is-seconds"),
])
def test_config_matrix(data, env, mode, endpoints, tolerance_s):
    cfg = AggregateConfig.from_mapping(data, env)
    assert (cfg.mode, cfg.endpoints, cfg.tolerance_s) == (mode, endpoints, tolerance_s)
    assert cfg.enabled == bool(mode)


@pytest.mark.parametrize("data, env, key", [
    pytest.param({"aggregator_mode": "proxy"}, {}, "aggregator_endpoint", id="proxy-without-endpoints"),
    pytest.param({}, {"DW_AGGREGATOR_MODE": "proxy"}, "aggregator_endpoint", id="env-proxy-without-endpoints"),
    pytest.param({"aggregator_mode": "cluster"}, {}, "aggregator_mode", id="bad-mode"),
    pytest.param({"aggregator_mode": "standalone", "aggregator_tolerance": "ten"}, {}, "aggregator_tolerance",
                 id="bad-tolerance"),
    pytest.param({"aggregator_endpoint": ["ftp://x"]}, {}, "aggregator_endpoint", id="bad-endpoint"),
    pytest.param({"aggregator_endpoint": "http://x"}, {"DW_AGGREGATOR_TOLERANCE": "-1s"}, "aggregator_tolerance",
                 id="negative-tolerance"),
])
def test_config_errors_name_the_key(data, env, key):
    with pytest.raises(ConfigError) as info:
        AggregateConfig.from_mapping(data, env)
    assert info.value.key == key


def test_public_names():
    import receiver.aggregate as pkg

    assert sorted(pkg.__all__) == sorted([
        "AggregateConfig", "AggregateService", "WindowCache", "Window", "FeedResult", "StateLog",
        "InvalidBatch", "UnknownMethod", "InvalidPickKey",
    ])
