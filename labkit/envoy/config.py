"""Envoy configuration from a few Python values.

    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build))
    print(cfg.yaml())                          # the bootstrap Envoy will read
    cfg.write("envoy.yaml", port=10000, admin_port=9901)   # for `func-e run -c envoy.yaml`

By default the listener answers every request with a direct response, so a
learner needs nothing but Envoy to see the filter act. The rest is there when a
program needs it, each a plain value:

    EnvoyConfig(filters, upstream="httpbin")            # proxy to a local go-httpbin
    EnvoyConfig(filters, routes=[Route("/api", upstream="http://127.0.0.1:8080"),
                                 Route("/", metadata={"lab": {"team": "a"}})])
    EnvoyConfig(filters, clusters={"auth": httpbin})    # for DispatchHttpCall("auth", ...)
    EnvoyConfig(listeners=[TcpListener("tcp", upstream="httpbin", filters=[tcp_filter])])
    EnvoyConfig(services=[WasmService(build)])          # a bootstrap (singleton) Wasm service

An upstream is a cluster name from ``clusters``, a URL, anything with a ``url``
(a :class:`labkit.Httpbin`), or ``"httpbin"``: a go-httpbin the Envoy starts for
itself. Everything binds and connects to 127.0.0.1.

An ``EnvoyConfig`` describes *what* Envoy runs. What only a running Envoy
decides (its ports, the folder its reloadable filters are read from) is given
when rendering: ``to_dict()``, ``yaml()`` and ``write()`` take them as
arguments, with placeholders for printing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from .._extension import Build
from ..errors import LabError

__all__ = ["WasmFilter", "RemoteModule", "EnvoyConfig", "Route", "Listener", "TcpListener",
           "WasmService", "HTTPBIN", "plugin_configuration", "BUCKET_CLUSTER", "WASM_TYPE",
           "NETWORK_WASM_TYPE", "ROUTER_TYPE", "STRING_TYPE", "EXTENSION_CONFIG_TYPE", "dump_yaml"]

WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NETWORK_WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
WASM_SERVICE_TYPE = "type.googleapis.com/envoy.extensions.wasm.v3.WasmService"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network."
            "http_connection_manager.v3.HttpConnectionManager")
STRING_TYPE = "type.googleapis.com/google.protobuf.StringValue"
EXTENSION_CONFIG_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"


def plugin_configuration(value: str | dict | list | None) -> dict | None:
    """The filter's ``configuration`` block: strings as-is, dicts/lists as JSON.

    Envoy hands the plugin the ``StringValue``'s text in OnPluginStart.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, indent=2)
    return {"@type": STRING_TYPE, "value": text}


BUCKET_CLUSTER = "labkit_bucket"
# `upstream="httpbin"`: a go-httpbin the Envoy starts for itself (labkit.Httpbin).
HTTPBIN = "httpbin"
# Where it is when a config is printed rather than run.
HTTPBIN_PLACEHOLDER = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class RemoteModule:
    """Module code fetched over HTTP (``code.remote``), checked by sha256.

    ``name`` is the project it was built from (the default plugin name).
    """

    url: str
    sha256: str
    cluster: str = BUCKET_CLUSTER
    timeout: str = "10s"
    name: str = ""


