"""Istio for real: istiod and pilot-agent built from source, the lab's Envoy as the gateway.

One mesh serves the module (istiod + gateway + httpbin + bucket on the session's
control plane, with the httpbin routing applied). Each test applies its own
WasmPlugin or EnvoyFilter and deletes it afterwards. Every status asserted is
the gateway's real answer; every message, labkit's or the agent's own words.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import labkit
from helpers import alive, gone, unique
from labkit import istio
from labkit._wait import wait_for

pytestmark = [pytest.mark.istio, pytest.mark.kube, pytest.mark.envoy, pytest.mark.go]


@pytest.fixture(scope="module")
def mesh(control_plane):
    m = istio.Mesh(f"t-{unique('m')[-4:]}", cluster=control_plane.name)
    m.start()
    m.kube.apply(m.routing())
    m.wait_for_route()
    yield m
    m.cleanup()


@pytest.fixture(scope="module")
def modules(mesh):
    """The config-json example (headers from JSON) in two builds: as is, and with x-build: 2."""
    ext = labkit.scaffold("istio-json", example="config-json", overwrite=True)
    first = mesh.bucket.put(ext.build())
    source = ext.read()
    anchor = "func (ctx *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {"
    assert source.count(anchor) == 1
    ext.write("main.go", source.replace(anchor, anchor + '\n\tproxywasm.AddHttpResponseHeader("x-build", "2")'))
    second = mesh.bucket.put(ext.build())
    ext.write("main.go", source)
    return first, second


@pytest.fixture
def plugin(mesh):
    """Apply WasmPlugins under one unique name; deleted after the test."""
    name = unique("wp")

    def apply(module, *, sha256=None, **kwargs):
        manifest = istio.wasm_plugin(name, url=module.url, sha256=sha256 or module.sha256, **kwargs)
        mesh.kube.apply(manifest)
        return manifest

    yield apply
    mesh.kube.delete("WasmPlugin", name, namespace=istio.ISTIO_NAMESPACE)


def statuses_until(mesh, wanted: int, path: str = "/headers", timeout: float = 30) -> labkit.Response:
    return wait_for(lambda: (r := labkit.curl(mesh.gateway, path)).status == wanted and r,
                    timeout=timeout, interval=0.25, what=f"the gateway to answer {wanted}")


# ------------------------------------------------------------------ the real path
def test_the_gateway_is_connected_and_routes_to_httpbin(mesh):
    status = mesh.istiod.proxy_status()
    assert mesh.gateway.proxy_id in str(status)
    assert status.synced(mesh.gateway.proxy_id), str(status)
    r = labkit.curl(mesh.gateway, "/headers")
    assert r.status == 200
    assert "X-Envoy-Decorator-Operation" in r.text  # httpbin echoes what the gateway sent it
    assert mesh.gateway.listeners()  # istiod's listener plus the agent's own


def test_wasmplugin_http_sha256_adds_the_header(mesh, modules, plugin):
    module = modules[0]
    plugin(module, plugin_config={"headers": {"x-team": "wasm-lab"}})
    r = mesh.expect_header("x-team", "wasm-lab")
    assert r.status == 200
    # The agent fetched and checked the module; Envoy got a local file in its cache,
    # which here is the lab's folder bound over /var/lib/istio/data.
    dump = json.dumps(mesh.gateway.config_dump("ecds_filters"))
    assert f"/var/lib/istio/data/" in dump and f"{module.sha256}.wasm" in dump
    assert any(p.name == f"{module.sha256}.wasm" for p in mesh.gateway.wasm_cache.rglob("*.wasm"))
    assert '{\\"headers\\":{\\"x-team\\":\\"wasm-lab\\"}}' in dump  # pluginConfig, as JSON text


def test_a_new_module_swaps_in_under_load_without_a_failed_request(mesh, modules, plugin):
    first, second = modules
    plugin(first, plugin_config={"headers": {"x-team": "v1"}})
    mesh.expect_header("x-team", "v1")
    with labkit.traffic(mesh.gateway, "/status/200") as during:
        plugin(second, plugin_config={"headers": {"x-team": "v1"}})
        mesh.expect_header("x-build", "2", path="/status/200")
    assert len(during) > 10
    assert during.failed == [], during.counts("x-build")


def test_a_wrong_sha256_denies_every_request(mesh, modules, plugin):
    mark = mesh.gateway.log_offset()
    plugin(modules[0], sha256="0" * 64, plugin_config={"headers": {"x-team": "x"}})
    r = statuses_until(mesh, 403)
    assert r.text == "RBAC: access denied"
    log = mesh.gateway.logs(since=mark)
    assert f"has checksum {modules[0].sha256}, which does not match: {'0' * 64}" in log
    assert "applying deny RBAC filter" in log


def test_an_unreachable_module_fails_closed_or_open(mesh, plugin):
    gone_module = labkit.RemoteModule("http://127.0.0.1:9/nothing.wasm", "1" * 64)
    plugin(gone_module, fail_strategy="FAIL_CLOSE")
    statuses_until(mesh, 403)  # after the agent's five download attempts
    assert "connect: connection refused. applying deny RBAC filter" in mesh.gateway.logs()
    plugin(gone_module, fail_strategy="FAIL_OPEN")
    r = statuses_until(mesh, 200)  # the filter is skipped: requests pass without it
    assert "X-Envoy-Decorator-Operation" in r.text


def test_envoyfilter_with_remote_code(mesh, modules):
    """The tutorial's method (with the sha256 and the cluster it lacked)."""
    ext = labkit.scaffold("istio-headers", example="config-headers")
    module = mesh.bucket.put(ext.build())
    name = unique("ef")
    try:
        mesh.kube.apply(istio.envoy_filter(name, url=module.url, sha256=module.sha256,
                                           cluster_address="127.0.0.1", cluster_port=mesh.bucket.port,
                                           configuration="header_1=somevalue\n"))
        mesh.expect_header("header_1", "somevalue")
    finally:
        mesh.kube.delete("EnvoyFilter", name, namespace=istio.ISTIO_NAMESPACE)
    wait_for(lambda: "header_1" not in labkit.curl(mesh.gateway, "/headers").headers, timeout=30,
             what="the EnvoyFilter's header to go")

    # A new one with a wrong sha256: the agent swaps in a deny filter, which this
    # filter's config_discovery (Wasm only) refuses, and requests fail with 500.
    bad = unique("ef")
    mark = mesh.gateway.log_offset()
    try:
        mesh.kube.apply(istio.envoy_filter(bad, url=module.url, sha256="2" * 64,
                                           cluster_address="127.0.0.1", cluster_port=mesh.bucket.port))
        statuses_until(mesh, 500)
        log = mesh.gateway.logs(since=mark)
        assert "which does not match: " + "2" * 64 in log
        assert "has type URL envoy.extensions.filters.http.rbac.v3.RBAC" in log
    finally:
        mesh.kube.delete("EnvoyFilter", bad, namespace=istio.ISTIO_NAMESPACE)
    statuses_until(mesh, 200)


