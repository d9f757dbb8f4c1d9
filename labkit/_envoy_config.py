"""Envoy configuration from Python data, and Envoy's own validation of it.

    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build))
    print(cfg.yaml())          # the bootstrap Envoy will read
    cfg.write("envoy.yaml")    # e.g. for `func-e run -c envoy.yaml`
    labkit.validate("envoy.yaml")

The listener answers every request with a direct response, so a learner
needs nothing but Envoy to see the filter act. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from ._errors import ConfigError, LabError
from ._extension import Build
from ._toolchain import find_envoy

__all__ = ["WasmFilter", "RemoteModule", "EnvoyConfig", "validate", "plugin_configuration"]

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
    """Module code Envoy downloads over HTTP (``code.remote``), checked by sha256."""

    url: str
    sha256: str
    cluster: str = BUCKET_CLUSTER
    timeout: str = "10s"


@dataclass
class WasmFilter:
    """An HTTP Wasm filter: a module (local file or remote) and its configuration.

    ``name`` is the plugin name; Envoy prefixes the plugin's log lines with it
    (``wasm log hello: ...``). ``reloadable=True`` makes Envoy take the filter
    from a file it watches (Extension Config Discovery), so
    :meth:`labkit.Envoy.reload` can swap it without a restart.
    """

    module: Build | RemoteModule | str | os.PathLike
    name: str = "hello"
    configuration: str | dict | list | None = None
    failure_policy: str | None = None  # FAIL_CLOSED (Envoy's default), FAIL_OPEN, FAIL_RELOAD
    root_id: str = ""
    vm_id: str = ""
    reloadable: bool = False

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

    def http_filter(self, ecds_dir: str = "") -> dict[str, Any]:
        if not self.reloadable:
            return {"name": self.name, "typed_config": {"@type": WASM_TYPE, "config": self.plugin()}}
        # Extension Config Discovery from a file: Envoy watches the directory and
        # applies the file whenever it is renamed into place.
        ecds_dir = ecds_dir or "<ecds dir>"
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
    port: int = 10000
    admin_port: int = 9901
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
    # Where reloadable filters' ECDS files live (labkit.Envoy sets it).
    ecds_dir: str = ""
    # Base URL of a labkit.Bucket: adds the cluster remote modules are fetched through.
    bucket: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.filters, WasmFilter):
            self.filters = [self.filters]

    def with_ports(self, port: int, admin_port: int) -> "EnvoyConfig":
        return replace(self, port=port, admin_port=admin_port)

    def to_dict(self) -> dict[str, Any]:
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
            "http_filters": [f.http_filter(self.ecds_dir) for f in self.filters]
            # The router must be last, and current Envoy needs its typed_config.
            + [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}}],
        }
        bootstrap: dict[str, Any] = {
            # ECDS and func-e want a node identity; harmless otherwise.
            "node": {"id": self.node_id, "cluster": self.node_id},
            "admin": {"address": _address(self.admin_port)},
            "stats_flush_interval": self.stats_flush_interval,
            "static_resources": {
                "listeners": [{
                    "name": "main",
                    "address": _address(self.port),
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

    def yaml(self) -> str:
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, width=100)

    def write(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.yaml())
        return path


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (bodies, plugin configuration) as ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.rstrip("\n") or value.endswith("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _address(port: int, host: str = "127.0.0.1") -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


# ---------------------------------------------------------------- validation
_FIXES = [
    (r"Didn't find a registered implementation for 'envoy\.filters\.http\.router' with type URL: ''",
     "give the router filter a typed_config: {'@type': " + ROUTER_TYPE + "} "
     "(configs written for old Envoy versions lack it)"),
    (r"Invalid path: (\S+)", "the Wasm module file does not exist: build the extension first, "
     "and check the filename in the config"),
    (r"Missing or unknown Proxy-Wasm ABI version|Failed to load Wasm code",
     "the file is not a Proxy-Wasm module Envoy can load: rebuild it with "
     "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (labkit's build() does)"),
    (r"Unable to create Wasm plugin|Plugin \S+ failed to load|Failed to load Wasm",
     "the module failed to load or its OnPluginStart returned failure: read the `wasm log` "
     "lines above (bad plugin configuration is the usual cause)"),
    (r"missing import: wasi_snapshot_preview1",
     "this Envoy is too old for modules built by Go >= 1.26: use Envoy >= 1.39 (the embedded one)"),
    (r"has unknown fields|INVALID_ARGUMENT|Unable to parse",
     "a field name or value is wrong at the place Envoy names; compare with the Envoy API docs"),
    (r"cannot bind|Address already in use",
     "Envoy could not listen on an address in the config: use 127.0.0.1 and a free port "
     "(or leave ports out and let labkit pick them)"),
]


def explain(log: str) -> tuple[str, str | None, str]:
    """Envoy's reason (one line), a fix if we recognise it, and the relevant log lines."""
    important = [ln for ln in log.splitlines()
                 if re.search(r"\]\[(critical|error)\]\[|wasm log", ln)]
    reason = ""
    for ln in reversed(important):
        m = re.search(r"error (?:initializing configuration '[^']*': |`)(.+?)`?(?: initializing config.*)?$", ln)
        if m:
            reason = m.group(1).strip()
            break
    if not reason and important:
        reason = re.sub(r"^\[[^]]*\](\[[^]]*\])*\s*(\[[^]]*\]\s*)?", "", important[-1]).strip()
    fix = next((f for pat, f in _FIXES if re.search(pat, log)), None)
    relevant = "\n".join(_strip_prefix(ln) for ln in (important or log.splitlines())[-12:])
    return reason or "see the log lines", fix, relevant


def _strip_prefix(line: str) -> str:
    """'[ts][tid][critical][wasm] [source/...cc:626] msg' -> '[critical][wasm] msg'."""
    m = re.match(r"^\[[^]]+\]\[\d+\]\[(\w+)\]\[(\w+)\] \[[^]]+\] ?(.*)$", line)
    return f"[{m[1]}][{m[2]}] {m[3]}" if m else line


def validate(config: EnvoyConfig | str | os.PathLike) -> None:
    """Check a config with ``envoy --mode validate``; raise ConfigError with Envoy's reason.

    Envoy's validation also loads the Wasm module and runs its plugin start,
    so a module that fails to start is caught here too.
    """
    if isinstance(config, EnvoyConfig):
        from ._paths import state_dir

        # Named by content: the file stays for the learner to open, and
        # concurrent validations of different configs never collide.
        text = config.yaml()
        path = state_dir("envoy") / f"config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
        path.write_text(text)
    else:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"no Envoy config at {path}", path=str(path),
                              fix="check the path, or write one with EnvoyConfig(...).write(path)")
    envoy = find_envoy().require()
    out = subprocess.run([envoy, "--mode", "validate", "-c", str(path), "-l", "warning",
                          "--component-log-level", "wasm:info"],
                         capture_output=True, text=True, cwd=path.parent)
    if out.returncode != 0:
        reason, fix, relevant = explain(out.stdout + out.stderr)
        raise ConfigError(f"Envoy rejected {path}: {reason}", path=str(path), cause=relevant,
                          fix=fix or "correct the config at the place Envoy names")
    print(f"✔ Envoy accepts {path.name}")
