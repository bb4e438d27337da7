"""Records the segmenter may still change, held back from the report's tables until they are final.

A prompt's records (its bars, loads, errors) change until the prompt ends: a bar is placed in time
when its prompt closes, an error grows into an incident, records move to the prompt that really
ran. The segmenter appends every new record here, changes it here, and ``flush_while`` hands the
final ones, oldest first, to the table (a spool, which never changes a record it holds).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

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
