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
import shutil
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
                 source: str | os.PathLike | None = None, overwrite: bool = False,
                 env: dict[str, str] | None = None) -> "Extension":
        """Make the folder a buildable project: go.mod with the SDK, a starter main.go.

        ``example`` starts from ``examples/<example>/main.go`` instead of the
        minimal template (how a later notebook catches up a learner who skipped
        one), with the modules that example needs. ``source`` copies a project
        from elsewhere, its own go.mod and go.sum included (and the SDK version
        it requires, if it is for this track's SDK). Safe to call again:
        go.mod keeps every module the project requires (``ext.require(...)``
        adds one), and only the SDK's line and the ``go`` version are made right
        for the track; the sources are kept, unless ``overwrite=True`` starts
        over (main.go and go.mod as new; with ``source``, that project's files).
        """
        go = self._module_go()
        sdk, default_version = ((TINYGO_SDK, TINYGO_SDK_VERSION) if self.toolchain == "tinygo"
                                else (SDK, SDK_VERSION))
        version = sdk_version or default_version
        self.path.mkdir(parents=True, exist_ok=True)
        if source is not None:
            self._copy_from(Path(source), overwrite)
            # Someone else's project keeps the SDK version it was written for, unless
            # that version only named "whatever the replace points at", and the
            # replace's folder is not here (the SDK's own examples: `=> ../..`).
            gomod = self.read("go.mod") if (self.path / "go.mod").is_file() else ""
            theirs = _new_requirements("", gomod).get(sdk)
            if theirs and not self._replaced_away(gomod, sdk):
                version = sdk_version or theirs
        main = self.path / "main.go"
        if source is None and (overwrite or not main.exists()):
            main.write_text(_starter(self.toolchain, example))
            if overwrite:  # starting over: go.mod too, with only what the starter needs
                for name in ("go.mod", "go.sum"):
                    (self.path / name).unlink(missing_ok=True)
        # The sources follow the project's SDK: switching a project between the
        # tracks rewrites its import paths (nothing else differs for the lab's code).
        for path in self.path.glob("*.go"):
            text = path.read_text()
            if (converted := for_toolchain(text, self.toolchain)) != text:
                path.write_text(converted)
        self._fix_go_mod(go, sdk, version, env)
        out = _go(go, ["mod", "download", sdk], self.path, env)
        if out.returncode != 0:
            raise _module_error(f"{sdk}@{version}", out.stdout, env)
        if example is not None:
            for module in _example_requirements(example, main.read_text()):
                self.require(module, env=env)
        return self

    def _fix_go_mod(self, go: str, sdk: str, version: str, env: dict[str, str] | None) -> None:
        """go.mod requires this track's SDK at ``version`` and a ``go`` version the track's Go
        accepts; everything else in it stays. A missing or unreadable go.mod is written afresh."""
        gomod = self.path / "go.mod"
        other = TETRATE_SDK if sdk == UPSTREAM_SDK else UPSTREAM_SDK
        text = gomod.read_text() if gomod.is_file() else ""
        edits = [f"-require={sdk}@{version}"]
        if other in text:
            edits.append(f"-droprequire={other}")
        declared = re.search(r"^go (\d+)\.(\d+)", text, re.M)
        want = tuple(int(x) for x in _GO_DIRECTIVE[self.toolchain].split("."))
        if declared is None or (self.toolchain == "go" and tuple(map(int, declared.groups())) < want) \
                or (self.toolchain == "tinygo" and tuple(map(int, declared.groups())) > want):
            edits.append(f"-go={_GO_DIRECTIVE[self.toolchain]}")
        # A copied project may replace the SDK with a folder of the repository it came
        # from (the SDK's own examples do: `=> ../..`); where that is no Go module, use the pin.
        for module in (sdk, other):
            if self._replaced_away(text, module):
                edits.append(f"-dropreplace={module}")
        if text:
            out = _go(go, ["mod", "edit", *edits], self.path, env)
            if out.returncode == 0:
                return
            # A go.mod even `go mod edit` refuses (a branch name as a version, say):
            # keep it for the learner to compare, and start afresh.
            shutil.copyfile(gomod, gomod.with_name("go.mod.broken"))
            print(f"labkit: {gomod} could not be read ({out.stdout.strip().splitlines()[-1]}); "
                  "wrote a fresh one, the old one is go.mod.broken")
        gomod.write_text(f"module {self.name}\n\ngo {_GO_DIRECTIVE[self.toolchain]}\n\n"
                         f"require {sdk} {version}\n")
        (self.path / "go.sum").unlink(missing_ok=True)

    def _replaced_away(self, gomod: str, module: str) -> bool:
        """go.mod replaces ``module`` with a folder that holds no Go module here."""
        m = re.search(rf"^\s*(?:replace\s+)?{re.escape(module)}(?:\s+\S+)?\s*=>\s*(\S+)\s*$", gomod, re.M)
        return bool(m) and m.group(1).startswith(".") and not (self.path / m.group(1) / "go.mod").is_file()

    def _copy_from(self, source: Path, overwrite: bool) -> None:
        """Copy a project (its sources, go.mod, go.sum and other files) into this one."""
        if not (source / "go.mod").is_file() and not list(source.glob("*.go")):
            raise LabError(f"{source} is not a Go project (no go.mod, no .go files)",
                           fix="give the folder that holds the filter's main.go and go.mod")
        for item in source.iterdir():
            if item.name in ("main.wasm", ".git") or item.suffix == ".wasm":
                continue
            target = self.path / item.name
            if target.exists() and not overwrite:
                continue
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(item, target)

    def require(self, module: str, *, env: dict[str, str] | None = None) -> str:
        """Add a Go module to the project (``go get``), e.g. ``"github.com/tidwall/gjson@v1.14.1"``.

        Without ``@version``, the newest the module proxy has. It stays in go.mod
        across scaffold() and build(). Returns the version go.mod now requires.
        """
        self.go("get", module, env=env)
        path = module.split("@", 1)[0]
        m = re.search(rf"^\s*(?:require\s+)?{re.escape(path)}\s+(\S+)", self.read("go.mod"), re.M)
        return m.group(1) if m else ""

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
    def build(self, *, package: str = ".", env: dict[str, str] | None = None) -> Build:
        """Compile the project to ``main.wasm``. Raises BuildError with diagnostics.

        ``package`` builds another main package of the project, a folder in it
        (``package="receiver"`` writes ``receiver/main.wasm``): some projects hold
        several modules, one per folder, under one go.mod.

        The module is written next to ``main.wasm`` and renamed into place only
        when the build succeeded and the result is a Proxy-Wasm module, so a
        failed build never replaces a working module.
        """
        if not (self.path / "go.mod").exists():
            raise BuildError(f"{self.path} is not a scaffolded project (no go.mod)",
                             fix=f"run labkit.scaffold({self.name!r}) first")
        folder = (self.path / package).resolve()
        if not folder.is_relative_to(self.path.resolve()) or not list(folder.glob("*.go")):
            inside = sorted({p.parent.relative_to(self.path).as_posix() for p in self.path.rglob("*.go")})
            raise BuildError(f"{self.name}: no Go package at {package!r}",
                             fix=f"packages in the project: {', '.join(inside) or 'none (write main.go first)'}")
        wasm = folder / "main.wasm"
        name = self.name if folder == self.path.resolve() else f"{self.name}-{folder.name}"
        self._check_entry_point(folder)
        # -mod=mod lets Go complete go.sum (and the indirect requirements) for the
        # modules go.mod requires, so a project copied without go.sum builds as is.
        # It would also add a module for an import go.mod lacks: that the learner
        # decides (ext.require), so the build puts go.mod back and says so.
        before = _module_files(self.path)
        inside = folder.relative_to(self.path.resolve()).as_posix()
        target = "." if inside == "." else "./" + inside
        with replacing(wasm) as tmp:
            if self.toolchain == "tinygo":
                cmd = [find_tinygo().require(), "build", "-o", str(tmp), "-scheduler=none",
                       "-target=wasi", target]
                build_env = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", **(env or {})}
            else:
                cmd = [find_go().require(), "build", "-buildmode=c-shared", "-o", str(tmp), target]
                build_env = {"GOOS": "wasip1", "GOARCH": "wasm", "GOFLAGS": "-mod=mod", **(env or {})}
            t0 = time.monotonic()
            try:
                out = subprocess.run(cmd, cwd=self.path, capture_output=True, text=True,
                                     env={**os.environ, **build_env})
            except KeyboardInterrupt:
                raise Interrupted(f"stopped the {self.toolchain} build of {name!r}; "
                                  f"{wasm.name} is unchanged") from None
            seconds = time.monotonic() - t0
            if added := _new_requirements(before.get("go.mod", ""), self.read("go.mod")):
                _restore_module_files(self.path, before)
                raise self._missing_module(added, out.stdout + out.stderr)
            if out.returncode != 0:
                raise self._build_error(out.stdout + out.stderr)
            self._check_module(tmp)
        return Build(wasm, sha256_of(wasm), wasm.stat().st_size, seconds, self.toolchain, name)

    def _missing_module(self, added: dict[str, str], output: str) -> ModuleError:
        """The code imports a module go.mod does not require: name it, and the line."""
        (module, version), *more = added.items()
        where = self._import_site(module)
        others = f" (and {', '.join(more_m for more_m, _ in more)})" if more else ""
        pinned = " ".join(f"ext.require({m + '@' + v!r})" for m, v in added.items())
        return ModuleError(
            f"{self.name}: {where} {module}{others}, a module go.mod does not require",
            cause=output.strip()[-600:] or None,
            fix=f"the code is fine; add the module to the project: {pinned} (the newest "
                f"version; pick another after the @), or `go get {module}` in {self.path}; "
                "then build again")

    def _import_site(self, module: str) -> str:
        """'main.go:12 imports' for the first import of ``module`` (or a package in it)."""
        pattern = re.compile(rf'"{re.escape(module)}(/[^"]*)?"')
        for path in sorted(self.path.glob("*.go")):
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if pattern.search(line):
                    return f"{path.name}:{number} imports"
        return "the code imports"

    def _build_error(self, text: str) -> LabError:
        if "errors parsing go.mod" in text:
            return _module_error("the build", text, None)
        if m := re.search(r"(?:(\S+\.go):(\d+):\d+: )?no required module provides package (\S+?);", text):
            where = f"{m.group(1).removeprefix('./')}:{m.group(2)} imports" if m.group(1) else "the code imports"
            package = m.group(3)
            return ModuleError(
                f"{self.name}: {where} {package}, a module go.mod does not require",
                cause=text.strip()[-600:],
                fix=f"the code is fine; add the module to the project: ext.require({package!r}) "
                    f"(or `go get {package}` in {self.path}), then build again")
        if m := re.search(r"(\S+\.go):(\d+):\d+: module (\S+): reading \S+: (\d{3} [\w ]+)", text):
            # Go >= 1.26 says it at the import: the proxy has no such module.
            if any(s in text for s in _UNREACHABLE):
                return _module_error(m.group(3), text, None)
            return ModuleError(
                f"{self.name}: {m.group(1).removeprefix('./')}:{m.group(2)} imports {m.group(3)}, "
                f"and the module proxy has no such module ({m.group(4).strip()})",
                cause=text.strip()[-600:],
                fix="check the import path's spelling; a private module needs GOPRIVATE and "
                    "access to its repository, which the lab does not have")
        if m := re.search(r"(?:(\S+\.go):(\d+):\d+: )?cannot find module providing package (\S+?):", text):
            package = m.group(3)
            where = (f"{m.group(1).removeprefix('./')}:{m.group(2)} imports" if m.group(1)
                     else self._import_site(package))
            return ModuleError(
                f"{self.name}: {where} {package}, and the module proxy has no module with it",
                cause=text.strip()[-600:],
                fix="check the import path's spelling; a private module needs GOPRIVATE and "
                    "access to its repository, which the lab does not have")
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
        if m := re.search(r"verifying (\S+?)(?:/go\.mod)?: checksum mismatch", text):
            return ModuleError(
                f"{self.name}: go.sum records another checksum for {m.group(1)} than the module proxy serves",
                cause=text.strip()[-900:],
                fix=f"if go.sum was edited or copied from another version, delete it "
                    f"({self.path / 'go.sum'}) and build again: the build writes it afresh. If not, "
                    "the module changed after it was recorded; find out why before trusting it")
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

    def _check_entry_point(self, folder: Path) -> None:
        """Upstream Go builds a WASI reactor whose main() never runs: registering the
        contexts there (the TinyGo tutorial's way) leaves the SDK without a VM context,
        and Envoy fails with a nil-pointer panic in thousands of log lines. Say it now."""
        if self.toolchain != "go":
            return
        for path in sorted(folder.glob("*.go")):
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
                    os.path.relpath(path, self.path), line, text.find("proxywasm") + 1,
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
             example: str | None = None, source: str | os.PathLike | None = None,
             overwrite: bool = False, env: dict[str, str] | None = None) -> Extension:
    """Create (or refresh) the project ``workspace/<name>`` and return it.

    ``source`` copies a project from elsewhere (a folder with its own go.mod).
    """
    return Extension(name, toolchain=toolchain).scaffold(
        sdk_version=sdk_version, example=example, source=source, overwrite=overwrite, env=env)


