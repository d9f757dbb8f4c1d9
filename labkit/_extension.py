"""A learner's Go extension: scaffold the project, build it into ``.wasm``.

    ext = labkit.scaffold("hello")      # workspace/hello: go.mod, SDK, main.go
    build = ext.build()                  # -> Build(path, sha256, size, seconds)

A failed build raises :class:`BuildError` whose ``diagnostics`` are the Go
compiler's messages as ``file:line:col`` records, shown with the source line.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from ._errors import BuildError, LabError, ModuleError
from ._paths import repo_root, workspace
from ._toolchain import find_go, find_tinygo

__all__ = ["Extension", "Build", "Diagnostic", "scaffold", "examples_dir", "SDK", "SDK_VERSION",
           "TINYGO_SDK", "TINYGO_SDK_VERSION"]

# The upstream SDK has no release tags: it is pinned by pseudo-version.
SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"
SDK_VERSION = "v0.0.0-20260105142703-44c7d5847745"
# The seed tutorial's SDK, for TinyGo (its last tag).
TINYGO_SDK = "github.com/tetratelabs/proxy-wasm-go-sdk"
TINYGO_SDK_VERSION = "v0.24.0"

Toolchain = Literal["go", "tinygo"]


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message, e.g. ``main.go:12:5: undefined: foo``."""

    file: str
    line: int
    column: int
    message: str
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def pretty(self) -> str:
        """The message with its source line and a caret under the column."""
        if not self.source_line:
            return str(self)
        src = self.source_line.replace("\t", "    ")
        col = len(self.source_line[: max(self.column - 1, 0)].replace("\t", "    "))
        return f"{self}\n{self.line:5d} | {src}\n      | {' ' * col}^"


_DIAG = re.compile(r"^(?:\./)?(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<msg>.*)$")


def parse_diagnostics(output: str, project: Path) -> list[Diagnostic]:
    """Turn ``go build`` output into Diagnostics (continuation lines are joined)."""
    diags: list[Diagnostic] = []
    for raw in output.splitlines():
        m = _DIAG.match(raw.strip())
        if m:
            rel = m["file"]
            path = (project / rel) if not os.path.isabs(rel) else Path(rel)
            line = int(m["line"])
            try:
                src = path.read_text().splitlines()[line - 1]
            except (OSError, IndexError):
                src = ""
            try:
                rel = str(path.resolve().relative_to(project.resolve()))
            except ValueError:
                pass
            diags.append(Diagnostic(rel, line, int(m["col"] or 0), m["msg"], src))
        elif raw.startswith("\t") and diags:
            last = diags[-1]
            diags[-1] = Diagnostic(last.file, last.line, last.column,
                                   last.message + "\n" + raw.strip(), last.source_line)
    return diags


def render_diagnostics_html(diags: list[Diagnostic]) -> str:
    items = []
    for d in diags:
        caret = " " * max(d.column - 1, 0) + "^"
        src = (f"<pre style='margin:0 0 6px 0;background:#f7f7f7'>{d.line:4d} | "
               f"{html.escape(d.source_line.replace(chr(9), ' '))}\n     | {caret}</pre>"
               if d.source_line else "")
        items.append(f"<div><code>{html.escape(d.file)}:{d.line}:{d.column}</code> "
                     f"{html.escape(d.message)}{src}</div>")
    return "".join(items)


