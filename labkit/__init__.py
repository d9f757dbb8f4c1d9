"""labkit: the helper package of the Envoy Wasm Lab.

Build a Go Proxy-Wasm extension, run it in a real Envoy, and check it::

    import labkit
    ext = labkit.scaffold("hello")
    build = ext.build()
    envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(build))).start()
    labkit.curl(envoy).expect_status(200)

This namespace holds what the notebooks use. The plumbing lives in
subpackages and modules of its own, importable as such:

    labkit.envoy       config, process, reload, stats, bucket, log reading
    labkit.kube        Kube client, connect(), the local control plane and its build
    labkit.istio       istiod, the ingress gateway, WasmPlugin / EnvoyFilter manifests, Mesh
    labkit.processes   ManagedProcess, wait strategies, the process registry
    labkit.toolchain   find_go / find_envoy / find_func_e / find_tinygo
    labkit.errors      every exception labkit raises, in one documented hierarchy
    labkit.exercises   load("04") -> exercises with check(), hint(), solution()
"""

from ._doctor import doctor
from ._extension import SDK, SDK_VERSION, Build, Extension, scaffold
from ._http import Response, curl
from ._httpbin import Httpbin
from ._paths import workspace
from ._ports import free_port
from ._traffic import traffic
from ._wait import wait_for
from .envoy import Bucket, Envoy, EnvoyConfig, RemoteModule, WasmFilter, validate
from .errors import (BuildError, CheckFailed, ConfigError, HTTPError, LabError, ReloadRejected,
                     RemoteModuleError)
from .kube import connect
from .processes import clean, running_processes

__version__ = "0.2.0"

__all__ = [
    # your tools and your files
    "doctor", "workspace", "clean", "running_processes", "free_port",
    # your extension
    "scaffold", "Extension", "Build", "SDK", "SDK_VERSION",
    # Envoy
    "EnvoyConfig", "WasmFilter", "RemoteModule", "validate", "Envoy", "Bucket",
    # requests, and a real upstream to send them to
    "curl", "Response", "traffic", "Httpbin", "wait_for",
    # Kubernetes and Istio
    "connect",
    # errors a notebook catches or raises
    "LabError", "CheckFailed", "BuildError", "ConfigError", "ReloadRejected", "RemoteModuleError",
    "HTTPError",
]

# `labkit.exercises.load("04")` and `labkit.istio.Mesh()` work after a plain `import labkit`.
from . import exercises, istio  # noqa: E402
from ._notebook import _autoload, load_ipython_extension  # noqa: E402

_autoload()
