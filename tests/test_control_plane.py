"""The local control plane: finding a cluster, the CLI, and clear startup failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

import labkit
from helpers import LABKIT_CLI, REPO, alive, gone, names_running, unique

pytestmark = pytest.mark.kube


def assert_nothing_left(name: str) -> None:
    left = {n for n in names_running() if n.startswith(f"{name}-")}
    assert not left, f"left running: {left}"


# ------------------------------------------------------------- startup failures
def test_port_taken_is_reported_before_anything_starts():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        name = unique("kc")
        with pytest.raises(labkit.errors.PortInUseError) as err:
            labkit.kube.ControlPlane(name, port=port).start()
    assert str(port) in err.value.message
    assert "the kube-apiserver port" in err.value.message  # which port it was
    assert "this Python process itself" in err.value.message  # names who holds it
    assert_nothing_left(name)


def test_etcd_that_cannot_start_is_reported_with_its_log():
    name = unique("kc")
    plane = labkit.kube.ControlPlane(name, crds=False)
    # damaged data: etcd's database file is not a database
    snap = plane.dir / "etcd" / "member" / "snap"
    snap.mkdir(parents=True)
    (snap / "db").write_bytes(b"this is not a bbolt database" * 100)
    with pytest.raises(labkit.errors.ClusterError) as err:
        plane.start()
    e = err.value
    assert e.message == "etcd did not start"
    assert e.cause and "db" in e.cause  # etcd's own last log lines
    assert "--purge" in e.fix
    assert_nothing_left(name)
    # and the fix it gives works
    plane.purge()
    assert not plane.dir.exists()
    with plane:
        assert plane.kube().has_kind("Namespace")
    assert_nothing_left(name)
    plane.purge()


def test_build_failure_shows_the_last_lines_of_go(tmp_path):
    with pytest.raises(labkit.BuildError) as err:
        labkit.kube.build_control_plane("v1.37.99", cache=tmp_path, progress=None)
    e = err.value
    assert "download k8s.io/kubernetes" in e.message
    assert "v1.37.99" in e.output  # Go's own words, not a paraphrase
    assert labkit.kube.KUBERNETES_VERSION in e.fix
    assert (tmp_path / "kubernetes-v1.37.99" / "build.log").is_file()
    assert not (tmp_path / "kubernetes-v1.37.99" / "build.json").exists()  # nothing cached


def test_unknown_istio_release_is_reported_before_anything_starts():
    name = unique("kc")
    with pytest.raises(labkit.errors.ClusterError) as err:
        labkit.kube.ControlPlane(name, istio_version="0.0.99").start()
    assert "Istio 0.0.99's CRDs" in err.value.message
    assert labkit.kube.ISTIO_VERSION in err.value.fix
    assert_nothing_left(name)


def test_crd_file_without_the_labs_kinds_is_refused(tmp_path):
    from labkit.kube.crds import crd_documents

    bad = tmp_path / "crds.yaml"
    bad.write_text("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                   "metadata: {name: things.example.com}\n"
                   "spec: {names: {kind: Thing}}\n")
    with pytest.raises(labkit.errors.ClusterError, match="lacks EnvoyFilter, WasmPlugin") as err:
        crd_documents(bad)
    assert "Thing" in err.value.cause


def test_without_crds_istio_kinds_are_unknown_and_the_error_says_why():
    name = unique("kc")
    with labkit.kube.ControlPlane(name, crds=False) as plane:
        kube = plane.kube()
        assert kube.has_kind("Deployment")
        with pytest.raises(labkit.errors.KubeError) as err:
            kube.apply({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                        "metadata": {"name": "x"}, "spec": {"url": "http://x/y.wasm"}})
        assert "does not know the kind WasmPlugin" in err.value.message
        assert "CRDs are not installed" in err.value.fix
    assert_nothing_left(name)
    plane.purge()


# ------------------------------------------------------------- finding a cluster
@pytest.fixture
def no_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_connect_uses_kubeconfig_env_first(control_plane, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    assert labkit.kube.find_kubeconfig() == (control_plane.kubeconfig, "$KUBECONFIG")
    kube = labkit.connect()
    assert kube.source == "$KUBECONFIG"
    assert kube.server == control_plane.server


def test_connect_reads_home_kubeconfig(control_plane, no_kubeconfig, tmp_path):
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(control_plane.kubeconfig.read_text())
    kube = labkit.connect()
    assert kube.source == "~/.kube/config"
    assert kube.version() == labkit.kube.KUBERNETES_VERSION


def test_connect_without_any_cluster_says_what_to_do(no_kubeconfig):
    assert labkit.kube.find_kubeconfig() == (None, "")
    # the session's control plane has another name than the default "cluster"
    with pytest.raises(labkit.errors.ClusterNotFound) as err:
        labkit.connect()
    assert "make cluster" in err.value.fix and "local=True" in err.value.fix


def test_broken_kubeconfig_is_a_clear_error(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(labkit.errors.KubeError, match="could not read the kubeconfig"):
        labkit.connect(bad)


# ------------------------------------------------------------- the command line
def test_cluster_up_status_down_from_a_terminal():
    env = {**os.environ}
    name = unique("kc")
    up = subprocess.run([LABKIT_CLI, "cluster", "up", "--name", name], env=env,
                        capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        assert "ready at https://127.0.0.1:" in up.stdout
        # detached: it outlives the command that started it
        assert {f"{name}-etcd", f"{name}-apiserver"} <= names_running()
        again = subprocess.run([LABKIT_CLI, "cluster", "up", "--name", name], env=env,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout  # `make cluster` twice
        status = subprocess.run([LABKIT_CLI, "cluster", "status", "--name", name], env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert f"Kubernetes {labkit.kube.KUBERNETES_VERSION}" in status.stdout
        info = json.loads((labkit.workspace() / ".labkit" / "clusters" / name / "cluster.json")
                          .read_text())
        assert info["istio_crds"] == labkit.kube.ISTIO_VERSION
    finally:
        down = subprocess.run([LABKIT_CLI, "cluster", "down", "--name", name, "--purge"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert_nothing_left(name)
    status = subprocess.run([LABKIT_CLI, "cluster", "status", "--name", name], env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 1 and "not running" in status.stdout


# ------------------------------------------------------------- never outlives its owner
def test_killing_the_owner_stops_the_whole_control_plane(workspace):
    """Like a kernel SIGKILLed by nbval: etcd, kube-apiserver and the controller manager die too."""
    name = unique("kc")
    script = textwrap.dedent(f"""
        import json, labkit, time
        plane = labkit.kube.ControlPlane({name!r}, crds=False).start()
        print(json.dumps({{role: p.pid for role, p in plane._processes.items()}}), flush=True)
        time.sleep(300)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "LABKIT_WORKSPACE": str(workspace)})
    try:
        pids = json.loads(owner.stdout.readline())
        assert set(pids) == {"etcd", "apiserver", "controller-manager"}
        assert all(alive(pid) for pid in pids.values())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        for role, pid in pids.items():
            assert gone(pid, timeout=15), f"{role} outlived the process that started it"
        assert_nothing_left(name)
    finally:
        if owner.poll() is None:
            owner.kill()
        labkit.kube.ControlPlane(name).purge()


