"""Compiler messages and Go panics, as data a learner can read.

* :class:`Diagnostic` is one ``file:line:col: message`` from ``go build`` (or
  TinyGo), with the source line and a caret under the column.
* :func:`parse_diagnostics` turns a build's output into Diagnostics.
* :func:`unclosed_bracket` finds the ``(`` or ``{`` left open above a syntax
  error: Go notices a missing ``)`` or ``}`` only on a later line.
* :class:`GoPanic` puts back together a panic that the Go runtime wrote in
  small pieces (Envoy logs each piece as a ``wasm log`` line of its own).

This module imports nothing from labkit: errors and the build both use it.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Diagnostic", "parse_diagnostics", "render_html", "unclosed_bracket", "GoPanic"]


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message, e.g. ``main.go:12:5: undefined: foo``."""

    file: str
    line: int
    column: int
    message: str
    source_line: str = ""
    hint: str = ""  # what labkit adds, e.g. where an unclosed bracket opened

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def pretty(self) -> str:
        """The message with its source line, a caret under the column, and labkit's hint."""
        out = str(self)
        if self.source_line:
            src = self.source_line.replace("\t", "    ")
            col = len(self.source_line[: max(self.column - 1, 0)].replace("\t", "    "))
            out += f"\n{self.line:5d} | {src}\n      | {' ' * col}^"
        if self.hint:
            out += f"\n      hint: {self.hint}"
        return out


_DIAG = re.compile(r"^(?:\./)?(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<msg>.*)$")


def parse_diagnostics(output: str, project: Path) -> list[Diagnostic]:
    """Turn ``go build`` output into Diagnostics (continuation lines are joined)."""
    diags: list[Diagnostic] = []
    for raw in output.splitlines():
        m = _DIAG.match(raw.strip())
        if m:
            rel = m["file"]
            path = (project / rel) if not os.path.isabs(rel) else Path(rel)
            line = int(m["line"])
            try:
                src = path.read_text().splitlines()[line - 1]
            except (OSError, IndexError):
                src = ""
            try:
                rel = str(path.resolve().relative_to(project.resolve()))
            except ValueError:
                pass
            diag = Diagnostic(rel, line, int(m["col"] or 0), m["msg"], src)
            if "syntax error" in diag.message:
                diag = replace(diag, hint=_syntax_hint(path, diag))
            diags.append(diag)
        elif raw.startswith("\t") and diags:
            last = diags[-1]
            diags[-1] = replace(last, message=last.message + "\n" + raw.strip())
    return diags


def _syntax_hint(path: Path, diag: Diagnostic) -> str:
    try:
        source = path.read_text()
    except OSError:
        return ""
    opened = unclosed_bracket(source, diag.line, diag.column, diag.message)
    if opened is None:
        return ""
    at, char = opened
    if at == diag.line:
        return f"the {char!r} opened on this line is never closed"
    return (f"Go noticed the problem here, but the mistake is probably above: the {char!r} "
            f"on line {at} is never closed")


_PAIRS = {")": "(", "}": "{", "]": "["}


def unclosed_bracket(source: str, error_line: int, error_column: int = 0,
                     message: str = "") -> tuple[int, str] | None:
    """The bracket left open that most likely caused a syntax error at ``error_line``.

    Go notices a missing ``)`` or ``}`` only at the first token that cannot
    continue, often a line or a function later. Looking at the code before the
    error (strings, runes and comments skipped), in this order:

    * a ``{`` closed by a ``}`` at another indentation than the line that opened
      it: gofmt'd code lines them up, so that ``}`` was meant for an outer block;
    * when the error is at a top-level declaration (``func``, ``type``...), the
      innermost ``{`` still open above it: its ``}`` is missing;
    * a ``(`` or ``[`` still open on a line that does not end with ``(`` or ``,``
      (a call legitimately spans lines only when its line ends that way);
    * at the end of the file, the innermost ``{`` still open.

    Returns ``(line, char)``, or None when nothing is suspicious.
    """
    stack: list[tuple[int, str, int]] = []  # (line, char, indentation of its line)
    mismatched: tuple[int, str] | None = None
    in_comment = False
    all_lines = source.splitlines()
    lines = all_lines[:error_line]
    if error_column and lines:
        lines[-1] = lines[-1][: error_column - 1]
    for number, text in enumerate(lines, 1):
        indent = len(text) - len(text.lstrip("\t "))
        i = 0
        while i < len(text):
            if in_comment:
                end = text.find("*/", i)
                if end < 0:
                    break
                in_comment, i = False, end + 2
                continue
            c = text[i]
            if text.startswith("//", i):
                break
            if text.startswith("/*", i):
                in_comment, i = True, i + 2
                continue
            if c in "\"'`":
                end = _string_end(text, i)
                if end < 0:
                    break
                i = end + 1
                continue
            if c in "({[":
                stack.append((number, c, indent))
            elif c in ")}]" and stack and stack[-1][1] == _PAIRS[c]:
                opened = stack.pop()
                if (c == "}" and mismatched is None and text.lstrip().startswith("}")
                        and indent != opened[2]):
                    mismatched = (opened[0], "{")
            i += 1
    braces = [(n, c) for n, c, _ in stack if c == "{"]
    at_line = all_lines[error_line - 1] if 0 < error_line <= len(all_lines) else ""
    earlier = [b for b in braces if b[0] < error_line]
    if mismatched:
        return mismatched
    if earlier and re.match(r"(func|type|var|const|import)\b", at_line):
        return earlier[-1]  # a top-level declaration inside a block: that block's } is missing
    for number, char, _ in reversed(stack):
        if char in "([" and not _code(lines[number - 1]).endswith(("(", ",", "[")):
            return number, char
    if braces and "EOF" in message:
        return braces[-1]
    return None


