"""`offload-receiver pipeline run` as a real process: JSON lines out, exit 2 on a bad script."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "offload-receiver"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "pipeline", "run", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_input_file_one_point_per_line(tmp_path):
    script = tmp_path / "app.p"
    script.write_text('if _ == "skip" {\n  drop()\n}\nx = 1\nlength = "n=" + _\nif _ == "bad" { y = x + _ }\n')
    logs = tmp_path / "app.log"
    logs.write_text("first line\nskip\nbad\nlast é\n")
    before = time.time_ns()
    proc = run(str(script), "--source", "myapp", "--input", str(logs))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["fields"]["message"] for o in out] == ["first line", "skip", "bad", "last é"]
    for o in out:
        assert set(o) == {"name", "tags", "fields", "time", "dropped", "error"}
        assert o["name"] == "myapp" and o["tags"] == {}
        assert before <= o["time"] <= time.time_ns()
    assert out[0]["fields"] == {"message": "first line", "status": "info"} and out[0]["error"] is None
    assert out[1]["dropped"] is True
    assert out[2]["error"] == "app.p:6:23: unsupported operand type(s) for +: int and str"
    assert out[2]["fields"] == {"message": "bad"}  # no post-processing after an error
    assert out[3]["dropped"] is False


def test_message_option_and_category(tmp_path):
    script = tmp_path / "cpu.p"
    script.write_text("x = 1\n")
    proc = run(str(script), "--source", "cpu", "--message", "hello", "--category", "metric")
    assert proc.returncode == 0, proc.stderr
    (obj,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert obj["fields"] == {"message": "hello"}  # no logging status for other categories


def test_stdin_input(tmp_path):
    script = tmp_path / "s.p"
    script.write_text("")
    proc = run(str(script), "--source", "s", "--input", "-", stdin="a\nb\n")
    assert [json.loads(line)["fields"]["message"] for line in proc.stdout.splitlines()] == ["a", "b"]


def test_compile_error_exits_2_with_position(tmp_path):
    script = tmp_path / "broken.p"
    script.write_text('x = 1\ngrok(_, "%{WORD:w}"\ny = 2\n')
    proc = run(str(script), "--source", "s", "--message", "m")
    assert proc.returncode == 2
    assert proc.stdout == ""
    first = proc.stderr.splitlines()[0]
    assert first == "broken.p:3:1: expected ',' or ')' to close the call to grok at line 2, found identifier 'y'"
    assert proc.stderr.splitlines()[-1].strip().endswith("^")


def test_missing_script_file(tmp_path):
    proc = run(str(tmp_path / "nope.p"), "--source", "s", "--message", "m")
    assert proc.returncode == 2 and "cannot read script" in proc.stderr
