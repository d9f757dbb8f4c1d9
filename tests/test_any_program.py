"""Programs from outside the lab's own examples, run for real with Go and Envoy.

Each test is one thing a correct Proxy-Wasm Go program may need: a module of
its own, a multi-line log, an upstream, a TCP listener, a bootstrap service,
a dispatched call, route metadata, a shared VM, a full envoy.yaml of its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import labkit
from helpers import EXAMPLES, unique
from labkit import EnvoyConfig, WasmFilter
from labkit._wait import wait_for
from labkit.envoy import Listener, Route, TcpListener, WasmService, go_panic
from labkit.errors import ModuleError

pytestmark = pytest.mark.go
FILTERS = Path(__file__).resolve().parent / "data" / "filters"
GJSON = "github.com/tidwall/gjson"
VALID = '{"name": "ada", "email": "ada@example.com"}'


def _built(name: str, *, example: str | None = None, source: str | None = None) -> labkit.Build:
    """Build an example, or one of the test filters in tests/data/filters."""
    ext = labkit.scaffold(unique(name), example=example)
    if source is not None:
        ext.write("main.go", (FILTERS / source).read_text())
    return ext.build()


def _project_from_elsewhere(folder: Path) -> Path:
    """A project as someone would hand it over: main.go and its own go.mod, no go.sum,
    and a `replace` pointing into the repository it was copied out of."""
    folder.mkdir(parents=True)
    shutil.copyfile(EXAMPLES / "json-body" / "main.go", folder / "main.go")
    (folder / "go.mod").write_text(
        "module example.com/their-filter\n\ngo 1.24\n\n"
        f"require (\n\t{labkit.SDK} {labkit.SDK_VERSION}\n\t{GJSON} v1.14.1\n)\n\n"
        f"replace {labkit.SDK} => ../..\n")
    (folder / "README.md").write_text("their notes\n")
    return folder


# ------------------------------------------------------------- dependencies
@pytest.mark.envoy
def test_a_project_with_its_own_go_mod_builds_and_runs_as_is(tmp_path, envoys):
    folder = _project_from_elsewhere(tmp_path / "their-filter")
    ext = labkit.scaffold(unique("elsewhere"), source=folder)
    gomod = ext.read("go.mod")
    assert "module example.com/their-filter" in gomod and f"{GJSON} v1.14.1" in gomod
    assert "replace" not in gomod, "a replace into a folder that is not there must go"
    assert ext.read("README.md") == "their notes\n"
    build = ext.build()
    assert f"{GJSON} v1.14.1 h1:" in ext.read("go.sum"), "build completes go.sum"
    assert (folder / "go.mod").read_text().count("replace") == 1, "the original is untouched"

    envoy = envoys(EnvoyConfig(WasmFilter(build, configuration={"required": ["name", "email"]}),
                               upstream="httpbin")).start()
    json = {"content-type": "application/json"}
    labkit.curl(envoy, "/anything", method="POST", headers=json, body=VALID) \
        .expect_status(200).expect_body("ada@example.com")   # httpbin echoes what it got
    labkit.curl(envoy, "/anything", method="POST", headers=json, body='{"name": "ada"}') \
        .expect_status(400).expect_body("missing field: email")
    # One message over three lines, checked whole.
    envoy.expect_wasm_logs("json-body configuration:\n  required: name, email\n  fields: 2")
    httpbin = envoy.httpbin
    assert httpbin is not None and httpbin.running
    envoy.stop()
    assert not httpbin.running, "the Envoy's own httpbin stops with it"

    # Scaffolding again (a notebook re-run) keeps the project's requirements.
    ext.scaffold()
    assert f"{GJSON} v1.14.1" in ext.read("go.mod")
    assert ext.build().sha256 == build.sha256


def test_an_import_go_mod_lacks_gets_its_own_message(workspace):
    ext = labkit.scaffold(unique("needs-gjson"))
    ext.write("main.go", (EXAMPLES / "json-body" / "main.go").read_text())
    before = ext.read("go.mod")
    with pytest.raises(ModuleError) as info:
        ext.build()
    error = info.value
    line = next(n for n, text in enumerate(ext.read().splitlines(), 1) if f'"{GJSON}"' in text)
    assert f"main.go:{line} imports {GJSON}, a module go.mod does not require" in str(error)
    assert "the code is fine" in error.fix
    assert re.search(rf"ext\.require\('{re.escape(GJSON)}@v\d+\.\d+\.\d+'\)", error.fix), error.fix
    assert ext.read("go.mod") == before, "the build must not add the module behind the learner's back"
    assert not ext.wasm.exists()

    assert ext.require(f"{GJSON}@v1.14.1") == "v1.14.1"
    ext.build().verify()
    ext.scaffold()    # the requirement survives a re-scaffold
    assert f"{GJSON} v1.14.1" in ext.read("go.mod")


def test_an_import_no_module_provides(workspace):
    ext = labkit.scaffold(unique("no-such-module"))
    source = ext.read().replace('import (', 'import (\n\t_ "github.com/envoy-wasm-lab/no-such-module/x"', 1)
    ext.write("main.go", source)
    with pytest.raises(ModuleError) as info:
        ext.build()
    assert "main.go:" in str(info.value) and "no-such-module" in str(info.value)
    assert "spelling" in info.value.fix


def test_an_example_brings_its_modules(workspace):
    ext = labkit.scaffold(unique("json-example"), example="json-body")
    assert f"{GJSON} v1.14.1" in ext.read("go.mod"), "the version examples/go.mod pins"
    ext.build().verify()


# ---------------------------------------------------------------------- logs
@pytest.mark.envoy
def test_a_panic_is_reported_once_with_the_line_in_main_go(envoys):
    build = _built("panics", source="panics.go")
    envoy = envoys(EnvoyConfig(WasmFilter(build))).start()
    mark = envoy.log_offset()
    labkit.curl(envoy, "/", headers={"x-panic": "1"})
    wait_for(lambda: any(ln.message.startswith("panic:") for ln in envoy.wasm_logs(since=mark)),
             timeout=5, what="the panic in the log")
    raw = envoy.logs(since=mark).count("wasm log")
    panics = [ln for ln in envoy.wasm_logs(since=mark) if "panic:" in ln.message]
    assert raw > 5, "the runtime writes a panic in many pieces"
    assert len(panics) == 1, [str(p) for p in panics]
    line = next(n for n, text in enumerate((FILTERS / "panics.go").read_text().splitlines(), 1)
                if "panic(" in text)
    short = go_panic(envoy.wasm_logs(since=mark)).short()
    assert short.splitlines()[0] == "panic: the test filter gives up"
    assert f"at main.explode (main.go:{line})" in short


# -------------------------------------------------------------- WasmFilter
@pytest.mark.envoy
def test_vm_configuration_reaches_on_vm_start(envoys):
    build = _built("vm-config", example="vm-config")
    envoy = envoys(EnvoyConfig(WasmFilter(build, vm_configuration="from the VM",
                                          configuration="from the plugin"))).start()
    labkit.curl(envoy).expect_status(200) \
        .expect_header("x-vm-config", "from the VM").expect_header("x-plugin-config", "from the plugin")


@pytest.mark.envoy
@pytest.mark.parametrize("vm_ids, values", [(("shared", "shared"), ["1", "2"]),
                                             (("a", "b"), ["1", "1"])], ids=["one-vm", "two-vms"])
def test_root_id_picks_the_plugin_and_vm_id_shares_the_vm(envoys, vm_ids, values):
    build = _built("vm-sharing", source="vm-sharing.go")
    filters = [WasmFilter(build, name=f"counter-{root}", root_id=root, vm_id=vm)
               for root, vm in zip(("a", "b"), vm_ids)]
    envoy = envoys(EnvoyConfig(filters)).start()
    r = labkit.curl(envoy).expect_status(200)
    # Each plugin knows its root id; sharing a VM, both count in the same variable.
    assert sorted([r.headers["x-root-a"], r.headers["x-root-b"]]) == values


# ------------------------------------------------------------- EnvoyConfig
@pytest.mark.envoy
def test_a_body_rewrite_shows_at_the_upstream(envoys):
    build = _built("body-rewrite", example="body-rewrite")
    rewrite = WasmFilter(build, configuration={"from": "world", "to": "WASM"})
    config = EnvoyConfig(rewrite, routes=[Route("/anything", upstream="httpbin"),
                                          Route("/", body="answered by Envoy\n")])
    envoy = envoys(config).start()
    labkit.curl(envoy, "/anything", method="POST", headers={"content-type": "text/plain"},
                body="hello world").expect_status(200).expect_body('"data": "hello WASM"')
    labkit.curl(envoy, "/").expect_status(200).expect_body("answered by Envoy")


@pytest.mark.envoy
def test_route_metadata_reaches_the_filter_on_each_listener(envoys):
    build = _built("route-metadata", source="route-metadata.go")
    config = EnvoyConfig(WasmFilter(build), routes=[Route("/a", metadata={"lab": {"team": "a"}}),
                                                    Route("/")],
                         # a second HTTP listener, with its own routes and the same filter
                         listeners=[Listener("second", filters=WasmFilter(build, name="second-filter"),
                                             routes=[Route("/", metadata={"lab": {"team": "b"}})])])
    envoy = envoys(config).start()
    labkit.curl(envoy, "/a").expect_header("x-team", "a")
    assert labkit.curl(envoy, "/").headers["x-team"].startswith("none")
    labkit.curl(envoy.url_of("second"), "/a").expect_header("x-team", "b")
    with pytest.raises(labkit.LabError, match="no listener named 'third'"):
        envoy.url_of("third")


@pytest.mark.envoy
def test_a_network_filter_on_a_tcp_listener(envoys):
    build = _built("tcp-count", example="tcp-count")
    config = EnvoyConfig(listeners=[TcpListener("tcp", upstream="httpbin", filters=WasmFilter(build))])
    envoy = envoys(config).start()
    assert set(envoy.ports) == {"main", "tcp"} and envoy.ports["tcp"] != envoy.port
    labkit.curl(envoy.url_of("tcp"), "/status/200").expect_status(200)
    envoy.expect_wasm_logs("opened")
    for metric in ("tcp_count_bytes_up", "tcp_count_bytes_down"):
        wait_for(lambda: envoy.stats().value(metric) >= 50, timeout=5, what=f"{metric} >= 50")


@pytest.mark.envoy
def test_a_singleton_service_ticks(envoys):
    build = _built("tick-service", example="tick-service")
    envoy = envoys(EnvoyConfig(services=[WasmService(build)])).start()
    envoy.expect_wasm_logs("tick 3", timeout=5)
    assert envoy.stats().value("tick_service_ticks") >= 3


@pytest.mark.envoy
def test_a_filter_dispatches_a_call_to_a_local_cluster(envoys):
    build = _built("dispatch-call", example="dispatch-call")
    envoy = envoys(EnvoyConfig(WasmFilter(build, configuration="auth"), clusters={"auth": "httpbin"})).start()
    labkit.curl(envoy).expect_status(200).expect_header("x-auth-status", "200")
    envoy.expect_wasm_logs("auth answered 200")


# ------------------------------------------------------------ Envoy(path)
def _yaml_with_module(folder: Path, build: labkit.Build) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build.path, folder / "main.wasm")
    text = (EXAMPLES / "log-headers" / "envoy.yaml").read_text()
    assert "filename: main.wasm" in text, "the example names its module relatively"
    port, admin = labkit.free_port(), labkit.free_port()
    text = text.replace("port_value: 10000", f"port_value: {port}").replace("port_value: 9901",
                                                                            f"port_value: {admin}")
    (folder / "envoy.yaml").write_text(text)
    return folder / "envoy.yaml"


@pytest.mark.envoy
@pytest.mark.parametrize("runner", ["envoy", "func-e"])
def test_a_yaml_with_relative_paths_runs_from_another_folder(log_headers, tmp_path, monkeypatch,
                                                             envoys, runner):
    _, build = log_headers
    config = _yaml_with_module(tmp_path / "conf", build)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    envoy = envoys(Path("..") / "conf" / "envoy.yaml", runner=runner).start()
    assert envoy.source_path == config.resolve()
    labkit.curl(envoy).expect_status(200)
    envoy.expect_wasm_logs("OnHttpRequestHeaders")


@pytest.mark.envoy
def test_a_project_laid_out_like_the_sdks_examples(tmp_path, envoys, capsys):
    """The SDK's examples: go.mod requires a version that exists only through `replace => ../..`,
    envoy.yaml binds 0.0.0.0 and names ./examples/<name>/main.wasm from the repository root."""
    folder = tmp_path / "examples" / "log_headers"
    folder.mkdir(parents=True)
    shutil.copyfile(EXAMPLES / "log-headers" / "main.go", folder / "main.go")
    (folder / "go.mod").write_text(
        f"module github.com/someone/examples/log_headers\n\ngo 1.24\n\n"
        f"require {labkit.SDK} v0.16.0\n\nreplace {labkit.SDK} => ../..\n")
    port, admin = labkit.free_port(), labkit.free_port()
    text = (EXAMPLES / "log-headers" / "envoy.yaml").read_text()
    text = (text.replace("filename: main.wasm", 'filename: "./examples/log_headers/main.wasm"')
            .replace("address: 127.0.0.1", "address: 0.0.0.0")
            .replace("port_value: 10000", f"port_value: {port}").replace("port_value: 9901", f"port_value: {admin}"))
    (folder / "envoy.yaml").write_text(text)

    ext = labkit.scaffold(unique("sdk-layout"), source=folder)
    assert f"{labkit.SDK} {labkit.SDK_VERSION}" in ext.read("go.mod"), "without the replace, the pin"
    ext.build()
    envoy = envoys(ext.path / "envoy.yaml").start()
    said = capsys.readouterr().out
    assert "not next to it; using " + str(ext.path / "main.wasm") in said
    assert "the lab serves 127.0.0.1 only" in said
    labkit.curl(envoy).expect_status(200)
    listening = envoy.config_path.read_text()
    assert "0.0.0.0" not in listening and str(ext.path / "main.wasm") in listening


@pytest.mark.envoy
def test_a_project_with_one_module_per_folder(tmp_path, envoys):
    """Like the SDK's shared_queue: one go.mod, a main package in each folder."""
    folder = tmp_path / "two-modules"
    for sub, example in (("logger", "log-headers"), ("stamper", "add-header")):
        (folder / sub).mkdir(parents=True)
        shutil.copyfile(EXAMPLES / example / "main.go", folder / sub / "main.go")
    (folder / "go.mod").write_text(f"module example.com/two\n\ngo 1.24\n\nrequire {labkit.SDK} {labkit.SDK_VERSION}\n")
    ext = labkit.scaffold(unique("two-modules"), source=folder)
    logger, stamper = ext.build(package="logger"), ext.build(package="stamper")
    assert logger.path == ext.path / "logger" / "main.wasm" and stamper.path == ext.path / "stamper" / "main.wasm"
    assert logger.name.endswith("-logger") and logger.sha256 != stamper.sha256
    with pytest.raises(labkit.BuildError, match="no Go package at 'nowhere'") as info:
        ext.build(package="nowhere")
    assert "logger" in info.value.fix and "stamper" in info.value.fix
    envoy = envoys(EnvoyConfig([WasmFilter(logger), WasmFilter(stamper)])).start()
    labkit.curl(envoy).expect_header("my-new-header", "some-value-here")
    envoy.expect_wasm_logs("OnHttpRequestHeaders")
