"""The notebook client that runs a snippet's cells: nbclient's, with every cell's output bounded
in memory (a snippet may print or draw gigabytes)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import nbformat
from nbclient import NotebookClient

from ..capture.clean import human_size


class BoundedClient(NotebookClient):
    """A NotebookClient that keeps the first `head` and last `tail` characters of each cell's
    printed output, and rich outputs (figures) up to a size per output and per cell, so a
    snippet printing or drawing gigabytes cannot exhaust the build's memory."""

    head: int = 2_000_000
    tail: int = 1_000_000
    rich_per_output: int = 8_000_000  # characters of one display's data (base64 of ~6 MB)
    rich_per_cell: int = 40_000_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_output: Callable[[str], None] | None = None
        self.sandboxed = False  # bwrap reports a child killed by signal N as exit 128 + N
        self._kept: dict[int, int] = {}
        self._tails: dict[int, deque[tuple[str, str]]] = {}
        self._tail_sizes: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        self._rich: dict[int, int] = {}

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "execute_result"):
            return self._rich_output(outs, msg, display_id, cell_index)
        if msg["msg_type"] != "stream":
            return super().output(outs, msg, display_id, cell_index)
        text = msg["content"]["text"]
        if self.on_output is not None:
            self.on_output(text)
        kept = self._kept.get(cell_index, 0)
        if cell_index not in self._tails and kept + len(text) <= self.head:
            self._kept[cell_index] = kept + len(text)
            return super().output(outs, msg, display_id, cell_index)
        # Past the head, everything goes to the tail, so output keeps its order.
        tail = self._tails.setdefault(cell_index, deque())
        tail.append((msg["content"]["name"], text))
        size = self._tail_sizes.get(cell_index, 0) + len(text)  # kept running: linear time
        while size - len(tail[0][1]) >= self.tail:
            dropped = len(tail.popleft()[1])
            size -= dropped
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + dropped
        self._tail_sizes[cell_index] = size
        return None

    def _rich_output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        """Keep a display unless it is over the size cap per output or per cell."""
        data = msg["content"].get("data", {})
        size = sum(len(value) if isinstance(value, str) else 1000 for value in data.values())
        used = self._rich.get(cell_index, 0) + size
        if size <= self.rich_per_output and used <= self.rich_per_cell:
            self._rich[cell_index] = used
            return super().output(outs, msg, display_id, cell_index)
        limit = self.rich_per_output if size > self.rich_per_output else self.rich_per_cell
        notice = (
            f"[an output of {human_size(size)} ({', '.join(sorted(data)) or 'no data'}) was left "
            f"out: over the limit of {human_size(limit)}]\n"
        )
        outs.append(nbformat.v4.new_output("stream", name="stderr", text=notice))
        return None

    def finish_cell(self, cell: nbformat.NotebookNode, cell_index: int) -> None:
        """Append the kept tail of a cell's output, after a notice of what was cut."""
        tail = self._tails.pop(cell_index, None)
        if not tail:
            return
        dropped = self._dropped.pop(cell_index, 0)
        notice = f"\n[... {human_size(dropped)} of output cut here to bound memory ...]\n"
        if dropped:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=notice))
        for name, text in tail:
            cell.outputs.append(nbformat.v4.new_output("stream", name=name, text=text))
