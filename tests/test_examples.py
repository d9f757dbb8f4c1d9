"""Each example is main.go + envoy.yaml + main_test.go; check all three for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import labkit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "main.go").is_file())


def test_examples_are_complete():
    assert NAMES, "no examples found"
    for name in NAMES:
        for part in ("main.go", "envoy.yaml", "main_test.go"):
            assert (EXAMPLES / name / part).is_file(), f"examples/{name}/{part} is missing"


def test_go_unit_tests_pass():
    """`go test ./...` runs every example against the SDK's host emulator."""
    go = labkit.find_go().require()
    out = subprocess.run([go, "test", "./..."], cwd=EXAMPLES, capture_output=True, text=True,
                         env={**os.environ, "GOFLAGS": "-mod=mod"})
    assert out.returncode == 0, out.stdout + out.stderr
    for name in NAMES:
        assert re.search(rf"^ok\s+\S+/{re.escape(name)}\s", out.stdout, re.M), out.stdout


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_in_envoy_with_its_own_config(name, tmp_path):
    """Build the example, then run its envoy.yaml unchanged except for the ports."""
    ext = labkit.scaffold(f"example-{name}", example=name)
    build = ext.build()
    shutil.copy(build.path, tmp_path / "main.wasm")
    port, admin = labkit.free_port(), labkit.free_port()
    text = (EXAMPLES / name / "envoy.yaml").read_text()
    text = text.replace("port_value: 10000", f"port_value: {port}").replace("port_value: 9901", f"port_value: {admin}")
    (tmp_path / "envoy.yaml").write_text(text)

    envoy = labkit.Envoy(tmp_path / "envoy.yaml", name=f"example-{name}")
    with envoy:
        assert envoy.port == port and envoy.admin_port == admin
        mark = envoy.log_offset()
        r = labkit.curl(envoy).expect_status(200).expect_body("Hello world")
        if name == "add-header":
            r.expect_header("my-new-header", "some-value-here")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(
                "finished" in line.message for line in envoy.wasm_logs(since=mark)):
            time.sleep(0.05)
        messages = [line.message for line in envoy.wasm_logs(since=mark)]
        assert "OnHttpRequestHeaders" in messages, messages
        assert any(m.endswith("finished") for m in messages), messages
    assert not envoy.running
