"""Talk to a Kubernetes cluster the way ``kubectl`` does, from Python.

    kube = labkit.connect()                 # your cluster, or the local control plane
    kube.apply(manifest_yaml, namespace="demo")
    kube.get("wasmplugin", "add-header", namespace="demo")
    kube.delete(manifest_yaml, namespace="demo")

:class:`Kube` sits on the official ``kubernetes`` client's dynamic client, so
it works with any kind the server knows, CRDs included. Objects come back as
plain dicts (``obj["spec"]["url"]``). ``apply`` is server-side apply: the
server validates against the schema, runs admission and, with
``dry_run=True``, stops before storing. Every refusal becomes a
:class:`KubeError` carrying the server's own message. (Finding a cluster is
:func:`labkit.kube.connect`'s job.)

The ``kubernetes`` client is an extra (``pip install 'labkit[mesh]'``): this
module imports it only when a :class:`Kube` is made.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import yaml

from .._wait import wait_for
from ..errors import KubeError, ToolchainError

__all__ = ["Kube", "load_manifests", "require_client"]

Manifest = dict[str, Any]
FIELD_MANAGER = "labkit"


# ----------------------------------------------------------------- manifests
def load_manifests(manifests: str | os.PathLike | Manifest | Iterable[Manifest]) -> list[Manifest]:
    """YAML text (one or more documents), a file path, one dict or a list of dicts."""
    if isinstance(manifests, dict):
        docs: list = [manifests]
    elif isinstance(manifests, os.PathLike) or (isinstance(manifests, str) and "\n" not in manifests
                                                 and manifests.endswith((".yaml", ".yml", ".json"))):
        try:
            docs = list(yaml.safe_load_all(Path(manifests).read_text()))
        except FileNotFoundError:
            raise KubeError(f"manifest file not found: {manifests}") from None
    elif isinstance(manifests, str):
        try:
            docs = list(yaml.safe_load_all(manifests))
        except yaml.YAMLError as e:
            raise KubeError("the manifest is not valid YAML", cause=str(e)) from None
    else:
        docs = list(manifests)
    out = [d for d in docs if d]
    for doc in out:
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            raise KubeError("every manifest needs `apiVersion` and `kind`",
                            cause=yaml.safe_dump(doc, sort_keys=False)[:500])
        if not doc.get("metadata", {}).get("name"):
            raise KubeError(f"a {doc['kind']} manifest has no metadata.name")
    return out


# ----------------------------------------------------------------- the client
class Kube:
    """A kubectl-shaped client for one cluster."""

    def __init__(self, kubeconfig: str | os.PathLike | None = None, *, context: str | None = None,
                 source: str = ""):
        require_client()
        from kubernetes import client, config
        from kubernetes.dynamic import DynamicClient

        configuration = client.Configuration()
        try:
            if kubeconfig is None:
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(str(kubeconfig), context=context,
                                        client_configuration=configuration)
        except Exception as e:  # the client raises ConfigException, TypeError, yaml errors...
            raise KubeError(f"could not read the kubeconfig {kubeconfig}", cause=str(e),
                            fix="check the file (`kubectl config view`) and the context name") from None
        self.kubeconfig = Path(kubeconfig) if kubeconfig is not None else None
        self.source = source or str(kubeconfig)
        self.server = configuration.host
        self._api = client.ApiClient(configuration)
        # The dynamic client caches discovery in a file; a private one per Kube
        # (removed with it) so that no stale list of kinds outlives a cluster.
        self._discovery_dir = tempfile.TemporaryDirectory(prefix="labkit-kube-")
        self._dynamic = DynamicClient(self._api, cache_file=os.path.join(
            self._discovery_dir.name, "discovery.json"))
        self._index: dict[str, list] | None = None

    def __repr__(self) -> str:
        return f"<Kube {self.server} ({self.source})>"

    # -- kinds
    def _resources(self) -> dict[str, list]:
        """Every top-level resource, by kind, plural, singular and short names (lowercase)."""
        if self._index is None:
            index: dict[str, list] = {}
            for r in self._dynamic.resources.search():
                if not r.name or "/" in r.name or not r.kind or r.kind.endswith("List"):
                    continue
                for key in {r.kind, r.name, getattr(r, "singular_name", "") or "",
                            *(getattr(r, "short_names", None) or [])}:
                    if key:
                        index.setdefault(key.lower(), []).append(r)
            self._index = index
        return self._index

    def refresh(self) -> None:
        """Forget what kinds the server has (after CRDs were added or removed)."""
        self._dynamic.resources.invalidate_cache()
        self._index = None

    def _resource(self, kind: str, api_version: str | None = None):
        for attempt in (1, 2):
            candidates = self._resources().get(kind.lower(), [])
            if api_version:
                candidates = [r for r in candidates if r.group_version == api_version]
            if candidates:
                preferred = [r for r in candidates if getattr(r, "preferred", False)]
                return (preferred or candidates)[0]
            if attempt == 1:
                self.refresh()  # a CRD may have arrived since we looked
        what = f"{kind} ({api_version})" if api_version else kind
        istio = api_version and "istio.io" in api_version
        raise KubeError(
            f"this cluster does not know the kind {what}",
            fix="Istio's CRDs are not installed: install Istio, or use labkit's local control plane, "
                "which installs them" if istio else
                "check the spelling and apiVersion (`kubectl api-resources` lists the kinds)",
        )

    def has_kind(self, kind: str, api_version: str | None = None) -> bool:
        try:
            self._resource(kind, api_version)
            return True
        except KubeError:
            return False

    # -- verbs
    def apply(self, manifests: str | os.PathLike | Manifest | Iterable[Manifest], *,
              namespace: str | None = None, dry_run: bool = False) -> list[Manifest]:
        """Server-side apply each manifest; returns what the server stored (or would store).

        ``namespace`` fills in namespaced objects that do not name one.
        ``dry_run=True`` asks the server to validate and admit without storing.
        """
        results = []
        for doc in load_manifests(manifests):
            resource = self._resource(doc["kind"], doc["apiVersion"])
            ns = None
            if resource.namespaced:
                ns = doc.get("metadata", {}).get("namespace") or namespace or "default"
                doc = {**doc, "metadata": {**doc["metadata"], "namespace": ns}}
            extra = {"dry_run": "All"} if dry_run else {}
            obj = self._call(doc, lambda: resource.server_side_apply(
                body=doc, namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True, **extra))
            results.append(obj)
        return results

    def get(self, kind: str, name: str | None = None, *, namespace: str | None = None,
            api_version: str | None = None, label_selector: str | None = None
            ) -> Manifest | list[Manifest]:
        """One object by name, or a list of every object of that kind (in ``namespace``,
        with the labels ``label_selector`` names, e.g. ``"app=httpbin"``)."""
        resource = self._resource(kind, api_version)
        ns = (namespace or "default") if resource.namespaced else None
        where = {"kind": resource.kind, "metadata": {"name": name, "namespace": ns}}
        extra = {"label_selector": label_selector} if label_selector else {}
        got = self._call(where, lambda: resource.get(name=name, namespace=ns, **extra))
        return got["items"] if name is None else got

    def exists(self, kind: str, name: str, *, namespace: str | None = None,
               api_version: str | None = None) -> bool:
        try:
            self.get(kind, name, namespace=namespace, api_version=api_version)
            return True
        except KubeError as e:
            if e.status == 404:
                return False
            raise

    def delete(self, kind_or_manifests: str | os.PathLike | Manifest | Iterable[Manifest],
               name: str | None = None, *, namespace: str | None = None, wait: bool = True,
               timeout: float = 60.0) -> None:
        """Delete objects (by kind and name, or every object in manifests).

        Missing objects are fine. With ``wait`` it returns once they are gone
        (a namespace takes a moment: its contents are deleted first).
        """
        if name is not None:
            targets = [(self._resource(str(kind_or_manifests)), name, namespace)]
        else:
            targets = []
            for doc in reversed(load_manifests(kind_or_manifests)):  # dependents first
                resource = self._resource(doc["kind"], doc["apiVersion"])
                ns = (doc["metadata"].get("namespace") or namespace or "default") \
                    if resource.namespaced else None
                targets.append((resource, doc["metadata"]["name"], ns))
        for resource, obj_name, ns in targets:
            ns = (ns or "default") if resource.namespaced else None
            where = {"kind": resource.kind, "metadata": {"name": obj_name, "namespace": ns}}
            try:
                self._call(where, lambda: resource.delete(
                    name=obj_name, namespace=ns, body={"propagationPolicy": "Foreground"}))
            except KubeError as e:
                if e.status != 404:
                    raise
        if wait:
            for resource, obj_name, ns in targets:
                wait_for(lambda: not self.exists(resource.kind, obj_name, namespace=ns,
                                                 api_version=resource.group_version),
                         timeout=timeout, interval=0.2, what=f"{resource.kind} {obj_name!r} to be gone",
                         error=lambda message, seen: KubeError(
                             f"{resource.kind} {obj_name!r} still exists after {timeout:.0f} s",
                             fix="a finalizer is holding it: look at metadata.finalizers and the "
                                 "object's status"))

    def wait_for(self, kind: str, name: str, condition: str, *, namespace: str | None = None,
                 timeout: float = 60.0) -> Manifest:
        """Wait until ``status.conditions`` has ``condition`` with status True."""
        last: dict = {}

        def met() -> Manifest | None:
            obj = self.get(kind, name, namespace=namespace)
            last["status"] = obj.get("status", {})
            for c in obj.get("status", {}).get("conditions", []) or []:
                if c.get("type") == condition and c.get("status") == "True":
                    return obj
            return None

        return wait_for(met, timeout=timeout, interval=0.1, what=f"{kind} {name!r} to be {condition}",
                        error=lambda message, seen: KubeError(
                            f"{kind} {name!r} is not {condition} after {timeout:.0f} s",
                            cause=json.dumps(last.get("status", {}), indent=1)[:1500]))

    def nodes(self) -> list[str]:
        """The names of the cluster's nodes (none for labkit's local control plane)."""
        return [n["metadata"]["name"] for n in self.get("Node")]

    def exec(self, pod: str, command: list[str], *, namespace: str | None = None,
             container: str | None = None, timeout: float = 60.0) -> str:
        """Run ``command`` in a pod's container and return what it printed (``kubectl exec``)."""
        from kubernetes import client
        from kubernetes.stream import stream

        ns = namespace or "default"
        core = client.CoreV1Api(self._api)
        where = {"kind": "Pod", "metadata": {"name": pod, "namespace": ns}}
        extra = {"container": container} if container else {}
        return self._call(where, lambda: stream(
            core.connect_get_namespaced_pod_exec, pod, ns, command=list(command), stderr=True,
            stdin=False, stdout=True, tty=False, _request_timeout=timeout, **extra))

    def version(self) -> str:
        from kubernetes import client

        return client.VersionApi(self._api).get_code().git_version

    # -- errors
    def _call(self, doc: Manifest, fn):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as URLLibError

        try:
            result = fn()
        except ApiException as e:
            raise _api_error(doc, e) from None
        except (URLLibError, OSError) as e:
            raise KubeError(f"could not reach the Kubernetes API at {self.server}", cause=str(e),
                            fix="is the cluster running? (`labkit cluster status` for the local one)"
                            ) from None
        return result.to_dict() if hasattr(result, "to_dict") else result


