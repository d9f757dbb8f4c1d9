"""What labkit makes of Envoy's log and of a module's insides: no Envoy needed.

The logs in tests/data/logs were captured from Envoy 1.40 (paths replaced).
"""

from __future__ import annotations

from pathlib import Path

from labkit._wasm import TETRATE_SDK, UPSTREAM_SDK, inspect_module
from labkit.envoy.explain import explain
from labkit.envoy.logs import strip_prefix

DATA = Path(__file__).parent / "data" / "logs"


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _name(text: str) -> bytes:
    return _leb(len(text)) + text.encode()


def fake_module(path: Path, exports: list[str], sdk: str = "", imports=()) -> Path:
    """A Wasm binary with just the sections labkit reads (and an SDK path in a custom one)."""
    def section(kind: int, body: bytes) -> bytes:
        return bytes([kind]) + _leb(len(body)) + body

    imp = _leb(len(imports)) + b"".join(_name(m) + _name(n) + b"\x00" + _leb(0) for m, n in imports)
    exp = _leb(len(exports)) + b"".join(_name(e) + b"\x00" + _leb(i) for i, e in enumerate(exports))
    custom = _name("name") + sdk.encode()
    path.write_bytes(b"\0asm\x01\0\0\0" + section(2, imp) + section(7, exp) + section(0, custom))
    return path


def test_inspect_a_proxy_wasm_reactor(tmp_path):
    wasm = fake_module(tmp_path / "ok.wasm",
                       ["memory", "_initialize", "proxy_abi_version_0_2_0", "proxy_on_context_create"],
                       UPSTREAM_SDK, imports=[("wasi_snapshot_preview1", "fd_write"),
                                              ("env", "proxy_log")])
    info = inspect_module(wasm)
    assert info.is_proxy_wasm and info.kind == "WASI reactor"
    assert info.abi_versions == ["proxy_abi_version_0_2_0"]
    assert info.sdks == (UPSTREAM_SDK,)
    assert ("env", "proxy_log") in info.imports


def test_inspect_something_else(tmp_path):
    assert inspect_module(fake_module(tmp_path / "cmd.wasm", ["_start"], TETRATE_SDK)).kind == "WASI command"
    (tmp_path / "text.wasm").write_text("not wasm")
    assert inspect_module(tmp_path / "text.wasm") is None


def test_setvmcontext_in_main_is_explained_with_the_panic_once():
    """Before: 'the module failed to load ... bad plugin configuration is the usual cause',
    with a tail of one-fragment lines of a panic."""
    why = explain((DATA / "setvmcontext-in-main.log").read_text())
    assert why.reason == "Unable to create Wasm plugin hello"
    assert "call SetVMContext in init()" in why.fix and "main() is never called" in why.fix
    assert "plugin configuration" not in why.fix
    relevant = why.relevant.splitlines()
    assert relevant[0] == "the module panicked:"
    assert relevant[1] == "panic: runtime error: invalid memory address or nil pointer dereference"
    assert why.relevant.count("panic: runtime error") == 1  # once, joined
    assert "wasm log" not in why.relevant  # not the thousands of pieces
    assert "goo.gle" not in why.relevant   # Envoy's truncated config dump is dropped
    assert "[critical][main] error `Unable to create Wasm plugin hello`" in why.relevant


def test_tetratelabs_sdk_built_with_go_names_the_sdk(tmp_path):
    """Before: 'rebuild it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared',
    which is exactly what the learner had done."""
    wasm = fake_module(tmp_path / "main.wasm", ["memory", "_initialize"], TETRATE_SDK)
    log = (DATA / "tetratelabs-sdk-built-with-go.log").read_text()
    why = explain(log, [wasm])
    assert TETRATE_SDK in why.fix and "TinyGo" in why.fix
    assert "GOOS=wasip1" not in why.fix
    # Without the module at hand, the general advice.
    assert "not a Proxy-Wasm module" in explain(log).fix


def test_upstream_sdk_built_with_tinygo_is_named_too(tmp_path):
    wasm = fake_module(tmp_path / "main.wasm", ["memory", "_start"], UPSTREAM_SDK)
    why = explain((DATA / "tetratelabs-sdk-built-with-go.log").read_text(), [wasm])
    assert "ignores //go:wasmexport (TinyGo)" in why.fix


def test_strip_prefix_keeps_level_component_and_message():
    line = ("[2026-12-01 18:10:53.564][9488][critical][main] [source/server/server.cc:449] error "
            "`Unable to create Wasm plugin hello` initializing config 'goo.gle/debugonly  ")
    assert strip_prefix(line) == "[critical][main] error `Unable to create Wasm plugin hello`"
    assert strip_prefix("not an Envoy line") == "not an Envoy line"


def test_a_relative_module_path_is_explained():
    log = ("[2026-12-01 10:00:00.000][1][critical][main] [source/server/server.cc:449] error "
           "initializing configuration 'envoy.yaml': Invalid path: main.wasm\n")
    why = explain(log)
    assert why.reason == "Invalid path: main.wasm"
    assert "relative path" in why.fix and "build the extension first" not in why.fix
