"""``labkit.doctor()``: every tool the lab uses, and the parts it builds, in one report.

It prints as a table in a terminal (``labkit doctor``) and renders as one in a
notebook. Required tools (go, envoy, func-e) decide ``ok``; optional ones
(TinyGo, the local control plane) say how to get them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .errors import ToolchainError
from .istio.build import BUILD_MINUTES, ISTIO_RELEASE, cached_istio
from .kube.build import KUBERNETES_VERSION, cached_control_plane
from .toolchain import ENVOY_FOR_GO126, Tool, find_envoy, find_func_e, find_go, find_tinygo

__all__ = ["Doctor", "doctor", "find_control_plane", "find_istio"]


def find_control_plane() -> Tool:
    """The local Kubernetes control plane's binaries, if built (optional: Istio step only)."""
    binaries = cached_control_plane()
    if binaries is None:
        return Tool("kube-apiserver", None, None, "-", problem="not built yet", optional=True,
                    fix="`make cluster` builds it once (~13 min on 2 cores) for the Istio step; "
                        "not needed if you have a cluster")
    return Tool("kube-apiserver", str(binaries.kube_apiserver),
                tuple(int(x) for x in KUBERNETES_VERSION.removeprefix("v").split(".")),
                "built by labkit", optional=True)

def find_istio() -> Tool:
    """istiod and pilot-agent, if built (optional: notebook 07 only)."""
    binaries = cached_istio()
    if binaries is None:
        return Tool("istiod", None, None, "-", problem="not built yet", optional=True,
                    fix=f"`make istio` builds istiod and pilot-agent once (~{BUILD_MINUTES} min on "
                        "2 cores) for notebook 07; not needed if your cluster runs Istio")
    version = tuple(int(x) for x in binaries.release.split(".") if x.isdigit())
    return Tool("istiod", str(binaries.pilot_discovery), version or None,
                f"built by labkit (Istio {ISTIO_RELEASE})", optional=True)


# -------------------------------------------------------------------- doctor
@dataclass
class Doctor:
    tools: list[Tool]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tools if not t.optional)

    def require(self) -> "Doctor":
        """Raise a ToolchainError naming every required tool that is not usable."""
        bad = [t for t in self.tools if not t.ok and not t.optional]
        if bad:
            raise ToolchainError(
                "the lab cannot run yet: " + ", ".join(f"{t.name} ({t.problem})" for t in bad),
                fix="; ".join(f"{t.name}: {t.fix}" for t in bad),
            )
        return self

    def __str__(self) -> str:
        rows = [("", "tool", "version", "from", "path / what to do")]
        for t in self.tools:
            mark = "ok" if t.ok else ("--" if t.optional else "!!")
            where = f"{t.path} ({t.detail})" if t.detail else t.path
            rows.append((mark, t.name, t.version_str, t.source,
                         where if t.ok else f"{t.problem}. Fix: {t.fix}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
        lines += [f"note: {n}" for n in self.notes]
        lines.append("all required tools are ready" if self.ok else "some required tools need attention")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = []
        for t in self.tools:
            mark = "✅" if t.ok else ("➖" if t.optional else "❌")
            detail = html.escape(t.path or "") + (f" ({html.escape(t.detail)})" if t.detail else "") if t.ok else (
                f"{html.escape(t.problem or '')}<br><b>Fix:</b> {html.escape(t.fix or '')}")
            cells.append(f"<tr><td>{mark}</td><td><b>{t.name}</b>{' (optional)' if t.optional else ''}</td>"
                         f"<td>{t.version_str}</td><td>{html.escape(t.source)}</td>"
                         f"<td style='text-align:left'>{detail}</td></tr>")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        verdict = ("<b>All required tools are ready.</b>" if self.ok
                   else "<b style='color:#d9534f'>Some required tools need attention.</b>")
        return (f"<table><tr><th></th><th>tool</th><th>version</th><th>from</th><th>path / fix</th></tr>"
                f"{''.join(cells)}</table><ul>{notes}</ul>{verdict}")


def doctor() -> Doctor:
    """Check every tool the lab uses and explain what to do about problems."""
    tools = [find_go(), find_envoy(), find_func_e(), find_tinygo(), find_control_plane(), find_istio()]
    notes = []
    go, envoy = tools[0], tools[1]
    if go.ok and envoy.ok and go.version >= (1, 26) and envoy.version < ENVOY_FOR_GO126:
        notes.append(f"Go {go.version_str} builds modules that need Envoy >= 1.39 "
                     f"(yours is {envoy.version_str}): expect 'missing import: wasi_snapshot_preview1'")
    if not tools[3].ok:
        notes.append("TinyGo is not set up (`make tinygo`): the TinyGo track is skipped; "
                     "everything else works")
    return Doctor(tools, notes)
