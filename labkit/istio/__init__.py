"""Istio for real: istiod and pilot-agent built from source, the lab's Envoy as the proxy.

    build      build_istio(): pilot-discovery + pilot-agent from a pinned istio.io/istio
    istiod     Istiod: pilot-discovery against the lab's kube-apiserver, on 127.0.0.1
    gateway    Gateway: pilot-agent (proxy router) + Envoy, in a user namespace
    manifests  wasm_plugin(), envoy_filter(), gateway(), service_entry()... as dicts
    mesh       Mesh: all of it (and httpbin, and a bucket) started and cleaned up together

Needs the mesh extra (``pip install 'labkit[mesh]'``) and Linux (user namespaces).
"""

from .build import ISTIO_RELEASE, ISTIO_SOURCE, IstioBinaries, build_istio, cached_istio
from .gateway import GATEWAY_LABELS, PROXY_IP, Gateway
from .istiod import ISTIO_NAMESPACE, Istiod, ProxyStatus
from .manifests import (LABELS, envoy_filter, gateway, namespace, service_entry, traffic_extension,
                        virtual_service, wasm_plugin)
from .mesh import DEMO_NAMESPACE, HTTPBIN_HOST, Mesh

__all__ = ["ISTIO_RELEASE", "ISTIO_SOURCE", "IstioBinaries", "build_istio", "cached_istio",
           "GATEWAY_LABELS", "PROXY_IP", "Gateway", "ISTIO_NAMESPACE", "Istiod", "ProxyStatus", "LABELS",
           "envoy_filter", "gateway", "namespace", "service_entry", "traffic_extension", "virtual_service",
           "wasm_plugin",
           "DEMO_NAMESPACE", "HTTPBIN_HOST", "Mesh"]
