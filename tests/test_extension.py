"""Scaffolding and building Go extensions with the real Go toolchain."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess

import pytest

import labkit
from helpers import EXAMPLES

pytestmark = pytest.mark.go


# ---------------------------------------------------------------- scaffold
def test_scaffold_creates_a_go_module(log_headers):
    ext, _ = log_headers
    assert ext.path == labkit.workspace() / "log-headers"
    gomod = (ext.path / "go.mod").read_text()
    assert gomod.startswith("module log-headers\n")
    assert f"{labkit.SDK} {labkit.SDK_VERSION}" in gomod
    gosum = (ext.path / "go.sum").read_text()
    assert f"{labkit.SDK} {labkit.SDK_VERSION} h1:" in gosum
    assert ext.read() == (EXAMPLES / "log-headers" / "main.go").read_text()


def test_scaffold_keeps_existing_sources(workspace):
    ext = labkit.Extension("keeps-sources")
    ext.write("main.go", "// mine\npackage main\n")
    ext.scaffold()
    assert ext.read() == "// mine\npackage main\n"
    assert (ext.path / "go.sum").is_file()


def test_scaffold_without_example_uses_the_template(workspace):
    ext = labkit.scaffold("from-template")
    assert "proxywasm.SetVMContext" in ext.read()
    assert "func main() {}" in ext.read()


def test_unknown_example_lists_the_known_ones(workspace):
    with pytest.raises(labkit.LabError) as info:
        labkit.scaffold("no-such-example", example="does-not-exist")
    assert "does-not-exist" in str(info.value)
    assert "log-headers" in info.value.fix and "add-header" in info.value.fix


@pytest.mark.parametrize("name", ["", "../escape", "has space", "-leading-dash", "a/b", "bad:name"])
def test_invalid_extension_name(workspace, name):
    with pytest.raises(labkit.LabError, match="invalid extension name"):
        labkit.scaffold(name)
    with pytest.raises(labkit.LabError) as info:
        labkit.Extension(name)
    assert info.value.fix


def test_unknown_toolchain_is_refused(workspace):
    with pytest.raises(labkit.LabError, match="unknown toolchain"):
        labkit.Extension("x", toolchain="rustc")


# ------------------------------------------------------------------- build
def test_build_produces_a_real_wasm_module(log_headers):
    ext, build = log_headers
    assert isinstance(build, labkit.Build)
    assert build.path == ext.wasm == ext.path / "main.wasm"
    data = build.path.read_bytes()
    assert data[:4] == b"\0asm"
    assert build.sha256 == hashlib.sha256(data).hexdigest()
    assert build.size == len(data) == build.path.stat().st_size
    assert build.size > 100_000
    assert build.toolchain == "go"
    assert not (ext.path / "main.wasm.tmp").exists()
    assert build.sha256 in str(build)


def test_a_build_replaced_by_a_later_one_says_so(workspace, tmp_path):
    """Build objects name main.wasm; publishing an old one would publish the new bytes."""
    ext = labkit.scaffold("two-builds", example="add-header", overwrite=True)
    first = ext.build()
    ext.write("main.go", ext.read().replace('"some-value-here"', '"another-value"'))
    second = ext.build()
    assert first.sha256 != second.sha256 and second.verify() is second
    with pytest.raises(labkit.LabError, match="a later build replaced it") as info:
        first.verify()
    assert "bucket.put(build) right after ext.build()" in info.value.fix
    bucket = labkit.Bucket(name="two-builds-bucket")  # put() needs no running server to check
    bucket.port = 1
    with pytest.raises(labkit.LabError, match="a later build replaced it"):
        bucket.put(first)


def test_build_before_scaffold_says_so(workspace):
    ext = labkit.Extension("never-scaffolded-build")
    with pytest.raises(labkit.BuildError, match="not a scaffolded project") as info:
        ext.build()
    assert "scaffold" in info.value.fix


def test_compile_error_gives_diagnostics_and_keeps_the_good_module(workspace):
    ext = labkit.scaffold("broken", example="log-headers")
    good = ext.build()
    good_bytes = good.path.read_bytes()
    good_mtime = good.path.stat().st_mtime_ns

    source = ext.read()
    target = 'proxywasm.LogInfo("OnHttpRequestHeaders")'
    assert target in source
    broken = source.replace(target, "proxywasm.LogInfo(notDeclaredAnywhere)")
    ext.write("main.go", broken)
    line_no, line = next((i, ln) for i, ln in enumerate(broken.splitlines(), 1)
                         if "notDeclaredAnywhere" in ln)
    column = line.index("notDeclaredAnywhere") + 1  # Go counts bytes from 1; a tab is one

    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    err = info.value
    assert len(err.diagnostics) == 1, err.diagnostics
    diag = err.diagnostics[0]
    assert diag.file == "main.go"
    assert diag.line == line_no
    assert diag.column == column
    assert diag.message == "undefined: notDeclaredAnywhere"
    assert diag.source_line == line
    assert f"main.go:{line_no}:{column}" in str(err)
    assert "undefined: notDeclaredAnywhere" in err.output
    assert err.fix
    # Nothing half-built is left, and what worked before still does.
    assert not list(ext.path.glob("*.tmp"))
    assert ext.wasm.read_bytes() == good_bytes
    assert ext.wasm.stat().st_mtime_ns == good_mtime

    ext.write("main.go", source)
    fixed = ext.build()
    assert fixed.path.read_bytes()[:4] == b"\0asm"


def test_a_missing_brace_is_pointed_out_above_the_error(workspace):
    """Go reports a missing `}` where it next stumbles; the hint names the open `{`.

    Before: only "syntax error: unexpected keyword func..." at the later line, and
    the fix "fix the code at the line shown".
    """
    ext = labkit.scaffold("missing-brace", example="log-headers")
    source = ext.read()
    lines = source.splitlines()
    start = lines.index("func (ctx *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {")
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    del lines[end]  # the function's closing brace
    ext.write("main.go", "\n".join(lines) + "\n")
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    err = info.value
    diag = err.diagnostics[0]
    assert diag.line > start + 1 and "syntax error" in diag.message
    assert f"line {start + 1} is never closed" in diag.hint
    assert "hint:" in str(err)
    assert "the mistake is above" in err.fix


def test_branch_name_in_go_mod_is_explained(workspace):
    """The tutorial's `go mod edit -require=...@main` leaves go.mod broken here."""
    ext = labkit.scaffold("tutorial-go-mod", example="log-headers")
    ext.go("mod", "edit", f"-require={labkit.SDK}@main")  # go mod edit itself succeeds
    with pytest.raises(labkit.errors.ModuleError) as info:
        ext.go("mod", "download")
    err = info.value
    assert "a branch name, and the module proxy refuses it" in err.message
    assert 'version "main" invalid' in err.cause
    assert labkit.SDK_VERSION in err.fix
    with pytest.raises(labkit.errors.ModuleError, match="branch name"):
        ext.build()
    with pytest.raises(labkit.errors.ModuleError, match="branch name"):  # even go mod edit
        ext.go("mod", "edit", f"-require={labkit.SDK}@{labkit.SDK_VERSION}")
    ext.scaffold()  # rewrites go.mod: the project builds again
    assert ext.build().path.read_bytes()[:4] == b"\0asm"


