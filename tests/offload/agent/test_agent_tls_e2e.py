"""The agent offloads over TLS (grpcs:// and https://) to a real receiver with a private CA.

`[sender] tls_ca` names the PEM bundle the agent trusts; without it the receiver's
self-signed certificate is refused (the system trust store does not know it), so the
test also proves that verification is on.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from agent_e2e_support import RX_TOKEN, SCRIPTS, write_lines
from test_agent_offload_e2e import agent_config, assert_processed, send_cmd, summary
from support.procs import free_port


def make_cert(work: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate"
    cert, key = work / "rx.crt", work / "rx.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def start_tls_receiver(procs, work: Path, dataway_url: str, cert: Path, key: Path) -> tuple[int, int]:
    hp, gp = free_port(), free_port()
    tls = f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
    cfg = work / "rx.toml"
    cfg.write_text(
        f'[http]\nlisten = "127.0.0.1:{hp}"\n{tls}[grpc]\nlisten = "127.0.0.1:{gp}"\n{tls}'
        f'[pipeline]\nscripts_dir = "{SCRIPTS}"\n[workers]\ncount = 1\n'
        f'[dataway]\nurls = ["{dataway_url}?token={RX_TOKEN}"]\nwal_dir = "{work / "rx-wal"}"\n')
    proc = procs.start("offload-receiver", "serve", "--config", str(cfg), name="rx-tls")
    verify = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"https://127.0.0.1:{hp}/v1/ping", verify=verify, timeout=2).status_code == 200:
                return hp, gp
        except httpx.HTTPError:
            pass
        assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()
        time.sleep(0.1)


def test_send_over_grpcs_and_https_with_a_private_ca(procs, dataway, tmp_path):
    cert, key = make_cert(tmp_path)
    hp, gp = start_tls_receiver(procs, tmp_path, dataway.url, cert, key)
    n = 4000
    data = tmp_path / "access.log"
    lines = write_lines(data, n)
    for i, address in enumerate((f"grpcs://localhost:{gp}", f"https://localhost:{hp}")):
        cfg = agent_config(tmp_path / f"agent{i}.toml", [address],
                           extra=f'[sender]\ntls_ca = "{cert}"\nbatch_size = 500\n')
        res = subprocess.run(send_cmd(cfg, data), capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert summary(res.stdout) == {"sent": n, "acked": n, "failed": 0}, address
        points = dataway.wait_points((i + 1) * n, "logging", timeout=120)
        assert sorted(p.fields["message"] for p in points[i * n:]) == sorted(lines), address
        assert_processed(points)


def test_the_receivers_certificate_is_verified(procs, dataway, tmp_path):
    cert, key = make_cert(tmp_path)
    hp, gp = start_tls_receiver(procs, tmp_path, dataway.url, cert, key)
    data = tmp_path / "access.log"
    write_lines(data, 10)
    for i, address in enumerate((f"grpcs://localhost:{gp}", f"https://localhost:{hp}")):
        # no tls_ca: the system trust store does not know this self-signed certificate
        cfg = agent_config(tmp_path / f"agent{i}.toml", [address], extra="[sender]\ngive_up_after = 1\ntimeout = 2\n")
        res = subprocess.run(send_cmd(cfg, data), capture_output=True, text=True, timeout=120)
        assert res.returncode != 0, (address, res.stdout, res.stderr)
        assert summary(res.stdout)["acked"] == 0, address
        assert "CERTIFICATE_VERIFY_FAILED" in res.stderr or "certificate verify failed" in res.stderr.lower() \
            or "handshake" in res.stderr.lower(), res.stderr
    assert dataway.points() == []


def test_tls_ca_must_be_a_readable_pem_bundle(tmp_path):
    from offload.errors import ConfigError
    from offload.sender.config import parse_sender

    missing = tmp_path / "nope.pem"
    not_pem = tmp_path / "bad.pem"
    not_pem.write_text("hello\n")
    for path, words in ((missing, "cannot read"), (not_pem, "no PEM certificate")):
        try:
            parse_sender({"tls_ca": str(path)})
        except ConfigError as exc:
            assert exc.key == "sender.tls_ca" and words in str(exc), exc
        else:
            raise AssertionError(f"{path} was accepted")
    cert, _ = make_cert(tmp_path)
    assert parse_sender({"tls_ca": str(cert)}).tls_ca == str(cert)
    assert json.dumps(parse_sender({}).tls_ca) == '""'