# ------------------------------------------------------------------ bad input
def test_the_crd_schema_refuses_a_bad_wasmplugin(mesh, modules):
    bad = istio.wasm_plugin(unique("wp"), url=modules[0].url, sha256=modules[0].sha256,
                            fail_strategy="FAIL_SOMETIMES")
    with pytest.raises(labkit.errors.KubeError) as info:
        mesh.kube.apply(bad)
    assert info.value.status == 422 and info.value.reason == "Invalid"
    assert "failStrategy" in str(info.value) and "FAIL_CLOSE" in str(info.value)


def test_a_gateway_selector_that_matches_nothing_is_explained(mesh):
    proxy_gateway = mesh.kube.get("Gateway", "labkit-gateway", namespace=mesh.namespace)
    try:
        mesh.kube.apply(istio.gateway("labkit-gateway", mesh.namespace, mesh.gateway.port,
                                      selector={"istio": "nothing"}))
        with pytest.raises(labkit.CheckFailed) as info:
            wait_for(lambda: not any(a.endswith(f":{mesh.gateway.port}") for a in mesh.gateway.listeners()),
                     timeout=20, what="the listener to go")
            mesh.wait_for_route(timeout=3)
        err = info.value
        assert f"no listener on port {mesh.gateway.port}" in err.message and "istiod sent it none" in err.message
        assert "selects {'istio': 'nothing'}: matches nothing here" in err.cause
    finally:
        mesh.kube.apply(istio.gateway("labkit-gateway", mesh.namespace, mesh.gateway.port,
                                      selector=proxy_gateway["spec"]["selector"]))
    mesh.wait_for_route()


def test_istio_not_built_says_how_to_and_how_long(tmp_path, monkeypatch, control_plane,
                                                 fresh_toolchain):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(labkit.errors.ToolchainError) as info:
        istio.Istiod(control_plane.kubeconfig, name=unique("istiod")).start()
    assert "not built yet" in info.value.message
    assert "make istio" in info.value.fix and "minutes" in info.value.fix
    tools = {t.name: t for t in labkit.doctor().tools}
    assert not tools["istiod"].ok and "make istio" in tools["istiod"].fix


