"""The installed distribution: imports, console scripts, --help everywhere."""

import subprocess
import sys

import pytest


def test_packages_import():
    import offload
    import receiver

    assert offload.Point("m").name == "m"
    assert receiver.__all__ == []


@pytest.mark.parametrize(
    "argv",
    [
        ["offload-agent", "--help"],
        ["offload-receiver", "--help"],
        ["offload-receiver", "serve", "--help"],
        ["offload-receiver", "pipeline", "run", "--help"],
        ["offload-agent", "send", "--help"],
        ["offload-agent", "check", "--help"],
        [sys.executable, "-m", "offload", "--help"],
        [sys.executable, "-m", "receiver", "--help"],
    ],
    ids=lambda a: " ".join(a[-3:]),
)
def test_help(argv):
    bindir = sys.executable.rsplit("/", 1)[0]
    if not argv[0].startswith("/"):
        argv = [f"{bindir}/{argv[0]}", *argv[1:]]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