@dataclass
class WasmFilter:
    """An HTTP Wasm filter: a module (local file or remote) and its configuration.

    ``name`` is the plugin name, by default the project's (``scaffold("hello")``
    gives ``hello``); Envoy prefixes the plugin's log lines with it
    (``wasm log hello: ...``). ``reloadable=True`` makes Envoy take the filter
    from a file it watches (Extension Config Discovery), so
    :meth:`labkit.Envoy.reload` can swap it without a restart.
    """

    module: Build | RemoteModule | str | os.PathLike
    name: str = ""
    configuration: str | dict | list | None = None     # the plugin's, read in OnPluginStart
    failure_policy: str | None = None  # FAIL_CLOSED (Envoy's default), FAIL_OPEN, FAIL_RELOAD
    root_id: str = ""       # picks one of several plugin (root) contexts in one module
    vm_id: str = ""         # filters with the same vm_id and code share one VM
    vm_configuration: str | dict | list | None = None  # the VM's, read in OnVMStart
    environment: dict[str, str] | None = None          # environment variables inside the VM
    reloadable: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            self.name = _default_name(self.module)

    @property
    def module_path(self) -> Path:
        if isinstance(self.module, RemoteModule):
            raise LabError(f"filter {self.name!r} has remote code, not a local file")
        path = self.module.path if isinstance(self.module, Build) else Path(self.module)
        return path.resolve()

    def plugin(self, local_code: Path | None = None) -> dict[str, Any]:
        """The ``PluginConfig`` (what goes under the Wasm filter's ``config``).

        ``local_code`` replaces the module's path (labkit's content-addressed copy).
        """
        if isinstance(self.module, RemoteModule) and local_code is None:
            m = self.module
            code: dict[str, Any] = {"remote": {
                "http_uri": {"uri": m.url, "cluster": m.cluster, "timeout": m.timeout},
                "sha256": m.sha256}}
        else:
            code = {"local": {"filename": str(local_code or self.module_path)}}
        vm: dict[str, Any] = {"runtime": "envoy.wasm.runtime.v8", "code": code}
        if self.vm_id:
            vm = {"vm_id": self.vm_id, **vm}
        if (vm_conf := plugin_configuration(self.vm_configuration)) is not None:
            vm["configuration"] = vm_conf
        if self.environment:
            vm["environment_variables"] = {"key_values": dict(self.environment)}
        plugin: dict[str, Any] = {"name": self.name}
        if self.root_id:
            plugin["root_id"] = self.root_id
        plugin["vm_config"] = vm
        if (conf := plugin_configuration(self.configuration)) is not None:
            plugin["configuration"] = conf
        if self.failure_policy:
            plugin["failure_policy"] = self.failure_policy
        return plugin

    def http_filter(self, ecds_dir: str | os.PathLike | None = None) -> dict[str, Any]:
        if not self.reloadable:
            return {"name": self.name, "typed_config": {"@type": WASM_TYPE, "config": self.plugin()}}
        # Extension Config Discovery from a file: Envoy watches the directory and
        # applies the file whenever it is renamed into place.
        ecds_dir = str(ecds_dir) if ecds_dir else "<ecds dir>"
        return {"name": self.name, "config_discovery": {
            "config_source": {"path_config_source": {
                "path": f"{ecds_dir}/{self.name}.yaml",
                "watched_directory": {"path": ecds_dir}}},
            "type_urls": [WASM_TYPE]}}

    def network_filter(self) -> dict[str, Any]:
        """The same plugin as a network (TCP) filter: it sees connections' bytes."""
        if self.reloadable:
            raise LabError(f"filter {self.name!r}: labkit reloads HTTP filters only",
                           fix="leave reloadable out for a network filter; restart Envoy to change it")
        return {"name": self.name, "typed_config": {"@type": NETWORK_WASM_TYPE, "config": self.plugin()}}

    def extension_config(self, local_code: Path | None = None) -> dict[str, Any]:
        """The filter as an ECDS resource (a ``TypedExtensionConfig``)."""
        return {"@type": EXTENSION_CONFIG_TYPE, "name": self.name,
                "typed_config": {"@type": WASM_TYPE, "config": self.plugin(local_code)}}


@dataclass
class WasmService:
    """A Wasm module Envoy runs at boot, outside any listener (a bootstrap extension).

    ``singleton=True`` runs one VM for the whole Envoy (on the main thread), the
    place for timers (``OnTick``) and work shared by every worker.
    """

    module: Build | RemoteModule | str | os.PathLike
    name: str = ""
    configuration: str | dict | list | None = None
    vm_configuration: str | dict | list | None = None
    vm_id: str = ""
    singleton: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            self.name = _default_name(self.module)

    def bootstrap_extension(self) -> dict[str, Any]:
        plugin = WasmFilter(self.module, name=self.name, configuration=self.configuration,
                            vm_configuration=self.vm_configuration, vm_id=self.vm_id).plugin()
        return {"name": "envoy.bootstrap.wasm", "typed_config": {
            "@type": WASM_SERVICE_TYPE, "singleton": self.singleton, "config": plugin}}


@dataclass
class Route:
    """Requests whose path starts with ``prefix`` go to ``upstream``, or get a direct answer.

    ``metadata`` is the route's filter metadata, ``{"namespace": {"key": value}}``,
    which a Wasm filter reads with ``GetProperty(["xds", "route_metadata", ...])``.
    """

    prefix: str = "/"
    upstream: Any = None          # a cluster name, a URL, an object with .url, or "httpbin"
    status: int = 200             # the direct answer, when there is no upstream
    body: str = "Hello world\n"
    metadata: dict[str, dict] | None = None


@dataclass
class Listener:
    """Another HTTP listener, on a port of its own (``envoy.ports[name]``)."""

    name: str
    filters: list[WasmFilter] | WasmFilter = field(default_factory=list)
    routes: list[Route] | None = None
    upstream: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.filters, WasmFilter):
            self.filters = [self.filters]


@dataclass
class TcpListener:
    """A TCP listener: network Wasm filters, then ``tcp_proxy`` to ``upstream``."""

    name: str
    upstream: Any
    filters: list[WasmFilter] | WasmFilter = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.filters, WasmFilter):
            self.filters = [self.filters]


