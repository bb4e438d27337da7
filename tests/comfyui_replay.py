"""A small stand-in for a running ComfyUI: the HTTP routes and websocket messages comfylog watch reads,
with the exact shapes of ComfyUI's server.py, execution.py, main.py and app/logger.py (quoted, with
their repository, path and commit, in tests/fixtures/comfyui-messages.json). No ComfyUI runs on
these machines; this server replays a real log's console writes and a prompt's messages.

It is built on aiohttp, as ComfyUI's server is, and runs in a thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from .conftest import FIXTURES

MESSAGES = FIXTURES / "comfyui-messages.json"


def fixture() -> dict[str, Any]:
    return dict(json.loads(MESSAGES.read_text(encoding="utf-8")))


def console_writes(path: Path, first_prefixed: bool = True) -> tuple[list[dict[str, str]], bytes]:
    """The console writes a ComfyUI-Manager log was made of, as app/logger.py keeps them, and the bytes
    of the log they make (from its first prefixed line on).

    Manager's file writer prefixes a write with ``[time] `` only when the last write ended a line, so
    a prefixed line begins a write and the unprefixed lines after it belong to the same write. A
    ``print()`` writes its text and its newline separately: every other line is cut that way.
    """
    writes: list[dict[str, str]] = []
    kept: list[bytes] = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        line = raw.decode("utf-8") + "\n"
        if line.startswith("[") and line[24:26] == "] " and line[11] == " ":
            t = line[1:11] + "T" + line[12:24] + f"{len(writes) % 1000:03d}"  # isoformat's microseconds
            writes.append({"t": t, "m": line[26:]})
        elif writes:
            writes[-1]["m"] += line
        elif first_prefixed:
            continue
        kept.append(raw + b"\n")
    entries: list[dict[str, str]] = []
    for i, write in enumerate(writes):
        if i % 2 and write["m"].endswith("\n") and write["m"].count("\n") == 1:
            entries += [{"t": write["t"], "m": write["m"][:-1]}, {"t": write["t"], "m": "\n"}]
        else:
            entries.append(write)
    return entries, b"".join(kept)


class ReplayComfyUI:
    """Serves /system_stats, /internal/logs/raw, /internal/logs/subscribe and /ws like ComfyUI."""

    def __init__(self, system_stats: dict[str, Any], buffer: list[dict[str, str]]) -> None:
        self.system_stats = system_stats
        self.buffer = list(buffer)[-300:]  # app/logger.py: deque(maxlen=capacity), capacity=300
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.subscribed: set[str] = set()
        self.queue_remaining = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    # ---- the server ---------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/system_stats", self._system_stats)
        app.router.add_get("/internal/logs/raw", self._logs_raw)
        app.router.add_patch("/internal/logs/subscribe", self._subscribe)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _system_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.system_stats)

    async def _logs_raw(self, request: web.Request) -> web.Response:
        return web.json_response({"entries": self.buffer, "size": {"cols": 80, "rows": 24}})

    async def _subscribe(self, request: web.Request) -> web.Response:
        json_data = await request.json()
        client_id = json_data["clientId"]
        if json_data["enabled"]:
            self.subscribed.add(client_id)
        else:
            self.subscribed.discard(client_id)
        return web.Response(status=200)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.rel_url.query.get("clientId", "")
        if sid:
            self.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        self.sockets[sid] = ws
        try:
            await ws.send_json({"type": "status", "data": {"status": self._queue_info(), "sid": sid}})
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.pop(sid, None)
        return ws

    def _queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": self.queue_remaining}}

    # ---- what the test drives -----------------------------------------------------------------
    def send(self, event: str, data: dict[str, Any], sid: str | None = None) -> None:
        """server.py ``send_json``: to every socket when ``sid`` is None, else to that client only."""

        async def deliver() -> None:
            message = {"type": event, "data": data}
            targets = list(self.sockets.values()) if sid is None else (
                [self.sockets[sid]] if sid in self.sockets else [])
            for ws in targets:
                await ws.send_json(message)

        asyncio.run_coroutine_threadsafe(deliver(), self._loop).result(10)

    def write(self, entries: list[dict[str, str]]) -> None:
        """Console writes: into the ring buffer, and as ``logs`` to every subscribed client still connected."""
        self.buffer = (self.buffer + entries)[-300:]
        for client_id in list(self.subscribed):
            if client_id in self.sockets:
                self.send("logs", {"entries": entries, "size": None}, client_id)

    def close(self) -> None:
        async def stop() -> None:
            for ws in list(self.sockets.values()):
                await ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