def _api_error(doc: Manifest, e) -> KubeError:
    """The server's Status object, turned into a short, specific error."""
    body = getattr(e, "body", None) or ""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        status = {}
    message = status.get("message") or getattr(e, "reason", "") or str(e)
    reason = status.get("reason", "")
    meta = doc.get("metadata", {})
    what = f"{doc.get('kind', 'object')} {meta.get('name')!r}" + (
        f" in namespace {meta['namespace']!r}" if meta.get("namespace") else "")
    fixes = {
        "Invalid": "the manifest does not match the kind's schema: correct the fields the server names",
        "NotFound": "check the name and namespace (`get(kind)` lists what exists)",
        "AlreadyExists": "it exists already: `apply` updates it in place",
        "Forbidden": "your credentials may not do this: check your RBAC role",
        "Conflict": "someone else changed it: read it again and retry",
    }
    fix = fixes.get(reason)
    if "failed to create typed patch object" in message:
        # Server-side apply checks field types before validation and answers 500 for it.
        fix = "a field has the wrong type for the kind's schema (e.g. text where a number goes)"
    causes = [f"{c.get('field', '')}: {c.get('message', '')}".strip(": ")
              for c in (status.get("details") or {}).get("causes", []) or []]
    return KubeError(f"the API server refused {what}: {message}", status=e.status, reason=reason,
                     cause="\n".join(causes) or None, fix=fix)


def require_client() -> None:
    """Raise a ToolchainError with the fix when the ``kubernetes`` client is missing."""
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        raise ToolchainError("the `kubernetes` Python client is not installed",
                             fix="install labkit's mesh extra: pip install 'labkit[mesh]' "
                                 "(`make env` does)") from None
