"""Find a cluster to talk to: ``labkit.connect()``.

Where it looks, first match wins: an explicit kubeconfig, ``$KUBECONFIG``,
``~/.kube/config``, the in-cluster service account (a notebook running in a
pod), then a running labkit control plane (``make cluster``). With
``local=True`` it starts that control plane when nothing else is found.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ClusterNotFound
from .client import Kube
from .local import ControlPlane, running_control_plane

__all__ = ["connect", "find_kubeconfig"]


def find_kubeconfig() -> tuple[Path | None, str]:
    """The kubeconfig kubectl would use, and where it was found (``None`` if none)."""
    env = os.environ.get("KUBECONFIG")
    if env:
        for part in env.split(os.pathsep):
            if part and Path(part).expanduser().is_file():
                return Path(part).expanduser(), "$KUBECONFIG"
    home = Path.home() / ".kube" / "config"
    if home.is_file():
        return home, "~/.kube/config"
    return None, ""


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token").is_file()


def connect(kubeconfig: str | os.PathLike | None = None, *, context: str | None = None,
            local: bool = False) -> Kube:
    """A :class:`Kube` for the first cluster found (see the module docs)."""
    if kubeconfig is not None:
        return Kube(kubeconfig, context=context)
    path, where = find_kubeconfig()
    if path is not None:
        return Kube(path, context=context, source=where)
    if _in_cluster():
        return Kube(None, source="in-cluster service account")
    plane = running_control_plane()
    if plane is None and local:
        plane = ControlPlane().start()
    if plane is not None:
        return plane.kube()
    raise ClusterNotFound(
        "no Kubernetes cluster found: no $KUBECONFIG, no ~/.kube/config, not inside a pod, "
        "and no labkit control plane running",
        fix="point $KUBECONFIG at your cluster, or use the local control plane: "
            "`labkit.connect(local=True)` in a notebook, `make cluster` in a terminal",
    )
