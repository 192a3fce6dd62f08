"""Make captured text read as a terminal would finally show it."""

from __future__ import annotations

import re

from nbconvert.filters.ansi import strip_ansi

BACKSPACE = re.compile(r"[^\n]\x08")
CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")
# TensorFlow's C++ (absl) start-up logs reach the kernel's stderr; they say nothing about
# the snippet.
TF_NOISE = re.compile(
    r"""^(?:
        WARNING:\ All\ log\ messages\ before\ absl::InitializeLog\(\)\ is\ called.*
      | [IWEF]\d{4}\ \d\d:\d\d:\d+\.\d+\s+\d+\ [\w.+-]+:\d+\]\ .*
      | \d{4}-\d\d-\d\d\ \d\d:\d\d:\d\d\.\d+:\ [IWEF]\ [\w/.+-]+:\d+\]\ .*
      | To\ enable\ the\ following\ instructions:.*rebuild\ TensorFlow\ with.*
    )$""",
    re.VERBOSE,
)
HEAD_LINES = 200
TAIL_LINES = 200
MAX_LINE_CHARS = 2000


def terminal_text(text: str) -> str:
    """Apply backspaces and carriage returns, drop ANSI codes and TensorFlow start-up noise."""
    previous = None
    while previous != text:  # each pass cancels one character per backspace
        previous, text = text, BACKSPACE.sub("", text)
    text = CARRIAGE_RETURN.sub("", text.replace("\r\n", "\n"))
    text = strip_ansi(text)
    return "".join(
        line for line in text.splitlines(keepends=True) if not TF_NOISE.match(line.rstrip("\n"))
    )


def truncate(text: str, head: int = HEAD_LINES, tail: int = TAIL_LINES) -> str:
    """Keep the first `head` and last `tail` lines, with a visible notice of what was cut."""
    lines = text.splitlines(keepends=True)
    lines = [_cut_line(line) for line in lines]
    if len(lines) <= head + tail:
        return "".join(lines)
    cut = lines[head : len(lines) - tail]
    size = sum(len(line.encode()) for line in cut)
    notice = f"[... {len(cut):,} lines ({human_size(size)}) cut from this output ...]\n"
    return "".join(lines[:head]) + notice + "".join(lines[len(lines) - tail :])


def _cut_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    rest = len(line) - MAX_LINE_CHARS
    return line[:MAX_LINE_CHARS] + f" [... {rest:,} characters cut ...]\n"


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
