"""The Istio resources the lab applies, as plain dicts (print them, edit them, apply them).

    labkit.istio.wasm_plugin("add-header", url=module.url, sha256=module.sha256,
                             plugin_config={"headers": {"x-team": "wasm-lab"}})

Every object carries the label ``app.kubernetes.io/managed-by: labkit``, so
:meth:`labkit.istio.Mesh.cleanup` finds and deletes what the lab made, and
nothing else.
"""

from __future__ import annotations

from typing import Any

from .gateway import GATEWAY_LABELS
from .istiod import ISTIO_NAMESPACE

__all__ = ["LABELS", "namespace", "gateway", "virtual_service", "service_entry", "wasm_plugin",
           "traffic_extension", "envoy_filter", "baseline", "WASM_TYPE"]

LABELS = {"app.kubernetes.io/managed-by": "labkit"}
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
Manifest = dict[str, Any]


def _meta(name: str, namespace: str | None = None) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)}


def baseline() -> list[Manifest]:
    """What this mesh needs before any proxy connects, each for a reason:

    * a Telemetry in the root namespace turning Istio's metrics off: with them,
      istiod adds the ``istio.stats`` filter, which only Istio's Envoy build has;
    * a mesh-wide PeerAuthentication DISABLE: with mTLS, a sidecar's inbound
      listener waits for certificates the agent cannot get here.
    """
    return [
        namespace(ISTIO_NAMESPACE),
        {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
         "metadata": _meta("labkit-no-istio-stats", ISTIO_NAMESPACE),
         "spec": {"metrics": [{"providers": [{"name": "prometheus"}],
                               "overrides": [{"disabled": True}]}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": _meta("labkit-plaintext", ISTIO_NAMESPACE),
         "spec": {"mtls": {"mode": "DISABLE"}}},
    ]


def gateway(name: str, namespace: str, port: int, *, selector: dict[str, str] | None = None,
            bind: str = "127.0.0.1") -> Manifest:
    """A Gateway opening an HTTP listener on ``bind:port`` of the proxies ``selector`` picks."""
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": _meta(name, namespace),
            "spec": {"selector": dict(selector or {"istio": GATEWAY_LABELS["istio"]}),
                     "servers": [{"port": {"number": port, "name": "http", "protocol": "HTTP"},
                                  "hosts": ["*"], "bind": bind}]}}


def service_entry(name: str, namespace: str, host: str, *, address: str, port: int,
                  service_port: int = 8000) -> Manifest:
    """``host`` as a service of the mesh, served at ``address:port`` (no pod needed)."""
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": _meta(name, namespace),
            "spec": {"hosts": [host], "location": "MESH_INTERNAL", "resolution": "STATIC",
                     "ports": [{"number": service_port, "name": "http", "protocol": "HTTP",
                                "targetPort": port}],
                     "endpoints": [{"address": address, "ports": {"http": port}}]}}


def virtual_service(name: str, namespace: str, *, gateway: str, host: str,
                    port: int = 8000) -> Manifest:
    """Every request the gateway ``gateway`` receives goes to ``host:port``."""
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": _meta(name, namespace),
            "spec": {"hosts": ["*"], "gateways": [gateway],
                     "http": [{"route": [{"destination": {"host": host, "port": {"number": port}}}]}]}}


def wasm_plugin(name: str, *, url: str, sha256: str | None, namespace: str = ISTIO_NAMESPACE,
                plugin_config: dict | None = None, selector: dict[str, str] | None = None,
                fail_strategy: str | None = None, phase: str | None = None,
                priority: int | None = None, plugin_name: str | None = None,
                image_pull_policy: str | None = None) -> Manifest:
    """A WasmPlugin (``extensions.istio.io/v1alpha1``) for the proxies ``selector`` picks.

    ``sha256`` is the module file's hash for an ``http(s)://`` URL (the agent checks
    it, and denies every request if it does not match), an image digest for
    ``oci://``. ``plugin_config`` reaches the plugin as JSON text.
    """
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(selector or GATEWAY_LABELS)}, "url": url}
    for key, value in (("sha256", sha256), ("pluginConfig", plugin_config),
                       ("failStrategy", fail_strategy), ("phase", phase), ("priority", priority),
                       ("pluginName", plugin_name), ("imagePullPolicy", image_pull_policy)):
        if value is not None:
            spec[key] = value
    return {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
            "metadata": _meta(name, namespace), "spec": spec}


