"""A list of report records that keeps memory flat: finished records go to a temporary file.

A RunPod worker that ran for days leaves hundreds of thousands of prompts, bars, loads and errors
(the 1 GB benchmark: 306k prompts). Held as Python objects that is ~0.7 kB a record, so memory
would grow with the log. The segmenter says which records are final (``release``); once a block
of them is final it is pickled, compressed (repetitive records shrink ~7x) and written to an
unnamed temporary file. Reading back (iteration, indexing) decodes one block at a time, so a pass
over every record costs a few microseconds a record and never holds them all.

Small logs never reach a block: their records stay in memory, the very objects the segmenter made.
"""

from __future__ import annotations

import pickle
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar, overload

T = TypeVar("T")

#: Records per block: big enough to compress well, small enough to decode in about a millisecond.
BLOCK = 4096
#: Newest records ``release_while`` always leaves in memory, whatever the owner says (a margin).
KEEP = 64


class Spool(Sequence[T], Generic[T]):
    """An append-only sequence whose released records may live on disk.

    Records read back from disk are copies: changing one changes nothing unless it is stored
    again (``spool[i] = record``); until its block is decoded again the change may seem to stick,
    so never rely on that. The owner calls ``release(n)`` once the first ``n`` records will not
    change any more; only those are ever written out. Positions never move (append-only), so
    iterating while records are released is safe.
    """

    def __init__(self, items: Iterable[T] = (), block: int | None = None) -> None:
        self._block = block or BLOCK
        self._file: IO[bytes] | None = None
        self._extents: list[tuple[int, int]] = []  # (offset, length) of each block on disk
        self._spilled = 0  # records on disk (whole blocks)
        self._tail: list[T] = list(items)  # records after the spilled ones, in memory
        self._final = 0  # how many records from the start will not change (released)
        self._patched: dict[int, T] = {}  # spilled records stored again after a change
        self._cached: tuple[int, list[T]] | None = None  # last block decoded

    # ---- writing ------------------------------------------------------------------------------
    def append(self, item: T) -> None:
        self._tail.append(item)

    def extend(self, items: Iterable[T]) -> None:
        for item in list(items) if items is self else items:
            self.append(item)

    def __iadd__(self, items: Iterable[T]) -> Spool[T]:
        self.extend(items)
        return self

    def release(self, count: int | None = None) -> None:
        """The first ``count`` records (all, if None) are final: they may go to disk."""
        total = len(self)
        self._final = max(self._final, total if count is None else min(count, total))
        blocks = (self._final - self._spilled) // self._block
        if blocks:
            cut = blocks * self._block
            chunk, self._tail = self._tail[:cut], self._tail[cut:]  # one cut, not one per block
            for start in range(0, cut, self._block):
                self._spill(chunk[start:start + self._block])

    def release_while(self, final: Callable[[T], bool], keep: int | None = None) -> None:
        """Release records, oldest first, while ``final(record)`` holds; the last ``keep`` stay."""
        limit = len(self) - (KEEP if keep is None else keep)
        index = self._final
        tail, spilled = self._tail, self._spilled
        while index < limit and final(tail[index - spilled]):
            index += 1
        self.release(index)

    def _spill(self, chunk: list[T]) -> None:
        data = zlib.compress(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL), 1)
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="comfylog-")
        offset = self._file.seek(0, 2)
        self._file.write(data)
        self._extents.append((offset, len(data)))
        self._spilled += len(chunk)

    # ---- reading ------------------------------------------------------------------------------
    @property
    def on_disk(self) -> int:
        """How many records are in the temporary file."""
        return self._spilled

    def __len__(self) -> int:
        return self._spilled + len(self._tail)

    def _load(self, number: int) -> list[T]:
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        assert self._file is not None
        offset, length = self._extents[number]
        self._file.seek(offset)
        items: list[T] = pickle.loads(zlib.decompress(self._file.read(length)))
        base = number * self._block
        for index, item in self._patched.items():
            if base <= index < base + len(items):
                items[index - base] = item
        self._cached = (number, items)
        return items

    def __iter__(self) -> Iterator[T]:
        position = 0  # by position, not by block: a release during the loop moves records to disk
        while position < len(self):
            if position < self._spilled:
                block = self._load(position // self._block)
                for item in block[position % self._block:]:
                    yield item
                    position += 1
            else:
                yield self._tail[position - self._spilled]
                position += 1

    def __reversed__(self) -> Iterator[T]:
        for position in range(len(self) - 1, -1, -1):
            yield self[position]

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            if index.start is not None and index.start < 0 and -index.start <= len(self._tail) \
                    and index.stop is None and index.step is None:
                return self._tail[index]  # the common "last few" look-back, no disk
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("spool index out of range")
        if index >= self._spilled:
            return self._tail[index - self._spilled]
        return self._load(index // self._block)[index % self._block]

    def __setitem__(self, index: int, item: T) -> None:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("spool index out of range")
        if index >= self._spilled:
            self._tail[index - self._spilled] = item
            return
        self._patched[index] = item
        if self._cached is not None and self._cached[0] == index // self._block:
            self._cached[1][index % self._block] = item

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Spool, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Spool({len(self)} records, {self._spilled} on disk)"

    # ---- pickling (reports sent between processes) -------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        """Sent whole, into memory: the receiving process's copy does not spill again."""
        return (Spool, (list(self), self._block))
