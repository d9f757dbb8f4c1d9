"""labkit: the helper package of the Envoy Wasm Lab.

Build a Go Proxy-Wasm extension, run it in a real Envoy, and check it::

    import labkit
    ext = labkit.scaffold("hello")
    build = ext.build()
    envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter(build))).start()
    labkit.curl(envoy).expect_status(200)

Everything public is re-exported here; the modules behind it are private.
"""

from ._bucket import Bucket
from ._envoy import Envoy, LogLine
from ._envoy_config import EnvoyConfig, RemoteModule, WasmFilter, plugin_configuration, validate
from ._reload import Reload, ReloadRejected, RemoteModuleError
from ._errors import (
    BuildError,
    CheckFailed,
    ConfigError,
    HTTPError,
    LabError,
    MetricNotFound,
    ModuleError,
    PortInUseError,
    ProcessError,
    ProcessExited,
    StartTimeout,
    ToolchainError,
    ClusterError,
    ClusterNotFound,
    KubeError,
)
from ._extension import (
    SDK,
    SDK_VERSION,
    TINYGO_SDK,
    TINYGO_SDK_VERSION,
    Build,
    Diagnostic,
    Extension,
    scaffold,
)
from ._http import Response, curl
from ._kube import Kube, connect, find_kubeconfig, load_manifests
from ._kube_build import ETCD_VERSION, KUBERNETES_VERSION, ControlPlaneBinaries, build_control_plane
from ._kube_crds import ISTIO_VERSION
from ._kube_local import ControlPlane
from ._stats import Histogram, Sample, Stats, StatsDelta
from ._paths import workspace
from ._processes import (
    HTTPWait,
    ManagedProcess,
    OutputWait,
    TCPWait,
    clean,
    free_port,
    running_processes,
)
from ._toolchain import Doctor, Tool, doctor, find_envoy, find_func_e, find_go, find_tinygo

__version__ = "0.1.0"

__all__ = [
    # toolchain
    "doctor", "Doctor", "Tool", "find_go", "find_envoy", "find_func_e", "find_tinygo",
    # extensions
    "scaffold", "Extension", "Build", "Diagnostic", "SDK", "SDK_VERSION", "TINYGO_SDK",
    "TINYGO_SDK_VERSION",
    # envoy
    "EnvoyConfig", "WasmFilter", "RemoteModule", "plugin_configuration", "validate", "Envoy", "LogLine",
    "Reload", "ReloadRejected", "RemoteModuleError", "Bucket",
    # http and stats
    "curl", "Response", "Stats", "StatsDelta", "Sample", "Histogram",
    # kubernetes
    "connect", "Kube", "find_kubeconfig", "load_manifests", "ControlPlane", "build_control_plane",
    "ControlPlaneBinaries", "KUBERNETES_VERSION", "ETCD_VERSION", "ISTIO_VERSION",
    # processes
    "ManagedProcess", "HTTPWait", "TCPWait", "OutputWait", "clean", "running_processes", "free_port",
    "workspace",
    # errors
    "LabError", "ToolchainError", "BuildError", "ModuleError", "ConfigError", "ProcessError",
    "PortInUseError", "ProcessExited", "StartTimeout", "HTTPError", "MetricNotFound", "CheckFailed",
    "KubeError", "ClusterNotFound", "ClusterError",
]

# `labkit.exercises.load("04")` works after a plain `import labkit`.
from . import exercises  # noqa: E402
from ._notebook import _autoload, load_ipython_extension  # noqa: E402

_autoload()