@dataclass
class EnvoyConfig:
    """An Envoy: Wasm filters on a listener in front of a direct answer (or an upstream).

    ``routes`` (or simply ``upstream``) say where requests go; ``clusters`` add
    named upstreams (``DispatchHttpCall`` targets); ``listeners`` add HTTP or TCP
    listeners; ``services`` add bootstrap Wasm services.
    """

    filters: list[WasmFilter] | WasmFilter = field(default_factory=list)
    body: str = "Hello world\n"
    status: int = 200
    upstream: Any = None
    routes: list[Route] | None = None
    clusters: dict[str, Any] = field(default_factory=dict)
    listeners: list[Listener | TcpListener] = field(default_factory=list)
    services: list[WasmService] = field(default_factory=list)
    node_id: str = "labkit"
    # Prometheus labels cut out of metric names: {"method": r"(_method=([A-Z]+))"}
    # turns lab_requests_method=GET into lab_requests{method="GET"}.
    stats_tags: dict[str, str] = field(default_factory=dict)
    # Bucket bounds per histogram name, e.g. {"request_header_count": [5, 10, 15]}.
    histogram_buckets: dict[str, list[float]] = field(default_factory=dict)
    # Envoy merges histogram samples when it flushes stats (its default is 5 s).
    stats_flush_interval: str = "0.5s"
    # Base URL of a labkit.Bucket: adds the cluster remote modules are fetched through.
    bucket: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.filters, WasmFilter):
            self.filters = [self.filters]

    @property
    def reloadable_filters(self) -> list[WasmFilter]:
        return [f for f in self.filters if f.reloadable]

    @property
    def needs_httpbin(self) -> bool:
        """Whether some route, listener or cluster asks for the Envoy's own httpbin."""
        upstreams = [self.upstream, *self.clusters.values(),
                     *(r.upstream for r in self._routes(self.routes, self.upstream))]
        for listener in self.listeners:
            upstreams.append(listener.upstream)
            if isinstance(listener, Listener):
                upstreams += [r.upstream for r in self._routes(listener.routes, listener.upstream)]
        return any(u == HTTPBIN for u in upstreams)

    def _routes(self, routes: list[Route] | None, upstream: Any) -> list[Route]:
        if routes is not None:
            return routes
        if upstream is not None:
            return [Route(upstream=upstream)]
        return [Route(status=self.status, body=self.body)]

    def with_filter(self, new: WasmFilter) -> "EnvoyConfig":
        """A copy with the filter named ``new.name`` replaced by ``new``."""
        if new.name not in {f.name for f in self.filters}:
            raise LabError(f"this config has no filter named {new.name!r}",
                           fix=f"filters: {', '.join(f.name for f in self.filters) or 'none'}")
        return replace(self, filters=[new if f.name == new.name else f for f in self.filters])

    def to_dict(self, *, port: int = 10000, admin_port: int = 9901,
                ecds_dir: str | os.PathLike | None = None, ports: dict[str, int] | None = None,
                httpbin: str = HTTPBIN_PLACEHOLDER) -> dict[str, Any]:
        """The bootstrap as data. ``port`` and ``admin_port`` default to Envoy's usual
        10000 and 9901, the extra listeners' ``ports`` to the ports after them (a running
        :class:`labkit.Envoy` passes the ports it picked); ``ecds_dir`` is the folder
        reloadable filters are read from; ``httpbin`` the URL of the Envoy's own httpbin."""
        ports = dict(ports or {})
        clusters = _Clusters(self.clusters, httpbin)
        listeners = [_listener("main", port, _hcm(self.filters, self._routes(self.routes, self.upstream),
                                                  clusters, ecds_dir))]
        for n, extra in enumerate(self.listeners, 1):
            where = ports.get(extra.name, port + n)
            if isinstance(extra, TcpListener):
                chain = [f.network_filter() for f in extra.filters] + [{
                    "name": "envoy.filters.network.tcp_proxy",
                    "typed_config": {"@type": TCP_PROXY_TYPE, "stat_prefix": extra.name,
                                     "cluster": clusters.name_for(extra.upstream)}}]
                listeners.append({"name": extra.name, "address": _address(where),
                                  "filter_chains": [{"filters": chain}]})
            else:
                hcm = _hcm(extra.filters, self._routes(extra.routes, extra.upstream), clusters, ecds_dir)
                listeners.append(_listener(extra.name, where, hcm))
        bootstrap: dict[str, Any] = {
            # ECDS and func-e want a node identity; harmless otherwise.
            "node": {"id": self.node_id, "cluster": self.node_id},
            "admin": {"address": _address(admin_port)},
            "stats_flush_interval": self.stats_flush_interval,
        }
        if self.services:
            bootstrap["bootstrap_extensions"] = [s.bootstrap_extension() for s in self.services]
        if self.bucket:
            clusters.add(BUCKET_CLUSTER, self.bucket)
        bootstrap["static_resources"] = {"listeners": listeners}
        if clusters.rendered:
            bootstrap["static_resources"]["clusters"] = clusters.rendered
        stats_config: dict[str, Any] = {}
        if self.stats_tags:
            stats_config["stats_tags"] = [{"tag_name": k, "regex": v} for k, v in self.stats_tags.items()]
        if self.histogram_buckets:
            # Wasm metrics are named wasmcustom.<name> inside Envoy.
            stats_config["histogram_bucket_settings"] = [
                {"match": {"exact": f"wasmcustom.{name}"}, "buckets": list(bounds)}
                for name, bounds in self.histogram_buckets.items()]
        if stats_config:
            bootstrap["stats_config"] = stats_config
        return bootstrap

    def yaml(self, **runtime: Any) -> str:
        """The bootstrap as YAML (``port=``, ``admin_port=``, ``ecds_dir=`` as in to_dict)."""
        return dump_yaml(self.to_dict(**runtime))

    def write(self, path: str | os.PathLike, **runtime: Any) -> Path:
        """Write the YAML to ``path``, e.g. ``cfg.write("envoy.yaml", port=p, admin_port=a)``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.yaml(**runtime))
        return path


def dump_yaml(data: Any) -> str:
    """YAML as labkit writes it: keys in order, multi-line strings as ``|`` blocks."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (bodies, plugin configuration) as ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.rstrip("\n") or value.endswith("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _address(port: int, host: str = "127.0.0.1") -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


