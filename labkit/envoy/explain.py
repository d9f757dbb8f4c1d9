"""Turn Envoy's log into a reason, the relevant lines and a fix.

Envoy says why it refused a configuration in one ``critical`` line, after a
few ``error`` lines from the component that failed; a Wasm module that
crashed adds its Go panic, in pieces. :func:`explain` picks the reason, joins
the panic, recognises the mistakes learners make and says what to do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .._wasm import TETRATE_SDK, UPSTREAM_SDK, inspect_module
from .config import ROUTER_TYPE
from .logs import go_panic, strip_prefix, wasm_lines

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True)
class Explanation:
    reason: str        # Envoy's reason, one line
    fix: str | None    # what to do, when labkit recognises the problem
    relevant: str      # the log lines worth reading (a Go panic joined into one report)


_NO_VM_CONTEXT = ("the module has no VM context: proxywasm.SetVMContext never ran. With the upstream "
                  "Go SDK, main() is never called (the module is a WASI reactor): call "
                  "SetVMContext in init(), and leave main() empty")

_FIXES = [
    (r"Didn't find a registered implementation for 'envoy\.filters\.http\.router' with type URL: ''",
     "give the router filter a typed_config: {'@type': " + ROUTER_TYPE + "} "
     "(configs written for old Envoy versions lack it)"),
    (r"missing import: wasi_snapshot_preview1",
     "this Envoy is too old for modules built by Go >= 1.26: use Envoy >= 1.39 (the embedded one)"),
    (r"Missing or unknown Proxy-Wasm ABI version|Failed to load Wasm code",
     "the file is not a Proxy-Wasm module Envoy can load: build it with labkit's build(), which "
     "checks that it exports the Proxy-Wasm functions"),
    (r"Unable to create Wasm plugin|Plugin \S+ failed to load|Failed to load Wasm",
     "the module failed to load or its OnPluginStart returned failure: read the `wasm log` "
     "lines above (bad plugin configuration is the usual cause)"),
    (r"has unknown fields|INVALID_ARGUMENT|Unable to parse",
     "a field name or value is wrong at the place Envoy names; compare with the Envoy API docs"),
    (r"cannot bind|Address already in use",
     "Envoy could not listen on an address in the config: use 127.0.0.1 and a free port "
     "(or leave ports out and let labkit pick them)"),
]


def explain(log: str, modules: Iterable[str | os.PathLike] = ()) -> Explanation:
    """Envoy's reason, a fix if labkit recognises the problem, and the lines to read.

    ``modules`` are the Wasm files the config loads: when Envoy says a module is
    not Proxy-Wasm, labkit looks inside to say which SDK and toolchain made it.
    """
    lines = log.splitlines()
    important = [ln for ln in lines if re.search(r"\]\[(critical|error)\]\[", ln)]
    reason = ""
    for ln in reversed(important):
        m = re.search(r"error (?:initializing configuration '[^']*': |`)(.+?)`?(?: initializing config.*)?$", ln)
        if m:
            reason = m.group(1).strip()
            break
    if not reason and important:
        reason = re.sub(r"^\[[^]]*\](\[[^]]*\])*\s*(\[[^]]*\]\s*)?", "", important[-1]).strip()

    panic = go_panic(wasm_lines(log))
    fix = _fix(log, panic, modules)
    # The lines to read: Envoy's error lines, with a panic's hundreds of pieces
    # replaced by the panic itself.
    others = [strip_prefix(ln) for ln in (important or lines)
              if not (panic and "wasm log" in ln)]
    relevant = "\n".join(others[-12:])
    if panic:
        relevant = f"the module panicked:\n{panic.short()}\n\nthen Envoy said:\n{relevant}"
    return Explanation(reason or "see the log lines", fix, relevant)


def _fix(log: str, panic, modules: Iterable[str | os.PathLike]) -> str | None:
    if panic and re.search(r"createPluginContext|createHttpContext|vmstate\.go", panic.text) \
            and "nil pointer" in panic.message:
        return _NO_VM_CONTEXT
    if re.search(r"Invalid path: (\S+)", log):
        path = re.search(r"Invalid path: (\S+)", log).group(1)
        if not os.path.isabs(path):
            return (f"Envoy could not open {path}: Envoy reads a relative path from the folder it "
                    "was started in, not from the config file's folder; use an absolute path, "
                    "or run it with labkit.Envoy(path), which reads relative paths from the "
                    "config file's folder")
        return (f"Envoy could not open {path}: " + ("build the extension first"
                if not Path(path).exists() else "check the file's permissions"))
    if re.search(r"Missing or unknown Proxy-Wasm ABI version", log):
        for module in modules:
            if (why := _not_proxy_wasm(Path(module))) is not None:
                return why
    if panic:
        return ("the module panicked (above: the panic and where it happened); fix that code, "
                "rebuild and start again")
    return next((f for pat, f in _FIXES if re.search(pat, log)), None)


def _not_proxy_wasm(path: Path) -> str | None:
    try:
        info = inspect_module(path)
    except OSError:
        return None
    if info is None or info.is_proxy_wasm:
        return None
    if TETRATE_SDK in info.sdks:
        return (f"{path.name} was built from {TETRATE_SDK}, the SDK for TinyGo; built with upstream "
                f"Go it exports no Proxy-Wasm functions. Build it with TinyGo "
                f"(`tinygo build -scheduler=none -target=wasi`), or port it to {UPSTREAM_SDK} "
                "(SetVMContext in init())")
    if UPSTREAM_SDK in info.sdks:
        return (f"{path.name} was built from {UPSTREAM_SDK} by a compiler that ignores "
                "//go:wasmexport (TinyGo): build it with upstream Go >= 1.24, "
                "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
    return (f"{path.name} is a {info.kind} that exports no Proxy-Wasm functions: it was not built "
            "with a proxy-wasm SDK")