@dataclass(frozen=True)
class Build:
    """A built module. ``path`` is the ``.wasm`` file."""

    path: Path
    sha256: str
    size: int
    seconds: float
    toolchain: str

    def __str__(self) -> str:
        return (f"built {self.path} with {self.toolchain} in {self.seconds:.1f} s: "
                f"{self.size / 1e6:.2f} MB, sha256 {self.sha256}")

    def _repr_html_(self) -> str:
        return ("<table>"
                f"<tr><th style='text-align:left'>module</th><td><code>{html.escape(str(self.path))}</code></td></tr>"
                f"<tr><th style='text-align:left'>size</th><td>{self.size:,} bytes ({self.size / 1e6:.2f} MB)</td></tr>"
                f"<tr><th style='text-align:left'>sha256</th><td><code>{self.sha256}</code></td></tr>"
                f"<tr><th style='text-align:left'>built in</th><td>{self.seconds:.1f} s with {self.toolchain}</td></tr>"
                "</table>")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Extension:
    """A Go Proxy-Wasm project in the workspace (``workspace/<name>``)."""

    def __init__(self, name: str, *, toolchain: Toolchain = "go", root: str | os.PathLike | None = None):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise LabError(f"invalid extension name {name!r}",
                           fix="use letters, digits, '-', '_' or '.', e.g. 'hello-filter'")
        if toolchain not in ("go", "tinygo"):
            raise LabError(f"unknown toolchain {toolchain!r}", fix="use 'go' or 'tinygo'")
        self.name = name
        self.toolchain = toolchain
        self.path = Path(root) if root else workspace() / name
        self.wasm = self.path / "main.wasm"

    # ------------------------------------------------------------ scaffold
    def scaffold(self, *, sdk_version: str | None = None, example: str | None = None,
                 overwrite: bool = False, env: dict[str, str] | None = None) -> "Extension":
        """Create go.mod, download the SDK, and add a starter main.go if there is none.

        ``example`` starts from ``examples/<example>/main.go`` instead of the
        minimal template (how a later notebook catches up a learner who skipped
        one). Safe to call again: existing sources are kept unless
        ``overwrite=True`` resets main.go to the starter.
        """
        go = find_go().require()
        if self.toolchain == "tinygo":
            find_tinygo().require()
        sdk, default_version = ((TINYGO_SDK, TINYGO_SDK_VERSION) if self.toolchain == "tinygo"
                                else (SDK, SDK_VERSION))
        version = sdk_version or default_version
        self.path.mkdir(parents=True, exist_ok=True)
        main = self.path / "main.go"
        if overwrite or not main.exists():
            main.write_text(_starter(self.toolchain, example))
        # A fresh go.mod each time: cheap, and it repairs a learner's broken one.
        # `go mod download` then fetches the SDK (or finds it in the module
        # cache) and records its checksums in go.sum.
        (self.path / "go.mod").write_text(f"module {self.name}\n\ngo 1.24\n\nrequire {sdk} {version}\n")
        (self.path / "go.sum").unlink(missing_ok=True)
        out = _go(go, ["mod", "download", sdk], self.path, env)
        if out.returncode != 0:
            raise _module_error(sdk, version, out.stdout, env)
        return self

    # --------------------------------------------------------------- files
    def write(self, filename: str, source: str) -> Path:
        """Write a source file into the project (what the ``%%gofile`` magic calls)."""
        path = self.path / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source if source.endswith("\n") else source + "\n")
        return path

    def read(self, filename: str = "main.go") -> str:
        return (self.path / filename).read_text()

    # --------------------------------------------------------------- build
    def build(self, *, env: dict[str, str] | None = None) -> Build:
        """Compile the project to ``main.wasm``. Raises BuildError with diagnostics."""
        if not (self.path / "go.mod").exists():
            raise BuildError(f"{self.path} is not a scaffolded project (no go.mod)",
                             fix=f"run labkit.scaffold({self.name!r}) first")
        if self.toolchain == "tinygo":
            cmd = [find_tinygo().require(), "build", "-o", str(self.wasm), "-scheduler=none",
                   "-target=wasi", "."]
            build_env = dict(env or {})
        else:
            cmd = [find_go().require(), "build", "-buildmode=c-shared", "-o", str(self.wasm), "."]
            build_env = {"GOOS": "wasip1", "GOARCH": "wasm", **(env or {})}
        tmp = self.wasm.with_suffix(".wasm.tmp")
        cmd[cmd.index(str(self.wasm))] = str(tmp)
        t0 = time.monotonic()
        out = subprocess.run(cmd, cwd=self.path, capture_output=True, text=True,
                             env={**os.environ, **build_env})
        seconds = time.monotonic() - t0
        if out.returncode != 0:
            tmp.unlink(missing_ok=True)
            text = out.stdout + out.stderr
            diags = parse_diagnostics(text, self.path)
            # Go >= 1.26 reports a missing go.sum entry at the import line, as a diagnostic.
            if (not diags and ("go.sum" in text or "no required module provides" in text
                               or "missing go.sum entry" in text)) or (
                    diags and all("missing go.sum entry" in d.message for d in diags)):
                raise ModuleError("the project's Go module setup is incomplete",
                                  cause=text.strip()[-1500:],
                                  fix=f"run labkit.scaffold({self.name!r}) again to download the SDK")
            where = f" at {diags[0].file}:{diags[0].line}" if diags else ""
            raise BuildError(
                f"{self.name}: the Go build failed{where} ({len(diags)} error{'s' if len(diags) != 1 else ''})"
                if diags else f"{self.name}: the Go build failed",
                diagnostics=diags, output=text,
                fix="fix the code at the line shown, then build again" if diags
                else "read the compiler output above",
            )
        # Rename into place: a running Envoy never sees a half-written module.
        os.replace(tmp, self.wasm)
        return Build(self.wasm, sha256_of(self.wasm), self.wasm.stat().st_size, seconds, self.toolchain)

    def __repr__(self) -> str:
        return f"<Extension {self.name!r} at {self.path} ({self.toolchain})>"


