"""Envoy: configuration, the process, reloads, statistics, a module bucket.

The learner's names (``labkit.Envoy``, ``labkit.EnvoyConfig``...) are
re-exported from ``labkit``; the plumbing is importable from here.

    config    EnvoyConfig / WasmFilter / RemoteModule / Route / Listener / TcpListener /
              WasmService → bootstrap YAML
    validate  envoy --mode validate, with Envoy's reason explained
    explain   Envoy's log → reason, relevant lines, fix
    logs      wasm log lines, Go panics joined
    process   Envoy: start / ready / logs / restart / stop
    reload    file-based ECDS: swap a filter in a running Envoy
    stats     /stats/prometheus → Stats, deltas, histograms
    bucket    modules served over HTTP by sha256
"""

from .bucket import Bucket
from .config import (HTTPBIN, EnvoyConfig, Listener, RemoteModule, Route, TcpListener, WasmFilter,
                     WasmService, plugin_configuration)
from .explain import Explanation, explain
from .logs import LogLine, go_panic, wasm_lines
from .process import Envoy
from .reload import Reload, ReloadTarget, reload_filter
from .stats import Histogram, Sample, Stats, StatsDelta
from .validate import validate

__all__ = ["Bucket", "EnvoyConfig", "RemoteModule", "WasmFilter", "Route", "Listener", "TcpListener",
           "WasmService", "HTTPBIN", "plugin_configuration",
           "Explanation", "explain", "LogLine", "go_panic", "wasm_lines", "Envoy", "Reload",
           "ReloadTarget", "reload_filter", "Histogram", "Sample", "Stats", "StatsDelta", "validate"]
