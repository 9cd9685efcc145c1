"""The receiver config: defaults, TOML, the environment rule, DataKit's variables, errors naming keys, masking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offload.errors import ConfigError
from receiver.config import load_config, mask_url

BIN = Path(sys.executable).parent
TOKEN = "tkn_" + "0123456789abcdef" * 2


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receiver.toml"
    path.write_text(text)
    return path


def test_defaults_work_without_a_file():
    cfg = load_config(None, environ={})
    assert cfg.http.listen == "127.0.0.1:9529" and cfg.http.port == 9529
    assert cfg.grpc.listen == "127.0.0.1:9530"
    assert cfg.http.max_body_bytes == 64 << 20
    assert cfg.pipeline.scripts_dir == "pipelines"
    assert cfg.dataway_table["urls"] == ["file://./data/out.jsonl"]
    assert cfg.dataway_table["wal_dir"] == "data/wal"
    assert cfg.workers.effective_count >= 1
    assert cfg.auth.tokens == ()


def test_file_values_and_types(tmp_path):
    path = write(tmp_path, f"""
aggregator_mode = "standalone"
[http]
listen = "0.0.0.0:19529"
max_body_bytes = 1048576
[grpc]
listen = "127.0.0.1:19530"
[pipeline]
scripts_dir = "{tmp_path}"
budget_ms = 50
[workers]
count = 3
max_inflight_batches = 8
[auth]
tokens = ["{TOKEN}"]
[dataway]
urls = ["http://127.0.0.1:9528?token={TOKEN}"]
wal_dir = "{tmp_path / 'wal'}"
""")
    cfg = load_config(path, environ={})
    assert cfg.http.port == 19529 and cfg.http.host == "0.0.0.0"
    assert cfg.workers.effective_count == 3
    assert cfg.auth.tokens == (TOKEN,)
    assert cfg.default_token == TOKEN
    assert cfg.wal_dir == tmp_path / "wal"


def test_env_rule_then_datakit_variables_win(tmp_path):
    path = write(tmp_path, '[http]\nlisten = "127.0.0.1:1000"\n[workers]\ncount = 1\n')
    env = {
        "OFFLOAD_RECEIVER_HTTP__LISTEN": "127.0.0.1:2000",
        "OFFLOAD_RECEIVER_WORKERS__COUNT": "4",
        "OFFLOAD_RECEIVER_AUTH__TOKENS": "a_1,b_2",
        "OFFLOAD_RECEIVER_DATAWAY__WAL_DIR": str(tmp_path / "w"),
    }
    cfg = load_config(path, environ=env)
    assert cfg.http.listen == "127.0.0.1:2000"
    assert cfg.workers.count == 4
    assert cfg.auth.tokens == ("a_1", "b_2")
    assert cfg.dataway_table["wal_dir"] == str(tmp_path / "w")
    env["ENV_HTTP_LISTEN"] = "127.0.0.1:3000"
    env["ENV_DATAWAY"] = f"http://a:9528?token={TOKEN},http://b:9528?token={TOKEN}"
    cfg = load_config(path, environ=env)
    assert cfg.http.listen == "127.0.0.1:3000"
    assert cfg.dataway_table["urls"] == [f"http://a:9528?token={TOKEN}", f"http://b:9528?token={TOKEN}"]


@pytest.mark.parametrize(
    "text, env, key",
    [
        pytest.param('[http]\nlisten = "nope"\n', {}, "http.listen", id="listen-shape"),
        pytest.param('[http]\nlisten = "127.0.0.1:70000"\n', {}, "http.listen", id="port-range"),
        pytest.param('[http]\nmax_body_bytes = "big"\n', {}, "http.max_body_bytes", id="type"),
        pytest.param('[http]\nmax_body_bytes = 0\n', {}, "http.max_body_bytes", id="positive"),
        pytest.param('[http]\nbogus = 1\n', {}, "http.bogus", id="unknown-key"),
        pytest.param('[nope]\nx = 1\n', {}, "nope", id="unknown-table"),
        pytest.param('[http]\ntls_cert = "/no/such.crt"\ntls_key = "/no/such.key"\n', {}, "http.tls_cert", id="tls-missing"),
        pytest.param('[grpc]\ntls_cert = "/etc/hostname"\n', {}, "grpc.tls_key", id="tls-pair"),
        pytest.param('[workers]\ncount = -1\n', {}, "workers.count", id="workers"),
        pytest.param('[auth]\ntokens = "x"\n[auth2]\n', {}, "auth2", id="unknown-after"),
        pytest.param("", {"OFFLOAD_RECEIVER_HTTP__NOPE": "1"}, "OFFLOAD_RECEIVER_HTTP__NOPE", id="env-unknown"),
        pytest.param("", {"OFFLOAD_RECEIVER_WORKERS__COUNT": "many"}, "workers.count", id="env-type"),
    ],
)
def test_errors_name_the_key(tmp_path, text, env, key):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ=env)
    assert info.value.key == key, str(info.value)


def test_dataway_table_is_validated_by_the_writer(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[dataway]\nretry_delay = "soon"\n'), environ={})
    assert info.value.key == "dataway.retry_delay"


def test_describe_masks_secrets(tmp_path):
    secret = "tkn_" + "s" * 32
    path = write(tmp_path, f'[auth]\ntokens = ["{secret}"]\n[dataway]\nurls = ["http://dw:9528?token={secret}"]\n')
    text = json.dumps(load_config(path, environ={}).describe())
    assert secret not in text and "s" * 8 not in text
    assert "tkn_***" in text
    assert mask_url(f"https://u:pw@dw:1/?token={secret}&x=1") == "https://u:***@dw:1/?token=tkn_***&x=1"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "offload-receiver"), "serve", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_check_config_exit_codes(tmp_path):
    good = write(tmp_path, f'[auth]\ntokens = ["{TOKEN}"]\n')
    out = run_cli("--config", str(good), "--check-config", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is True and TOKEN not in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[workers]\nmax_inflight_batches = 0\n')
    out = run_cli("--config", str(bad), "--check-config", cwd=tmp_path)
    assert out.returncode == 1
    assert "workers.max_inflight_batches" in out.stderr
    out = run_cli("--config", str(tmp_path / "missing.toml"), "--check-config", cwd=tmp_path)
    assert out.returncode == 1 and "missing.toml" in out.stderr
