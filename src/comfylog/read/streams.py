"""Bytes in: files, ``-``/stdin, ``.gz`` (bounded, keeping what precedes damage) and UTF-16, read as
blocks of whole lines so memory stays bounded whatever the input's size."""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from .source import Source, UnusableInput

CHUNK_BYTES = 1 << 20
MAX_LINE_CHARS = 1 << 20
#: Share of control bytes in the first chunk above which an input is called binary.
BINARY_CONTROL_SHARE = 0.10

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
#: A .gz is decompressed up to this many bytes; the rest of it is dropped and counted.
MAX_GZIP_BYTES = 1 << 30
#: ...and, past GZIP_RATIO_FLOOR bytes, while it has expanded less than this many times: real
#: logs compress 5-30 times, a decompression bomb about 1000 times.
MAX_GZIP_RATIO = 100
GZIP_RATIO_FLOOR = 1 << 20
GZIP_READ_BYTES = 64 << 10
#: Compressed bytes inflated per call: a damaged part loses at most the output of one such piece...
GZIP_PIECE_BYTES = 4 << 10


#: Bytes that do not occur in text: C0 controls but tab, newline, carriage return and escape; and DEL.
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13, 27)) + b"\x7f"


def looks_binary(head: bytes) -> bool:
    """Is ``head`` (an input's first chunk) binary data rather than text? Control bytes say so."""
    if not head:
        return False
    sample = head[:65536].rstrip(b"\x00")  # a log padded with NULs after a crash is still a log
    if not sample:
        return True
    if not any(byte in sample for byte in CONTROL_BYTES):  # a memchr each: most logs have none
        return False
    control = len(sample) - len(sample.translate(None, CONTROL_BYTES))  # in C: a loop here cost 3 ms a file
    return control / len(sample) > BINARY_CONTROL_SHARE


