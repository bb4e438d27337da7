"""A list of report records that keeps memory flat: finished records go to a temporary file.

A RunPod worker that ran for days leaves hundreds of thousands of prompts, bars, loads and errors
(the 1 GB benchmark: 347k prompts, 793k loads). Held as Python objects that is ~0.3-1 kB a record,
so memory would grow with the log. A spool takes only final records: the segmenter keeps every
record that may still change in its own pending lists (segment/pending.py) and appends it here once
final. Once a block of records is in, it is pickled, compressed (repetitive records shrink ~7x) and
written to an unnamed temporary file. Reading back decodes a whole block (1-10 ms), so what a long
log costs is how many blocks its readers decode, and peak memory (200 MB at any size) bounds what
may stay decoded. What is kept, all spools of the process together:

- blocks read back, decoded, first come first kept, up to keep_budget() (estimated); the report index
  reads the runs and errors first, which many rules pass over. Past it, a block is decoded again at
  each pass, and each spool holds its RECENT last block: a walk in table order decodes a block once.
- records looked up one at a time by position (``spool[i]``: the prompt of a record, a run),
  each as its own pickle, up to PICK_BYTES: the rules ask for the same scattered prompts again and
  again, and a pickle is 4-5x smaller than the record. ``walk`` (a prompt's loads, bars, errors, a run's
  prompts) keeps nothing one by one: it goes block after block.

Readers do their share: the diagnosis reads each table once into the index (index.py,
diagnose/facts.py), which files the groups of runs, prompts, loads and errors the rules walk, and
the loads, bars and errors of the prompts of some groups, in spools of their own (the small ones:
a group of most of a table is read from it), so that a walk decodes the group, not every block its
members are scattered over. The whole corpus as one report in blocks of 64 records: the diagnosis
decodes 1.9 blocks per block of its tables (it was 7.5, then 3.6; tests/test_spool.py holds it
under 2.5), the JSON one.

The rule, stated once: a record in a spool never changes. What is read back from disk is a copy
(a kept block is handed to every reader, so no reader may change it either), and there is no way
to store a changed record (no ``__setitem__``): whoever must change a record keeps it until it is
final. Small logs never reach a block: their records stay in memory.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, starmap
from typing import IO, Any, Generic, TypeVar, overload

T = TypeVar("T")

#: Records per block: big enough to compress well, small enough to decode in about a millisecond.
BLOCK = 4096
#: Estimated memory of the decoded blocks all spools keep (bytes), less KEEP_LESS_PER_RECORD for each
#: record on disk, down to KEEP_FLOOR_BYTES: the longer the log, the more the report index and the
#: rules hold beside the blocks. A 100 MB log keeps 45 MB of its tables (its diagnosis decodes half
#: as many blocks as with 16 MB), the 1 GB benchmark (1.4 million records) 16 MB and peaks at 180 MB
#: (200 MB is the bound at any size).
KEEP_BYTES = 48 * 1024 * 1024
KEEP_FLOOR_BYTES = 16 * 1024 * 1024
KEEP_LESS_PER_RECORD = 25
#: Memory of the records looked up by position that all spools keep, each pickled alone (bytes):
#: the groups of prompts the rules ask for again and again, and their loads, bars and errors.
PICK_BYTES = 8 * 1024 * 1024
#: Bytes a kept record costs besides its pickle (the bytes object, its entry in a dict).
PICKED_OVERHEAD = 120
#: Blocks past the budget each spool holds decoded, the most recently used (a second one saved no
#: decode on the 256 MB corpus file, and costs memory in every spool).
RECENT = 1
#: Bytes of decoded records per byte of their pickle (measured 3.4 for runs to 6.9 for loads).
DECODED_PER_PICKLED = 6


#: Record classes pickled as their class and field values (model.py's ``_by_fields``: ``cls(*fields)``), each with
#: what reads its fields as a tuple. A block of one of them goes to disk as ``(cls, [fields, ...])``: pickle then
#: writes tuples in C instead of calling ``__reduce__`` once a record (a block of loads 5x faster to write, of
#: prompts 1.3x; read back as fast), and reading it makes each record as its pickle would, ``cls(*fields)``.
FIELD_TUPLES: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _pickled(chunk: list[Any]) -> bytes:
    """A block's pickle: as FIELD_TUPLES says where all its records are of one class there, else the list."""
    if chunk:
        cls = type(chunk[0])
        fields = FIELD_TUPLES.get(cls)
        if fields is not None and all(type(item) is cls for item in chunk):
            return pickle.dumps((cls, list(map(fields, chunk))), protocol=pickle.HIGHEST_PROTOCOL)
    return pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)


