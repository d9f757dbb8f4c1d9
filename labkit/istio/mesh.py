"""A whole Istio mesh on one machine: ``labkit.istio.Mesh().start()``.

    mesh = labkit.istio.Mesh().start()        # control plane, istiod, gateway, httpbin, bucket
    mesh.kube.apply(mesh.routing())           # Gateway + VirtualService + ServiceEntry
    mesh.wait_for_route()                     # the gateway answers through httpbin
    module = mesh.bucket.put(build)
    mesh.kube.apply(labkit.istio.wasm_plugin("hello", url=module.url, sha256=module.sha256))
    mesh.expect_header("x-hello", "world")
    mesh.cleanup()                            # labelled objects deleted, everything stopped

Every part is real and started by labkit: kube-apiserver + etcd (the local
control plane, reused when it runs already), istiod, an ingress gateway
(pilot-agent + the lab's Envoy), go-httpbin as the service behind it, and a
bucket serving modules with their sha256.
"""

from __future__ import annotations

import time
from typing import Any

from .._http import Response, curl
from .._httpbin import Httpbin
from .._wait import wait_for
from ..envoy.bucket import Bucket
from ..errors import CheckFailed, HTTPError, KubeError, LabError
from ..kube.client import Kube
from ..kube.local import ControlPlane, running_control_plane
from .manifests import LABELS, baseline, gateway, namespace, service_entry, virtual_service
from .gateway import GATEWAY_LABELS, Gateway
from .istiod import ISTIO_NAMESPACE, Istiod

__all__ = ["Mesh", "DEMO_NAMESPACE", "HTTPBIN_HOST"]

DEMO_NAMESPACE = "labkit-demo"
HTTPBIN_HOST = f"httpbin.{DEMO_NAMESPACE}.svc.cluster.local"