def test_several_errors_are_all_reported(workspace):
    ext = labkit.scaffold("broken-twice", example="log-headers")
    source = ext.read().replace('proxywasm.LogInfo("OnHttpResponseHeaders")',
                                'var unused int = "text"')
    ext.write("main.go", source)
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    messages = [d.message for d in info.value.diagnostics]
    assert any("declared and not used" in m for m in messages), messages
    assert any('cannot use "text"' in m for m in messages), messages
    assert not ext.wasm.exists()  # never built successfully: nothing to keep
    assert not (ext.path / "main.wasm.tmp").exists()


# ------------------------------------------------------------------ modules
def test_unknown_sdk_version_is_a_module_error(workspace):
    version = "v0.0.0-20990101000000-000000000000"
    with pytest.raises(labkit.errors.ModuleError) as info:
        labkit.scaffold("unknown-sdk", sdk_version=version)
    err = info.value
    if str(err).startswith("could not reach"):
        pytest.skip(f"the Go module proxy is not reachable from this machine: {err.message}")
    assert version in err.message
    assert labkit.SDK in err.message
    assert err.cause
    assert err.fix and labkit.SDK_VERSION in err.fix


def test_unreachable_module_proxy_is_a_module_error(workspace, tmp_path):
    modcache = tmp_path / "gomodcache"
    modcache.mkdir()
    env = {"GOPROXY": "http://127.0.0.1:9", "GOMODCACHE": str(modcache), "GOFLAGS": "-mod=mod"}
    try:
        with pytest.raises(labkit.errors.ModuleError) as info:
            labkit.scaffold("unreachable-proxy", env=env)
        err = info.value
        assert err.message.startswith("could not reach")
        assert "http://127.0.0.1:9" in err.message
        assert "127.0.0.1:9" in err.cause
        assert "GOPROXY" in err.fix
    finally:
        go = labkit.toolchain.find_go().require()
        subprocess.run([go, "clean", "-modcache"], env={**os.environ, **env},
                       capture_output=True)
        if modcache.exists():  # module cache files are read-only
            for root, dirs, _ in os.walk(modcache):
                for d in dirs:
                    os.chmod(os.path.join(root, d), stat.S_IRWXU)
            shutil.rmtree(modcache)


def test_build_fills_in_a_lost_go_sum(workspace):
    ext = labkit.scaffold("lost-go-sum", example="log-headers")
    (ext.path / "go.sum").unlink()
    ext.build().verify()
    assert f"{labkit.SDK} {labkit.SDK_VERSION} h1:" in ext.read("go.sum")


def test_a_go_sum_with_a_wrong_checksum_is_a_module_error(workspace):
    ext = labkit.scaffold("wrong-go-sum", example="log-headers")
    gosum = re.sub(r"(proxy-wasm-go-sdk \S+ h1:)\S+", r"\1" + "A" * 43 + "=", ext.read("go.sum"), count=1)
    (ext.path / "go.sum").write_text(gosum)
    with pytest.raises(labkit.errors.ModuleError) as info:
        ext.build()
    assert f"go.sum records another checksum for {labkit.SDK}@{labkit.SDK_VERSION}" in str(info.value)
    assert "checksum mismatch" in info.value.cause
    assert "delete it" in info.value.fix
    (ext.path / "go.sum").unlink()   # what the fix says
    ext.build().verify()
