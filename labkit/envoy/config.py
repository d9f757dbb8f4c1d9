"""Envoy configuration from a few Python values.

    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build))
    print(cfg.yaml())                          # the bootstrap Envoy will read
    cfg.write("envoy.yaml", port=10000, admin_port=9901)   # for `func-e run -c envoy.yaml`

The listener answers every request with a direct response, so a learner
needs nothing but Envoy to see the filter act. Everything binds 127.0.0.1.

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

__all__ = ["WasmFilter", "RemoteModule", "EnvoyConfig", "plugin_configuration", "BUCKET_CLUSTER",
           "WASM_TYPE", "ROUTER_TYPE", "STRING_TYPE", "EXTENSION_CONFIG_TYPE", "dump_yaml"]

WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
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
    configuration: str | dict | list | None = None
    failure_policy: str | None = None  # FAIL_CLOSED (Envoy's default), FAIL_OPEN, FAIL_RELOAD
    root_id: str = ""
    vm_id: str = ""
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

    def extension_config(self, local_code: Path | None = None) -> dict[str, Any]:
        """The filter as an ECDS resource (a ``TypedExtensionConfig``)."""
        return {"@type": EXTENSION_CONFIG_TYPE, "name": self.name,
                "typed_config": {"@type": WASM_TYPE, "config": self.plugin(local_code)}}


@dataclass
class EnvoyConfig:
    """A single-listener Envoy: Wasm filters in front of a direct response."""

    filters: list[WasmFilter] | WasmFilter = field(default_factory=list)
    body: str = "Hello world\n"
    status: int = 200
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

    def with_filter(self, new: WasmFilter) -> "EnvoyConfig":
        """A copy with the filter named ``new.name`` replaced by ``new``."""
        if new.name not in {f.name for f in self.filters}:
            raise LabError(f"this config has no filter named {new.name!r}",
                           fix=f"filters: {', '.join(f.name for f in self.filters) or 'none'}")
        return replace(self, filters=[new if f.name == new.name else f for f in self.filters])

    def to_dict(self, *, port: int = 10000, admin_port: int = 9901,
                ecds_dir: str | os.PathLike | None = None) -> dict[str, Any]:
        """The bootstrap as data. ``port`` and ``admin_port`` default to Envoy's usual
        10000 and 9901 (a running :class:`labkit.Envoy` passes the ports it picked);
        ``ecds_dir`` is the folder reloadable filters are read from."""
        hcm = {
            "@type": HCM_TYPE,
            "stat_prefix": "ingress_http",
            "route_config": {
                "name": "local_route",
                "virtual_hosts": [{
                    "name": "local_service",
                    "domains": ["*"],
                    "routes": [{
                        "match": {"prefix": "/"},
                        "direct_response": {"status": self.status,
                                            "body": {"inline_string": self.body}},
                    }],
                }],
            },
            "http_filters": [f.http_filter(ecds_dir) for f in self.filters]
            # The router must be last, and current Envoy needs its typed_config.
            + [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}}],
        }
        bootstrap: dict[str, Any] = {
            # ECDS and func-e want a node identity; harmless otherwise.
            "node": {"id": self.node_id, "cluster": self.node_id},
            "admin": {"address": _address(admin_port)},
            "stats_flush_interval": self.stats_flush_interval,
            "static_resources": {
                "listeners": [{
                    "name": "main",
                    "address": _address(port),
                    "filter_chains": [{"filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": hcm,
                    }]}],
                }],
            },
        }
        if self.bucket:
            url = httpx.URL(self.bucket)
            bootstrap["static_resources"]["clusters"] = [{
                "name": BUCKET_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": BUCKET_CLUSTER, "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": _address(url.port or 80, url.host)}}]}]}}]
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
