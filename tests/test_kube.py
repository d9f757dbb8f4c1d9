"""labkit.kube.Kube against a real kube-apiserver + etcd with Istio's CRDs.

The session's control plane comes from the ``control_plane`` fixture
(tests/conftest.py). No mocks: every check here is the API server's verdict.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest
import yaml

import labkit

pytestmark = pytest.mark.kube

DATA = Path(__file__).parent / "data" / "kube"
HTTPBIN = DATA / "httpbin.yaml"
ENVOYFILTER = DATA / "envoyfilter.yaml"
WASMPLUGIN = DATA / "wasmplugin.yaml"


@pytest.fixture
def kube(control_plane) -> labkit.kube.Kube:
    return control_plane.kube()


@pytest.fixture
def namespace(kube):
    """A fresh namespace, deleted (and waited for) after the test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.delete("namespace", name, wait=False)


def wasmplugin(**spec) -> dict:
    doc = yaml.safe_load(WASMPLUGIN.read_text())
    doc["spec"].update(spec)
    return doc


# ------------------------------------------------------------- the server
def test_the_control_plane_is_the_pinned_kubernetes(control_plane, kube):
    assert kube.version() == labkit.kube.KUBERNETES_VERSION
    assert control_plane.server.startswith("https://127.0.0.1:")
    # certificates, keys and kubeconfig live in the (git-ignored) workspace
    assert control_plane.kubeconfig.is_relative_to(labkit.workspace())
    for f in ("ca.crt", "apiserver.crt", "admin.crt", "admin.key", "sa.key", "sa.pub"):
        assert (control_plane.dir / "pki" / f).is_file(), f


def test_istio_crds_are_established(kube):
    crds = {c["metadata"]["name"]: c for c in kube.get("customresourcedefinitions")}
    for name in ("envoyfilters.networking.istio.io", "wasmplugins.extensions.istio.io",
                 "trafficextensions.extensions.istio.io"):
        conditions = {c["type"]: c["status"] for c in crds[name]["status"]["conditions"]}
        assert conditions.get("Established") == "True", name
    assert kube.has_kind("WasmPlugin", "extensions.istio.io/v1alpha1")
    assert kube.has_kind("EnvoyFilter", "networking.istio.io/v1alpha3")


# ------------------------------------------------------------- apply and read back
def test_httpbin_deployment_service_and_serviceaccount(kube, namespace):
    applied = kube.apply(HTTPBIN, namespace=namespace)
    assert [o["kind"] for o in applied] == ["ServiceAccount", "Service", "Deployment"]

    deployment = kube.get("deployment", "httpbin", namespace=namespace)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "httpbin"
    assert pod["containers"][0]["ports"][0]["containerPort"] == 8080
    # the server filled in defaults: proof it stored and admitted the object
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"

    service = kube.get("svc", "httpbin", namespace=namespace)
    assert service["spec"]["ports"][0]["port"] == 8000
    assert service["spec"]["clusterIP"].startswith("10.96.")  # allocated from the service range

    assert kube.get("serviceaccount", "httpbin", namespace=namespace)["metadata"]["name"] == "httpbin"
    # kube-controller-manager's service-account controller gives every namespace a `default`
    assert kube.exists("serviceaccount", "default", namespace=namespace) or _eventually(
        lambda: kube.exists("serviceaccount", "default", namespace=namespace))


def test_apply_twice_updates_in_place(kube, namespace):
    first = kube.apply(HTTPBIN, namespace=namespace)[2]
    changed = yaml.safe_load_all(HTTPBIN.read_text())
    docs = list(changed)
    docs[2]["spec"]["replicas"] = 3
    second = kube.apply(docs, namespace=namespace)[2]
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert kube.get("deployment", "httpbin", namespace=namespace)["spec"]["replicas"] == 3


def test_envoyfilter_and_wasmplugin(kube, namespace):
    kube.apply(ENVOYFILTER, namespace=namespace)
    kube.apply(WASMPLUGIN, namespace=namespace)

    ef = kube.get("EnvoyFilter", "headers-extension", namespace=namespace)
    patches = ef["spec"]["configPatches"]
    assert [p["applyTo"] for p in patches] == ["EXTENSION_CONFIG", "HTTP_FILTER"]
    assert patches[0]["patch"]["value"]["typed_config"]["config"]["vm_config"]["code"]["remote"]["sha256"]

    wp = kube.get("wasmplugin", "headers-extension", namespace=namespace)
    assert wp["spec"]["url"] == "http://bucket.example/add-header.wasm"
    assert wp["spec"]["pluginConfig"] == {"header_1": "somevalue", "header_2": "secondvalue"}
    assert [o["metadata"]["name"] for o in kube.get("wasmplugins", namespace=namespace)] == \
        ["headers-extension"]


