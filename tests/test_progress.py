"""The build's progress display: on a terminal a running snippet's line keeps its epoch in
view however long its names and however narrow the terminal; off a terminal (a pipe, a CI log)
plain log lines, without carriage returns or ANSI codes."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import pytest

from dlexec import progress
from dlexec.build.scheduling import Announcing
from dlexec.errors import Location
from dlexec.progress import Bar, PlainLine, Quiet, Silent, SnippetLine

SLUG = "my-very-long-scaffolded-post-title-about-regularization"
SNIPPET = Path(f"snippets/{SLUG}.py")
POST = Location(Path(f"posts/2026-11-22-{SLUG}.md"), 36)
# What a Keras fit prints (cleaned or not): headers, then step lines redrawn with \r and \b.
KERAS = "Epoch {n}/10\n\r 1/469 \x1b[32m━━━\x1b[0m 0s\b\b\b\r469/469 ━━━━━━ 2s - loss: 0.{n}\n"
SEPARATORS = re.compile(r"\r|\n|\x1b\[[0-9;]*[A-Za-z]")


class Terminal(io.StringIO):
    """What tqdm takes for a terminal; its width comes from os.get_terminal_size."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 2


@pytest.fixture
def width(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The fake terminal's width in columns (change the item to resize it)."""
    columns = [80]
    monkeypatch.setattr(os, "get_terminal_size", lambda *_: os.terminal_size((columns[0], 24)))
    return columns


def drawn_lines(screen: Terminal, name: str) -> list[str]:
    """Every text tqdm drew on `screen` that mentions `name`, in order."""
    return [part for part in SEPARATORS.split(screen.getvalue()) if name in part]


def train(watcher: progress.Watcher, epochs: int) -> None:
    watcher.running()
    for epoch in range(1, epochs + 1):
        watcher.output(KERAS.format(n=epoch))


@pytest.mark.parametrize("columns", [80, 120])
def test_a_long_scaffolded_name_still_shows_its_epoch_on_the_terminal(width, columns):
    width[0] = columns
    screen = Terminal()
    bar = Bar(file=screen)
    assert bar.enabled
    bar.start(3)
    line = bar.watch(SNIPPET, POST)
    assert isinstance(line, SnippetLine)
    train(line, 3)
    shown = str(line.bar)
    drawn = drawn_lines(screen, "my-very-long")
    bar.finished(SNIPPET)
    bar.close()

    assert "Epoch 3/10" in shown
    assert len(shown) < columns
    assert f"{SLUG}.py" in shown  # the file name, not its folder
    assert "snippets/" not in shown
    assert "Epoch 3/10" in drawn[-1]
    assert all(len(text.rstrip()) < columns for text in drawn)
    if columns == 120:  # room for some of the post: its middle is elided
        assert "(for 2026-11-22-" in shown
        assert "ization.md)  Epoch 3/10" in shown
        assert "…" in shown


def test_the_line_follows_the_terminal_when_it_is_resized(width):
    width[0] = 200
    bar = Bar(file=Terminal())
    bar.start(1)
    line = bar.watch(SNIPPET, POST)
    train(line, 3)
    assert str(line.bar).strip().startswith(f"{SLUG}.py (for 2026-11-22-{SLUG}.md)  Epoch 3/10")
    for columns in (120, 80, 60, 40, 20):
        width[0] = columns
        shown = str(line.bar)
        assert "Epoch 3/10" in shown
        assert len(shown) < columns
    bar.close()


def test_the_label_gives_way_in_order_post_clock_name_but_never_the_epoch():
    line = SnippetLine(Bar(enabled=True), f"{SLUG}.py", f"2026-11-22-{SLUG}.md")
    line.epoch = ("3", "10")
    full = line.text(None, 83)
    assert full == f"  {SLUG}.py (for 2026-11-22-{SLUG}.md)  Epoch 3/10 [01:23]"
    assert line.text(len(full), 83) == full
    assert line.text(100, 83) == f"  {SLUG}.py (for 2026-1…ion.md)  Epoch 3/10 [01:23]"
    assert line.text(79, 83) == f"  {SLUG}.py  Epoch 3/10"
    assert line.text(40, 83) == "  my-very-long-…arization.py  Epoch 3/10"
    assert line.text(20, 83) == "  Epoch 3/10"
    for columns in range(12, 200):
        assert "Epoch 3/10" in line.text(columns, 83)
        assert len(line.text(columns, 83)) <= columns
    line.epoch = None  # before the first epoch: name and clock
    assert line.text(200, 3725) == f"  {SLUG}.py (for 2026-11-22-{SLUG}.md)  [1:02:05]"


def test_off_a_terminal_plain_lines_report_start_epochs_and_end():
    log = io.StringIO()  # a pipe, a CI log: not a terminal
    bar = Bar(file=log, interval=0)
    assert not bar.enabled
    bar.start(1)
    watcher = bar.watch(SNIPPET, POST)
    assert isinstance(watcher, PlainLine)
    # The engine logs "executing ..." when the run starts and "executed ..." when it ends.
    announced = Announcing(watcher, lambda: bar.write(f"executing {SNIPPET} (limit 600 s)"))
    train(announced, 3)
    bar.write(f"executed {SNIPPET} in 12.3 s")
    bar.finished(SNIPPET)
    bar.advance()
    bar.close()

    text = log.getvalue()
    assert "\r" not in text
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == f"executing {SNIPPET} (limit 600 s)"
    assert [re.sub(r"\(\d+\.\d s\)", "(T)", line) for line in lines[1:-1]] == [
        f"{SNIPPET}: Epoch {n}/10 (T)" for n in (1, 2, 3)
    ]
    assert lines[-1] == f"executed {SNIPPET} in 12.3 s"


def test_off_a_terminal_epoch_lines_come_at_most_once_per_interval(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress, "monotonic", lambda: now[0])
    said: list[str] = []
    bar = Bar(file=io.StringIO(), log=said.append, interval=10)
    bar.start(1)
    watcher = bar.watch(Path("snippets/x.py"), POST)
    watcher.running()
    for epoch in range(1, 31):  # one epoch every 1.5 s
        now[0] += 1.5
        watcher.output(f"Epoch {epoch}/30\n")
        watcher.output("10/10 - loss: 0.1\n")  # the same epoch: no new line
    bar.close()
    assert said == [
        "snippets/x.py: Epoch 1/30 (1.5 s)",
        "snippets/x.py: Epoch 8/30 (12.0 s)",
        "snippets/x.py: Epoch 15/30 (22.5 s)",
        "snippets/x.py: Epoch 22/30 (33.0 s)",
        "snippets/x.py: Epoch 29/30 (43.5 s)",
    ]


def test_an_epoch_header_split_between_two_pieces_of_output_is_found():
    said: list[str] = []
    bar = Bar(file=io.StringIO(), log=said.append, interval=0)
    bar.start(1)
    watcher = bar.watch(Path("snippets/x.py"), POST)
    watcher.running()
    watcher.output("loss: 0.2\nEpo")
    watcher.output("ch 2/5\n")
    bar.close()
    assert len(said) == 1
    assert said[0].startswith("snippets/x.py: Epoch 2/5 (")


def test_nothing_is_shown_outside_a_build_or_by_silent():
    for bar in (Bar(file=io.StringIO()), Bar(file=Terminal())):
        assert isinstance(bar.watch(SNIPPET, POST), Quiet)  # before start()
    assert isinstance(Silent().watch(SNIPPET, POST), Quiet)


@pytest.mark.parametrize("on_terminal", [True, False])
def test_snippets_running_at_once_each_keep_their_own_line(width, on_terminal):
    width[0] = 100
    out = Terminal() if on_terminal else io.StringIO()
    bar = Bar(file=out, interval=0)
    names = [Path(f"snippets/s{number}.py") for number in range(8)]
    bar.start(len(names))
    together = threading.Barrier(len(names))
    positions: dict[Path, int] = {}
    errors: list[BaseException] = []

    def run(relative: Path) -> None:
        try:
            watcher = bar.watch(relative, POST)
            together.wait()
            watcher.running()
            if isinstance(watcher, SnippetLine):
                positions[relative] = watcher.position
            together.wait()  # all running at once
            for epoch in range(1, 6):
                watcher.output(f"Epoch {epoch}/5\n")
            together.wait()
            bar.finished(relative)
            bar.advance()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()

    assert not errors
    if on_terminal:
        assert sorted(positions.values()) == list(range(1, len(names) + 1))
    else:
        lines = out.getvalue().splitlines()
        assert len(lines) == len(names) * 5
        assert all(
            re.fullmatch(r"snippets/s\d\.py: Epoch [1-5]/5 \(\d+\.\d s\)", line) for line in lines
        )
