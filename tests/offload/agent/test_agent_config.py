"""Agent config: defaults, env precedence, validation naming the key, `check` exit codes."""

import argparse

import pytest

from offload.agent.config import check_command, load_config, parse_config
from offload.errors import ConfigError, LoopError


def cfg_of(data, env=None, **kw):
    return parse_config(data, env or {}, **kw)


BASE = {"http": {"listen": "127.0.0.1:9539"},
        "pipeline": {"offload": {"receiver": "ploffload", "addresses": ["grpc://10.0.0.2:9530"]}}}


def test_defaults_offload_everything_when_configured():
    cfg = cfg_of({**BASE, "inputs": {"file": [{"path": "/var/log/a.log", "source": "nginx"}]}})
    assert cfg.offload.enabled and cfg.offload_all and cfg.offloads("nginx")
    assert cfg.files[0].paths == ("/var/log/a.log",) and not cfg.files[0].from_beginning
    assert cfg.sender.batch_size == 0 and cfg.http_listen == "127.0.0.1:9539"
    assert not cfg_of({}).offload.enabled and not cfg_of({}).offloads("nginx")


def test_offloaded_list_selects_scripts():
    cfg = cfg_of({**BASE, "pipeline": {**BASE["pipeline"], "offloaded": ["nginx.p", "app"]}})
    assert cfg.offloads("nginx") and cfg.offloads("app") and not cfg.offloads("syslog")
    assert cfg_of({**BASE, "pipeline": {**BASE["pipeline"], "offloaded": "*"}}).offload_all


def test_env_rule_then_datakit_env_win():
    env = {
        "OFFLOAD_AGENT_HTTP__LISTEN": "127.0.0.1:1111",
        "OFFLOAD_AGENT_SENDER__BATCH_SIZE": "256",
        "OFFLOAD_AGENT_PIPELINE__OFFLOAD__ADDRESSES": "grpc://a:1,grpc://b:1",
        "ENV_PIPELINE_OFFLOAD_ADDRESSES": "http://c:9529",
        "ENV_PIPELINE_OFFLOAD_RECEIVER": "datakit-http",
        "ENV_HTTP_LISTEN": "127.0.0.1:2222",
        "ENV_DATAWAY": "http://dw:9528?token=tkn_" + "a" * 32,
    }
    cfg = cfg_of(dict(BASE), env)
    assert cfg.sender.batch_size == 256
    assert cfg.http_listen == "127.0.0.1:2222"
    assert cfg.offload.receiver == "datakit-http" and [a.url for a in cfg.offload.addresses] == ["http://c:9529"]
    assert cfg.dataway["urls"] == ["http://dw:9528?token=tkn_" + "a" * 32]


@pytest.mark.parametrize(
    "data, key",
    [
        pytest.param({"htp": {}}, "htp", id="unknown-table"),
        pytest.param({"http": {"listen": "nope"}}, "http.listen", id="listen"),
        pytest.param({"pipeline": {"offload": {"receiver": "x", "addresses": ["grpc://a:1"]}}},
                     "pipeline.offload.receiver", id="receiver"),
        pytest.param({"pipeline": {"offload": {"receiver": "ploffload", "addresses": ["a:1"]}}},
                     "pipeline.offload.addresses[0]", id="scheme"),
        pytest.param({"pipeline": {"offload": {"receiver": "ploffload", "addresses": []}}},
                     "pipeline.offload.addresses", id="empty"),
        pytest.param({"pipeline": {"offloaded": ["nginx"]}}, "pipeline.offloaded", id="offloaded-without-offload"),
        pytest.param({"pipeline": {"scripts_dir": "/nonexistent/dir"}}, "pipeline.scripts_dir", id="scripts-dir"),
        pytest.param({"inputs": {"file": [{"source": "x"}]}}, "inputs.file[0].paths", id="no-paths"),
        pytest.param({"inputs": {"file": [{"paths": ["a"]}]}}, "inputs.file[0].source", id="no-source"),
        pytest.param({"inputs": {"file": [{"paths": ["a"], "source": "x", "from_beginning": "yes"}]}},
                     "inputs.file[0].from_beginning", id="from-beginning"),
        pytest.param({"inputs": {"file": [{"paths": ["a"], "source": "x", "tail": 1}]}},
                     "inputs.file[0].tail", id="unknown-input-key"),
        pytest.param({"inputs": {"stdin": {}}}, "inputs.stdin.source", id="stdin-source"),
        pytest.param({"sender": {"queue_batches": -1}}, "sender.queue_batches", id="sender"),
        pytest.param({"dataway": {"urls": ["ftp://x"]}}, "dataway.urls", id="dataway"),
        pytest.param({"pipeline": {"offload": {"receiver": "ploffload", "addresses": ["http://rx:9529"]}},
                      "inputs": {"file": [{"paths": ["a"], "source": "nginx", "pipeline": "other"}]}},
                     "inputs.file[0].pipeline", id="pipeline-over-http"),
    ],
)
def test_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as err:
        cfg_of(data)
    assert err.value.key == key


def test_explicit_pipeline_is_fine_over_grpc_or_when_local():
    cfg_of({**BASE, "inputs": {"file": [{"paths": ["a"], "source": "nginx", "pipeline": "other"}]}})
    cfg_of({"pipeline": {"offload": {"receiver": "ploffload", "addresses": ["http://rx:9529"]},
                         "offloaded": ["x"]},
            "inputs": {"file": [{"paths": ["a"], "source": "nginx", "pipeline": "other"}]}})


def test_aggregator_table_is_left_alone():
    cfg_of({"aggregator": {"anything": 1}})


def test_loop_is_detected_at_load():
    data = {"http": {"listen": "0.0.0.0:9539"},
            "pipeline": {"offload": {"receiver": "ploffload", "addresses": ["http://localhost:9539"]}}}
    with pytest.raises(LoopError):
        cfg_of(data)


def test_check_command(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text('[http]\nlisten = "127.0.0.1:9539"\n[pipeline.offload]\nreceiver = "ploffload"\n'
                    'addresses = ["grpc://10.0.0.2:9530"]\n')
    assert check_command(argparse.Namespace(config=str(good))) == 0
    assert capsys.readouterr().out.startswith("ok: offload every script")
    bad = tmp_path / "bad.toml"
    bad.write_text('[pipeline.offload]\nreceiver = "ploffload"\naddresses = ["10.0.0.2:9530"]\n')
    assert check_command(argparse.Namespace(config=str(bad))) == 2
    assert "pipeline.offload.addresses[0]" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[http\n")
    assert check_command(argparse.Namespace(config=str(broken))) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert check_command(argparse.Namespace(config=str(tmp_path / "missing.toml"))) == 2


def test_example_config_is_valid(monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    monkeypatch.chdir(root)
    cfg = load_config(root / "examples" / "agent.toml", environ={})
    assert cfg.offload.enabled and len(cfg.files) == 3


def test_public_names_resolve():
    import offload.agent
    import offload.sender

    for module in (offload.agent, offload.sender):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