def test_istiod_port_taken(control_plane):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(labkit.errors.PortInUseError) as info:
            istio.Istiod(control_plane.kubeconfig, name=unique("istiod"), ports={"grpc": port}).start()
    assert info.value.role == "istiod grpc" and info.value.port == port


def test_istiod_without_an_api_server_shows_its_log(tmp_path, control_plane):
    kubeconfig = tmp_path / "kubeconfig"
    port = labkit.free_port()  # nothing listens there
    kubeconfig.write_text(control_plane.kubeconfig.read_text().replace(
        control_plane.server, f"https://127.0.0.1:{port}"))
    istiod = istio.Istiod(kubeconfig, name=unique("istiod"), timeout=15)
    with pytest.raises(labkit.errors.ProcessError) as info:
        istiod.start()
    err = info.value
    assert err.name == istiod.name
    assert f"nothing answers at https://127.0.0.1:{port}" in err.log_tail
    assert "waiting for sync" in err.log_tail  # istiod's own words, not its "not ready" noise
    assert f"could not reach the Kubernetes API at https://127.0.0.1:{port}" in err.fix
    assert not istiod.running


def test_without_user_namespaces_the_gateway_says_why_and_what_to_do(mesh, tmp_path):
    """In a user namespace whose max_user_namespaces is 0, no further one can be made:
    what a learner meets where the kernel or a container forbids them."""
    script = textwrap.dedent(f"""
        import labkit
        from labkit.istio.gateway import require_user_namespaces
        try:
            require_user_namespaces()
        except labkit.errors.ToolchainError as e:
            print("MESSAGE", e.message)
            print("CAUSE", e.cause)
            print("FIX", e.fix)
    """)
    out = subprocess.run(["unshare", "-r", "sh", "-c",
                          "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"", "x",
                          sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "does not let labkit make a user namespace" in out.stdout
    assert "No space left on device" in out.stdout
    assert "user.max_user_namespaces" in out.stdout and "unprivileged_userns_clone" in out.stdout


# ------------------------------------------------------------------ teardown
OWNER = """\
import json, sys, time
import labkit
mesh = labkit.istio.Mesh({name!r}, cluster={cluster!r}).start()
pids = {{"istiod": mesh.istiod.pid, "gateway": mesh.gateway.pid, "httpbin": mesh.httpbin.pid,
        "bucket": mesh.bucket.pid}}
import psutil
pids["envoy"] = next(p.pid for p in psutil.Process(mesh.gateway.pid).children(recursive=True)
                     if "envoy" in p.name())
print(json.dumps(pids), flush=True)
time.sleep(300)
"""


def test_killing_the_owner_leaves_no_mesh_process(control_plane, tmp_path):
    name = unique("own")
    owner = subprocess.Popen([sys.executable, "-c", OWNER.format(name=name, cluster=control_plane.name)],
                             stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = owner.stdout.readline()
        assert line, f"the owner failed (exit code {owner.poll()})"
        pids = json.loads(line)
        assert all(alive(pid) for pid in pids.values())
        os.kill(owner.pid, signal.SIGKILL)
        for part, pid in pids.items():
            assert gone(pid, timeout=20), f"{part} (pid {pid}) outlived the process that started it"
        assert not [r for r in labkit.running_processes() if r["name"].startswith(name)]
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()


def test_cleanup_deletes_every_labelled_object_and_stops_everything(control_plane):
    mesh = istio.Mesh(unique("clean"), cluster=control_plane.name,
                      demo_namespace=unique("demo")).start()
    mesh.kube.apply(mesh.routing())
    parts = [mesh.istiod, mesh.gateway, mesh.httpbin, mesh.bucket]
    deleted = mesh.cleanup()
    assert {"VirtualService", "Gateway", "ServiceEntry"} <= {d.split()[0] for d in deleted}
    selector = ",".join(f"{k}={v}" for k, v in istio.LABELS.items())
    for kind in ("WasmPlugin", "EnvoyFilter", "VirtualService", "Gateway", "ServiceEntry"):
        for ns in (istio.ISTIO_NAMESPACE, mesh.namespace):
            assert control_plane.kube().get(kind, namespace=ns, label_selector=selector) == []
    assert not any(p.running for p in parts)
    assert control_plane.running  # a control plane the mesh reused keeps running
