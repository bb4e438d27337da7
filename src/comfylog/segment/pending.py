"""Records the segmenter may still change, held back from the report's tables until they are final.

A prompt's records (its bars, loads, errors) change until the prompt ends: a bar is placed in time
when its prompt closes, an error grows into an incident, records move to the prompt that really
ran. The segmenter appends every new record here, changes it here, and ``flush_while`` hands the
final ones, oldest first, to the table (a spool, which never changes a record it holds).
"""

from __future__ import annotations

import itertools
import pickle
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, Generic, TypeVar

from ..spool import Spool

T = TypeVar("T")


class Pending(Generic[T]):
    """The not-yet-final end of one table: new records go here first, in table order."""

    def __init__(self, table: Spool[T]) -> None:
        self.table = table
        self.items: list[T] = []

    def append(self, item: T) -> None:
        self.items.append(item)

    def flush_while(self, final: Callable[[T], bool], keep: int = 0) -> None:
        """Move records to the table, oldest first, while ``final(record)`` holds, leaving at least ``keep``."""
        count = 0
        for item in itertools.islice(self.items, max(0, len(self.items) - keep)):
            if not final(item):
                break
            count += 1
        if count:
            self.table.extend(self.items[:count])
            del self.items[:count]

    def flush(self) -> None:
        """Every record is final (the input ended)."""
        self.table.extend(self.items)
        self.items.clear()

    def __len__(self) -> int:
        """Records in the table and pending: the next record's position."""
        return len(self.table) + len(self.items)

    def recent(self, count: int) -> list[T]:
        """The last ``count`` pending records (the ones that can still change)."""
        return self.items[-count:]

    def __reversed__(self) -> Iterator[T]:
        return reversed(self.items)


#: Records a shelf pickles together.
SHELF_BLOCK = 4096


class Shelf(Generic[T]):
    """Records set aside on disk until their owner is done with them, read back in order once.

    A prompt of 400,000 stamped bars held every bar (and the activity of every bar line) until it ended
    (609 MB): the bars it has painted already wait here, pickled by the block, for the records to go to
    the table when it ends (placed or not, as it ends timed or not) and in case painting must be done
    again from the start (segmenter._fold_bars). Not a Spool: its blocks are read back once, not kept.
    Each record is shelved as the tuple ``pack`` makes of it and made again by ``unpack``: pickling the
    objects themselves (a dataclass's state, an Event's dict of fields) cost a fifth of the segmenter's time."""

    def __init__(self, pack: Callable[[T], tuple[Any, ...]], unpack: Callable[[tuple[Any, ...]], T],
                 block: int | None = None) -> None:
        self._pack = pack
        self._unpack = unpack
        self._block = block or SHELF_BLOCK
        self._items: list[tuple[Any, ...]] = []
        self._file: IO[bytes] | None = None
        self._extents: list[tuple[int, int]] = []
        self._count = 0

    def append(self, item: T) -> None:
        self._items.append(self._pack(item))
        self._count += 1
        if len(self._items) >= self._block:
            if self._file is None:
                import tempfile  # only a long prompt gets here: a small log's start-up imports no more than it uses

                self._file = tempfile.TemporaryFile()
            data = zlib.compress(pickle.dumps(self._items, pickle.HIGHEST_PROTOCOL), 1)
            self._extents.append((self._file.seek(0, 2), len(data)))
            self._file.write(data)
            self._items = []

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[T]:
        """Every record in order, a block at a time."""
        unpack = self._unpack
        for offset, length in self._extents:
            assert self._file is not None
            self._file.seek(offset)
            yield from map(unpack, pickle.loads(zlib.decompress(self._file.read(length))))
        yield from map(unpack, list(self._items))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
