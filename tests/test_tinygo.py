"""The seed tutorial's toolchain: TinyGo with the tetratelabs SDK (optional)."""

from __future__ import annotations

import hashlib

import pytest

import labkit

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def tinygo():
    tool = labkit.toolchain.find_tinygo()
    if not tool.ok:
        pytest.skip(f"TinyGo is not usable here ({tool.problem}): the TinyGo track is skipped")
    return tool


def test_tinygo_scaffold_and_build(tinygo, workspace):
    ext = labkit.scaffold("tinygo-hello", toolchain="tinygo")
    assert ext.toolchain == "tinygo"
    gomod = (ext.path / "go.mod").read_text()
    assert f"{labkit._extension.TINYGO_SDK} {labkit._extension.TINYGO_SDK_VERSION}" in gomod
    build = ext.build()
    assert build.toolchain == "tinygo"
    data = build.path.read_bytes()
    assert data[:4] == b"\0asm"
    assert build.sha256 == hashlib.sha256(data).hexdigest()
    assert build.size == len(data)
    assert not (ext.path / "main.wasm.tmp").exists()


def test_tinygo_module_runs_in_envoy(tinygo, workspace):
    ext = labkit.scaffold("tinygo-envoy", toolchain="tinygo")
    build = ext.build()
    with labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(build)), name="tinygo-envoy") as envoy:
        labkit.curl(envoy).expect_status(200).expect_body("Hello world")


def test_tinygo_missing_is_a_toolchain_error(monkeypatch, tmp_path, fresh_toolchain):
    """Whatever is installed: pointing LABKIT_TINYGO nowhere must say what to do."""
    monkeypatch.setenv("LABKIT_TINYGO", str(tmp_path / "no-tinygo"))
    labkit.toolchain.find_tinygo.cache_clear()
    tool = labkit.toolchain.find_tinygo()
    assert not tool.ok and tool.optional
    assert "tinygo.org" in tool.fix
    with pytest.raises(labkit.errors.ToolchainError):
        labkit.scaffold("tinygo-never", toolchain="tinygo")
    assert labkit.doctor().ok  # TinyGo is optional: the lab still works
