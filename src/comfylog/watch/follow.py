"""Following a growing log as ``tail -F`` does, or reading a pipe: blocks of whole lines as they arrive.

A file is followed by name and polled (``os.stat``: portable, and it works on network volumes where
inotify does not). ComfyUI-Manager rotates ``comfyui.log`` when ComfyUI starts by renaming it to
``comfyui.prev.log`` and opening a new file (``prestartup_script.py``): the follower reads the old
file to its end through the handle it holds, then sees the path on another inode and reads the new
file from its start. A file that shrinks was truncated (``copytruncate``): it is read again from its
start. A file that does not exist yet is waited for. As GNU tail's, a truncation followed, between
two polls, by at least as many bytes as were read cannot be told from growth.

Lines are handed on whole: the unfinished last line (Manager writes lines in pieces) is held back
until its newline arrives, or until the file is replaced or the input ends.
"""

from __future__ import annotations

import os
import queue
import stat
import sys
import threading
import time
from typing import BinaryIO, Protocol

from ..read.source import UnusableInput
from ..read.streams import MAX_LINE_CHARS

#: Bytes read at once.
CHUNK_BYTES = 1 << 20
#: An unfinished line longer than this keeps its head only (as streams.physical_blocks does).
MAX_CARRY_BYTES = 4 * MAX_LINE_CHARS


class Follower(Protocol):
    """A source of log bytes: ``read`` gives whole lines, ``b""`` when nothing came, None at the end."""

    name: str
    #: Lines of the input before the first one read (following a file from its end).
    first_line: int

    def read(self, timeout: float) -> bytes | None: ...

    def rest(self) -> bytes: ...

    def notices(self) -> list[str]: ...

    def status(self) -> list[str]: ...

    def close(self) -> None: ...


class _Lines:
    """Cuts bytes into whole lines, holding back the unfinished last one."""

    def __init__(self) -> None:
        self.carry = b""

    def whole(self, data: bytes) -> bytes:
        data = self.carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self.carry = data[:MAX_CARRY_BYTES]
            return b""
        self.carry = data[cut + 1 :]
        return data[: cut + 1]

    def end(self) -> bytes:
        """The unfinished line, ended: its input was replaced or ended."""
        rest, self.carry = self.carry, b""
        return rest if not rest or rest.endswith(b"\n") else rest + b"\n"


class FileFollower:
    """``tail -F PATH``: follows the name through rotation by rename, truncation, and absence."""

    def __init__(self, path: str, from_start: bool = False) -> None:
        self.name = path
        self.first_line = 0
        self._path = path
        self._from_start = from_start
        self._fh: BinaryIO | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._lines = _Lines()
        self._notices: list[str] = []
        self._seen = False  # a file was opened once (only the first one is followed from its end)
        self._waiting = False
        #: Windows cannot rename a file another process holds open (Python does not open with
        #: FILE_SHARE_DELETE): there the file is opened for each read and closed at its end, so
        #: ComfyUI-Manager's rotation still works.
        self._keep_open = os.name != "nt"
        self._check()
        self._open()  # now: where reading starts (and the line number there) is known before any read

    def _check(self) -> None:
        """Refuse a path that can never be a log (a directory); a missing one is waited for."""
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UnusableInput(f"{self._path}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(st.st_mode):
            raise UnusableInput(f"{self._path}: is a directory, not a log file")

    def notices(self) -> list[str]:
        out, self._notices = self._notices, []
        return out

    def status(self) -> list[str]:
        return []

    def _open(self) -> bool:
        try:
            fh = open(self._path, "rb")  # noqa: SIM115 - kept open across reads, closed in close()
        except FileNotFoundError:
            if not self._waiting and not self._seen:
                self._notices.append(f"waiting for {self._path} to appear")
            self._waiting = True
            return False
        except OSError as exc:
            raise UnusableInput(f"{self._path}: cannot read ({exc.strerror})") from None
        st = os.fstat(fh.fileno())
        if stat.S_ISDIR(st.st_mode):
            fh.close()
            raise UnusableInput(f"{self._path}: is a directory, not a log file")
        ident = (st.st_dev, st.st_ino)
        if ident == self._ident:  # reopened (Windows mode): go on where reading stopped
            fh.seek(self._offset)
        elif not self._seen and not self._from_start and not self._waiting:  # there at the start
            self.first_line, self._offset = _skip_to_last_line_end(fh)
        else:
            if self._seen:
                self._notices.append(f"{self._path} was replaced (rotated): following the new file")
                self._lines.carry = self._lines.end()  # (Windows mode) the old file's last line ends with it
            elif self._waiting:
                self._notices.append(f"{self._path} appeared")
            self._offset = 0
        self._fh, self._ident, self._seen, self._waiting = fh, ident, True, False
        return True

    def read(self, timeout: float) -> bytes | None:
        if self._fh is None and not self._open():
            time.sleep(timeout)
            return b""
        assert self._fh is not None
        data = self._fh.read(CHUNK_BYTES)
        if data:
            self._offset += len(data)
            return self._lines.whole(data)
        try:
            st: os.stat_result | None = os.stat(self._path)
        except FileNotFoundError:
            st = None  # between the rename and the new file: the old handle is all there is
        if st is not None and (st.st_dev, st.st_ino) != self._ident:
            self._fh.close()
            self._fh = None
            return self._lines.end()  # the old file's unfinished last line ends with it
        if st is not None and st.st_size < self._offset:
            self._notices.append(f"{self._path} was truncated: reading it again from its start")
            self._fh.seek(0)
            self._offset = 0
            return self._lines.end()
        if not self._keep_open:
            self._fh.close()
            self._fh = None
        time.sleep(timeout)
        return b""

    def rest(self) -> bytes:
        return self._lines.end()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _skip_to_last_line_end(fh: BinaryIO) -> tuple[int, int]:
    """Move ``fh`` past the last whole line of what the file holds now: (lines skipped, offset).

    Counting the skipped lines keeps the line numbers of what follows those of the file.
    """
    lines = 0
    offset = 0
    position = 0
    while chunk := fh.read(CHUNK_BYTES):
        count = chunk.count(b"\n")
        if count:
            lines += count
            offset = position + chunk.rfind(b"\n") + 1
        position += len(chunk)
    fh.seek(offset)
    return lines, offset


class PipeFollower:
    """A pipe or standard input, read by a thread so the live view goes on while nothing arrives."""

    def __init__(self, stream: BinaryIO | None = None, name: str = "<stdin>") -> None:
        self.name = name
        self.first_line = 0
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
        self._lines = _Lines()
        self._done = False
        self._thread = threading.Thread(target=self._pump, name="comfylog-watch-stdin", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        fd = self._stream.fileno()
        try:
            while chunk := os.read(fd, CHUNK_BYTES):
                self._queue.put(chunk)
        except OSError as exc:
            self._queue.put(exc)
        self._queue.put(None)

    def read(self, timeout: float) -> bytes | None:
        if self._done:
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return b""
        if item is None:
            self._done = True
            return None
        if isinstance(item, BaseException):
            raise UnusableInput(f"{self.name}: cannot read ({item})")
        return self._lines.whole(item)

    def rest(self) -> bytes:
        return self._lines.end()

    def notices(self) -> list[str]:
        return []

    def status(self) -> list[str]:
        return []

    def close(self) -> None:
        """Nothing to close: the thread ends with the pipe (it is a daemon if the pipe stays open)."""