def _unpickled(data: bytes) -> list[Any]:
    """A block's records from ``_pickled``'s bytes (or the Rust segmenter's, a list)."""
    items = pickle.loads(data)
    if type(items) is tuple:
        cls, rows = items
        return list(starmap(cls, rows))
    return items  # type: ignore[no-any-return]


class _Kept:
    """The estimated bytes of decoded blocks (keep_budget() bounds it) and of records looked up by
    position (PICK_BYTES) kept by all spools, and the records all spools have on disk."""

    total = 0
    picked = 0
    spilled = 0


def keep_budget() -> int:
    """The bytes of decoded blocks all spools may keep now (KEEP_BYTES)."""
    return max(min(KEEP_BYTES, KEEP_FLOOR_BYTES), KEEP_BYTES - _Kept.spilled * KEEP_LESS_PER_RECORD)


class Spool(Sequence[T], Generic[T]):
    """An append-only sequence of final records, all but the newest few blocks on disk."""

    def __init__(self, items: Iterable[T] = (), block: int | None = None, compress: bool = True,
                 hold: int = 0) -> None:
        """``compress``: zlib its blocks on disk (a copy read back a few times in one analysis saves more CPU
        uncompressed than it costs in disk: the diagnosis's groups, diagnose/facts.py). ``hold``: the estimated
        bytes of a record; then whole blocks stay in memory, never pickled, while the budget of decoded blocks
        (keep_budget) takes them, and go to disk from the first it does not take (a copy of records just decoded:
        pickled, it cost more to write and read back than to keep)."""
        self._block = block or BLOCK
        self._compress = compress
        self._hold = hold
        self._held_bytes = 0  # the estimated bytes of the whole blocks of the tail held in memory
        self._file: IO[bytes] | None = None
        self._extents: list[tuple[int, int, int]] = []  # (offset, length, decoded bytes) of each block on disk
        self._spilled = 0  # records on disk (whole blocks; the last one short once let go)
        self._tail: list[T] = []  # records after the spilled ones, in memory
        self._recent: list[tuple[int, list[T]]] = []  # blocks decoded past the budget, newest first (RECENT)
        self._kept: dict[int, list[T]] = {}  # blocks kept decoded (KEEP_BYTES)
        self._kept_bytes = 0
        self._picked: dict[int, bytes] = {}  # records looked up by position, pickled alone (PICK_BYTES)
        self._json_rows: dict[int, tuple[int, int]] = {}  # block -> (offset, length) of its JSON rows' text
        self._picked_bytes = 0
        self._closed = False  # let go with a short last block on disk: no more records
        self.extend(items)

    # ---- writing ------------------------------------------------------------------------------
    def append(self, item: T) -> None:
        """Add a final record; a full block of them goes to disk."""
        if self._closed:
            raise ValueError("a spool let go takes no more records")
        tail = self._tail
        tail.append(item)
        if len(tail) % self._block == 0:
            if self._hold and self._hold_block():
                return
            self._spill_tail()

    def _hold_block(self) -> bool:
        """Keep the block the tail just completed in memory, if the budget takes it."""
        cost = self._block * self._hold
        if _Kept.total + cost > keep_budget():
            return False
        _Kept.total += cost
        self._held_bytes += cost
        return True

    def _spill_tail(self) -> None:
        """Every whole block of the tail to disk; the blocks held stop being held, and no more are."""
        tail, block = self._tail, self._block
        whole = len(tail) - len(tail) % block
        for start in range(0, whole, block):
            self._spill(tail[start:start + block])
        self._tail = tail[whole:]
        _Kept.total -= self._held_bytes
        self._held_bytes = self._hold = 0

    def extend(self, items: Iterable[T]) -> None:
        """``append`` each of ``items``, in one step (the native segmenter hands over records by the block)."""
        if self._closed:
            raise ValueError("a spool let go takes no more records")
        if self._hold:
            for item in list(items) if items is self else items:
                self.append(item)
            return
        tail = self._tail
        tail.extend(list(items) if items is self else items)
        block = self._block
        if len(tail) < block:
            return
        start = 0
        while len(tail) - start >= block:
            self._spill(tail[start:start + block])
            start += block
        self._tail = tail[start:]  # a new list, as append leaves (a pass over the tail holds a copy)

    def __iadd__(self, items: Iterable[T]) -> Spool[T]:
        self.extend(items)
        return self

    @property
    def block(self) -> int:
        """Records per block on disk."""
        return self._block

    def add_pickled(self, data: bytes, decoded: int, json_rows: str | None = None) -> None:
        """Add a whole block of final records, already pickled as a list and zlib-compressed (the Rust
        segmenter writes them: native/src/segment/pickle.rs), with the estimated bytes of the records
        it decodes to and, for most tables, the text of their ``--format json`` rows (joined as
        render/json.py joins rows), which the JSON then copies instead of decoding the block. The
        records before it must be whole blocks too (none in memory)."""
        if self._tail:
            raise ValueError("a pickled block follows records in memory")
        if self._closed:
            raise ValueError("a spool let go takes no more records")
        if not self._compress:
            raise ValueError("a pickled block goes to a spool that compresses")
        self._write(data, decoded, self._block)
        if json_rows is not None:
            assert self._file is not None
            text = json_rows.encode()
            self._json_rows[len(self._extents) - 1] = (self._file.tell(), len(text))
            self._file.write(text)

    @property
    def has_json_rows(self) -> bool:
        """Some blocks came with the text of their JSON rows (add_pickled)."""
        return bool(self._json_rows)

    def json_rows(self) -> Iterator[str | list[T]]:
        """The table in order, for the JSON writer: each block's rows as text where it came with them,
        else its records (a block, then the records in memory)."""
        for number in range(len(self._extents)):
            where = self._json_rows.get(number)
            if where is None:
                yield self._load(number)
                continue
            assert self._file is not None
            self._file.seek(where[0])
            yield self._file.read(where[1]).decode()
        if self._tail:
            yield list(self._tail)

    def _spill(self, chunk: list[T]) -> None:
        pickled = _pickled(chunk)
        self._write(zlib.compress(pickled, 1) if self._compress else pickled, len(pickled) * DECODED_PER_PICKLED,
                    len(chunk))

    def _write(self, data: bytes, decoded: int, records: int) -> None:
        """A block to the temporary file: its compressed pickle, the estimated bytes of its records
        decoded, how many."""
        if self._file is None:
            import tempfile  # here: only a long log spills, and tempfile imports random (~2 ms of a start-up)

            self._file = tempfile.TemporaryFile(prefix="comfylog-")
        offset = self._file.seek(0, 2)
        self._file.write(data)
        self._extents.append((offset, len(data), decoded))
        self._spilled += records
        _Kept.spilled += records

    # ---- reading ------------------------------------------------------------------------------
    @property
    def on_disk(self) -> int:
        """How many records are in the temporary file."""
        return self._spilled

    def __len__(self) -> int:
        return self._spilled + len(self._tail)

    def _load(self, number: int) -> list[T]:
        kept = self._kept.get(number)
        if kept is not None:
            return kept
        recent = self._recent
        for i, (held, decoded) in enumerate(recent):
            if held == number:
                if i:
                    recent.insert(0, recent.pop(i))
                return decoded
        assert self._file is not None
        offset, length, cost = self._extents[number]
        self._file.seek(offset)
        data = self._file.read(length)
        items: list[T] = _unpickled(zlib.decompress(data) if self._compress else data)
        if _Kept.total + cost <= keep_budget():
            self._kept[number] = items
            self._kept_bytes += cost
            _Kept.total += cost
        else:
            recent.insert(0, (number, items))
            del recent[RECENT:]
        return items

    def _pick(self, index: int) -> T:
        """The spilled record at ``index``, kept (within PICK_BYTES) for the next lookup."""
        number = index // self._block
        items = self._load(number)
        item = items[index % self._block]
        if number not in self._kept:
            self._keep_record(index, item)
        return item

    def _keep_record(self, index: int, item: T) -> None:
        if _Kept.picked + PICKED_OVERHEAD < PICK_BYTES:
            data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            cost = len(data) + PICKED_OVERHEAD
            if _Kept.picked + cost <= PICK_BYTES:
                self._picked[index] = data
                self._picked_bytes += cost
                _Kept.picked += cost

    def let_go(self) -> None:
        """Give back the blocks and records kept decoded for the readers (the budgets are shared by all
        spools of the process), and put the records not yet on disk there too, where the spool has a file:
        a report read no more leaves its memory to the next one's analysis (a 1 GB log's tails are ~5 MB).
        A spool let go takes no more records (its last block on disk may be short)."""
        _Kept.total -= self._kept_bytes
        _Kept.picked -= self._picked_bytes
        self._kept, self._kept_bytes, self._picked, self._picked_bytes, self._recent = {}, 0, {}, 0, []
        if self._held_bytes:
            self._spill_tail()
        if self._file is not None and self._tail:
            self._spill(self._tail)
            self._tail = []
            self._closed = True

    def __del__(self) -> None:
        # The budgets are given back with the blocks and records.
        _Kept.total -= getattr(self, "_kept_bytes", 0) + getattr(self, "_held_bytes", 0)
        _Kept.picked -= getattr(self, "_picked_bytes", 0)
        _Kept.spilled -= getattr(self, "_spilled", 0)

    def __iter__(self) -> Iterator[T]:
        # By position, not by block: appending during the loop adds records, or moves the tail to
        # disk. Each pass hands over what is there now (a C-level ``yield from`` of a list: the
        # tables are read a dozen times by the diagnosis) and then looks again.
        position = 0
        while True:
            spilled = self._spilled
            if position < spilled:
                block = self._load(position // self._block)
                start = position % self._block
                chunk = block[start:] if start else block
            else:
                tail = self._tail
                start = position - spilled
                if start >= len(tail):
                    return
                chunk = tail[start:]  # a copy: the tail list may grow or be replaced meanwhile
            position += len(chunk)
            yield from chunk

    def passing(self) -> Iterator[T]:
        """The records in order, as ``iter``, for one pass that keeps none of the blocks it decodes (within
        KEEP_BYTES): the report index's pass over a table too big to stay decoded whole, whose rules then read the
        groups copied in that pass (diagnose/facts.py). The first blocks of the table kept there served no later
        reader, and took the budget from those copies, which the rules read back several times. Records appended
        meanwhile are not given: the tables are final when the index reads them. The blocks are chained in C
        (``chain.from_iterable``): a generator's ``yield from`` handed over each record, a twentieth of the pass."""
        return chain.from_iterable(self._passing_blocks())

    def _passing_blocks(self) -> Iterator[list[T]]:
        """Spool.passing's blocks, each decoded when the pass reaches it, then the tail's copy."""
        kept, file = self._kept, self._file
        for number in range(len(self._extents)):
            items = kept.get(number)
            if items is None:
                items = next((held for at, held in self._recent if at == number), None)
            if items is None:
                assert file is not None
                offset, length, _ = self._extents[number]
                file.seek(offset)
                data = file.read(length)
                items = _unpickled(zlib.decompress(data) if self._compress else data)
            yield items
        yield list(self._tail)

    def __reversed__(self) -> Iterator[T]:
        return self.walk(range(len(self) - 1, -1, -1))  # block by block, nothing kept one by one

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            if index.start is not None and index.start < 0 and -index.start <= len(self._tail) \
                    and index.stop is None and index.step is None:
                return self._tail[index]  # the common "last few" look-back, no disk
            return list(self.walk(range(*index.indices(len(self)))))  # a run of records: not kept one by one
        spilled = self._spilled
        size = spilled + len(self._tail)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("spool index out of range")
        if index >= spilled:
            return self._tail[index - spilled]
        picked = self._picked.get(index)
        return self._pick(index) if picked is None else pickle.loads(picked)

    def held(self, index: int) -> T | None:
        """The record at ``index`` (in range) if it can be had without decoding a block, else None."""
        spilled = self._spilled
        if index >= spilled:
            return self._tail[index - spilled]
        data = self._picked.get(index)
        if data is not None:
            return pickle.loads(data)  # type: ignore[no-any-return]
        number, block = divmod(index, self._block)
        kept = self._kept.get(number)
        if kept is not None:
            return kept[block]
        return next((items[block] for held, items in self._recent if held == number), None)

    def walk(self, positions: Iterable[int]) -> Iterator[T]:
        """The records at these positions (each in range), in their order, one at a time: a prompt's
        loads, a run's prompts. They are not kept one by one (PICK_BYTES): a walk in table order
        decodes each block once, and would only fill the budget. A range goes block slice by block slice."""
        if isinstance(positions, range) and positions.step == 1:
            return self._walk_range(positions.start, positions.stop)
        return self._walk(positions)

    def _walk(self, positions: Iterable[int]) -> Iterator[T]:
        spilled, picked, tail, block, loads = self._spilled, self._picked, self._tail, self._block, pickle.loads
        for index in positions:
            if index >= spilled:
                yield tail[index - spilled]
            else:
                data = picked.get(index)
                yield self._load(index // block)[index % block] if data is None else loads(data)

    def _walk_range(self, start: int, stop: int) -> Iterator[T]:
        spilled, block, position = self._spilled, self._block, start
        while position < stop:
            if position >= spilled:
                yield from self._tail[position - spilled:stop - spilled]
                return
            number, offset = divmod(position, block)
            end = min(stop, (number + 1) * block, spilled)
            yield from self._load(number)[offset:offset + end - position]
            position = end

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
        return (Spool, (list(self), self._block, self._compress))


def can_keep(tables: Iterable[Sequence[Any]]) -> list[bool]:
    """For each table, read in this order, whether all the blocks it has on disk can stay decoded within what
    the budget has left (first come, first kept): then a reader that passes over it again decodes nothing,
    and a copy of some of its records would only cost."""
    left = keep_budget() - _Kept.total
    kept = []
    for table in tables:
        needed = sum(cost for _, _, cost in table._extents) - table._kept_bytes if isinstance(table, Spool) else 0
        kept.append(needed <= left)
        left -= needed
    return kept


def record_bytes(table: Sequence[Any]) -> int:
    """The estimated bytes of a decoded record of ``table`` (0 for a table with none on disk)."""
    if isinstance(table, Spool) and table._spilled:
        return sum(cost for _, _, cost in table._extents) // table._spilled
    return 0


def passing(table: Sequence[T], keep: bool = True) -> Iterator[T]:
    """``iter(table)``, or for a spool and ``keep`` False one pass that keeps none of its blocks (Spool.passing)."""
    if not keep and isinstance(table, Spool):
        return table.passing()
    return iter(table)


def walk(table: Sequence[T], positions: Iterable[int]) -> Iterator[T]:
    """The records of ``table`` (a spool, or a plain list) at these positions, in their order (Spool.walk)."""
    if isinstance(table, Spool):
        return table.walk(positions)
    return (table[i] for i in positions)
