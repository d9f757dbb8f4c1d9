"""The TinyGo track: TinyGo 0.33 with the tetratelabs SDK, the original tutorial's toolchain.

`make test` sets TinyGo up first (`make tinygo`), so on the lab's machines none of
this skips; elsewhere the module skips with the reason `make tinygo` gave.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import labkit
from helpers import EXAMPLES, LABKIT_CLI, REPO, names_running
from labkit._extension import TINYGO_SDK, TINYGO_SDK_VERSION
from labkit._wasm import inspect_module
from labkit.toolchain import find_tinygo, tinygo_cache

pytestmark = [pytest.mark.tinygo, pytest.mark.go, pytest.mark.envoy]


@pytest.fixture(scope="module", autouse=True)
def tinygo():
    find_tinygo.cache_clear()  # what an earlier test saw (another LABKIT_CACHE, say) does not count
    tool = find_tinygo()
    if not tool.ok:
        pytest.skip(f"TinyGo is not usable here ({tool.problem}): run `make tinygo`; {tool.fix}")
    return tool


def test_doctor_names_where_tinygo_came_from_and_its_go(tinygo):
    row = next(t for t in labkit.doctor().tools if t.name == "tinygo")
    assert row.ok and row.version >= (0, 32)
    assert row.source in ("PATH", "built from source by make tinygo", "TinyGo's release (make tinygo)",
                          "make tinygo (PATH's)") or row.source.startswith("LABKIT_TINYGO")
    assert row.detail.startswith("uses Go 1.")
    out = subprocess.run([LABKIT_CLI, "doctor"], capture_output=True, text=True, timeout=120).stdout
    assert "tinygo" in out and row.detail in out


def test_scaffold_writes_a_tetratelabs_project_and_it_runs_in_envoy(workspace, envoys):
    ext = labkit.scaffold("tinygo-hello", toolchain="tinygo", overwrite=True)
    gomod = ext.read("go.mod")
    assert f"require {TINYGO_SDK} {TINYGO_SDK_VERSION}" in gomod and "\ngo 1.23\n" in gomod
    assert "proxywasm.SetVMContext" in ext.read().split("func main()")[1].split("}")[0]  # in main()
    build = ext.build()
    assert build.toolchain == "tinygo" and build.size < 1_000_000  # a few hundred kB
    info = inspect_module(build.path)
    assert info.is_proxy_wasm and info.kind == "WASI command" and TINYGO_SDK in info.sdks
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(build))).start()
    labkit.curl(envoy).expect_status(200)
    envoy.expect_wasm_logs("OnHttpRequestHeaders")
    assert labkit.Extension("tinygo-hello").toolchain == "tinygo"  # read back from go.mod


def test_the_labs_examples_run_on_the_tinygo_track(workspace, envoys):
    """The lab's code is written once, for the upstream SDK: labkit writes the TinyGo form.
    SetVMContext stays in init(), which TinyGo runs too."""
    ext = labkit.scaffold("tinygo-add-header", example="add-header", toolchain="tinygo", overwrite=True)
    source = ext.read()
    assert TINYGO_SDK in source and "github.com/proxy-wasm/proxy-wasm-go-sdk" not in source
    assert "func init()" in source
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(ext.build()))).start()
    labkit.curl(envoy).expect_header("my-new-header", "some-value-here")
    # %%gofile's write() follows the project's track too.
    ext.write("main.go", (EXAMPLES / "log-headers" / "main.go").read_text())
    assert TINYGO_SDK in ext.read()


def test_a_tinygo_compile_error_is_a_diagnostic(workspace):
    ext = labkit.scaffold("tinygo-broken", example="log-headers", toolchain="tinygo", overwrite=True)
    ext.write("main.go", ext.read().replace('proxywasm.LogInfo("OnHttpRequestHeaders")',
                                            "proxywasm.LogInfo(numHeaders)"))
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    (diag,) = info.value.diagnostics
    assert diag.file == "main.go" and "cannot use numHeaders" in diag.message
    assert "the tinygo build failed at main.go:" in info.value.message


def test_go_1_24_in_go_mod_is_explained(workspace):
    ext = labkit.scaffold("tinygo-go124", toolchain="tinygo", overwrite=True)
    (ext.path / "go.mod").write_text(ext.read("go.mod").replace("go 1.23", "go 1.24"))
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    assert "go.mod says `go 1.24`, but TinyGo runs Go 1.23" in info.value.message
    assert "set `go 1.23` in go.mod" in info.value.fix


def test_the_upstream_sdk_with_tinygo_is_explained(workspace):
    """A project of its own (not scaffolded) that brings the upstream SDK to TinyGo."""
    project = labkit.workspace() / "tinygo-upstream-sdk"
    project.mkdir(exist_ok=True)
    (project / "go.mod").write_text(f"module up\n\ngo 1.23\n\nrequire {labkit.SDK} {labkit.SDK_VERSION}\n")
    (project / "main.go").write_text((EXAMPLES / "add-header" / "main.go").read_text())
    ext = labkit.Extension("tinygo-upstream-sdk", toolchain="tinygo")
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    err = info.value
    assert f"{labkit.SDK} needs Go >= 1.24" in err.message
    assert "//go:wasmexport" in err.fix and TINYGO_SDK in err.fix and "toolchain='go'" in err.fix


def test_go_1_26_first_on_path_is_explained(tmp_path, monkeypatch, fresh_toolchain):
    """TinyGo itself, not through labkit's wrapper, with the machine's newer Go first."""
    stamp = tinygo_cache() / "tinygo.json"
    if not stamp.is_file():
        pytest.skip("TinyGo comes from PATH here, not from `make tinygo`: no unwrapped binary to try")
    import json

    real = json.loads(stamp.read_text())["tinygo"]
    go = labkit.toolchain.find_go()
    assert go.version >= (1, 24)
    monkeypatch.setenv("LABKIT_TINYGO", real)
    monkeypatch.setenv("TINYGOROOT", str(Path(real).parent.parent))
    monkeypatch.setenv("PATH", f"{Path(go.path).parent}{os.pathsep}{os.environ['PATH']}")
    tool = find_tinygo()
    assert not tool.ok
    assert "requires go version 1.19 through 1.23" in tool.problem
    assert "Go 1.23 first" in tool.fix and "make tinygo" in tool.fix


@pytest.mark.parametrize("exercise_id", ["03.1", "04.1", "04.2", "05.1", "05.2"])
def test_every_exercise_passes_on_the_tinygo_track(exercise_id, workspace, capsys):
    nb = exercise_id.split(".")[0].zfill(2)
    (q,) = [e for e in labkit.exercises.load(nb, solutions=True, toolchain="tinygo") if e.id == exercise_id]
    result = q.check()
    assert result.passed, result
    assert set(result.seconds) == {"build", "envoy"}
    assert TINYGO_SDK in (workspace / f"{q.project}-solution" / "main.go").read_text()
    assert not any(n.startswith("check-") for n in names_running())


def test_a_wrong_answer_is_caught_on_the_tinygo_track(workspace, monkeypatch):
    monkeypatch.delenv("LABKIT_SOLUTIONS", raising=False)
    (q,) = labkit.exercises.load("03", toolchain="tinygo")
    wrong = (EXAMPLES / "echo-user-agent" / "main.go").read_text().replace(
        'AddHttpResponseHeader("x-seen-user-agent", ctx.userAgent)',
        'AddHttpResponseHeader("x-seen-user-agent", "curl/8.5.0")')
    labkit.Extension(q.project).write("main.go", wrong)
    result = q.check()
    assert result.outcome.value == "incorrect"
    assert "got x-seen-user-agent='curl/8.5.0'" in result.message


def test_the_notebooks_run_on_the_tinygo_track(tmp_path):
    """Every notebook that builds a filter, executed with toolchain=tinygo (papermill)."""
    notebooks = sorted(str(p) for p in (REPO / "notebooks").glob("0[1-7]*.ipynb"))
    out = subprocess.run([LABKIT_CLI, "run", *notebooks, "--out", str(tmp_path / "tinygo"),
                          "-p", "toolchain=tinygo", "-p", "solutions=true"],
                         capture_output=True, text=True, timeout=3000)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert f"{len(notebooks)}/{len(notebooks)} ok" in out.stdout
