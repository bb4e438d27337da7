"""A running ComfyUI as the source: ``comfylog watch http://127.0.0.1:8188``.

What ComfyUI serves (server.py, api_server/routes/internal/internal_routes.py, app/logger.py and
execution.py of Comfy-Org/ComfyUI; the commits are in tests/fixtures/README.md):

* ``GET /system_stats``: the machine (``system``: versions, RAM; ``devices``: name, VRAM total and free);
* ``GET /internal/logs/raw``: the console's ring buffer (300 entries), ``{"entries": [{"t", "m"}...]}``,
  each entry one ``write()`` of stdout or stderr (``t``: its local time, ISO 8601) — a line printed
  with ``print()`` is two entries, the text and its newline;
* ``PATCH /internal/logs/subscribe`` ``{"clientId", "enabled": true}``: from then on the websocket of
  that client gets ``{"type": "logs", "data": {"entries": [...], "size": ...}}`` as the console is written;
* the websocket ``/ws?clientId=ID``: ``{"type": EVENT, "data": {...}}`` frames. ``status`` goes to
  every socket; ``executing`` (``node``, ``display_node``, ``prompt_id``; ``node`` None when the prompt
  is done), ``execution_start`` / ``_cached`` / ``_success`` / ``_error`` go only to the client that
  queued the prompt; ``progress`` too, or to every socket when the prompt was queued with no client.

The console entries are joined into the log ComfyUI-Manager would have written: a write that begins
a line gets its time as the prefix, ``[YYYY-MM-DD HH:MM:SS.mmm]`` — so the same reading, parsing and
diagnosis apply. Nodes are timed on receipt of ``executing`` (ComfyUI sends no time with
it): a node runs from its ``executing`` to the next one. No interface ComfyUI ships reports that.
Prompts queued by another client (the browser) send their node events to that client only: pass
``--client-id`` to share the id of a script that queues prompts without listening itself. Never
give the browser's id: ComfyUI hands a reused id to the newest socket and the browser goes deaf.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from typing import Any

from ..dataclass import dataclass
from ..read.source import UnusableInput
from ..text import dur, gb
from .follow import _Lines

#: Seconds an HTTP request to ComfyUI may take, and between two attempts to reconnect.
HTTP_TIMEOUT_S = 5.0
RECONNECT_S = 2.0
#: Node timings kept for the view and the end (a long session times thousands of nodes).
NODES_KEPT = 500
#: Console entries remembered to skip the overlap of the buffer and the stream (the buffer holds 300).
SEEN_KEPT = 1000


def is_server(target: str) -> bool:
    return target.startswith(("http://", "https://"))


@dataclass(frozen=True)
class NodeTiming:
    """One node of a prompt, timed on receipt of ComfyUI's websocket messages."""

    prompt_id: str
    node: str
    display_node: str | None
    #: Seconds from this node's ``executing`` to the next message that ended it; None when cached.
    seconds: float | None
    cached: bool = False

    def row(self) -> dict[str, Any]:
        return {"prompt_id": self.prompt_id, "node": self.node, "display_node": self.display_node,
                "seconds": None if self.seconds is None else round(self.seconds, 3), "cached": self.cached}


def manager_prefix(t: str) -> str:
    """``[2025-10-22 18:04:30.118] `` from an entry's ``t`` (``datetime.now().isoformat()``)."""
    date, _, clock = t.partition("T")
    hms, _, frac = clock.partition(".")
    return f"[{date} {hms}.{(frac + '000')[:3]}] "


class LogJoiner:
    """Console entries -> the lines of a ComfyUI-Manager log (``prestartup_script.py``'s writer)."""

    def __init__(self) -> None:
        self._at_line_start = True

    def text(self, entries: list[dict[str, Any]]) -> str:
        """As ComfyUI-Manager's log writer does: a write that begins a line gets the prefix; lines
        inside one write (a traceback) do not."""
        out: list[str] = []
        for entry in entries:
            message, t = entry.get("m"), entry.get("t")
            if not isinstance(message, str) or not isinstance(t, str) or not message:
                continue
            if self._at_line_start:
                out.append(manager_prefix(t))
            out.append(message)
            self._at_line_start = message.endswith("\n")
        return "".join(out)