# ------------------------------------------------------------- the build cache
def test_binaries_are_cached_and_keyed_by_version(control_plane):
    said: list[str] = []
    binaries = labkit.kube.build_control_plane(progress=said.append)
    assert said == []  # nothing was built: the session's plane already needed them
    assert (binaries.kubernetes_version, binaries.etcd_version) == (labkit.kube.KUBERNETES_VERSION,
                                                                    labkit.kube.ETCD_VERSION)
    version = subprocess.run([binaries.etcd, "--version"], capture_output=True, text=True).stdout
    assert f"etcd Version: {labkit.kube.ETCD_VERSION.lstrip('v')}" in version
    version = subprocess.run([binaries.kube_apiserver, "--version"], capture_output=True,
                             text=True).stdout
    assert version.strip() == f"Kubernetes {labkit.kube.KUBERNETES_VERSION}"
    # the build module pins Kubernetes and maps each staging module to its published twin
    go_mod = (binaries.dir.parent / "src" / "go.mod").read_text()
    assert f"k8s.io/kubernetes {labkit.kube.KUBERNETES_VERSION}" in go_mod
    assert "k8s.io/client-go => k8s.io/client-go v0.37.2" in go_mod
    # another pinned version is another cache entry: it would be built, not reused
    from labkit.kube.build import _binaries, _entry

    assert _binaries(_entry(labkit.kube.KUBERNETES_VERSION, "v3.6.0")) is None
    assert _binaries(_entry(labkit.kube.KUBERNETES_VERSION, labkit.kube.ETCD_VERSION)) == binaries
    # the cache is per user (a second clone reuses it), not inside the checkout
    assert not binaries.dir.is_relative_to(REPO)
    doctor = {t.name: t for t in labkit.doctor().tools}
    assert doctor["kube-apiserver"].ok and doctor["kube-apiserver"].path == str(binaries.kube_apiserver)