def scaffold(name: str, *, toolchain: Toolchain = "go", sdk_version: str | None = None,
             example: str | None = None, overwrite: bool = False,
             env: dict[str, str] | None = None) -> Extension:
    """Create (or refresh) the project ``workspace/<name>`` and return it."""
    return Extension(name, toolchain=toolchain).scaffold(
        sdk_version=sdk_version, example=example, overwrite=overwrite, env=env)


def examples_dir() -> Path:
    root = repo_root()
    if root is None:
        raise LabError("the examples folder is only available in a checkout of the lab",
                       fix="clone the repository and `pip install -e .` from it")
    return root / "examples"


def _starter(toolchain: str, example: str | None) -> str:
    if example is None:
        return (resources.files("labkit") / "templates" / toolchain / "main.go").read_text()
    path = examples_dir() / example / "main.go"
    if not path.is_file():
        known = sorted(p.name for p in examples_dir().iterdir() if (p / "main.go").is_file())
        raise LabError(f"no example named {example!r}", fix=f"use one of: {', '.join(known)}")
    return path.read_text()


def _go(go: str, args: list[str], cwd: Path, env: dict[str, str] | None) -> subprocess.CompletedProcess:
    return subprocess.run([go, *args], cwd=cwd, capture_output=False, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "GOFLAGS": "-mod=mod", **(env or {})})


_UNREACHABLE = ("dial tcp", "connection refused", "no such host", "i/o timeout", "proxyconnect",
                "TLS handshake timeout", "network is unreachable")


def _module_error(sdk: str, version: str, output: str, env: dict[str, str] | None) -> ModuleError:
    proxy = (env or {}).get("GOPROXY") or os.environ.get("GOPROXY") or "the default proxy"
    tail = output.strip()[-1500:]
    if any(s in output for s in _UNREACHABLE):
        return ModuleError(f"could not reach the Go module proxy ({proxy}) to download {sdk}",
                           cause=tail,
                           fix="check your network connection and GOPROXY; offline, a module already "
                               "in the cache works with GOPROXY=off")
    if any(s in output for s in ("unknown revision", "invalid version", "not available",
                                 "404 Not Found", "410 Gone", "invalid pseudo-version")):
        return ModuleError(f"the module proxy does not know {sdk}@{version}",
                           cause=tail,
                           fix=f"leave sdk_version out to use the pinned version ({SDK_VERSION}), "
                               "or pick a version that exists")
    return ModuleError(f"could not download {sdk}@{version}", cause=tail,
                       fix="read the `go get` output above")