def traffic_extension(name: str, *, url: str, sha256: str | None, namespace: str = ISTIO_NAMESPACE,
                      plugin_config: dict | None = None, selector: dict[str, str] | None = None,
                      phase: str | None = None, priority: int | None = None) -> Manifest:
    """The same as :func:`wasm_plugin` in Istio's newer API (1.30+): a TrafficExtension,
    whose ``wasm`` block holds what a WasmPlugin's spec holds (and which can hold Lua)."""
    wasm: dict[str, Any] = {"url": url}
    for key, value in (("sha256", sha256), ("pluginConfig", plugin_config)):
        if value is not None:
            wasm[key] = value
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(selector or GATEWAY_LABELS)}, "wasm": wasm}
    for key, value in (("phase", phase), ("priority", priority)):
        if value is not None:
            spec[key] = value
    return {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "TrafficExtension",
            "metadata": _meta(name, namespace), "spec": spec}


def envoy_filter(name: str, *, url: str, sha256: str, cluster_address: str, cluster_port: int,
                 namespace: str = ISTIO_NAMESPACE, configuration: str | None = None,
                 selector: dict[str, str] | None = None, context: str = "GATEWAY",
                 vm_id: str | None = None) -> Manifest:
    """The seed tutorial's way, corrected: an EnvoyFilter with three patches.

    1. ``EXTENSION_CONFIG`` ADD: the Wasm filter itself, its code at ``url`` with
       the ``sha256`` Envoy requires for remote code;
    2. ``HTTP_FILTER`` INSERT_BEFORE the router: a filter that takes that config
       from ADS (``config_discovery``), waiting for it (``initial_fetch_timeout: 0s``);
    3. ``CLUSTER`` ADD: the cluster ``http_uri`` names, which the tutorial left out
       (Envoy rejects remote code whose cluster it does not know).

    ``context`` is GATEWAY for an ingress gateway, SIDECAR_INBOUND for a sidecar
    (the tutorial's).
    """
    cluster = f"labkit-bucket-{name}"
    wasm: dict[str, Any] = {"@type": WASM_TYPE, "config": {
        "name": name,
        "vm_config": {"vm_id": vm_id or f"{name}-vm", "runtime": "envoy.wasm.runtime.v8",
                      "code": {"remote": {"http_uri": {"uri": url, "cluster": cluster,
                                                       "timeout": "10s"},
                                          "sha256": sha256}}}}}
    if configuration is not None:
        wasm["config"]["configuration"] = {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                           "value": configuration}
    spec: dict[str, Any] = {"configPatches": [
        {"applyTo": "EXTENSION_CONFIG",
         "patch": {"operation": "ADD", "value": {"name": name, "typed_config": wasm}}},
        {"applyTo": "HTTP_FILTER",
         "match": {"context": context, "listener": {"filterChain": {"filter": {
             "name": "envoy.filters.network.http_connection_manager",
             "subFilter": {"name": "envoy.filters.http.router"}}}}},
         "patch": {"operation": "INSERT_BEFORE", "value": {
             "name": name,
             "config_discovery": {"config_source": {"ads": {}, "initial_fetch_timeout": "0s"},
                                  "type_urls": [WASM_TYPE]}}}},
        {"applyTo": "CLUSTER",
         "patch": {"operation": "ADD", "value": {
             "name": cluster, "type": "STATIC", "connect_timeout": "1s",
             "load_assignment": {"cluster_name": cluster, "endpoints": [{"lb_endpoints": [{
                 "endpoint": {"address": {"socket_address": {"address": cluster_address,
                                                             "port_value": cluster_port}}}}]}]}}}},
    ]}
    spec["workloadSelector"] = {"labels": dict(selector or GATEWAY_LABELS)}
    return {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": _meta(name, namespace), "spec": spec}
