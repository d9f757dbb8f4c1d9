"""Envoy as a managed process: start, serve, log, stop, and fail well."""

from __future__ import annotations

import shutil
import socket

import psutil
import pytest
import yaml

import labkit
from helpers import EXAMPLES, envoy_children, refusing_plugin_source, gone, names_running, unique

pytestmark = pytest.mark.envoy

PLUGIN_START_FAILS = refusing_plugin_source("labkit-test: refusing to start")


def test_start_serve_log_and_stop(log_headers, envoys):
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1], name="hello")))
    assert not envoy.running and envoy.pid is None
    assert envoy.start() is envoy
    assert envoy.running
    assert envoy.name in names_running()
    assert envoy.ready_seconds is not None and envoy.ready_seconds > 0
    assert envoy.port and envoy.admin_port and envoy.port != envoy.admin_port
    proc = psutil.Process(envoy.pid)
    assert "envoy" in proc.name()
    assert str(envoy.config_path) in proc.cmdline()

    r = labkit.curl(envoy)
    assert r.status == 200
    assert r.text == "Hello world\n"
    assert r.headers["server"] == "envoy"

    lines = envoy.expect_wasm_logs(" finished")
    messages = [line.message for line in lines]
    assert messages[:2] == ["OnHttpRequestHeaders", "OnHttpResponseHeaders"], messages
    assert messages[2].endswith(" finished"), messages
    assert all(line.plugin == "hello" and line.level == "info" for line in lines)
    assert "wasm log hello: OnHttpRequestHeaders" in envoy.logs()

    # A bookmark shows only what came later.
    mark = envoy.log_offset()
    labkit.curl(envoy, "/again")
    later = envoy.expect_wasm_logs(" finished", since=mark)
    assert [line.message for line in later][:2] == ["OnHttpRequestHeaders", "OnHttpResponseHeaders"]
    assert len(later) == 3

    pid = envoy.pid
    envoy.stop()
    assert not envoy.running
    assert gone(pid)
    assert not psutil.pid_exists(pid)
    assert envoy.name not in names_running()
    envoy.stop()  # twice is fine


# Process mechanics need no Wasm filter: a filter-less Envoy starts quicker.
def test_restart_keeps_ports(envoys):
    envoy = envoys(labkit.EnvoyConfig()).start()
    ports, first_pid = (envoy.port, envoy.admin_port), envoy.pid
    labkit.curl(envoy).expect_status(200)
    envoy.restart()
    assert envoy.running
    assert envoy.pid != first_pid
    assert gone(first_pid)
    assert (envoy.port, envoy.admin_port) == ports
    labkit.curl(envoy).expect_status(200).expect_body("Hello world")


def test_same_name_replaces_the_running_envoy(envoys):
    name = unique("slot")
    cfg = labkit.EnvoyConfig()
    first = envoys(cfg, name=name).start()
    first_pid = first.pid
    second = envoys(cfg, name=name).start()
    assert gone(first_pid)
    assert not first.running
    assert second.running
    assert [r["pid"] for r in labkit.running_processes() if r["name"] == name] == [second.pid]
    labkit.curl(second).expect_status(200)


def test_func_e_runner(log_headers, envoys):
    func_e = labkit.toolchain.find_func_e()
    if not func_e.ok:
        pytest.skip(f"func-e is not usable here: {func_e.problem} (fix: {func_e.fix})")
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1])), runner="func-e").start()
    assert envoy.command[:2] == [func_e.path, "run"]
    runner = psutil.Process(envoy.pid)
    assert "func-e" in runner.name()
    children = runner.children(recursive=True)
    assert any("envoy" in c.name() for c in children), children
    labkit.curl(envoy).expect_status(200)
    assert any(line.message == "OnHttpRequestHeaders" for line in envoy.expect_wasm_logs(" finished"))

    envoy.stop()
    assert gone(runner.pid)
    for child in children:
        assert gone(child.pid), f"func-e's child {child} outlived stop()"


def test_port_in_use(log_headers, envoys):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1])), port=port)
        with pytest.raises(labkit.errors.PortInUseError) as info:
            envoy.start()
    err = info.value
    assert (err.port, err.role) == (port, "listener")
    assert err.message.startswith(f"the listener port {port} on 127.0.0.1 is already in use")
    assert "this Python process itself" in err.message  # the holder: this test process
    assert "leave the port out" in err.fix
    assert not envoy.running
    assert envoy.name not in names_running()
    assert envoy_children() == []


def test_admin_port_held_by_an_envoy_of_this_kernel(envoys):
    """Before: 'port N ... in use by envoy (pid P, started by labkit as 'x')'; now it says
    which port it was and that the holder is the learner's own."""
    first = envoys(labkit.EnvoyConfig()).start()
    second = envoys(labkit.EnvoyConfig(), admin_port=first.admin_port)
    with pytest.raises(labkit.errors.PortInUseError) as info:
        second.start()
    err = info.value
    assert err.role == "admin" and err.port == first.admin_port
    assert f"labkit's '{first.name}'" in err.message and "started by this kernel" in err.message
    assert err.fix.startswith("it is yours: stop it")
    assert first.running and not second.running