class NodeTimer:
    """Times nodes from ``executing`` messages as they arrive (``now``: the time of receipt)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, str | None, float]] = {}  # prompt id -> node, display node, since
        self.done: deque[NodeTiming] = deque(maxlen=NODES_KEPT)
        self.new: list[NodeTiming] = []

    def _close(self, prompt_id: str, now: float) -> None:
        current = self._open.pop(prompt_id, None)
        if current is not None:
            self._add(NodeTiming(prompt_id, current[0], current[1], now - current[2]))

    def _add(self, timing: NodeTiming) -> None:
        self.done.append(timing)
        self.new.append(timing)

    def message(self, kind: str, data: dict[str, Any], now: float) -> None:
        prompt_id = str(data.get("prompt_id") or "")
        if kind == "executing" and prompt_id:
            self._close(prompt_id, now)
            node = data.get("node")
            if node is not None:
                display = data.get("display_node")
                self._open[prompt_id] = (str(node), None if display is None else str(display), now)
        elif kind == "execution_cached" and prompt_id:
            for node in data.get("nodes") or []:
                self._add(NodeTiming(prompt_id, str(node), None, None, cached=True))
        elif kind in ("execution_success", "execution_error", "execution_interrupted") and prompt_id:
            self._close(prompt_id, now)

    def take(self) -> list[NodeTiming]:
        out, self.new = self.new, []
        return out


class ComfyServer:
    """A Follower (follow.py) reading a running ComfyUI: its console as a log, its websocket events."""

    def __init__(self, url: str, client_id: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise UnusableInput(f"{url}: not a ComfyUI address (give http://HOST:PORT)")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.name = self.base
        self.first_line = 0
        self.client_id = client_id or f"comfylog-watch-{uuid.uuid4().hex[:12]}"
        self.machine = self._get_json("/system_stats")
        if not isinstance(self.machine, dict) or "system" not in self.machine:
            raise UnusableInput(f"{url}: answers, but not as ComfyUI does (no system in /system_stats)")
        self.queue_remaining: int | None = None
        self.progress: dict[str, Any] | None = None
        self.nodes = NodeTimer()
        self._joiner = LogJoiner()
        self._lines = _Lines()
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._notices: list[str] = []
        self._lock = threading.Lock()
        self._last_t = ""
        self._seen: set[tuple[str, str]] = set()
        self._order: deque[tuple[str, str]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="comfylog-watch-ws", daemon=True)
        self._thread.start()

    # ---- HTTP ---------------------------------------------------------------------------------
    def _request(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnusableInput(f"{self.base}{path}: cannot reach ComfyUI ({reason})") from None

    def _get_json(self, path: str) -> Any:
        try:
            return json.loads(self._request(path))
        except ValueError:
            raise UnusableInput(f"{self.base}{path}: ComfyUI did not answer with JSON") from None

    # ---- the websocket, in its own thread -----------------------------------------------------
    def _listen(self) -> None:
        """Connect, subscribe, read the buffer, then every message; connect again when ComfyUI goes away."""
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        ws_url = self.base.replace("http", "ws", 1) + "/ws?" + urllib.parse.urlencode({"clientId": self.client_id})
        connected_once = False
        while not self._stop.is_set():
            try:
                with connect(ws_url, open_timeout=HTTP_TIMEOUT_S, max_size=None) as ws:
                    if connected_once:
                        self._notice(f"connected to {self.base} again")
                    connected_once = True
                    self._subscribe()
                    while not self._stop.is_set():
                        try:
                            frame = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        if isinstance(frame, str):
                            self._message(frame)
            except (OSError, WebSocketException, UnusableInput) as exc:
                if self._stop.is_set():
                    return
                self._notice(f"lost {self.base} ({exc}): trying again every {RECONNECT_S:g}s")
                self._stop.wait(RECONNECT_S)

    def _subscribe(self) -> None:
        """Ask for the console stream, then read the buffer of what was written before it."""
        try:
            self._request("/internal/logs/subscribe", "PATCH", {"clientId": self.client_id, "enabled": True})
            raw = self._get_json("/internal/logs/raw")
        except UnusableInput as exc:
            self._notice(f"no console log from {self.base} ({exc}); node timings only")
            return
        entries = raw.get("entries") if isinstance(raw, dict) else None
        if isinstance(entries, list):
            self._entries(entries)

    def _message(self, frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            return
        if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
            return
        kind, data = str(message.get("type")), message["data"]
        now = time.time()
        with self._lock:
            if kind == "logs" and isinstance(data.get("entries"), list):
                self._entries(data["entries"])
            elif kind == "status":
                info = (data.get("status") or {}).get("exec_info") or {}
                if isinstance(info.get("queue_remaining"), int):
                    self.queue_remaining = info["queue_remaining"]
            elif kind == "progress":
                self.progress = data
            else:
                self.nodes.message(kind, data, now)
                if kind in ("execution_success", "execution_error", "execution_interrupted"):
                    self.progress = None

    def _entries(self, entries: list[Any]) -> None:
        """Console entries not seen yet, in order, as log bytes: the buffer read at (re)connection and
        the stream overlap, so an entry already taken (same time and text) or older is skipped."""
        fresh = []
        for entry in entries:
            if not (isinstance(entry, dict) and isinstance(entry.get("t"), str) and isinstance(entry.get("m"), str)):
                continue
            key = (entry["t"], entry["m"])
            if key in self._seen or entry["t"] < self._last_t:
                continue
            self._seen.add(key)
            self._order.append(key)
            if len(self._order) > SEEN_KEPT:
                self._seen.discard(self._order.popleft())
            self._last_t = entry["t"]
            fresh.append(entry)
        text = self._joiner.text(fresh)
        if text:
            self._queue.put(text.encode("utf-8", errors="replace"))

    def _notice(self, text: str) -> None:
        with self._lock:
            self._notices.append(text)

    # ---- the Follower interface -----------------------------------------------------------------
    def read(self, timeout: float) -> bytes | None:
        try:
            data = self._queue.get(timeout=timeout)
        except queue.Empty:
            return b""
        while not self._queue.empty():
            data += self._queue.get_nowait()
        return self._lines.whole(data)

    def rest(self) -> bytes:
        return self._lines.end()

    def notices(self) -> list[str]:
        with self._lock:
            out, self._notices = self._notices, []
        return out

    def status(self) -> list[str]:
        """Lines for the live view: the machine as /system_stats gave it, the queue, the nodes timed."""
        system = self.machine.get("system") or {}
        lines = []
        bits = [f"ComfyUI {system.get('comfyui_version', '?')}"]
        for device in (self.machine.get("devices") or [])[:1]:
            total, free = device.get("vram_total"), device.get("vram_free")
            bits.append(str(device.get("name", "?")))
            if isinstance(total, (int, float)) and isinstance(free, (int, float)) and total:
                bits.append(f"{gb(total / 2**20)} VRAM, {free / 2**30:.1f} GB free at connection")
        with self._lock:
            if self.queue_remaining is not None:
                bits.append(f"queue {self.queue_remaining}")
            progress = self.progress
            done = list(self.nodes.done)
        lines.append(" · ".join(bits))
        if progress:
            lines.append(f"node {progress.get('node')}: step {progress.get('value')}/{progress.get('max')}")
        if done:
            last = done[-1].prompt_id
            timings = [n for n in done if n.prompt_id == last]
            cached = sum(1 for n in timings if n.cached)
            ran = sorted((n for n in timings if not n.cached), key=lambda n: -(n.seconds or 0.0))
            text = ", ".join(f"node {n.display_node or n.node} {dur(n.seconds or 0.0)}" for n in ran[:6])
            lines.append(f"prompt {last[:8]} nodes: {text}" + (f" ({cached} cached)" if cached else ""))
        return lines

    def take_nodes(self) -> list[NodeTiming]:
        with self._lock:
            return self.nodes.take()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
