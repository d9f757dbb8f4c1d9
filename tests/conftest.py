"""Shared fixtures for the labkit tests.

Everything runs for real: Go builds real modules, Envoy really starts. The
whole session works in a temporary LABKIT_WORKSPACE, so the learner's
``workspace/`` (projects, registry, logs) is never touched, and at the end
no labkit process may be left running.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

import labkit

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
LABKIT_CLI = str(Path(sys.executable).parent / "labkit")


# ------------------------------------------------------------------ session
@pytest.fixture(scope="session", autouse=True)
def workspace(tmp_path_factory):
    """A private workspace for the whole session; nothing may outlive it."""
    ws = tmp_path_factory.mktemp("workspace")
    previous = os.environ.get("LABKIT_WORKSPACE")
    os.environ["LABKIT_WORKSPACE"] = str(ws)
    assert labkit.workspace() == ws.resolve()
    yield ws.resolve()
    left = labkit.running_processes()
    stopped = labkit.clean(verbose=False)
    if previous is None:
        os.environ.pop("LABKIT_WORKSPACE", None)
    else:
        os.environ["LABKIT_WORKSPACE"] = previous
    assert not left, f"labkit processes left running after the tests: {left}"
    assert not stopped, f"labkit.clean() had to stop leftovers: {stopped}"


@pytest.fixture(scope="session")
def log_headers(workspace) -> tuple[labkit.Extension, labkit.Build]:
    """examples/log-headers, scaffolded and built once for the session."""
    ext = labkit.scaffold("log-headers", example="log-headers")
    return ext, ext.build()


@pytest.fixture(scope="session")
def add_header(workspace) -> tuple[labkit.Extension, labkit.Build]:
    """examples/add-header, scaffolded and built once for the session."""
    ext = labkit.scaffold("add-header", example="add-header")
    return ext, ext.build()


# ----------------------------------------------------------------- per test
def unique(prefix: str = "t") -> str:
    """A process/Envoy name nobody else uses (a name is a slot)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def envoys():
    """Make Envoys with unique names; every one is stopped after the test."""
    made: list[labkit.Envoy] = []

    def make(config, **kwargs) -> labkit.Envoy:
        kwargs.setdefault("name", unique("envoy"))
        envoy = labkit.Envoy(config, **kwargs)
        made.append(envoy)
        return envoy

    yield make
    for envoy in made:
        envoy.stop()


@pytest.fixture
def fresh_toolchain():
    """find_* results are cached: clear them around a test that changes the environment."""
    finders = (labkit.find_go, labkit.find_envoy, labkit.find_func_e, labkit.find_tinygo)
    for f in finders:
        f.cache_clear()
    yield
    for f in finders:
        f.cache_clear()


# ------------------------------------------------------------------ helpers
def gone(pid: int | None, timeout: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (a zombie counts as gone)."""
    assert pid is not None
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def envoy_children() -> list[psutil.Process]:
    """Live envoy / func-e processes started (directly or not) by this test process."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and re.search(r"envoy|func-e", p.name()):
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def names_running() -> set[str]:
    return {r["name"] for r in labkit.running_processes()}


def refusing_plugin_source(message: str) -> str:
    """Go source of a filter whose OnPluginStart logs ``message`` and fails."""
    return REFUSING_PLUGIN.replace("MESSAGE", message)


REFUSING_PLUGIN = """\
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	proxywasm.LogCritical("MESSAGE")
	return types.OnPluginStartStatusFailed
}
"""


# ------------------------------------------------------------------ kubernetes
@pytest.fixture(scope="session")
def control_plane(workspace):
    """One local control plane (etcd + kube-apiserver + Istio's CRDs) for the session.

    `make test` builds the binaries first (`labkit cluster build`); run alone,
    this fixture builds them on first use. It stops when the session ends,
    pass or fail; if pytest is killed, the processes die with it (PDEATHSIG).
    """
    plane = labkit.ControlPlane("test-cluster").start()
    yield plane
    plane.stop()