def test_a_yaml_files_port_in_use_is_not_to_be_left_out(envoys, tmp_path):
    """A file's ports are the file's: the fix is to change the file, not to leave them out."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = labkit.EnvoyConfig().write(tmp_path / "envoy.yaml", port=labkit.free_port(),
                                          admin_port=port)
        envoy = envoys(path)
        with pytest.raises(labkit.errors.PortInUseError) as info:
            envoy.start()
    err = info.value
    assert err.role == "admin"
    assert "leave the port out" not in err.fix
    assert err.fix.endswith("change its port_value in envoy.yaml")


def test_module_envoy_cannot_load_is_a_config_error_at_start(tmp_path, envoys):
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"garbage")
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(garbage, name="junk")))
    with pytest.raises(labkit.ConfigError) as info:
        envoy.start()  # no validation first: Envoy itself refuses while starting
    err = info.value
    assert "Unable to create Wasm plugin junk" in err.message  # Envoy's own reason
    assert err.path == str(envoy.config_path)
    assert "Failed to load Wasm code" in err.cause
    assert "goo.gle" not in err.cause  # Envoy's truncated config dump is not shown
    assert "not a Proxy-Wasm module" in err.fix
    assert envoy.pid is not None and gone(envoy.pid)
    assert envoy.name not in names_running()
    assert envoy_children() == []


def test_envoy_exiting_during_start_is_reported(log_headers, tmp_path, envoys):
    """The config is valid, but the listener cannot bind: Envoy exits while starting.

    192.0.2.1 (TEST-NET-1) is not an address of this machine, so the bind fails
    locally; nothing is sent anywhere.
    """
    shutil.copy(log_headers[1].path, tmp_path / "main.wasm")
    admin, port = labkit.free_port(), labkit.free_port()
    text = (EXAMPLES / "log-headers" / "envoy.yaml").read_text()
    text = text.replace("port_value: 9901", f"port_value: {admin}")
    text = text.replace("{address: 127.0.0.1, port_value: 10000}", f"{{address: 192.0.2.1, port_value: {port}}}")
    assert "192.0.2.1" in text
    (tmp_path / "envoy.yaml").write_text(text)
    envoy = envoys(tmp_path / "envoy.yaml")
    with pytest.raises(labkit.errors.ProcessExited) as info:
        envoy.start()
    err = info.value
    assert err.returncode is not None
    assert "exited with code" in err.message
    assert f"cannot bind '192.0.2.1:{port}'" in err.message  # Envoy's reason, from its log
    assert "cannot bind" in err.cause  # the last log lines
    assert "127.0.0.1" in err.fix
    assert envoy.pid is not None and gone(envoy.pid)
    assert envoy.name not in names_running()
    assert envoy_children() == []


def test_plugin_that_fails_to_start_is_a_config_error(workspace, envoys):
    ext = labkit.scaffold("plugin-start-fails")
    ext.write("main.go", PLUGIN_START_FAILS)
    build = ext.build()
    cfg = labkit.EnvoyConfig(labkit.WasmFilter(build, name="refuser"))

    with pytest.raises(labkit.ConfigError) as info:
        labkit.validate(cfg)
    err = info.value
    assert "refuser" in err.message  # the plugin is named
    assert "labkit-test: refusing to start" in err.cause  # its own log line is shown
    assert "OnPluginStart" in err.fix

    envoy = envoys(cfg)
    with pytest.raises(labkit.ConfigError, match="refuser") as info:
        envoy.start()  # Envoy itself refuses while starting: same error as validate()
    assert "labkit-test: refusing to start" in info.value.cause
    assert envoy.pid is not None and gone(envoy.pid)
    assert envoy.name not in names_running()
    assert envoy_children() == []


def test_yaml_file_config_starts(log_headers, envoys, tmp_path):
    port, admin = labkit.free_port(), labkit.free_port()
    while admin == port:
        admin = labkit.free_port()
    text = (EXAMPLES / "log-headers" / "envoy.yaml").read_text()
    assert "port_value: 9901" in text and "port_value: 10000" in text
    config = tmp_path / "envoy.yaml"
    config.write_text(text.replace("port_value: 9901", f"port_value: {admin}")
                          .replace("port_value: 10000", f"port_value: {port}"))
    shutil.copy(log_headers[1].path, tmp_path / "main.wasm")

    envoy = envoys(config).start(validate_first=False)  # validation has tests of its own
    assert (envoy.port, envoy.admin_port) == (port, admin)
    assert envoy.source_path == config.resolve()
    # Envoy reads a copy whose module path is absolute: it runs from any folder.
    assert str(tmp_path / "main.wasm") in envoy.config_path.read_text()
    r = labkit.curl(f"http://127.0.0.1:{port}/")
    assert r.status == 200 and r.text == "Hello world\n"
    assert any(line.message == "OnHttpRequestHeaders" for line in envoy.expect_wasm_logs(" finished"))


def test_yaml_file_without_admin_is_refused(log_headers, envoys, tmp_path):
    d = labkit.EnvoyConfig(labkit.WasmFilter(log_headers[1])).to_dict(port=labkit.free_port())
    del d["admin"]
    config = tmp_path / "no-admin.yaml"
    config.write_text(yaml.safe_dump(d))
    envoy = envoys(config)
    with pytest.raises(labkit.ConfigError, match="no admin address"):
        envoy.start()
    assert envoy.pid is None


SETVMCONTEXT_IN_MAIN = """\
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {
	proxywasm.SetVMContext(&vmContext{})
}