def test_server_side_dry_run_validates_without_storing(kube, namespace):
    result = kube.apply(WASMPLUGIN, namespace=namespace, dry_run=True)[0]
    assert result["spec"]["failStrategy"] == "FAIL_CLOSE"
    assert not kube.exists("wasmplugin", "headers-extension", namespace=namespace)
    # and a bad manifest is refused by a dry run just as by a real apply
    with pytest.raises(labkit.errors.KubeError) as err:
        kube.apply(wasmplugin(failStrategy="FAIL_SOMETIMES"), namespace=namespace, dry_run=True)
    assert err.value.status == 422


# ------------------------------------------------------------- what the server refuses
def test_crd_schema_violation_is_refused_with_the_servers_message(kube, namespace):
    with pytest.raises(labkit.errors.KubeError) as err:
        kube.apply(wasmplugin(failStrategy="FAIL_SOMETIMES"), namespace=namespace)
    e = err.value
    assert (e.status, e.reason) == (422, "Invalid")
    assert "WasmPlugin 'headers-extension'" in e.message
    assert "spec.failStrategy" in str(e) and "FAIL_SOMETIMES" in str(e)
    assert "FAIL_CLOSE" in str(e)  # the server lists the supported values
    assert "schema" in e.fix
    assert not kube.exists("wasmplugin", "headers-extension", namespace=namespace)


def test_wrong_type_in_envoyfilter_is_refused(kube, namespace):
    doc = yaml.safe_load(ENVOYFILTER.read_text())
    doc["spec"]["priority"] = "high"  # an int32 in the CRD's schema
    with pytest.raises(labkit.errors.KubeError) as err:
        kube.apply(doc, namespace=namespace)
    # server-side apply checks types while building the patch (and answers 500, not 422)
    assert ".spec.priority: expected numeric" in err.value.message
    assert "wrong type" in err.value.fix
    assert not kube.exists("envoyfilter", "headers-extension", namespace=namespace)


def test_unknown_kind_says_what_is_missing(kube):
    with pytest.raises(labkit.errors.KubeError, match="does not know the kind WasmPlugins"):
        kube.get("WasmPlugins", "x", api_version="extensions.istio.io/v9")


def test_manifest_without_kind_is_refused_before_the_server(kube):
    with pytest.raises(labkit.errors.KubeError, match="apiVersion` and `kind`"):
        kube.apply("metadata:\n  name: x\n")


def test_missing_object_is_a_404(kube, namespace):
    with pytest.raises(labkit.errors.KubeError) as err:
        kube.get("deployment", "nope", namespace=namespace)
    assert err.value.status == 404 and "not found" in err.value.message


# ------------------------------------------------------------- delete
def test_delete_everything_and_see_it_gone(kube):
    ns = f"t-{uuid.uuid4().hex[:8]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for manifest in (HTTPBIN, ENVOYFILTER, WASMPLUGIN):
        kube.apply(manifest, namespace=ns)
    kube.delete(WASMPLUGIN, namespace=ns)
    kube.delete(ENVOYFILTER, namespace=ns)
    kube.delete(HTTPBIN, namespace=ns)
    for kind in ("wasmplugin", "envoyfilter", "deployment", "service", "serviceaccount"):
        assert not kube.exists(kind, "headers-extension" if kind in ("wasmplugin", "envoyfilter")
                               else "httpbin", namespace=ns), kind
    # a namespace is finalized by kube-controller-manager's namespace controller
    kube.delete("namespace", ns, timeout=60)
    assert not kube.exists("namespace", ns)
    # deleting what is already gone is fine
    kube.delete(HTTPBIN, namespace=ns)


def _eventually(check, timeout: float = 15.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_copy_of_manifest_is_not_mutated(kube, namespace):
    doc = wasmplugin()
    before = copy.deepcopy(doc)
    kube.apply(doc, namespace=namespace)
    assert doc == before  # labkit adds the namespace to a copy
