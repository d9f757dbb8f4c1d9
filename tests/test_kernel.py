"""Processes started from a real Jupyter kernel survive the Stop button and die with the kernel.

jupyter_client interrupts the kernel's whole process group (the Stop button);
nbval kills kernels outright. labkit starts each process in its own session
(survives Stop) and asks for PR_SET_PDEATHSIG (dies with the kernel).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

import labkit
from helpers import alive, gone, names_running, unique

pytestmark = [pytest.mark.envoy, pytest.mark.jupyter]

jupyter_client = pytest.importorskip("jupyter_client")

if not sys.platform.startswith("linux"):
    pytest.skip("dying with the kernel relies on Linux's PR_SET_PDEATHSIG", allow_module_level=True)


class Kernel:
    """A python3 kernel (this venv's Python) with a blocking client."""

    def __init__(self, env: dict[str, str]):
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120) -> tuple[dict, str]:
        """Execute a cell; return its reply content and everything it printed."""
        printed: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append("\n".join(msg["content"]["traceback"]))

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        return reply["content"], "".join(printed)

    def run_until_printed(self, code: str, marker: str, timeout: float = 30) -> str:
        """Start a cell and return once it printed ``marker`` (the cell keeps running)."""
        msg_id = self.kc.execute(code)
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and marker in msg["content"]["text"]:
                return msg_id
            if msg["msg_type"] == "error":
                raise AssertionError("the cell failed: " + msg["content"]["evalue"])

    def reply_to(self, msg_id: str, timeout: float = 30) -> dict:
        while True:
            msg = self.kc.get_shell_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km.cleanup_resources()


START_CELL = """\
import json, os, sys
import labkit
envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter({wasm!r})), name={envoy_name!r}).start()
web = labkit.processes.ManagedProcess({web_name!r}, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                            "{port}"], wait=labkit.processes.TCPWait({port}), cwd={cwd!r}).start()
print("PIDS", json.dumps({{"kernel": os.getpid(), "envoy": envoy.pid, "web": web.pid,
                          "url": envoy.url, "workspace": str(labkit.workspace()),
                          "python": sys.executable}}))
"""


def test_stop_button_spares_processes_and_killing_the_kernel_ends_them(log_headers, tmp_path,
                                                                       workspace):
    envoy_name, web_name = unique("kernel-envoy"), unique("kernel-web")
    port = labkit.free_port()
    kernel = Kernel({**os.environ, "LABKIT_WORKSPACE": str(workspace)})
    pids: dict = {}
    try:
        content, printed = kernel.run(START_CELL.format(
            wasm=str(log_headers[1].path), envoy_name=envoy_name, web_name=web_name, port=port,
            cwd=str(tmp_path)))
        assert content["status"] == "ok", printed
        pids = json.loads(printed.split("PIDS", 1)[1].strip().splitlines()[0])
        assert pids["workspace"] == str(workspace)  # the kernel uses the test workspace
        assert pids["python"] == sys.executable  # and this venv's Python (and labkit)
        assert pids["kernel"] != os.getpid()
        assert alive(pids["envoy"]) and alive(pids["web"])
        assert {envoy_name, web_name} <= names_running()
        # The processes are the kernel's children, in sessions of their own.
        for key in ("envoy", "web"):
            assert os.getsid(pids[key]) == pids[key]
            assert os.getpgid(pids[key]) != os.getpgid(pids["kernel"])

        # --- the Stop button: interrupt a cell that is busy sleeping
        msg_id = kernel.run_until_printed("import time\nprint('sleeping', flush=True)\ntime.sleep(30)",
                                          "sleeping")
        kernel.km.interrupt_kernel()
        reply = kernel.reply_to(msg_id)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert alive(pids["envoy"]), "Envoy died when the kernel was interrupted"
        assert alive(pids["web"]), "the web server died when the kernel was interrupted"
        assert alive(pids["kernel"])
        labkit.curl(pids["url"]).expect_status(200).expect_body("Hello world")
        assert labkit.curl(f"http://127.0.0.1:{port}/").status == 200
        # and the kernel still works with them afterwards
        content, printed = kernel.run("print(envoy.running, web.running, labkit.curl(envoy).status)")
        assert content["status"] == "ok" and printed.split() == ["True", "True", "200"], printed

        # --- the kernel is killed hard (what nbval does): no atexit, no cleanup code runs
        os.kill(pids["kernel"], signal.SIGKILL)
        assert gone(pids["kernel"], timeout=10)
        assert gone(pids["envoy"], timeout=10), "Envoy outlived its kernel"
        assert gone(pids["web"], timeout=10), "the web server outlived its kernel"
        assert not ({envoy_name, web_name} & names_running())
    finally:
        kernel.close()
        for key in ("envoy", "web"):
            if pids.get(key) and alive(pids[key]):
                os.killpg(pids[key], signal.SIGKILL)


INTERRUPTED_CELLS = {
    # what the cell does, and what the one line must say
    "start": ("envoy = labkit.Envoy(labkit.EnvoyConfig(labkit.WasmFilter({wasm!r})), name={name!r})\n"
              "print('go', flush=True)\nenvoy.start()",
              "stopped Envoy '{name}' while it was starting; nothing is left running"),
    "build": ("ext = labkit.Extension('log-headers')\nprint('go', flush=True)\n"
              "ext.build(env={{'GOCACHE': {cache!r}}})",  # an empty build cache: a slow build
              "stopped the go build of 'log-headers'; main.wasm is unchanged"),
    "check": ("(q1,) = labkit.exercises.load('03', solutions=True)\nprint('go', flush=True)\n"
              "q1.check()",
              "stopped checking 03.1; its Envoy is stopped"),
}


@pytest.mark.go
@pytest.mark.parametrize("step", list(INTERRUPTED_CELLS))
def test_the_stop_button_during_a_step_prints_one_line(step, log_headers, tmp_path, workspace):
    """Before: a 200-line traceback through labkit. Now: one line saying what was stopped."""
    name = unique("interrupted")
    code, said = INTERRUPTED_CELLS[step]
    kernel = Kernel({**os.environ, "LABKIT_WORKSPACE": str(workspace)})
    try:
        kernel.run("import labkit")
        if step == "check":  # the reference solution's project, built once: check() then starts Envoy
            kernel.run("labkit.exercises.load('03', solutions=True)[0].check()", timeout=300)
        msg_id = kernel.run_until_printed(code.format(wasm=str(log_headers[1].path), name=name,
                                                      cache=str(tmp_path / "gocache")), "go")
        import time

        time.sleep(0.5)
        kernel.km.interrupt_kernel()
        reply = kernel.reply_to(msg_id, timeout=60)
        assert reply["status"] == "error" and reply["ename"] == "Interrupted", reply
        assert len(reply["traceback"]) == 1, reply["traceback"]
        assert said.format(name=name) in reply["traceback"][0]
        assert not any(n.startswith(("interrupted-", "check-")) for n in names_running())
        assert (workspace / "log-headers" / "main.wasm").read_bytes()[:4] == b"\0asm"
    finally:
        kernel.close()
