"""A local Kubernetes control plane: etcd + kube-apiserver on 127.0.0.1.

    plane = labkit.ControlPlane().start()     # ~7 s when the binaries are cached
    kube = plane.kube()                        # a labkit.Kube, Istio's CRDs installed
    plane.stop()

It is a real API server, not a mock: manifests are checked against the real
schemas (Istio's CRDs included), admission and dry-run work, and errors are
the ones a cluster returns. There are no nodes: nothing is scheduled and no
pod runs. ``kube-controller-manager`` runs only the controllers that keep the
API honest without nodes (namespace deletion, garbage collection, the
``default`` ServiceAccount).

Where things live: binaries in the cache (see ``labkit.kube.build``), and per
control plane ``<workspace>/.labkit/clusters/<name>/`` with ``pki/``
(certificates and service-account keys), ``etcd/`` (the data) and
``kubeconfig``. The workspace is git-ignored.

The three processes are labkit ManagedProcesses named ``<name>-etcd``,
``<name>-apiserver`` and ``<name>-controller-manager``: they survive the
Stop button, die with the kernel and ``labkit clean`` finds them. Started
from a terminal (``labkit cluster up``) they are detached and stay up until
``labkit cluster down``.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import yaml

from .._files import atomic_write
from .._paths import state_dir
from .._ports import ensure_free, free_ports, pick_ports
from ..errors import ClusterError, KubeError, PortInUseError, ProcessError, ProcessExited, StartTimeout
from ..processes import HTTPWait, ManagedProcess, OutputWait, running_processes, stop_slot
from .build import ETCD_VERSION, KUBERNETES_VERSION, build_control_plane
from .client import Kube
from .crds import ISTIO_VERSION, crd_documents, istio_crds
from .pki import make_pki

__all__ = ["ControlPlane", "running_control_plane"]

SERVICE_CIDR = "10.96.0.0/16"
_ROLES = ("controller-manager", "apiserver", "etcd")  # stop order


class ControlPlane:
    """etcd + kube-apiserver (+ a trimmed kube-controller-manager) with Istio's CRDs."""

    def __init__(
        self,
        name: str = "cluster",
        *,
        port: int | None = None,
        crds: bool = True,
        istio_version: str = ISTIO_VERSION,
        kubernetes_version: str = KUBERNETES_VERSION,
        etcd_version: str = ETCD_VERSION,
        timeout: float = 120.0,
        detach: bool = False,
    ):
        self.name = name
        self.dir = state_dir("clusters", name)
        self.kubeconfig = self.dir / "kubeconfig"
        self.crds = crds
        self.istio_version = istio_version
        self.kubernetes_version = kubernetes_version
        self.etcd_version = etcd_version
        self.timeout = timeout
        self.detach = detach
        self._want_port = port
        self.port: int | None = None
        self.timings: dict[str, float] = {}
        self._processes: dict[str, ManagedProcess] = {}

    # -- lifecycle
    def start(self) -> "ControlPlane":
        """Build (first time only), start etcd and kube-apiserver, install Istio's CRDs."""
        self.stop()  # a name is a slot: starting again replaces the running one
        self.dir.mkdir(parents=True, exist_ok=True)  # purge() may have removed it
        binaries = build_control_plane(self.kubernetes_version, self.etcd_version)
        crd_file = istio_crds(self.istio_version) if self.crds else None
        crds = crd_documents(crd_file) if crd_file else []
        etcd_ports = self._etcd_ports(self.dir / "etcd")
        self.port = pick_ports({"kube-apiserver": self._want_port})["kube-apiserver"]
        while self.port in etcd_ports:
            self.port = pick_ports({"kube-apiserver": None})["kube-apiserver"]
        pki = make_pki(self.dir / "pki")
        t0 = time.monotonic()
        try:
            self._start_etcd(binaries.etcd, *etcd_ports)
            self.timings["etcd"] = time.monotonic() - t0
            self._start_apiserver(binaries.kube_apiserver, pki)
            self.timings["apiserver"] = time.monotonic() - t0
            self._write_kubeconfig(pki)
            self._start_controller_manager(binaries.kube_controller_manager, pki)
            if crds:
                self._install_crds(crds)
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()  # never leave half a control plane running (Stop button included)
            raise
        atomic_write(self.dir / "cluster.json", json.dumps({
            "name": self.name, "server": self.server, "kubeconfig": str(self.kubeconfig),
            "kubernetes": self.kubernetes_version, "etcd": self.etcd_version,
            "istio_crds": self.istio_version if self.crds else None,
        }, indent=1))
        return self

    def stop(self) -> None:
        """Stop every process of this control plane (its data stays for next time)."""
        for role in _ROLES:
            process = self._processes.pop(role, None)
            if process is not None:
                process.stop()
            else:
                stop_slot(f"{self.name}-{role}")

    def purge(self) -> None:
        """Stop and delete the data, certificates and kubeconfig."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ControlPlane":
        return self if self.running else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state
    @property
    def running(self) -> bool:
        names = {p["name"] for p in running_processes()}
        return all(f"{self.name}-{role}" in names for role in ("etcd", "apiserver"))

    @property
    def server(self) -> str:
        if self.port is None:
            raise ClusterError("the control plane has not been started",
                               fix="call `.start()` first")
        return f"https://127.0.0.1:{self.port}"

    def kube(self) -> Kube:
        """A :class:`labkit.kube.Kube` connected as cluster admin."""
        return Kube(self.kubeconfig, source=f"labkit control plane {self.name!r}")

    def logs(self, role: str = "apiserver", tail: int | None = 40) -> str:
        process = self._processes.get(role)
        if process is None:
            raise ClusterError(f"no {role} process in this control plane",
                               fix=f"roles: {', '.join(_ROLES)}")
        return process.logs(tail=tail)

    def __repr__(self) -> str:
        where = self.server if self.port else "not started"
        return f"<ControlPlane {self.name!r} {where} {'running' if self.running else 'stopped'}>"

    # -- the parts
    def _spawn(self, role: str, command: list, wait, timeout: float) -> ManagedProcess:
        # If the owner dies, all three get the signal at once; kube-apiserver then
        # hangs in its graceful shutdown (etcd is already gone), so: SIGKILL.
        # stop() still shuts them down in order, gracefully.
        process = ManagedProcess(f"{self.name}-{role}", command, wait=wait, timeout=timeout,
                                 what=role, death_signal=None if self.detach else signal.SIGKILL)
        self._processes[role] = process
        return process.start()

    def _etcd_ports(self, data: Path) -> tuple[int, int]:
        # etcd stores its peer URL with the data: a restart must reuse the ports.
        record = self.dir / "etcd-ports.json"
        if data.is_dir() and record.is_file():
            client, peer = json.loads(record.read_text())
            for port in (client, peer):
                try:
                    ensure_free(port, role="etcd")
                except PortInUseError as e:
                    raise ClusterError(
                        f"etcd's port {port} (kept from the last start, with its data) is taken"
                        + (f" by {e.holder}" if e.holder else ""),
                        fix="stop whatever holds it, or start afresh with "
                            "`labkit cluster down --purge`") from None
            return client, peer
        client, peer = free_ports(2)
        record.write_text(json.dumps([client, peer]))
        return client, peer

    def _start_etcd(self, etcd: Path, client: int, peer: int) -> None:
        data = self.dir / "etcd"
        try:
            self._spawn("etcd", [
                etcd, "--name", "labkit", "--data-dir", data,
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"labkit=http://127.0.0.1:{peer}",
                # A throwaway test store: skip fsync (as Kubernetes' own integration tests do).
                "--unsafe-no-fsync", "--log-level", "warn",
            ], HTTPWait(f"http://127.0.0.1:{client}/health", body='"health":"true"'), 30.0)
        except ProcessError as e:
            raise ClusterError(
                "etcd did not start", name=f"{self.name}-etcd", cause=e.log_tail or str(e),
                fix=f"if its data is damaged, start afresh: `labkit cluster down --purge` "
                    f"(or ControlPlane({self.name!r}).purge()) deletes {data}") from None
        self._etcd_url = f"http://127.0.0.1:{client}"

    def _start_apiserver(self, apiserver: Path, pki) -> None:
        readyz = HTTPWait(f"https://127.0.0.1:{self.port}/readyz", body="ok", ca=pki.ca_crt)
        try:
            self._spawn("apiserver", [
                apiserver,
                "--etcd-servers", self._etcd_url,
                "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
                "--secure-port", str(self.port), "--cert-dir", self.dir / "apiserver-certs",
                "--tls-cert-file", pki.apiserver_crt, "--tls-private-key-file", pki.apiserver_key,
                "--client-ca-file", pki.ca_crt,
                "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file", pki.sa_pub,
                "--service-account-signing-key-file", pki.sa_key,
                "--service-cluster-ip-range", SERVICE_CIDR,
                "--authorization-mode", "RBAC",
                # No nodes and a loopback address: do not publish `kubernetes` endpoints.
                "--endpoint-reconciler-type", "none",
                "--profiling=false",
            ], readyz, self.timeout)
        except ProcessExited as e:
            raise ClusterError("kube-apiserver exited while starting", name=e.name, cause=e.log_tail,
                               fix="read its last lines above") from None
        except StartTimeout as e:
            raise ClusterError(f"kube-apiserver was not ready within {self.timeout:.0f} s",
                               cause=e.log_tail,
                               fix="read its last lines above; on a slow machine pass a larger "
                                   "`timeout=`") from None

    def _start_controller_manager(self, kcm: Path, pki) -> None:
        self._spawn("controller-manager", [
            kcm, "--kubeconfig", self.kubeconfig,
            "--controllers", "namespace-controller,garbage-collector-controller,"
                             "serviceaccount-controller,serviceaccount-token-controller",
            "--service-account-private-key-file", pki.sa_key, "--root-ca-file", pki.ca_crt,
            "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
        ], OutputWait(r"Started controller|Starting namespace controller|Waiting for caches"), 30.0)

    def _write_kubeconfig(self, pki) -> None:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "labkit",
            "clusters": [{"name": "labkit", "cluster": {
                "server": self.server, "certificate-authority": str(pki.ca_crt)}}],
            "users": [{"name": "labkit-admin", "user": {
                "client-certificate": str(pki.admin_crt), "client-key": str(pki.admin_key)}}],
            "contexts": [{"name": "labkit", "context": {"cluster": "labkit", "user": "labkit-admin"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    def _install_crds(self, crds: list[dict]) -> None:
        kube = self.kube()
        kube.apply(crds)
        for crd in crds:
            name = crd["metadata"]["name"]
            try:
                kube.wait_for("CustomResourceDefinition", name, "Established", timeout=60)
            except KubeError as e:
                raise ClusterError(f"Istio's CRD {name} was not established", cause=e.cause,
                                   fix="read the API server log: plane.logs('apiserver')") from None
        kube.refresh()
        for kind, version in (("EnvoyFilter", "networking.istio.io/v1alpha3"),
                              ("WasmPlugin", "extensions.istio.io/v1alpha1")):
            if not kube.has_kind(kind, version):
                raise ClusterError(f"the API server does not serve {kind} ({version}) after "
                                   "installing Istio's CRDs",
                                   fix=f"the CRD file may be damaged: delete the cache folder "
                                       f"istio-{self.istio_version} and start again")


def running_control_plane(name: str = "cluster") -> ControlPlane | None:
    """The control plane ``name`` if labkit has it running (e.g. from ``make cluster``)."""
    plane = ControlPlane(name)
    info = plane.dir / "cluster.json"
    if not plane.running or not info.is_file():
        return None
    try:
        plane.port = int(json.loads(info.read_text())["server"].rsplit(":", 1)[1])
    except (KeyError, ValueError, IndexError):
        return None
    return plane

