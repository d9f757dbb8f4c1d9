"""Envoy's statistics, read from the admin ``/stats/prometheus`` endpoint.

    before = envoy.stats()
    labkit.curl(envoy, headers={"hello": "1"})
    after = envoy.stats()
    after.value("hello_header_counter")            # 1.0
    (after - before).value("hello_header_counter")  # what changed: 1.0
    after.value("lab_requests", method="GET")       # a tagged metric

Parsing is prometheus_client's. Names are as Prometheus shows them: a Wasm
metric ``hello_header_counter`` has no ``envoy_`` prefix (``/stats`` shows it
as ``wasmcustom.hello_header_counter``).
"""

from __future__ import annotations

import difflib
import html
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .._http import shared_client
from ..errors import HTTPError, MetricNotFound

__all__ = ["Stats", "StatsDelta", "Sample", "Histogram"]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float
    kind: str  # counter, gauge, histogram (for _bucket/_sum/_count), untyped


@dataclass(frozen=True)
class Histogram:
    """One histogram series: cumulative bucket counts, sum and count."""

    name: str
    labels: Mapping[str, str]
    buckets: list[tuple[float, float]]  # (upper bound "le", cumulative count)
    sum: float
    count: float

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else math.nan

    def per_bucket(self) -> list[tuple[float, float]]:
        """Counts per bucket (not cumulative), for plotting."""
        out, previous = [], 0.0
        for le, cumulative in self.buckets:
            out.append((le, cumulative - previous))
            previous = cumulative
        return out


def _key(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _fmt(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


class Stats:
    """One scrape of an Envoy's Prometheus statistics."""

    def __init__(self, samples: Iterable[Sample], source: str = ""):
        self.samples = list(samples)
        self.source = source
        self._index: dict[tuple[str, Labels], float] = {
            (s.name, _key(s.labels)): s.value for s in self.samples}

    @classmethod
    def parse(cls, text: str, source: str = "") -> "Stats":
        # prometheus_client renames counters the OpenMetrics way (adds "_total");
        # keep the names Envoy declared in its "# TYPE" lines instead.
        declared = {line.split()[2] for line in text.splitlines()
                    if line.startswith("# TYPE ") and len(line.split()) >= 4}
        samples = []
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                name = s.name
                if family.type == "counter" and name not in declared and name.endswith("_total"):
                    name = name[: -len("_total")]
                samples.append(Sample(name, dict(s.labels), float(s.value), family.type))
        return cls(samples, source)

    @classmethod
    def scrape(cls, admin_url: str, timeout: float = 5.0) -> "Stats":
        url = admin_url.rstrip("/") + "/stats/prometheus"
        try:
            r = shared_client().get(url, timeout=timeout)
        except httpx.HTTPError as e:
            raise HTTPError(f"Envoy's admin endpoint did not answer at {url}", cause=str(e),
                            fix="is Envoy running? start it with envoy.start(), and check the admin port") from None
        if r.status_code != 200:
            raise HTTPError(f"{url} answered {r.status_code}", cause=r.text[:500],
                            fix="check that this is Envoy's admin port")
        return cls.parse(r.text, source=url)

    # ------------------------------------------------------------ lookups
    def names(self) -> list[str]:
        return sorted({s.name for s in self.samples})

    def series(self, name: str) -> list[Sample]:
        """Every sample called ``name``, whatever its labels."""
        found = [s for s in self.samples if s.name == name]
        if not found:
            raise self._not_found(name)
        return found

    def value(self, name: str, **labels: str) -> float:
        """The value of ``name`` with exactly these labels (none for an untagged metric)."""
        try:
            return self._index[(name, _key(labels))]
        except KeyError:
            pass
        series = self.series(name)  # raises when the name itself is unknown
        known = ", ".join(_fmt(name, s.labels) for s in series[:8])
        raise MetricNotFound(
            f"{_fmt(name, labels)} is not at {self.source or '/stats/prometheus'}",
            cause=f"{name} exists with these labels: {known}",
            fix="pass the labels of one of those series, e.g. "
                f"value({name!r}, {', '.join(f'{k}={v!r}' for k, v in series[0].labels.items())})")

    def histogram(self, name: str, **labels: str) -> Histogram:
        buckets = [(float(s.labels["le"]), s.value) for s in self.samples
                   if s.name == f"{name}_bucket"
                   and _key({k: v for k, v in s.labels.items() if k != "le"}) == _key(labels)]
        if not buckets:
            raise self._not_found(f"{name}_bucket", shown=name)
        buckets.sort()
        return Histogram(name, labels, buckets, self.value(f"{name}_sum", **labels),
                         self.value(f"{name}_count", **labels))

    def _not_found(self, name: str, shown: str | None = None) -> MetricNotFound:
        shown = shown or name
        # Suggest series names as the caller would type them: histograms without
        # their _bucket/_sum/_count suffixes.
        names = sorted({re.sub(r"_(bucket|sum|count)$", "", s.name) if s.kind == "histogram" else s.name
                        for s in self.samples})
        close = difflib.get_close_matches(shown, names, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return MetricNotFound(
            f"no metric named {shown!r} at {self.source or '/stats/prometheus'}",
            fix=f"{hint}A Wasm metric exists once the plugin defines it (DefineCounterMetric & co., "
                "usually in NewPluginContext or OnPluginStart); its Prometheus name has no envoy_ prefix. "
                "stats.names() lists them all.")

    def __sub__(self, before: "Stats") -> "StatsDelta":
        return StatsDelta(before, self)

    def _repr_html_(self) -> str:
        rows = [s for s in self.samples if not s.name.startswith("envoy_")]
        body = "".join(f"<tr><td><code>{html.escape(_fmt(s.name, s.labels))}</code></td><td>{s.value:g}</td></tr>"
                       for s in rows[:60])
        more = len(self.samples) - len(rows)
        return (f"<table><tr><th>metric (non-Envoy)</th><th>value</th></tr>{body}</table>"
                f"<div>{more} more <code>envoy_*</code> metrics: stats.names() lists them</div>")


class StatsDelta:
    """What changed between two scrapes (``after - before``)."""

    def __init__(self, before: Stats, after: Stats):
        self.before, self.after = before, after

    def value(self, name: str, **labels: str) -> float:
        """The change in ``name``; a series that did not exist before counts from 0."""
        now = self.after.value(name, **labels)
        try:
            return now - self.before.value(name, **labels)
        except MetricNotFound:
            return now

    def changed(self, prefix: str = "", *, envoy: bool = False) -> dict[str, float]:
        """Series that changed, as ``{'name{labels}': change}``.

        Envoy's own ``envoy_*`` metrics are left out unless ``envoy=True``.
        """
        out = {}
        for (name, labels), value in self.after._index.items():
            if name.startswith(prefix) and (envoy or not name.startswith("envoy_")):
                change = value - self.before._index.get((name, labels), 0.0)
                if change:
                    out[_fmt(name, dict(labels))] = change
        return out

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{v:+g}</td></tr>"
                       for k, v in sorted(self.changed().items()))
        return f"<table><tr><th>metric (non-Envoy)</th><th>change</th></tr>{rows}</table>"

    def __repr__(self) -> str:
        return "\n".join(f"{k}: {v:+g}" for k, v in sorted(self.changed().items())) or "(no change)"