type vmContext struct{ types.DefaultVMContext }
"""


@pytest.mark.go
def test_setvmcontext_in_main_is_caught_by_build(workspace):
    """The TinyGo tutorial's entry point with upstream Go: labkit says so at the line."""
    ext = labkit.scaffold("tutorial-entry")
    ext.write("main.go", SETVMCONTEXT_IN_MAIN)
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    err = info.value
    (diag,) = err.diagnostics
    assert (diag.file, diag.line) == ("main.go", 9)
    assert "is called in main(), which never runs" in err.message
    assert "call proxywasm.SetVMContext in init()" in err.fix
    assert "move it into func init()" in diag.hint


@pytest.mark.go
def test_setvmcontext_in_main_in_envoy_says_init(workspace, envoys):
    """Built outside labkit, the module reaches Envoy, which fails in ~30,000 log lines.

    Before: 'bad plugin configuration is the usual cause' and a tail of one-fragment
    panic lines. Now: the panic once, joined, and 'call SetVMContext in init()'.
    """
    ext = labkit.scaffold("tutorial-entry-envoy")
    ext.write("main.go", SETVMCONTEXT_IN_MAIN)
    ext.go("build", "-buildmode=c-shared", "-o", "main.wasm", ".",
           env={"GOOS": "wasip1", "GOARCH": "wasm"})
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(ext.path / "main.wasm")))
    with pytest.raises(labkit.ConfigError) as info:
        envoy.start()
    err = info.value
    assert "call SetVMContext in init()" in err.fix
    assert err.cause.count("nil pointer dereference") == 1
    assert err.cause.startswith("the module panicked:\npanic: runtime error")
    assert len(err.cause.splitlines()) < 25
    assert "wasm log" not in err.cause and "goo.gle" not in err.cause


TETRATE_MAIN = """\
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func main() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }
"""


@pytest.mark.go
def test_tetratelabs_sdk_built_with_go_names_the_sdk(workspace, envoys):
    """Before: 'rebuild it with GOOS=wasip1 GOARCH=wasm go build', which the learner did."""
    project = labkit.workspace() / "tetrate-with-go"
    project.mkdir(exist_ok=True)
    (project / "go.mod").write_text(
        f"module tetrate\n\ngo 1.24\n\nrequire {labkit._extension.TINYGO_SDK} "
        f"{labkit._extension.TINYGO_SDK_VERSION}\n")
    (project / "main.go").write_text(TETRATE_MAIN)
    ext = labkit.Extension("tetrate-with-go", toolchain="go")  # its go.mod alone says TinyGo
    ext.go("mod", "tidy")
    with pytest.raises(labkit.BuildError) as info:
        ext.build()
    err = info.value
    assert "built, but Envoy cannot load it" in err.message
    assert labkit._extension.TINYGO_SDK in err.cause and "exports no Proxy-Wasm functions" in err.cause
    assert "toolchain='tinygo'" in err.fix and labkit.SDK in err.fix
    assert not (project / "main.wasm").exists()  # nothing Envoy cannot load was written

    # Built by hand and given to Envoy, the same reason comes from Envoy's refusal.
    ext.go("build", "-buildmode=c-shared", "-o", "main.wasm", ".",
           env={"GOOS": "wasip1", "GOARCH": "wasm"})
    envoy = envoys(labkit.EnvoyConfig(labkit.WasmFilter(project / "main.wasm")))
    with pytest.raises(labkit.ConfigError) as info:
        envoy.start()
    assert "Missing or unknown Proxy-Wasm ABI version" in info.value.cause
    assert labkit._extension.TINYGO_SDK in info.value.fix and "GOOS=wasip1" not in info.value.fix


def test_unknown_runner_is_refused():
    with pytest.raises(labkit.LabError, match="unknown runner"):
        labkit.Envoy(labkit.EnvoyConfig(), runner="docker")
