"""Toolchain discovery: doctor(), find_go(), find_envoy() and `labkit doctor`."""

from __future__ import annotations

import subprocess
import sys

import pytest

import labkit
from helpers import LABKIT_CLI, REPO


@pytest.mark.go
@pytest.mark.envoy
def test_doctor_finds_go_and_envoy_with_versions():
    report = labkit.doctor()
    tools = {t.name: t for t in report.tools}
    assert {"go", "envoy", "func-e", "tinygo"} <= set(tools)

    go, envoy = tools["go"], tools["envoy"]
    assert go.ok, go
    assert envoy.ok, envoy
    assert go.version >= (1, 24)
    assert envoy.version >= (1, 33)
    # The versions are the tools' own answers, not something made up.
    assert f"go{go.version_str}" in subprocess.run([go.path, "version"], capture_output=True,
                                                   text=True).stdout
    assert f"/{envoy.version_str}/" in subprocess.run([envoy.path, "--version"], capture_output=True,
                                                      text=True).stdout
    assert report.ok
    report.require()
    text = str(report)
    assert go.version_str in text and envoy.version_str in text
    assert "all required tools are ready" in text


def test_find_go_rejects_a_go_that_is_too_old(tmp_path, monkeypatch, fresh_toolchain):
    fake = tmp_path / "go"
    fake.write_text("#!/bin/sh\necho 'go version go1.21.0 linux/amd64'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LABKIT_GO", str(fake))
    labkit.toolchain.find_go.cache_clear()

    tool = labkit.toolchain.find_go()
    assert not tool.ok
    assert tool.path == str(fake)
    assert tool.version == (1, 21, 0)
    assert "too old" in tool.problem
    assert "1.24" in tool.problem
    with pytest.raises(labkit.errors.ToolchainError) as info:
        tool.require()
    assert info.value.fix, "a ToolchainError must say what to do"
    assert "too old" in str(info.value)
    # The lab as a whole is not ready, and doctor says why.
    report = labkit.doctor()
    assert not report.ok
    with pytest.raises(labkit.errors.ToolchainError, match="too old"):
        report.require()


def test_find_go_rejects_a_non_executable(tmp_path, monkeypatch, fresh_toolchain):
    not_exe = tmp_path / "go"
    not_exe.write_text("not a program\n")
    monkeypatch.setenv("LABKIT_GO", str(not_exe))
    labkit.toolchain.find_go.cache_clear()
    tool = labkit.toolchain.find_go()
    assert not tool.ok and "not an executable" in tool.problem
    with pytest.raises(labkit.errors.ToolchainError):
        labkit.scaffold("never-scaffolded")


@pytest.mark.go
@pytest.mark.envoy
def test_labkit_envoy_pointing_nowhere_is_a_toolchain_error(tmp_path, monkeypatch, fresh_toolchain,
                                                            log_headers):
    monkeypatch.setenv("LABKIT_ENVOY", str(tmp_path / "no" / "such" / "envoy"))
    labkit.toolchain.find_envoy.cache_clear()
    tool = labkit.toolchain.find_envoy()
    assert not tool.ok
    with pytest.raises(labkit.errors.ToolchainError) as info:
        tool.require()
    assert "LABKIT_ENVOY" in str(info.value)
    assert info.value.fix
    # Validation and start need Envoy too, and say so the same way.
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1]))
    with pytest.raises(labkit.errors.ToolchainError):
        labkit.validate(cfg)


@pytest.mark.go
@pytest.mark.envoy
def test_cli_doctor_prints_a_table():
    out = subprocess.run([LABKIT_CLI, "doctor"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["tool", "version", "from", "path"]
    rows = {line.split()[1]: line.split() for line in lines[1:] if line[:2] in ("ok", "--", "!!")}
    assert rows["go"][0] == "ok" and rows["envoy"][0] == "ok"
    assert rows["go"][2] == labkit.toolchain.find_go().version_str
    assert rows["envoy"][2] == labkit.toolchain.find_envoy().version_str
    assert "all required tools are ready" in out.stdout


@pytest.mark.go
@pytest.mark.envoy
def test_tinygo_missing_is_a_toolchain_error(monkeypatch, tmp_path, fresh_toolchain):
    """Whatever is installed: pointing LABKIT_TINYGO nowhere must say what to do."""
    monkeypatch.setenv("LABKIT_TINYGO", str(tmp_path / "no-tinygo"))
    tool = labkit.toolchain.find_tinygo()
    assert not tool.ok and tool.optional
    assert "make tinygo" in tool.fix and "tinygo.org" in tool.fix
    with pytest.raises(labkit.errors.ToolchainError):
        labkit.scaffold("tinygo-never", toolchain="tinygo")
    assert labkit.doctor().ok  # TinyGo is optional: the lab still works


def test_setup_tinygo_says_why_when_no_route_works(tmp_path):
    """No tinygo on PATH, no source archive, the release out of reach: exit 3, a reason each."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LABKIT_CACHE": str(tmp_path / "cache"),
           "TINYGO_RELEASE_BASE": "http://127.0.0.1:9", "PYTHON": sys.executable}
    out = subprocess.run([str(REPO / "scripts" / "setup-tinygo.sh")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 3, out.stdout + out.stderr
    said = out.stderr
    assert "TinyGo 0.33.0 is not available; the lab's TinyGo parts will be skipped" in said
    assert "PATH: no tinygo on PATH" in said and "source: TINYGO_SRC is not set" in said
    assert "release: could not download http://127.0.0.1:9/" in said
    assert said.count("fix:") == 3
