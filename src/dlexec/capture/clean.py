"""Make captured text read as a terminal would finally show it, in time linear in its length.

Per line: a carriage return starts the line over (only what follows the last one stays), a
backspace erases the character before it, ANSI escape sequences and other control characters
are dropped, and so are TensorFlow's start-up logs. Keras progress-bar lines lose their
wall-clock timings ("3s 2ms/step", "ETA: 1:02") so that two runs store the same text.
"""

from __future__ import annotations

import re

# ECMA-48 escape sequences: CSI (colours, cursor moves, "erase line"), OSC (window titles,
# hyperlinks; ended by BEL or ESC \), and the other escapes (ESC, intermediates, a final byte).
# Possessive quantifiers and disjoint classes keep each match attempt linear.
ANSI = re.compile(
    r"\x1b\[[0-?]*+[ -/]*+[@-~]"
    r"|\x1b\][^\x07\x1b\n]*+(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*+[0-~]"
)
# Control characters a terminal does not print (tab and newline stay; \r and \b are applied).
CONTROL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]+")
BACKSPACES = re.compile(r"(\x08+)")
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
# Keras progress lines. Keras 3, verbose=1: "113/113 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - loss: 0.1"
# (an ETA such as "3s" or "1:02" instead of the elapsed time while running; "  12/Unknown 3s
# 5ms/step" without a known total). Keras 2: "1875/1875 [==============================] - 3s
# 2ms/step - loss: 0.3" and "  32/1875 [>.....] - ETA: 3s - loss: 0.3". verbose=2:
# "113/113 - 1s - 12ms/step - loss: 0.1" (Keras 2 ends with " - 3s/epoch - 2ms/step").
PROGRESS_START = re.compile(r" *+\d++/(?:\d++|Unknown)(?: |$)")
_DURATION = r"\d+s|\d+:\d\d(?::\d\d)?"
_PER_UNIT = r"\d+(?:s|ms|us)/\w+"
PROGRESS_HEAD = re.compile(
    rf"(?P<kept>(?P<count> *\d+/(?:\d+|Unknown))(?P<bar> ━++| \[[=>.]*+\])?)"
    rf"(?P<timing>(?: (?:{_DURATION}))?(?: {_PER_UNIT})?)"
)
TIMING_SEGMENT = re.compile(rf"(?:ETA: )?(?:{_DURATION})(?: {_PER_UNIT})?|{_PER_UNIT}")
ELAPSED_SEGMENT = re.compile(r"\d+s")
PER_UNIT_SEGMENT = re.compile(_PER_UNIT)
HEAD_LINES = 200
TAIL_LINES = 200
MAX_LINE_CHARS = 2000


def terminal_text(text: str) -> str:
    """Apply carriage returns and backspaces, drop ANSI codes and TensorFlow start-up noise,
    and remove the timings of Keras progress bars."""
    lines = ANSI.sub("", text).split("\n")
    kept = []
    for number, line in enumerate(lines):
        if "\r" in line:
            line = line.rstrip("\r")  # "\r\n", or a return that nothing overwrote
            line = line[line.rfind("\r") + 1 :]
        if "\x08" in line:
            line = _apply_backspaces(line)
        line = CONTROL.sub("", line)
        if TF_NOISE.match(line):
            continue
        line = without_timings(line)
        kept.append(line if number == len(lines) - 1 else line + "\n")
    return "".join(kept)


def _apply_backspaces(line: str) -> str:
    """Each backspace erases the character before it (none at the start of the line).

    Pieces are kept with the length still visible, so no piece is copied more than once."""
    pieces: list[str] = []
    visible: list[int] = []
    for index, piece in enumerate(BACKSPACES.split(line)):
        if index % 2 == 0:
            if piece:
                pieces.append(piece)
                visible.append(len(piece))
            continue
        erase = len(piece)
        while erase and pieces:
            if visible[-1] > erase:
                visible[-1] -= erase
                erase = 0
            else:
                erase -= visible.pop()
                pieces.pop()
    return "".join(piece[:length] for piece, length in zip(pieces, visible, strict=True))


def without_timings(line: str) -> str:
    """A Keras progress line without its wall-clock timings; any other line unchanged."""
    if not PROGRESS_START.match(line):
        return line
    head, *rest = line.rstrip().split(" - ")
    match = PROGRESS_HEAD.fullmatch(head)
    if match is None:
        return line
    has_bar = bool(match["bar"]) or match["count"].endswith("Unknown")  # verbose=1
    verbose_2 = (
        not match["timing"]
        and bool(rest)
        and ELAPSED_SEGMENT.fullmatch(rest[0]) is not None
        and any(PER_UNIT_SEGMENT.fullmatch(segment) for segment in rest)
    )
    if not (has_bar or verbose_2):
        return line  # "3/4 of the runs - 3s" is prose, not a progress bar
    segments = [segment for segment in rest if not TIMING_SEGMENT.fullmatch(segment)]
    return " - ".join([match["kept"], *segments])


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