def open_binary(path: str) -> tuple[BinaryIO, str]:
    """Open ``path`` (or stdin for ``-``) for reading bytes; gzip is detected by its magic bytes."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UnusableInput(f"{path}: no such file") from None
        except OSError as exc:
            raise UnusableInput(f"{path}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(st.st_mode):
            raise UnusableInput(f"{path}: is a directory, not a log file")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise UnusableInput(f"{path}: cannot read ({exc.strerror})") from None
        name = path
    buffered: io.BufferedReader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type,type-var,unused-ignore]
    head = buffered.peek(UTF16_PEEK_BYTES)[:UTF16_PEEK_BYTES]
    if head[:2] == GZIP_MAGIC:
        return GzipStream(buffered), name  # type: ignore[return-value]
    encoding = utf16_encoding(head)
    if encoding is not None:
        return Utf16Stream(buffered, encoding), name  # type: ignore[return-value]
    return buffered, name


#: Bytes looked at to recognise UTF-16 without a byte order mark.
UTF16_PEEK_BYTES = 512


def utf16_encoding(head: bytes) -> str | None:
    """``utf-16`` (with a BOM), ``utf-16-le`` / ``-be`` (ASCII text with every other byte NUL), or None.

    Windows PowerShell's ``>`` writes UTF-16: such a log is text, not the binary file its NULs suggest.
    """
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") and head[:4] != b"\xff\xfe\x00\x00":
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even_nul = head[0 : 2 * pairs : 2].count(0)
    odd_nul = head[1 : 2 * pairs : 2].count(0)
    if odd_nul >= 0.9 * pairs and even_nul <= 0.1 * pairs:
        return "utf-16-le"
    if even_nul >= 0.9 * pairs and odd_nul <= 0.1 * pairs:
        return "utf-16-be"
    return None


class CountingStream(io.RawIOBase):
    """A stream that transforms its input and says what it could not keep (see physical_blocks)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        #: Bytes of the input never read, and why reading stopped early (None: it did not).
        self.dropped_bytes = 0
        self.stopped: str | None = None
        #: Bytes that could not be decoded and were replaced.
        self.replaced_bytes = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class Utf16Stream(CountingStream):
    """UTF-16 input re-encoded as UTF-8, so everything after it reads UTF-8 as usual."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        super().__init__(raw)
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._out = b""
        self._eof = False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._out and not self._eof:
            data = self._raw.read(GZIP_READ_BYTES)
            self._eof = not data
            text = self._decoder.decode(data, final=self._eof)
            self.replaced_bytes += text.count("\ufffd")
            self._out = text.encode("utf-8", errors="surrogatepass")
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


class GzipStream(CountingStream):
    """A gzip stream (several members too), decompressed with bounds, keeping what precedes damage.

    Unlike gzip.GzipFile it returns the data before a damaged or truncated part instead of failing
    the read that reaches it, and it stops at MAX_GZIP_BYTES, or past GZIP_RATIO_FLOOR once the
    output is more than MAX_GZIP_RATIO times the input (a decompression bomb). What was not read
    is counted in ``dropped_bytes`` (compressed bytes) and ``stopped`` says why.
    Damage before any output raises OSError: the input is not a gzip file after all.
    """

    def __init__(
        self, raw: BinaryIO, max_bytes: int = MAX_GZIP_BYTES, max_ratio: float = MAX_GZIP_RATIO,
        ratio_floor: int = GZIP_RATIO_FLOOR,
    ) -> None:
        super().__init__(raw)
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""  # compressed bytes read, not yet inflated
        self._in_member = False
        self._done = False
        self.max_bytes, self.max_ratio, self.ratio_floor = max_bytes, max_ratio, ratio_floor
        self.bytes_in = 0
        self.bytes_out = 0

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inflate_some(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _inflate_some(self, size: int) -> bytes:
        while not self._done:
            if self.bytes_out >= self.max_bytes:
                self._stop(f"decompression stopped at the cap of {self.max_bytes} bytes")
                break
            consumed = self.bytes_in - len(self._pending)
            if self.bytes_out >= self.ratio_floor and self.bytes_out > self.max_ratio * consumed:
                self._stop(f"decompression stopped at {self.bytes_out} bytes: expanded more than "
                           f"{self.max_ratio:g} times (a decompression bomb?)")
                break
            if not self._in_member:
                self._pending = self._pending.lstrip(b"\x00")  # zero padding between or after members
            if not self._pending:
                self._pending = self._raw.read(GZIP_READ_BYTES)
                self.bytes_in += len(self._pending)
                if not self._pending:
                    self._done = True
                    if self._in_member:
                        self.stopped = "the .gz ends in the middle of its data (cut short)"
                    break
                continue
            piece, rest = self._pending[:GZIP_PIECE_BYTES], self._pending[GZIP_PIECE_BYTES:]
            limit = min(size, self.max_bytes - self.bytes_out)
            before = self._inflate.copy()
            try:
                out = self._inflate.decompress(piece, limit)
            except zlib.error as exc:
                out = _salvage(before, piece, limit)  # ...and not even that: it is read again bytewise
                self.bytes_out += len(out)
                if self.bytes_out == 0:
                    raise OSError(f"not a valid gzip file: {exc}") from None
                self._pending = rest
                self._stop(f"the .gz is damaged after {self.bytes_out} bytes ({exc})")
                return out
            self._in_member = True
            self._pending = self._inflate.unconsumed_tail + rest
            if self._inflate.eof:  # the end of a member: another may follow
                self._pending = self._inflate.unused_data + rest
                self._inflate = zlib.decompressobj(wbits=31)
                self._in_member = False
            self.bytes_out += len(out)
            if out:
                return out
        return b""

    def _stop(self, reason: str) -> None:
        """Stop reading; count the compressed bytes left (by the file's size, else by reading them)."""
        self._done = True
        self.stopped = reason
        left = len(self._pending)
        self._pending = b""
        try:
            st = os.fstat(self._raw.fileno())
            if stat.S_ISREG(st.st_mode):
                self.dropped_bytes = left + max(0, st.st_size - self._raw.tell())
                return
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        while chunk := self._raw.read(GZIP_READ_BYTES):
            left += len(chunk)
        self.dropped_bytes = left


def _salvage(inflate: zlib._Decompress, piece: bytes, limit: int) -> bytes:
    """What ``inflate`` makes of ``piece`` byte by byte, up to the byte it fails on."""
    out = b""
    for i in range(len(piece)):
        try:
            out += inflate.decompress(piece[i : i + 1], max(1, limit - len(out)))
        except zlib.error:
            break
        if len(out) >= limit:
            break
    return out


def physical_blocks(stream: BinaryIO, source: Source) -> Iterator[bytes]:
    """Yield ``stream`` as blocks of whole lines, each ending with a newline byte but the last.

    Cutting only at newline bytes means a block decodes the same on its own, in any process
    (parallel.py sends blocks to worker processes).
    """
    carry = b""
    first = True
    while True:
        try:
            chunk = stream.read(CHUNK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:  # a read that fails: keep what was read before
            source.skipped_lines += 1 if carry else 0
            if first:
                raise UnusableInput(f"{source.name}: cannot read ({exc})") from None
            carry = b""
            chunk = b""
        if first:
            first = False
            if chunk.startswith(UTF8_BOM):  # Windows editors' BOM: not part of the first line's text
                chunk = chunk[len(UTF8_BOM) :]
            if looks_binary(chunk):
                raise UnusableInput(f"{source.name}: looks like a binary file, not a text log")
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            if len(carry) > 4 * MAX_LINE_CHARS:
                # A line with no end in sight: keep its head, drop the rest of it.
                carry = carry[: 4 * MAX_LINE_CHARS]
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]
    if isinstance(stream, CountingStream):
        source.dropped_bytes += stream.dropped_bytes
        source.stopped = stream.stopped
        source.replaced_bytes += stream.replaced_bytes
    if carry:
        yield carry
