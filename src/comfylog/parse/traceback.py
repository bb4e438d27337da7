"""Python tracebacks: their lines grouped into one event that ends on the exception line.

One automaton for every path that reads lines (the parser, and any scanner checked against it):
a ``Traceback (most recent call last):`` line opens a traceback (the message table finds it); it
takes indented and blank lines, and ends on its ``Type: message`` line. An ended traceback stays
*pending* while blank lines and ``During handling of the above exception`` follow, so a chained
traceback joins it; any other line emits it.

While it reads the frames it notes the file of the first (``first_file``: ComfyUI's ``main.py`` when
start-up itself failed), the last one in a custom node (``custom_node``: the NAME of
``custom_nodes/NAME/``, the node that failed as far as the traceback shows), and whether a line of
code at or below that frame calls CUDA (``cuda_call``), which fails on a Mac or a CPU-only PyTorch.
A chained traceback keeps the exception lines before its last (``causes``: the first is where it
began, e.g. the ``ModuleNotFoundError`` a node turned into its own error). It also keeps the
innermost frames (``frames``: ``FILE:FUNCTION``, the file's base name), which say what was running
when the exception came (loading a model, sampling, decoding), and beside each whose code it is
(``frame_owners``: the package a library's file is in, ``transformers`` of
``.../dist-packages/transformers/utils/generic.py``, or ``custom_nodes/NAME``; "" for other files,
ComfyUI's own among them), which a base name alone cannot say.

A paste often begins inside a traceback, its ``Traceback (most recent call last):`` header cut off. The
parser holds indented lines at the very start of an input (``may_hold_at_start``) until a line says
what they were: a ``Type: message`` line after at least one ``File "…", line N, in F`` frame makes them
a traceback whose head is cut (``is_cut_traceback``), read as if the header had come just before them;
anything else hands them back to be read as the lines they are (an import-times list cut at its head).
"""

from __future__ import annotations

import re
from datetime import datetime

from ..events import Event
from ..lazyre import lazy_re
from .progress import find_state
from .table import is_oom

EXCEPTION_LINE_RE = lazy_re(r"^(?P<type>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::\s?(?P<message>.*))?$")
CHAINED_RE = lazy_re(r"^(During handling of the above exception|The above exception was the direct cause)")
TRACEBACK_NEEDLE = "Traceback (most recent call last)"
#: ComfyUI's prompt executor: a traceback whose outermost frame is this file (execution.py's `execute`, where every
#: node's failure in a prompt begins) is a prompt's failure. With main.py, ComfyUI's start, the files a traceback's
#: outermost frame names when it runs through ComfyUI (a traceback pasted alone is then a ComfyUI log).
EXECUTOR_FILE = "/execution.py"
COMFYUI_ENTRY_FILES = ("/main.py", EXECUTOR_FILE)


def outermost_file(fields: dict[str, object]) -> str:
    """The file of a traceback event's outermost frame (``first_file``), with ``/`` separators; "" unknown."""
    return str(fields.get("first_file") or "").replace("\\", "/")


def ran_in_executor(fields: dict[str, object]) -> bool:
    """Whether a traceback event ran through ComfyUI's prompt executor: its outermost frame is in execution.py, or
    a frame it kept is execution.py's ``execute`` (``PromptExecutor.execute``, which main.py's ``prompt_worker``
    calls for each prompt, and the per-node ``execute`` under it)."""
    frames = fields.get("frames")
    return outermost_file(fields).endswith(EXECUTOR_FILE) or (
        isinstance(frames, list) and "execution.py:execute" in frames)


#: A frame in a custom node: ``File ".../custom_nodes/NAME/..."`` (either slash), NAME captured.
CUSTOM_NODE_FRAME_RE = lazy_re(r'File "[^"]*[/\\]custom_nodes[/\\]([^/\\"]+)')
#: A frame's file: ``File "PATH", line N``.
FILE_FRAME_RE = lazy_re(r'File "([^"]+)"')
#: A frame's file and function: ``File "PATH", line N, in NAME`` (ASCII names: the native scanner's
#: regex engine and Python's agree on those).
FUNCTION_FRAME_RE = lazy_re(r'File "([^"]+)", line [0-9]+, in ([A-Za-z0-9_<>.]+)')
#: The innermost frames kept, each part cut to FRAME_PART_CHARS characters.
MAX_FRAMES = 64
FRAME_PART_CHARS = 100
#: The folders whose next folder says whose code a frame is: an installed library, a custom node.
OWNER_DIRS = ("site-packages", "dist-packages", "custom_nodes")
#: The earlier exception lines of a chain kept (``causes``), first first.
MAX_CAUSES = 8
#: Code that needs CUDA: ``torch.cuda.…``, ``.cuda()``, ``device="cuda"``.
CUDA_CALL_RE = lazy_re(r"torch\.cuda\.|\.cuda\(|[\"']cuda(?::\d+)?[\"']")
#: A traceback longer than this is closed: a log of indented lines is not one endless traceback.
MAX_TRACEBACK_LINES = 2000
#: Lines, and characters in all, held at the start of an input as a traceback whose head may be cut.
MAX_HELD_LINES = 500
MAX_HELD_CHARS = 1 << 20


