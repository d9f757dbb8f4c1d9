"""Kubernetes: a kubectl-shaped client, finding a cluster, a local control plane.

    client    Kube: apply (server-side, dry_run=), get, exists, delete(wait=), wait_for
    connect   connect(): $KUBECONFIG, ~/.kube/config, in-cluster, the local control plane
    local     ControlPlane: etcd + kube-apiserver + kube-controller-manager on 127.0.0.1
    build     building those binaries from pinned sources, cached per user
    crds      Istio's CustomResourceDefinitions from a pinned istio.io/api
    pki       the control plane's certificates and keys

Needs the ``kubernetes`` client and ``cryptography``: ``pip install 'labkit[mesh]'``.
"""

from .build import ETCD_VERSION, KUBERNETES_VERSION, ControlPlaneBinaries, build_control_plane, cached_control_plane
from .client import Kube, load_manifests
from .connect import connect, find_kubeconfig
from .crds import ISTIO_VERSION, istio_crds
from .local import ControlPlane, running_control_plane

__all__ = ["ETCD_VERSION", "KUBERNETES_VERSION", "ControlPlaneBinaries", "build_control_plane",
           "cached_control_plane", "Kube", "load_manifests", "connect", "find_kubeconfig",
           "ISTIO_VERSION", "istio_crds", "ControlPlane", "running_control_plane"]
