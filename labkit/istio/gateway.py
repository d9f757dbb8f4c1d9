"""An Istio ingress gateway: pilot-agent running the lab's Envoy, managed by istiod.

    gateway = Gateway(istiod).start()
    labkit.curl(gateway, "/headers")     # once istiod has sent it routes

This is the real Istio path: ``pilot-agent proxy router`` writes Envoy's
bootstrap from Istio's template, starts Envoy, proxies its xDS stream to istiod,
and, for a ``WasmPlugin`` or an ``EnvoyFilter`` with remote code, downloads the
module, checks its sha256 and hands Envoy a local file.

Two things make it run on one machine, without root and without pods:

* the agent keeps downloaded modules in ``/var/lib/istio/data`` (hard-coded).
  It runs in a user + mount namespace (``unshare -rm``) where that path is a
  bind mount of a folder of the lab's. Where user namespaces are not allowed,
  start() says so, with the fix;
* istiod tells proxies apart by IP and labels: the gateway says it is at
  127.0.0.9 (any address but the ServiceEntry endpoints' 127.0.0.1, whose
  labels it would otherwise get) and carries ``istio: ingressgateway``.

Envoy is started through ``setpriv --pdeathsig``, so it dies with the agent even
when the agent is killed; the agent dies with the kernel like every labkit process.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from .._files import atomic_write
from .._paths import state_dir
from .._ports import pick_ports
from ..envoy.process import EnvoyViews
from ..errors import ProcessExited, StartTimeout, ToolchainError
from ..processes import HTTPWait, ManagedProcess, ProcessOwner
from ..toolchain import find_envoy
from .istiod import ISTIO_NAMESPACE, Istiod, require_istio

__all__ = ["Gateway", "GATEWAY_LABELS", "PROXY_IP", "require_user_namespaces"]

GATEWAY_LABELS = {"istio": "ingressgateway", "app": "istio-ingressgateway"}
# The address the gateway tells istiod it has: loopback, but not 127.0.0.1.
PROXY_IP = "127.0.0.9"
WASM_CACHE = "/var/lib/istio/data"

# Runs inside the new namespaces: make /var/lib/istio/data the lab's folder.
_IN_NAMESPACE = """set -e
target=%s
if [ ! -d "$target" ]; then
  mount -t tmpfs labkit /var/lib
  mkdir -p "$target"