class TracebackReader:
    """Feed it every line while ``active``; ``start`` it with the event of a ``Traceback`` line."""

    def __init__(self) -> None:
        self.open: Event | None = None
        #: Ended, but a chained traceback may still follow.
        self.pending: Event | None = None

    @property
    def active(self) -> bool:
        return self.open is not None or self.pending is not None

    def start(self, event: Event) -> None:
        self.open = event
        first = FILE_FRAME_RE.search(str(event.fields.get("text", "")))  # a first frame glued to the line
        if first:
            event.fields["first_file"] = first.group(1)[:300]
            _note_frame(event, str(event.fields.get("text", "")))

    def feed(self, line: int, ts: datetime | None, text: str) -> tuple[bool, Event | None]:
        """Offer a line: (whether the traceback took it, a traceback that ended before it, to emit)."""
        if self.open is not None:
            if self._take(line, ts, text):
                return True, None
            done, self.pending = self.pending, None  # cut short: the line is a message of its own
            return False, done
        pending = self.pending
        if pending is None:
            return False, None
        stripped = text.strip()
        if not stripped or CHAINED_RE.match(stripped):
            # Not part of the traceback unless a chained one follows: end_line stays on the
            # exception line, which evidence quotes.
            return True, None
        self.pending = None
        if stripped.startswith(TRACEBACK_NEEDLE):
            self.open = pending
            pending.fields["chained"] = pending.fields.get("chained", 0) + 1
            causes = pending.fields.get("causes")
            if "exception_type" in pending.fields and (causes is None or len(causes) < MAX_CAUSES):
                pending.fields.setdefault("causes", []).append(pending.fields["text"])
            pending.end_line = line
            return True, None
        return False, pending

    def close(self) -> list[Event]:
        """The traceback still open or pending at the end of the input."""
        out = [e for e in (self.open, self.pending) if e is not None]
        self.open = self.pending = None
        return out

    def _take(self, line: int, ts: datetime | None, text: str) -> bool:
        tb = self.open
        assert tb is not None
        if text[:1] in (" ", "\t") or not text.strip():
            tb.end_line = line
            tb.fields["lines"] += 1
            if text.lstrip().startswith("File "):
                if "first_file" not in tb.fields:
                    first = FILE_FRAME_RE.search(text)
                    if first:
                        tb.fields["first_file"] = first.group(1)[:300]
                _note_frame(tb, text)
            if "custom_nodes" in text:
                frame = CUSTOM_NODE_FRAME_RE.search(text)
                if frame:
                    tb.fields["custom_node"] = frame.group(1)[:200]
            elif ("custom_node" in tb.fields and "cuda" in text and not text.lstrip().startswith("File ")
                  and CUDA_CALL_RE.search(text)):
                tb.fields["cuda_call"] = True  # in the custom node's frame or one it called
            if tb.fields["lines"] > MAX_TRACEBACK_LINES:
                self.pending, self.open = tb, None
            return True
        m = EXCEPTION_LINE_RE.match(text.strip())
        if m and tb.fields["lines"] > 1:
            tb.fields["exception_type"] = m.group("type")
            tb.fields["message"] = (m.group("message") or "").strip()[:500]
            tb.fields["oom"] = is_oom(text)
            tb.fields["text"] = text.strip()[:500]
            tb.end_line = line
            tb.end_ts = ts
            tb.fields["exception_line"] = line
            self.pending, self.open = tb, None
            return True
        # Not a traceback line after all: the traceback was cut short.
        self.pending, self.open = tb, None
        return False


def may_hold_at_start(text: str) -> bool:
    """Could ``text`` (a line at the very start of an input) be inside a traceback whose head is cut?
    Indented or blank, and nothing the parser reads a prefix after (a CR, a tqdm state): held back,
    such a line reads the same later."""
    return (text[:1] in (" ", "\t") or not text.strip()) and "\r" not in text and find_state(text) is None


def is_cut_traceback(held: list[str], text: str) -> bool:
    """Do the ``held`` lines, then ``text`` (unindented), make a traceback whose head is cut: a
    ``File "PATH", line N, in F`` frame among two or more lines, then an exception line."""
    return (len(held) > 1 and EXCEPTION_LINE_RE.match(text.strip()) is not None
            and any(line.lstrip().startswith("File ") and FUNCTION_FRAME_RE.search(line) for line in held))


def _note_frame(tb: Event, text: str) -> None:
    """Add the frame on ``text`` to the traceback's ``frames``, keeping the innermost MAX_FRAMES."""
    frame = FUNCTION_FRAME_RE.search(text)
    if frame is None:
        return
    parts = re.split(r"[/\\]", frame.group(1))
    frames = tb.fields.setdefault("frames", [])
    owners = tb.fields.setdefault("frame_owners", [])
    frames.append(f"{parts[-1][:FRAME_PART_CHARS]}:{frame.group(2)[:FRAME_PART_CHARS]}")
    owners.append(frame_owner(parts))
    if len(frames) > MAX_FRAMES:
        del frames[0], owners[0]


def frame_owner(parts: list[str]) -> str:
    """Whose code a frame's file is, from its path's folders: the folder after the last site-packages,
    dist-packages or custom_nodes folder that has a file below it (``transformers``, ``custom_nodes/NAME``),
    cut to FRAME_PART_CHARS; "" when there is none (ComfyUI's own files, a script's, a module right in
    site-packages)."""
    at = max((i for i, part in enumerate(parts[:-2]) if part in OWNER_DIRS), default=None)
    if at is None:
        return ""
    name = parts[at + 1][:FRAME_PART_CHARS]
    return f"custom_nodes/{name}" if name and parts[at] == "custom_nodes" else name
