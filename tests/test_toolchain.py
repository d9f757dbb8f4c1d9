"""Toolchain discovery: doctor(), find_go(), find_envoy() and `labkit doctor`."""

from __future__ import annotations

import subprocess

import pytest

import labkit
from helpers import LABKIT_CLI


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
