"""A stable sort that holds few items in memory: the rest wait on disk in sorted runs.

The timeline and the trace draw a run's records in time order, and one ComfyUI process kept up for
days has tens of thousands of prompts and hundreds of thousands of loads and spans: sorted in a
list, they made the writers' memory grow with the run's length (the trace of a 150 MB log of one
run peaked at 436 MB). Here items are held up to HOLD; then they are sorted and written to a
temporary file as a sorted run (pickled, compressed, in blocks of BLOCK). Items that come in order
(nearly always: a log is written as time goes) extend the last run, so a whole run's records are
usually one run on disk, read back a block at a time. Out of order, runs are merged FAN_IN at a
time, so at most about FAN_IN blocks and HOLD items are ever in memory.

The order is exactly ``sorted(items, key=key)``'s: ties keep the order the items were added in (each
run holds items added after the previous run's, and the merge takes equal keys from earlier runs
first), so a writer's output is the same bytes whether its items stayed in memory or not.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")

#: Items held in memory before they go to disk as a sorted run (a trace's prompt slice with its phases
#: and arguments is ~3 kB: some 6 MB).
HOLD = 2048
#: Items per block on disk: what one run costs in memory while runs are merged.
BLOCK = 128
#: Runs merged at once (and the most a sort keeps before merging some into one).
FAN_IN = 16


class _Run:
    """One sorted run on the temporary file: its blocks (offset, length), the key of its last item and
    its level (how many merges made it), for merging runs of about the same size together."""

    def __init__(self, level: int) -> None:
        self.blocks: list[tuple[int, int]] = []
        self.last_key: Any = None
        self.level = level


class ExternalSort(Generic[T]):
    """Items added one at a time, given back in stable order of ``key`` (``sorted``'s order) once."""

    def __init__(self, key: Callable[[T], Any] | None = None, hold: int | None = None) -> None:
        self._key: Callable[[T], Any] = key if key is not None else _itself
        self._hold = hold or HOLD
        self._items: list[T] = []
        self._runs: list[_Run] = []
        self._file: IO[bytes] | None = None
        self._count = 0

    def append(self, item: T) -> None:
        self._items.append(item)
        self._count += 1
        if len(self._items) >= self._hold:
            self._spill()

    def __len__(self) -> int:
        return self._count

    @property
    def on_disk(self) -> bool:
        """Whether some items went to the temporary file (the sort grew past HOLD)."""
        return bool(self._runs)

    def drain(self) -> Iterator[T]:
        """The items in order, once: the sort is empty afterwards (its file closed)."""
        if not self._runs:
            items, self._items, self._count = self._items, [], 0
            items.sort(key=self._key)
            yield from items
            return
        if self._items:
            self._spill()
        while len(self._runs) > FAN_IN:
            self._merge(self._runs[-FAN_IN:])
        runs, self._runs, self._count = self._runs, [], 0
        try:
            if len(runs) == 1:
                yield from self._read(runs[0])
            else:
                yield from heapq.merge(*(self._read(run) for run in runs), key=self._key)
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    # ---- runs on disk ---------------------------------------------------------------------------
    def _spill(self) -> None:
        """The held items, sorted, to the end of the last run when they follow it, else as a new run."""
        items, self._items = self._items, []
        items.sort(key=self._key)
        key = self._key
        last = self._runs[-1] if self._runs else None
        if last is None or key(items[0]) < last.last_key:
            last = _Run(0)
            self._runs.append(last)
        self._write(last, items)
        # like a binary counter: FAN_IN runs of one level make one of the next
        while len(self._runs) >= FAN_IN and len({run.level for run in self._runs[-FAN_IN:]}) == 1:
            self._merge(self._runs[-FAN_IN:])

    def _write(self, run: _Run, items: Iterable[T]) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="comfylog-sort-")
        file = self._file
        file.seek(0, 2)
        iterator = iter(items)
        while block := list(islice(iterator, BLOCK)):
            data = zlib.compress(pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL), 1)
            run.blocks.append((file.tell(), len(data)))
            file.write(data)
            run.last_key = self._key(block[-1])

    def _read(self, run: _Run) -> Iterator[T]:
        for offset, length in run.blocks:
            assert self._file is not None
            self._file.seek(offset)
            block: list[T] = pickle.loads(zlib.decompress(self._file.read(length)))
            yield from block

    def _merge(self, runs: list[_Run]) -> None:
        """Merge ``runs`` (the last runs: consecutive, in the order their items came) into one in their place."""
        merged = _Run(max(run.level for run in runs) + 1)
        # each block is read right after its seek, and each write seeks to the end: reads and writes interleave
        pieces = heapq.merge(*(self._read(run) for run in runs), key=self._key)
        buffer: list[T] = []
        for item in pieces:
            buffer.append(item)
            if len(buffer) >= self._hold:
                self._write(merged, buffer)
                buffer = []
        if buffer:
            self._write(merged, buffer)
        del self._runs[len(self._runs) - len(runs):]
        self._runs.append(merged)


def _itself(item: T) -> T:
    return item
