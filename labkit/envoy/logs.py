"""Reading Envoy's log: the plugin's ``wasm log`` lines, and Go panics put together.

Envoy writes a line per log call: ``[time][thread][level][component] [source]
message``. A plugin's lines come from the ``wasm`` component and start with
``wasm log <plugin>:``. Two things make them harder to read than they look:

* the Go runtime writes a panic report (and anything else a module prints to
  stderr) in small pieces, and Envoy logs each piece as a line of its own;
* Envoy cuts a message at its first line break when the plugin's message
  has several lines, and writes the rest as lines without the usual prefix
  (until the next record: Envoy's, or another program's sharing the stream,
  as pilot-agent's does).

:func:`wasm_lines` returns the plugin's lines with multi-line messages kept
whole; :func:`go_panic` finds a panic among them and joins it into one report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._diagnostics import GoPanic

__all__ = ["LogLine", "wasm_lines", "go_panic", "strip_prefix"]

_LOG = re.compile(r"^\[(?P<time>[^]]+)\]\[(?P<thread>\d+)\]\[(?P<level>\w+)\]\[(?P<component>[\w-]+)\] "
                  r"\[[^]]+\] (?P<msg>.*)$")
_WASM = re.compile(r"^wasm log(?: (?P<plugin>[^:]*))?: (?P<msg>.*)$", re.S)
# The start of some other program's log record (pilot-agent writes Envoy's log and
# its own, ISO-timestamped, to the same stream): it ends a multi-line message.
_OTHER_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


@dataclass(frozen=True)
class LogLine:
    """One ``wasm log`` message: what the plugin said, at which level."""

    time: str
    level: str
    plugin: str
    message: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.plugin}: {self.message}" if self.plugin else f"[{self.level}] {self.message}"


def wasm_lines(log: str) -> list[LogLine]:
    """Every ``wasm log`` message in ``log``: multi-line messages whole, and a Go panic
    written in pieces as one message (its report, line breaks put back)."""
    return _join_panics(_lines(log))


def _join_panics(lines: list[LogLine]) -> list[LogLine]:
    out: list[LogLine] = []
    i = 0
    while i < len(lines):
        first = lines[i]
        if first.level == "error" and first.message.startswith("panic:"):
            j = i + 1
            while j < len(lines) and lines[j].level == first.level and lines[j].plugin == first.plugin \
                    and _seconds_between(first.time, lines[j].time) < 2:  # the same burst
                j += 1
            panic = GoPanic.from_fragments([ln.message if ln.message else "\n" for ln in lines[i:j]])
            if panic is not None and j - i > 1:
                out.append(LogLine(first.time, first.level, first.plugin, panic.text))
                i = j
                continue
        out.append(first)
        i += 1
    return out


def _seconds_between(a: str, b: str) -> float:
    from datetime import datetime

    try:
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        return abs((datetime.strptime(b, fmt) - datetime.strptime(a, fmt)).total_seconds())
    except ValueError:
        return 0.0


def _lines(log: str) -> list[LogLine]:
    out: list[LogLine] = []
    current: dict | None = None
    for line in log.splitlines():
        m = _LOG.match(line)
        if m is None:
            if current is not None and _OTHER_RECORD.match(line):
                out.append(LogLine(**current))
                current = None
            elif current is not None:  # the rest of a multi-line message
                current["message"] += "\n" + line
            continue
        if current is not None:
            out.append(LogLine(**current))
            current = None
        if m["component"] == "wasm" and (w := _WASM.match(m["msg"])):
            current = {"time": m["time"], "level": m["level"], "plugin": w["plugin"] or "",
                       "message": w["msg"]}
    if current is not None:
        out.append(LogLine(**current))
    return out


def go_panic(lines: list[LogLine]) -> GoPanic | None:
    """The first Go panic among ``lines`` (``wasm_lines`` output, or raw pieces), or None."""
    for start, line in enumerate(lines):
        if line.message.startswith(("panic:", "fatal error:")):
            pieces = []
            for piece in lines[start:]:
                if piece.level != line.level:
                    break
                pieces.append(piece.message if piece.message else "\n")
            return GoPanic.from_fragments(pieces)
    return None


def strip_prefix(line: str) -> str:
    """'[ts][tid][critical][wasm] [source/...cc:626] msg' -> '[critical][wasm] msg'.

    Also drops the truncated config dump Envoy appends to a rejected config's
    line (``initializing config 'goo.gle/debugonly``), which says nothing.
    """
    m = _LOG.match(line)
    if not m:
        return line
    msg = re.sub(r"\s+initializing config\s+'[^']*'?\s*$", "", m["msg"]).rstrip()
    return f"[{m['level']}][{m['component']}] {msg}"