def _module_files(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in ("go.mod", "go.sum") if (folder / name).is_file()}


def _restore_module_files(folder: Path, saved: dict[str, str]) -> None:
    for name in ("go.mod", "go.sum"):
        if name in saved:
            (folder / name).write_text(saved[name])
        else:
            (folder / name).unlink(missing_ok=True)


_REQUIRE = re.compile(r"^\s*(?:require\s+)?([a-zA-Z0-9.-]+\.[a-z]+/\S+)\s+(v\S+)(\s*// indirect)?\s*$", re.M)


def _new_requirements(before: str, after: str) -> dict[str, str]:
    """Modules ``after`` requires directly (not ``// indirect``) that ``before`` did not."""
    old = {m.group(1) for m in _REQUIRE.finditer(before)}
    return {m.group(1): m.group(2) for m in _REQUIRE.finditer(after)
            if m.group(1) not in old and not m.group(3)}


def _example_requirements(example: str, source: str) -> list[str]:
    """``module@version`` for each module of examples/go.mod (but the SDK) the source imports."""
    try:
        gomod = (examples_dir() / "go.mod").read_text()
    except (OSError, LabError):
        return []
    needed = []
    for module, version in _new_requirements("", gomod).items():
        if module in (UPSTREAM_SDK, TETRATE_SDK):
            continue
        if re.search(rf'"{re.escape(module)}(/[^"]*)?"', source):
            needed.append(f"{module}@{version}")
    return needed


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