def _default_name(module: Build | RemoteModule | str | os.PathLike) -> str:
    """The project's name: ``workspace/hello/main.wasm`` is plugin ``hello``."""
    if isinstance(module, (Build, RemoteModule)) and module.name:
        return module.name
    if isinstance(module, (str, os.PathLike)):
        path = Path(module)
        return path.parent.name if path.stem == "main" and path.parent.name else path.stem
    return "filter"


def _hcm(filters: list[WasmFilter], routes: list[Route], clusters: "_Clusters",
         ecds_dir: str | os.PathLike | None) -> dict[str, Any]:
    """An HTTP connection manager: the filters, then the router, over these routes."""
    rendered = []
    for route in routes:
        r: dict[str, Any] = {"match": {"prefix": route.prefix}}
        if route.upstream is None:
            r["direct_response"] = {"status": route.status, "body": {"inline_string": route.body}}
        else:
            r["route"] = {"cluster": clusters.name_for(route.upstream)}
        if route.metadata:
            r["metadata"] = {"filter_metadata": route.metadata}
        rendered.append(r)
    return {
        "@type": HCM_TYPE,
        "stat_prefix": "ingress_http",
        "route_config": {"name": "local_route", "virtual_hosts": [
            {"name": "local_service", "domains": ["*"], "routes": rendered}]},
        "http_filters": [f.http_filter(ecds_dir) for f in filters]
        # The router must be last, and current Envoy needs its typed_config.
        + [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}}],
    }


def _listener(name: str, port: int, hcm: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "address": _address(port), "filter_chains": [{"filters": [{
        "name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}


class _Clusters:
    """The upstreams a config names, as Envoy clusters (one per address)."""

    def __init__(self, named: dict[str, Any], httpbin: str):
        self.httpbin = httpbin
        self.rendered: list[dict[str, Any]] = []
        self._by_url: dict[str, str] = {}
        self._named = dict(named)
        for name, target in named.items():
            self.add(name, target)

    def add(self, name: str, target: Any) -> str:
        url = self._url(target)
        parsed = httpx.URL(url)
        if parsed.host not in ("127.0.0.1", "localhost", "::1"):
            raise LabError(f"the upstream {url} is not on this machine",
                           fix="the lab connects only to 127.0.0.1: run the service here "
                               "(labkit.Httpbin() is one)")
        self.rendered.append({
            "name": name, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": _address(parsed.port or 80, "127.0.0.1")}}]}]}})
        self._by_url.setdefault(url, name)
        return name

    def name_for(self, target: Any) -> str:
        """The cluster for ``target``: a name from ``clusters``, else one made for its URL."""
        if isinstance(target, str) and target in self._named:
            return target
        url = self._url(target)
        if url in self._by_url:
            return self._by_url[url]
        name = HTTPBIN if target == HTTPBIN else f"upstream_{len(self._by_url) + 1}"
        return self.add(name, target)

    def _url(self, target: Any) -> str:
        if target == HTTPBIN:
            return self.httpbin
        url = getattr(target, "url", target)
        if not isinstance(url, str) or "://" not in url:
            raise LabError(f"{target!r} is not an upstream labkit knows",
                           fix="give a URL (http://127.0.0.1:8080), an object with a url "
                               "(labkit.Httpbin), 'httpbin', or a name from clusters={...}")
        return url
