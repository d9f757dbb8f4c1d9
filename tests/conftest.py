"""Shared fixtures for the labkit tests.

Everything runs for real: Go builds real modules, Envoy really starts. The
whole session works in a temporary LABKIT_WORKSPACE, so the learner's
``workspace/`` (projects, registry, logs) is never touched, and at the end
no labkit process may be left running.

Markers say what a test needs (go, envoy, kube, istio, tinygo, browser; see
pyproject.toml). `make check` runs the tests that need none of them with
LABKIT_TIER=fast, which hides Go and Envoy: a test that uses them without its
marker fails there instead of quietly running slowly.
"""

from __future__ import annotations

import os

import pytest

import labkit
from helpers import unique
from labkit import toolchain
from labkit.kube import ControlPlane

FINDERS = (toolchain.find_go, toolchain.find_envoy, toolchain.find_func_e, toolchain.find_tinygo)


def pytest_configure(config):
    if os.environ.get("LABKIT_TIER") == "fast":
        for var in ("LABKIT_GO", "LABKIT_ENVOY", "LABKIT_FUNC_E", "LABKIT_TINYGO"):
            os.environ[var] = "/nonexistent/hidden-by-make-check"


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
    for f in FINDERS:
        f.cache_clear()
    yield
    for f in FINDERS:
        f.cache_clear()


# ------------------------------------------------------------------ kubernetes
@pytest.fixture(scope="session")
def control_plane(workspace):
    """One local control plane (etcd + kube-apiserver + Istio's CRDs) for the session.

    `make test` builds the binaries first (`labkit cluster build`); run alone,
    this fixture builds them on first use. It stops when the session ends,
    pass or fail; if pytest is killed, the processes die with it (PDEATHSIG).
    """
    plane = ControlPlane("test-cluster").start()
    yield plane
    plane.stop()
