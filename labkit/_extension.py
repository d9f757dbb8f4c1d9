"""A learner's Go extension: scaffold the project, build it into ``.wasm``.

    ext = labkit.scaffold("hello")      # workspace/hello: go.mod, SDK, main.go
    build = ext.build()                  # -> Build(path, sha256, size, seconds)

A failed build raises :class:`BuildError` whose ``diagnostics`` are the Go
compiler's messages as ``file:line:col`` records, shown with the source line.
A build that succeeds but makes a module Envoy cannot load (no Proxy-Wasm
exports: the wrong SDK for the toolchain) is a BuildError too, saying why.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from ._diagnostics import Diagnostic, parse_diagnostics
from ._files import replacing, sha256_of
from ._paths import repo_root, workspace
from ._wasm import TETRATE_SDK, UPSTREAM_SDK, inspect_module
from .errors import BuildError, Interrupted, LabError, ModuleError, ToolchainError
from .toolchain import find_go, find_tinygo, tinygo_go

__all__ = ["Extension", "Build", "scaffold", "examples_dir", "for_toolchain", "SDK", "SDK_VERSION",
           "TINYGO_SDK", "TINYGO_SDK_VERSION"]

# The upstream SDK has no release tags: it is pinned by pseudo-version.
SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"
SDK_VERSION = "v0.0.0-20260105142703-44c7d5847745"
# The seed tutorial's SDK, for TinyGo (its last tag).
TINYGO_SDK = "github.com/tetratelabs/proxy-wasm-go-sdk"
TINYGO_SDK_VERSION = "v0.24.0"

Toolchain = Literal["go", "tinygo"]

# What each toolchain's module says in go.mod: TinyGo 0.33 runs only with Go <= 1.23.
_GO_DIRECTIVE = {"go": "1.24", "tinygo": "1.23"}


def for_toolchain(source: str, toolchain: str) -> str:
    """Go source with the proxy-wasm SDK import path of ``toolchain``'s SDK.

    The lab's code is written for the upstream SDK; on the TinyGo track it runs
    with the tetratelabs SDK, whose API is the same for everything the lab uses.
    Registering the VM context in ``init()`` works with both (TinyGo runs
    ``init`` and ``main`` when the module loads; upstream Go runs only ``init``).
    """
    if toolchain == "tinygo":
        return source.replace(UPSTREAM_SDK, TETRATE_SDK)
    return source.replace(TETRATE_SDK, UPSTREAM_SDK)


@dataclass(frozen=True)
class Build:
    """A built module. ``path`` is the ``.wasm`` file, ``name`` the project's name
    (the plugin name a :class:`labkit.WasmFilter` takes by default)."""

    path: Path
    sha256: str
    size: int
    seconds: float
    toolchain: str
    name: str = ""

    def verify(self) -> "Build":
        """Raise unless ``path`` still holds this build (a later build replaces the file)."""
        if not self.path.is_file():
            raise LabError(f"{self.path} does not exist any more", fix="build the extension again")
        if sha256_of(self.path) != self.sha256:
            raise LabError(
                f"{self.path} is not this build any more: a later build replaced it "
                f"(this one was {self.sha256[:12]}…)",
                fix="use the Build the last ext.build() returned, or publish a build before "
                    "building again (bucket.put(build) right after ext.build())")
        return self

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


class Extension:
    """A Go Proxy-Wasm project in the workspace (``workspace/<name>``).

    ``toolchain`` is ``"go"`` (upstream Go and the proxy-wasm SDK) or ``"tinygo"``
    (TinyGo and the tetratelabs SDK, the original tutorial's). Left out, it is
    read from the project's go.mod (which SDK it requires), else ``"go"``.
    """

    def __init__(self, name: str, *, toolchain: Toolchain | None = None,
                 root: str | os.PathLike | None = None):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise LabError(f"invalid extension name {name!r}",
                           fix="use letters, digits, '-', '_' or '.', e.g. 'hello-filter'")
        if toolchain not in (None, "go", "tinygo"):
            raise LabError(f"unknown toolchain {toolchain!r}", fix="use 'go' or 'tinygo'")
        self.name = name
        self.path = Path(root) if root else workspace() / name
        self.wasm = self.path / "main.wasm"
        self.toolchain: str = toolchain or self._toolchain_in_go_mod() or "go"

    def _toolchain_in_go_mod(self) -> str | None:
        try:
            text = (self.path / "go.mod").read_text()
        except OSError:
            return None
        return "tinygo" if TETRATE_SDK in text else "go" if UPSTREAM_SDK in text else None

    # ------------------------------------------------------------ scaffold
    def scaffold(self, *, sdk_version: str | None = None, example: str | None = None,
                 overwrite: bool = False, env: dict[str, str] | None = None) -> "Extension":
        """Create go.mod, download the SDK, and add a starter main.go if there is none.

        ``example`` starts from ``examples/<example>/main.go`` instead of the
        minimal template (how a later notebook catches up a learner who skipped
        one). Safe to call again: existing sources are kept unless
        ``overwrite=True`` resets main.go to the starter.
        """
        go = self._module_go()
        sdk, default_version = ((TINYGO_SDK, TINYGO_SDK_VERSION) if self.toolchain == "tinygo"
                                else (SDK, SDK_VERSION))
        version = sdk_version or default_version
        self.path.mkdir(parents=True, exist_ok=True)
        main = self.path / "main.go"
        if overwrite or not main.exists():
            main.write_text(_starter(self.toolchain, example))
        # The sources follow the project's SDK: switching a project between the
        # tracks rewrites its import paths (nothing else differs for the lab's code).
        for path in self.path.glob("*.go"):
            text = path.read_text()
            if (converted := for_toolchain(text, self.toolchain)) != text:
                path.write_text(converted)
        # A fresh go.mod each time: cheap, and it repairs a learner's broken one.
        # `go mod download` then fetches the SDK (or finds it in the module
        # cache) and records its checksums in go.sum.
        (self.path / "go.mod").write_text(f"module {self.name}\n\ngo {_GO_DIRECTIVE[self.toolchain]}\n\n"
                                          f"require {sdk} {version}\n")
        (self.path / "go.sum").unlink(missing_ok=True)
        out = _go(go, ["mod", "download", sdk], self.path, env)
        if out.returncode != 0:
            raise _module_error(f"{sdk}@{version}", out.stdout, env)
        return self

    def go(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run ``go <args>`` in the project with the lab's Go; returns its output.

        ``ext.go("mod", "tidy")`` is what you would type in the project folder.
        A failure raises ModuleError (or BuildError) with Go's words and a fix.
        """
        out = _go(self._module_go(), list(args), self.path, env)
        if out.returncode != 0:
            what = "go " + " ".join(args)
            raise _module_error(what, out.stdout, env)
        return out.stdout

    def _module_go(self) -> str:
        """The Go for module commands: TinyGo's own (Go 1.23) on the TinyGo track."""
        if self.toolchain == "tinygo":
            return tinygo_go()
        return find_go().require()

    # --------------------------------------------------------------- files
    def write(self, filename: str, source: str) -> Path:
        """Write a source file into the project (what the ``%%gofile`` magic calls).

        Go files follow the project's SDK: on the TinyGo track the upstream SDK's
        import path becomes the tetratelabs SDK's (see :func:`for_toolchain`).
        """
        path = self.path / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if filename.endswith(".go"):
            source = for_toolchain(source, self.toolchain)
        path.write_text(source if source.endswith("\n") else source + "\n")
        return path

    def read(self, filename: str = "main.go") -> str:
        return (self.path / filename).read_text()

    # --------------------------------------------------------------- build
    def build(self, *, env: dict[str, str] | None = None) -> Build:
        """Compile the project to ``main.wasm``. Raises BuildError with diagnostics.

        The module is written next to ``main.wasm`` and renamed into place only
        when the build succeeded and the result is a Proxy-Wasm module, so a
        failed build never replaces a working module.
        """
        if not (self.path / "go.mod").exists():
            raise BuildError(f"{self.path} is not a scaffolded project (no go.mod)",
                             fix=f"run labkit.scaffold({self.name!r}) first")
        self._check_entry_point()
        with replacing(self.wasm) as tmp:
            if self.toolchain == "tinygo":
                cmd = [find_tinygo().require(), "build", "-o", str(tmp), "-scheduler=none",
                       "-target=wasi", "."]
                build_env = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", **(env or {})}
            else:
                cmd = [find_go().require(), "build", "-buildmode=c-shared", "-o", str(tmp), "."]
                build_env = {"GOOS": "wasip1", "GOARCH": "wasm", **(env or {})}
            t0 = time.monotonic()
            try:
                out = subprocess.run(cmd, cwd=self.path, capture_output=True, text=True,
                                     env={**os.environ, **build_env})
            except KeyboardInterrupt:
                raise Interrupted(f"stopped the {self.toolchain} build of {self.name!r}; "
                                  f"{self.wasm.name} is unchanged") from None
            seconds = time.monotonic() - t0
            if out.returncode != 0:
                raise self._build_error(out.stdout + out.stderr)
            self._check_module(tmp)
        return Build(self.wasm, sha256_of(self.wasm), self.wasm.stat().st_size, seconds,
                     self.toolchain, self.name)

    def _build_error(self, text: str) -> LabError:
        if "errors parsing go.mod" in text:
            return _module_error("the build", text, None)
        if (m := re.search(r"(\S+)@\S+ requires go >= (\S+) \(running go (\S+);", text)) \
                and m.group(1) == UPSTREAM_SDK:
            return BuildError(
                f"{self.name}: {UPSTREAM_SDK} needs Go >= {m.group(2)}, and TinyGo runs Go {m.group(3)}",
                output=text, cause=text.strip()[-600:],
                fix=f"the upstream SDK is for upstream Go (it exports its callbacks with "
                    f"//go:wasmexport, which TinyGo 0.33 ignores): on the TinyGo track use "
                    f"{TETRATE_SDK} {TINYGO_SDK_VERSION} (labkit.scaffold(..., toolchain='tinygo') "
                    "writes it), or build this project with toolchain='go'")
        if m := re.search(r"go\.mod requires go >= (\S+) \(running go (\S+);", text):
            return BuildError(
                f"{self.name}: go.mod says `go {m.group(1)}`, but TinyGo runs Go {m.group(2).rstrip(';')}",
                output=text, cause=text.strip()[-600:],
                fix=f"TinyGo {'.'.join(map(str, find_tinygo().version or ()))} works with Go 1.19 to 1.23: "
                    "set `go 1.23` in go.mod (labkit.scaffold(..., toolchain='tinygo') writes it)")
        if "requires go version 1.19 through 1.23" in text:
            return ToolchainError(
                "TinyGo found a Go it cannot work with: " + text.strip().splitlines()[-1],
                fix="run TinyGo through the wrapper `make tinygo` sets up (it puts Go 1.23 first), or "
                    "put Go 1.23 first on PATH")
        diags = parse_diagnostics(text, self.path)
        # Go >= 1.26 reports a missing go.sum entry at the import line, as a diagnostic.
        if (not diags and ("go.sum" in text or "no required module provides" in text
                           or "missing go.sum entry" in text)) or (
                diags and all("missing go.sum entry" in d.message for d in diags)):
            return ModuleError("the project's Go module setup is incomplete",
                               cause=text.strip()[-1500:],
                               fix=f"run labkit.scaffold({self.name!r}) again to download the SDK")
        if not diags:
            return BuildError(f"{self.name}: the {self.toolchain} build failed", output=text,
                              fix="read the compiler output above")
        first = diags[0]
        fix = f"fix the code at {first.file}:{first.line}, then build again"
        if first.hint and "above" in first.hint:
            fix = f"close the bracket the hint names (the mistake is above {first.file}:{first.line}), then build again"
        count = f"{len(diags)} error{'s' if len(diags) != 1 else ''}"
        return BuildError(f"{self.name}: the {self.toolchain} build failed at {first.file}:{first.line} "
                          f"({count})", diagnostics=diags, output=text, fix=fix)

    def _check_entry_point(self) -> None:
        """Upstream Go builds a WASI reactor whose main() never runs: registering the
        contexts there (the TinyGo tutorial's way) leaves the SDK without a VM context,
        and Envoy fails with a nil-pointer panic in thousands of log lines. Say it now."""
        if self.toolchain != "go":
            return
        for path in sorted(self.path.glob("*.go")):
            if path.name.endswith("_test.go"):
                continue
            source = path.read_text()
            if UPSTREAM_SDK not in source:
                continue  # another SDK: the module check after the build says what is wrong
            inside_main = _function_body(source, "main")
            if inside_main is None or "init" in _registering_functions(source):
                continue
            m = re.search(r"proxywasm\.Set(VM|Plugin|Http)Context\(", inside_main[1])
            if not m:
                continue
            line = source[: inside_main[0] + m.start()].count("\n") + 1
            text = source.splitlines()[line - 1]
            call = f"proxywasm.Set{m.group(1)}Context"
            raise BuildError(
                f"{self.name}: {call} is called in main(), which never runs in a module built "
                "with upstream Go",
                diagnostics=[Diagnostic(
                    path.name, line, text.find("proxywasm") + 1,
                    f"{call} in main(): upstream Go builds a WASI reactor, whose main() Envoy never "
                    "calls, so the SDK would have no VM context", text,
                    hint="move it into func init() { ... } and leave func main() {} empty")],
                fix=f"call {call} in init() (the upstream SDK's entry point); main() stays empty. "
                    "Only TinyGo with the tetratelabs SDK registers in main()")

    def _check_module(self, wasm: Path) -> None:
        """A module without Proxy-Wasm exports builds fine and fails only in Envoy."""
        info = inspect_module(wasm)
        if info is None:
            raise BuildError(f"{self.name}: the build wrote {wasm.name}, which is not a Wasm module",
                             fix="read the compiler output; build again")
        if info.is_proxy_wasm:
            return
        if self.toolchain == "go" and TETRATE_SDK in info.sdks:
            why = (f"the project uses {TETRATE_SDK}, the TinyGo-era SDK: with upstream Go it builds "
                   "a module that exports no Proxy-Wasm functions, and Envoy would refuse it with "
                   "'Missing or unknown Proxy-Wasm ABI version'")
            fix = (f"use {UPSTREAM_SDK} (change the import paths; labkit.scaffold() pins it) with "
                   "SetVMContext in init(), or build this project with toolchain='tinygo'")
        elif self.toolchain == "tinygo" and UPSTREAM_SDK in info.sdks:
            why = (f"the project uses {UPSTREAM_SDK}, which exports its callbacks with "
                   "//go:wasmexport; TinyGo 0.33 ignores that, so the module exports no Proxy-Wasm "
                   "functions and Envoy would refuse it")
            fix = (f"on the TinyGo track use {TETRATE_SDK} {TINYGO_SDK_VERSION} (scaffold(..., "
                   "toolchain='tinygo') does), or build with toolchain='go'")
        else:
            why = (f"the module ({info.kind}) exports no Proxy-Wasm functions "
                   f"(no proxy_abi_version_*, exports: {', '.join(info.exports[:6]) or 'none'})")
            fix = "import the proxy-wasm Go SDK and register a VM context (see the starter main.go)"
        raise BuildError(f"{self.name}: built, but Envoy cannot load it", cause=why, fix=fix)

    def __repr__(self) -> str:
        return f"<Extension {self.name!r} at {self.path} ({self.toolchain})>"


def scaffold(name: str, *, toolchain: Toolchain | None = None, sdk_version: str | None = None,
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
    return for_toolchain(path.read_text(), toolchain)


def _go(go: str, args: list[str], cwd: Path, env: dict[str, str] | None) -> subprocess.CompletedProcess:
    return subprocess.run([go, *args], cwd=cwd, capture_output=False, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "GOFLAGS": "-mod=mod", **(env or {})})


_UNREACHABLE = ("dial tcp", "connection refused", "no such host", "i/o timeout", "proxyconnect",
                "TLS handshake timeout", "network is unreachable")


def _module_error(what: str, output: str, env: dict[str, str] | None) -> ModuleError:
    """Go's words about a module it could not resolve, with the fix for the usual causes."""
    proxy = (env or {}).get("GOPROXY") or os.environ.get("GOPROXY") or "the default proxy"
    tail = output.strip()[-1500:]
    branch = re.search(r'require (\S+): version "([^"]+)" invalid', output)
    if branch and not branch.group(2).startswith("v"):
        module, name = branch.groups()
        return ModuleError(
            f"go.mod requires {module} at {name!r}, a branch name, and the module proxy refuses it",
            cause=tail,
            fix=f"`go mod edit -require={module}@{name}` wrote the branch name into go.mod as it is, "
                "and the module proxy serves only published versions (403 'not available'): now "
                "every go command refuses this go.mod, `go mod edit` included. Open go.mod and "
                f"replace {name!r} with a version ({SDK_VERSION} for the SDK, labkit.SDK_VERSION), "
                "or run labkit.scaffold() again, which rewrites go.mod")
    if any(s in output for s in _UNREACHABLE):
        return ModuleError(f"could not reach the Go module proxy ({proxy}) for {what}",
                           cause=tail,
                           fix="check your network connection and GOPROXY; offline, a module already "
                               "in the cache works with GOPROXY=off")
    if any(s in output for s in ("unknown revision", "invalid version", "not available",
                                 "404 Not Found", "410 Gone", "invalid pseudo-version")):
        return ModuleError(f"the module proxy does not know {what}",
                           cause=tail,
                           fix=f"leave sdk_version out to use the pinned version ({SDK_VERSION}), "
                               "or pick a version that exists")
    return ModuleError(f"{what} failed", cause=tail, fix="read Go's output above")


def _function_body(source: str, name: str) -> tuple[int, str] | None:
    """(offset, text) of the body of ``func name()`` in Go source, or None."""
    m = re.search(rf"^func\s+{name}\s*\(\s*\)\s*\{{", source, re.M)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(source) and depth:
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        i += 1
    return m.end(), source[m.end():i - 1]


def _registering_functions(source: str) -> set[str]:
    """Which of main() and init() call proxywasm.Set*Context."""
    found = set()
    for name in ("main", "init"):
        body = _function_body(source, name)
        if body and re.search(r"proxywasm\.Set(VM|Plugin|Http)Context\(", body[1]):
            found.add(name)
    return found
