"""The prompts received and not yet started, held compact until they start.

ComfyUI queues every ``got prompt`` until the one before it ends; a log of 1,000,000 ``got prompt``
lines with none executed held a Prompt record of each until the log ended (1.25 GB with the Rust
segmenter, 0.77 GB with this one). Until it starts, a queued prompt is its index, line and time
(and its run and source, the same for the whole queue: a run's end empties it), 24 bytes here. Its
record is made when it leaves the queue: it starts, is dropped (a later one ran: _match_execution),
is rejected (``invalid prompt``) or its run ends. A queued prompt that changes while queued (the
latest received takes ``Failed to validate prompt for output``) is held whole from then on, as is
one whose time does not fit the compact form; worker-comfyui's id for one is kept beside it.

Records leave in table order (the report's prompts are in index order): a rejected prompt, taken
from the back of the queue, waits until every prompt queued before it has left. native/src/segment/
queue.rs is the same in Rust.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta

from ..model import Prompt

#: got_at as microseconds from EPOCH; NO_TIME for None.
EPOCH = datetime(1970, 1, 1)
NO_TIME = -(2**63)
MICROSECOND = timedelta(microseconds=1)


class PromptQueue:
    """ComfyUI's queue as the log shows it, oldest first (a deque of prompts, compact)."""

    def __init__(self, source: int) -> None:
        self.source = source
        self.run = -1
        self._index = array("q")
        self._line = array("q")
        self._got = array("q")
        #: Entries before it have left (popping from an array's front would move the rest).
        self._head = 0
        #: Queued prompts held whole, by index.
        self._whole: dict[int, Prompt] = {}
        #: worker-comfyui's ids of queued prompts not held whole, by index (name_last).
        self._named: dict[int, str] = {}
        #: Rejected prompts waiting for those queued before them, by index (sorted).
        self._removed: list[Prompt] = []

    def __len__(self) -> int:
        return len(self._index) - self._head

    def append(self, run: int, index: int, line: int, got_at: datetime | None) -> None:
        """Queue a prompt received on ``line`` (its ``got prompt``)."""
        if not self:
            self.run = run
        self._index.append(index)
        self._line.append(line)
        got = NO_TIME
        if got_at is not None:
            if got_at.tzinfo is None and got_at.fold == 0:
                got = (got_at - EPOCH) // MICROSECOND
            else:
                self._whole[index] = self._record(index, line, got_at, run)
        self._got.append(got)

    def _record(self, index: int, line: int, got_at: datetime | None, run: int | None = None) -> Prompt:
        prompt = Prompt(index=index, run=self.run if run is None else run, got_at=got_at, line=line,
                        source=self.source)
        prompt.last_line = line
        return prompt

    def _at(self, i: int) -> Prompt:
        """The record of the entry at array position ``i`` (made, or the one held whole)."""
        index = self._index[i]
        whole = self._whole.get(index)
        if whole is not None:
            return whole
        prompt = self._record(index, self._line[i], _time(self._got[i]))
        prompt.prompt_id = self._named.get(index)
        return prompt

    @property
    def head_index(self) -> int:
        return self._index[self._head]

    @property
    def head_line(self) -> int:
        return self._line[self._head]

    def got_ats(self) -> Iterator[datetime | None]:
        """Each queued prompt's ``got prompt`` time, oldest first (no record made)."""
        for i in range(self._head, len(self._index)):
            whole = self._whole.get(self._index[i])
            yield whole.got_at if whole is not None else _time(self._got[i])

    def last(self) -> Prompt:
        """The latest received, held whole from now on: the caller may change it."""
        i = len(self._index) - 1
        prompt = self._at(i)
        self._whole[prompt.index] = prompt
        self._named.pop(prompt.index, None)
        return prompt

    def name_last(self, prompt_id: str) -> None:
        """worker-comfyui's id for the latest received, unless it has one: kept beside the queue, not as a
        record held whole (a worker queues every job it is sent)."""
        index = self._index[-1]
        whole = self._whole.get(index)
        if whole is None:
            self._named.setdefault(index, prompt_id)
        elif whole.prompt_id is None:
            whole.prompt_id = prompt_id

    def remove_last(self) -> list[Prompt]:
        """Take the latest received out (rejected, already held whole by ``last``): the records that can go to the
        table now, in order (it waits for those queued before it)."""
        prompt = self.last()
        del self._whole[prompt.index]
        self._index.pop()
        self._line.pop()
        self._got.pop()
        bisect.insort(self._removed, prompt, key=lambda p: p.index)
        return self._ready([])

    def popleft(self) -> tuple[Prompt, list[Prompt]]:
        """The oldest queued prompt, and the records that go to the table now, in order: the rejected ones received
        before it, it, and those before the next queued one."""
        prompt = self._at(self._head)
        self._whole.pop(prompt.index, None)
        self._named.pop(prompt.index, None)
        self._head += 1
        if self._head == len(self._index):
            self._index, self._line, self._got, self._head = array("q"), array("q"), array("q"), 0
        elif self._head >= 4096 and self._head * 2 >= len(self._index):
            del self._index[: self._head], self._line[: self._head], self._got[: self._head]
            self._head = 0
        out = self._ready_before(prompt.index)
        out.append(prompt)
        return prompt, self._ready(out)

    def _ready_before(self, index: int) -> list[Prompt]:
        cut = bisect.bisect_left(self._removed, index, key=lambda p: p.index)
        out, self._removed[:cut] = self._removed[:cut], []
        return out

    def _ready(self, out: list[Prompt]) -> list[Prompt]:
        """``out`` and the rejected prompts no queued prompt was received before."""
        if not self:
            out += self._removed
            self._removed = []
        else:
            out += self._ready_before(self.head_index)
        return out

    def held(self) -> tuple[list[Prompt], list[Prompt]]:
        """Copies for a live reader: (the queued prompts, oldest first; the rejected ones waiting)."""
        return [self._at(i) for i in range(self._head, len(self._index))], list(self._removed)


def _time(got: int) -> datetime | None:
    """A compact ``got_at`` (microseconds from EPOCH, NO_TIME for None) as the record holds it."""
    return None if got == NO_TIME else EPOCH + got * MICROSECOND