def _code(line: str) -> str:
    """The line without a trailing // comment, stripped."""
    return re.sub(r"//.*$", "", line).rstrip()


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def render_html(diags: list[Diagnostic]) -> str:
    items = []
    for d in diags:
        caret = " " * max(d.column - 1, 0) + "^"
        src = (f"<pre style='margin:0 0 6px 0;background:#f7f7f7'>{d.line:4d} | "
               f"{html.escape(d.source_line.replace(chr(9), ' '))}\n     | {caret}</pre>"
               if d.source_line else "")
        hint = f"<div><i>hint: {html.escape(d.hint)}</i></div>" if d.hint else ""
        items.append(f"<div><code>{html.escape(d.file)}:{d.line}:{d.column}</code> "
                     f"{html.escape(d.message)}{src}{hint}</div>")
    return "".join(items)


# ---------------------------------------------------------------- Go panics
@dataclass(frozen=True)
class Frame:
    function: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.function}\n    {self.file}:{self.line}"


@dataclass(frozen=True)
class GoPanic:
    """A Go panic report, put back together.

    ``message`` is the first line (``panic: ...``), ``frames`` the stack from
    the innermost call outwards, ``text`` the whole report.
    """

    message: str
    frames: tuple[Frame, ...]
    text: str

    @classmethod
    def from_fragments(cls, fragments: list[str]) -> "GoPanic | None":
        """Join the pieces the runtime wrote (one ``wasm log`` line each) into a report.

        The runtime prints a frame as ``func(args)``, newline, tab, ``file:line
        +0xNN``, newline; the pieces Envoy logs lost most newlines, so they are put
        back where the format needs them.
        """
        text = "".join(fragments)
        if "panic:" not in text and "fatal error:" not in text:
            return None
        text = re.sub(r"(\S)\t(/|[A-Za-z]:)", r"\1\n\t\2", text)          # before a frame's file
        text = re.sub(r"(\+0x[0-9a-f]+)(?=\S)", r"\1\n", text)            # after a frame's offset
        text = re.sub(r"(\S)(goroutine \d+ \[|panic: |fatal error: |\[signal |panic during panic)",
                      r"\1\n\2", text)
        text = re.sub(r"(\]:)(?=\S)", r"\1\n", text)                      # "goroutine 1 [running]:"
        start = min(i for i in (text.find("panic:"), text.find("fatal error:")) if i >= 0)
        text = text[start:].strip()
        message = text.splitlines()[0].strip()
        frames = []
        lines = text.splitlines()
        for i, line in enumerate(lines[:-1]):
            m = re.match(r"^\t(?P<file>\S+\.go):(?P<line>\d+)", lines[i + 1])
            if m and not line.startswith("\t"):
                function = re.sub(r"\([^()]*\)$", "", line.strip())  # drop the arguments
                frames.append(Frame(function, m["file"], int(m["line"])))
        return cls(message, tuple(frames), text)

    def own_frames(self, limit: int = 3) -> list[Frame]:
        """The frames in the learner's code: ``main.*``, outside Go's runtime and the SDK."""
        own = [f for f in self.frames if f.function.startswith("main.")]
        return own[:limit]

    def short(self) -> str:
        """The message and where in the learner's code it happened."""
        frames = self.own_frames() or [f for f in self.frames if not f.function.startswith("runtime.")][:2]
        where = "\n".join(f"  at {f.function} ({Path(f.file).name}:{f.line})" for f in frames)
        return self.message + ("\n" + where if where else "")