fi
mount --bind "$LABKIT_WASM_CACHE" "$target"
exec "$@"
""" % WASM_CACHE


def require_user_namespaces() -> None:
    """Raise, with the fix, unless this process may make a user + mount namespace."""
    if shutil.which("unshare") is None:
        raise ToolchainError("`unshare` (util-linux) is not installed",
                             fix="install util-linux (Debian: apt-get install util-linux)")
    out = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if out.returncode != 0:
        reason = (out.stderr or out.stdout).strip()
        raise ToolchainError(
            "this machine does not let labkit make a user namespace, which the Istio gateway "
            "needs to give pilot-agent its hard-coded Wasm cache /var/lib/istio/data without root",
            cause=f"unshare -rm true: {reason}",
            fix=("allow unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000` "
                 "('No space left on device' means it is 0); on Debian also "
                 "`sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 "
                 "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; in a container, "
                 "run it with --security-opt seccomp=unconfined (or use a cluster with Istio: "
                 "notebook 07, section 7)"))


class Gateway(EnvoyViews, ProcessOwner):
    """pilot-agent (``proxy router``) and its Envoy, connected to ``istiod``."""

    what = "gateway"

    def __init__(self, istiod: Istiod, *, root_cert: str, name: str = "istio-ingressgateway",
                 namespace: str = ISTIO_NAMESPACE, labels: dict[str, str] | None = None,
                 port: int | None = None, timeout: float = 60.0,
                 wasm_log_level: str = "info"):
        self.istiod = istiod
        # istiod's root certificate (its `istio-ca-root-cert` ConfigMap): the agent's
        # certificate manager refuses to start without it, even with mTLS off.
        self.root_cert = root_cert
        self.name = name
        self.namespace = namespace
        self.labels = dict(labels or GATEWAY_LABELS)
        self.timeout = timeout
        self.wasm_log_level = wasm_log_level
        self._want_port = port
        self.dir = state_dir("istio", name)
        self.wasm_cache = self.dir / "wasm-cache"
        self.port: int | None = None        # the listener a Gateway resource opens
        self.admin_port: int | None = None
        self.ports: dict[str, int] = {}
        self._process: ManagedProcess | None = None

    @property
    def proxy_id(self) -> str:
        """How istiod names this proxy (``<pod>.<namespace>``)."""
        return f"{self.name}.{self.namespace}"

    def start(self) -> "Gateway":
        binaries = require_istio()
        require_user_namespaces()
        envoy = find_envoy().require()
        self.ports = pick_ports({"listener": self._want_port, "admin": None, "agent-status": None,
                                 "envoy-status": None, "prometheus": None})
        self.port, self.admin_port = self.ports["listener"], self.ports["admin"]
        for sub in ("proxy", "wasm-cache"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        # The agent reads it relative to its working directory.
        atomic_write(self.dir / "var/run/secrets/istio/root-cert.pem", self.root_cert)
        # Envoy dies with the agent, even when the agent is killed.
        wrapper = self.dir / "envoy"
        wrapper.write_text(f"#!/bin/sh\nexec setpriv --pdeathsig SIGKILL -- {envoy} \"$@\"\n")
        wrapper.chmod(0o755)
        proxy_config = {
            "discoveryAddress": self.istiod.xds_address,
            "controlPlaneAuthPolicy": "NONE",  # plaintext xDS on 127.0.0.1
            "binaryPath": str(wrapper),
            "configPath": str(self.dir / "proxy"),
            "proxyAdminPort": self.admin_port,
            "statusPort": self.ports["agent-status"],
            "concurrency": 1,
            "drainDuration": "1s",
            "terminationDrainDuration": "1s",
        }
        env = {
            "PROXY_CONFIG": json.dumps(proxy_config),
            "POD_NAME": self.name, "POD_NAMESPACE": self.namespace, "INSTANCE_IP": PROXY_IP,
            "SERVICE_ACCOUNT": self.name, "ISTIO_META_CLUSTER_ID": "Kubernetes",
            "ISTIO_METAJSON_LABELS": json.dumps(self.labels), "ISTIO_META_WORKLOAD_NAME": self.name,
            "ENVOY_STATUS_PORT": str(self.ports["envoy-status"]),
            "ENVOY_PROMETHEUS_PORT": str(self.ports["prometheus"]),
            "LABKIT_WASM_CACHE": str(self.wasm_cache),
        }
        command = [
            "unshare", "-rm", "sh", "-c", _IN_NAMESPACE, "labkit-gateway",
            binaries.pilot_agent, "proxy", "router",
            "--domain", f"{self.namespace}.svc.cluster.local",
            "--templateFile", binaries.bootstrap_template,
            "--meshConfig", self.dir / "no-mesh-config",
            "--proxyLogLevel", "warning",
            "--proxyComponentLogLevel", f"misc:error,wasm:{self.wasm_log_level}",
        ]
        self._process = ManagedProcess(
            self.name, command, env=env, cwd=self.dir, timeout=self.timeout,
            wait=HTTPWait(f"http://127.0.0.1:{self.admin_port}/ready", 200, "LIVE"), what="gateway")
        try:
            self._process.start()
        except (ProcessExited, StartTimeout) as e:
            raise type(e)(e.message, name=self.name, log_tail=e.log_tail,
                          fix="read pilot-agent's last lines above; is istiod running?",
                          **({"returncode": e.returncode} if isinstance(e, ProcessExited) else {})
                          ) from None
        return self

    def __repr__(self) -> str:
        state = f"on {self.url} (admin {self.admin_url})" if self.running else "stopped"
        return f"<Gateway {self.name!r} {state}>"
