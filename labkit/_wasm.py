"""Look inside a ``.wasm`` file: what it exports and imports, which SDK built it.

Just enough of the WebAssembly binary format to tell whether a module is a
Proxy-Wasm module at all (it exports ``proxy_abi_version_*`` and the
``proxy_on_*`` callbacks), what kind of WASI module it is (a *reactor* exports
``_initialize``, a *command* ``_start``), and which Go SDK went into it (its
package paths are in the module's names). A build that produces a module
Envoy cannot load is reported right after the build, with the reason, instead
of as Envoy's terse "Missing or unknown Proxy-Wasm ABI version".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModuleInfo", "inspect_module", "UPSTREAM_SDK", "TETRATE_SDK"]

UPSTREAM_SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"
TETRATE_SDK = "github.com/tetratelabs/proxy-wasm-go-sdk"


@dataclass(frozen=True)
class ModuleInfo:
    exports: tuple[str, ...]
    imports: tuple[tuple[str, str], ...]  # (module, name)
    sdks: tuple[str, ...]                 # Go SDK module paths found in the module

    @property
    def abi_versions(self) -> list[str]:
        return [e for e in self.exports if e.startswith("proxy_abi_version_")]

    @property
    def is_proxy_wasm(self) -> bool:
        return bool(self.abi_versions) and "proxy_on_context_create" in self.exports

    @property
    def kind(self) -> str:
        if "_initialize" in self.exports:
            return "WASI reactor"
        if "_start" in self.exports:
            return "WASI command"
        return "library"


def inspect_module(path: str | os.PathLike) -> ModuleInfo | None:
    """Parse ``path``'s import and export sections; None if it is not a Wasm module."""
    data = Path(path).read_bytes()
    if data[:4] != b"\0asm":
        return None
    exports: list[str] = []
    imports: list[tuple[str, str]] = []
    pos = 8
    try:
        while pos < len(data):
            section, pos = data[pos], pos + 1
            size, pos = _uleb(data, pos)
            body = data[pos:pos + size]
            if section == 2:
                imports = _imports(body)
            elif section == 7:
                exports = _exports(body)
            pos += size
    except (IndexError, ValueError):
        return None
    sdks = tuple(s for s in (UPSTREAM_SDK, TETRATE_SDK) if s.encode() in data)
    return ModuleInfo(tuple(exports), tuple(imports), sdks)


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _uleb(data, pos)
    return data[pos:pos + n].decode("utf-8", "replace"), pos + n


def _exports(body: bytes) -> list[str]:
    count, pos = _uleb(body, 0)
    out = []
    for _ in range(count):
        name, pos = _name(body, pos)
        pos += 1                 # kind
        _, pos = _uleb(body, pos)  # index
        out.append(name)
    return out


def _limits(body: bytes, pos: int) -> int:
    flags, pos = body[pos], pos + 1
    _, pos = _uleb(body, pos)
    if flags & 1:
        _, pos = _uleb(body, pos)
    return pos


def _imports(body: bytes) -> list[tuple[str, str]]:
    count, pos = _uleb(body, 0)
    out = []
    for _ in range(count):
        module, pos = _name(body, pos)
        name, pos = _name(body, pos)
        kind, pos = body[pos], pos + 1
        if kind == 0:            # function: type index
            _, pos = _uleb(body, pos)
        elif kind == 1:          # table: element type, limits
            pos = _limits(body, pos + 1)
        elif kind == 2:          # memory: limits
            pos = _limits(body, pos)
        elif kind == 3:          # global: value type, mutability
            pos += 2
        else:
            raise ValueError(f"unknown import kind {kind}")
        out.append((module, name))
    return out