class Mesh:
    """The lab's Istio: each part a labkit process, the whole stoppable in one call."""

    def __init__(self, name: str = "mesh", *, cluster: str = "cluster", demo_namespace: str = DEMO_NAMESPACE):
        self.name = name
        self.cluster = cluster
        self.namespace = demo_namespace
        self.plane: ControlPlane | None = None
        self.kube: Kube | None = None
        self.istiod: Istiod | None = None
        self.gateway: Gateway | None = None
        self.httpbin: Httpbin | None = None
        self.bucket: Bucket | None = None
        self._own_plane = False
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "Mesh":
        """Start (or reuse) the control plane, then istiod, the gateway, httpbin, the bucket."""
        t0 = time.monotonic()
        try:
            self.plane = running_control_plane(self.cluster)
            if self.plane is None:
                self.plane = ControlPlane(self.cluster).start()
                self._own_plane = True
            self.kube = self.plane.kube()
            self.timings["control plane"] = time.monotonic() - t0
            self.kube.apply(baseline())
            self.kube.apply(namespace(self.namespace))
            self.istiod = Istiod(self.plane.kubeconfig, name=f"{self.name}-istiod").start()
            self.timings["istiod"] = time.monotonic() - t0
            self.gateway = Gateway(self.istiod, root_cert=self._root_cert(),
                                   name=f"{self.name}-gateway").start()
            self.timings["gateway"] = time.monotonic() - t0
            self.httpbin = Httpbin(f"{self.name}-httpbin").start()
            self.bucket = Bucket(f"{self.name}-bucket").start()
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()  # never half a mesh (the Stop button included)
            raise
        return self

    def stop(self) -> None:
        """Stop the processes this mesh started (a control plane it reused keeps running)."""
        for part in (self.bucket, self.httpbin, self.gateway, self.istiod):
            if part is not None:
                part.stop()
        if self._own_plane and self.plane is not None:
            self.plane.stop()

    def cleanup(self) -> list[str]:
        """Delete every object the lab labelled, in both namespaces, then stop. Returns what went."""
        deleted = []
        if self.kube is not None and self.plane is not None and self.plane.running:
            selector = ",".join(f"{k}={v}" for k, v in LABELS.items())
            for kind in ("WasmPlugin", "TrafficExtension", "EnvoyFilter", "VirtualService", "Gateway",
                         "ServiceEntry"):
                for ns in (ISTIO_NAMESPACE, self.namespace):
                    for obj in self.kube.get(kind, namespace=ns, label_selector=selector):
                        self.kube.delete(kind, obj["metadata"]["name"], namespace=ns)
                        deleted.append(f"{kind} {ns}/{obj['metadata']['name']}")
        self.stop()
        return deleted

    def __enter__(self) -> "Mesh":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # ---------------------------------------------------------------- the demo service
    def routing(self) -> list[dict[str, Any]]:
        """httpbin registered in the mesh, and the gateway routing every request to it."""
        proxy = self._gateway()
        httpbin = self._httpbin()
        return [
            service_entry("httpbin", self.namespace, HTTPBIN_HOST,
                          address=httpbin.host, port=httpbin.port),
            gateway("labkit-gateway", self.namespace, proxy.port),
            virtual_service("httpbin", self.namespace, gateway="labkit-gateway",
                                      host=HTTPBIN_HOST),
        ]

    def wait_for_route(self, path: str = "/status/200", *, timeout: float = 30.0) -> Response:
        """Wait until the gateway answers ``path`` with 200; explain it when it never does."""
        gateway = self._gateway()

        def answered() -> Response | None:
            try:
                r = curl(gateway, path, timeout=2)
            except HTTPError:
                return None
            return r if r.status == 200 else None

        return wait_for(answered, timeout=timeout, interval=0.2, what=f"the gateway to answer {path}",
                        error=lambda message, seen: self._why_no_route(path, timeout))

    def expect_header(self, name: str, value: str | None = None, *, path: str = "/headers",
                      timeout: float = 30.0) -> Response:
        """Wait until a response through the gateway carries ``name`` (= ``value``)."""
        gateway = self._gateway()
        last: dict[str, Any] = {}

        def carries() -> Response | None:
            try:
                r = curl(gateway, path, timeout=2)
            except HTTPError as e:
                last["seen"] = str(e.message)
                return None
            last["seen"] = f"{r.status}, headers: {', '.join(f'{k}={v}' for k, v in r.headers.items())}"
            got = r.headers.get(name)
            return r if r.status == 200 and got is not None and (value is None or got == value) else None

        return wait_for(carries, timeout=timeout, interval=0.2,
                        what=f"a response with {name}" + (f"={value}" if value else ""),
                        error=lambda message, seen: CheckFailed(
                            f"no response through the gateway carried {name}"
                            + (f"={value!r}" if value else "") + f" within {timeout:.0f} s",
                            cause=f"last answer: {last.get('seen', 'none')}\n"
                                  f"gateway log:\n{gateway.logs(tail=8)}",
                            fix="is the WasmPlugin applied and its selector the gateway's labels? "
                                "mesh.gateway.wasm_logs() shows the plugin's lines"))

    def expect_status(self, status: int, *, path: str = "/headers", timeout: float = 30.0) -> Response:
        """Send requests through the gateway until one comes back with ``status``; return it."""
        gateway = self._gateway()
        seen: list[str] = []

        def answered() -> Response | None:
            try:
                r = curl(gateway, path, timeout=2)
            except HTTPError as e:
                seen.append(e.message)
                return None
            seen.append(f"{r.status} {r.text[:80]!r}")
            return r if r.status == status else None

        return wait_for(answered, timeout=timeout, interval=0.25, what=f"an answer {status}",
                        error=lambda message, _: CheckFailed(
                            f"no request through the gateway got {status} within {timeout:.0f} s",
                            cause=f"last answers: {seen[-3:]}\ngateway log:\n{gateway.logs(tail=6)}"))

    def expect_no_header(self, name: str, *, path: str = "/headers", timeout: float = 30.0) -> Response:
        """Wait until a 200 through the gateway comes back without ``name`` (a filter removed)."""
        gateway = self._gateway()
        return wait_for(lambda: (r := curl(gateway, path, timeout=2)).status == 200
                        and name not in r.headers and r, timeout=timeout, interval=0.25,
                        what=f"responses without {name}",
                        error=lambda message, _: CheckFailed(
                            f"responses still carry {name} after {timeout:.0f} s",
                            fix="was the resource that adds it deleted? istiod takes a moment to push"))

    # ---------------------------------------------------------------- explanations
    def _why_no_route(self, path: str, timeout: float) -> LabError:
        gateway, istiod = self._gateway(), self.istiod
        listeners = gateway.listeners() if gateway.running else []
        on_port = [a for a in listeners if a.endswith(f":{gateway.port}")]
        if not on_port:
            return CheckFailed(
                f"the gateway has no listener on port {gateway.port} after {timeout:.0f} s: istiod "
                "sent it none",
                cause=self._gateway_selectors() + f"\nthe gateway listens on: {', '.join(listeners) or 'nothing'}",
                fix="apply mesh.routing() (a Gateway whose selector matches the gateway's labels "
                    f"{GATEWAY_LABELS} and whose port is {gateway.port})")
        return CheckFailed(f"the gateway listens on {on_port[0]} but {path} did not answer 200 "
                           f"within {timeout:.0f} s",
                           cause=gateway.logs(tail=10) + "\n" + istiod.logs(tail=5),
                           fix="check the VirtualService's destination and the ServiceEntry "
                               "(kube.get('serviceentry', namespace=...))")

    def _gateway_selectors(self) -> str:
        lines = []
        for ns in (ISTIO_NAMESPACE, self.namespace):
            for obj in self.kube.get("Gateway", namespace=ns):
                selector = obj.get("spec", {}).get("selector", {})
                matches = all(GATEWAY_LABELS.get(k) == v for k, v in selector.items())
                lines.append(f"Gateway {ns}/{obj['metadata']['name']} selects {selector}: "
                             + ("matches the gateway" if matches else
                                f"matches nothing here (the gateway's labels are {GATEWAY_LABELS})"))
        return "\n".join(lines) or "there is no Gateway resource at all"

    # ---------------------------------------------------------------- parts
    def _root_cert(self, timeout: float = 30.0) -> str:
        """istiod's root certificate, from the ConfigMap it writes into each namespace."""
        def published() -> str | None:
            try:
                cm = self.kube.get("ConfigMap", "istio-ca-root-cert", namespace=ISTIO_NAMESPACE)
            except KubeError as e:
                if e.status == 404:
                    return None
                raise
            return (cm.get("data") or {}).get("root-cert.pem")

        return wait_for(published, timeout=timeout, interval=0.2,
                        what="istiod to publish its root certificate (ConfigMap istio-ca-root-cert)",
                        seen=lambda: self.istiod.logs(tail=10))

    def _gateway(self) -> Gateway:
        if self.gateway is None:
            raise LabError("the mesh has not been started", fix="call mesh.start() first")
        return self.gateway

    def _httpbin(self) -> Httpbin:
        if self.httpbin is None:
            raise LabError("the mesh has not been started", fix="call mesh.start() first")
        return self.httpbin

    def __repr__(self) -> str:
        parts = [p for p in (self.istiod, self.gateway, self.httpbin, self.bucket) if p is not None]
        return f"<Mesh {self.name!r}: " + ", ".join(repr(p) for p in parts) + ">"
