"""``comfylog watch``: a live view of a log being written, alerts, JSON Lines and Prometheus metrics.

follow.py reads a growing file (``tail -F``) or a pipe; analysis.py feeds what arrives through the
same stages as ``analyze``; findings.py runs the rules on a window of the recent past; live.py draws
the view; outputs.py, alerts.py and metrics.py are what watch writes; session.py is the loop;
server.py reads a running ComfyUI instead of a file. Nothing imports this package but the CLI.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..dataclass import dataclass
from ..read.redact import Redactor


@dataclass
class WatchOptions:
    """What the command line asked for."""

    target: str
    from_start: bool = False
    jsonl: bool = False
    on_finding: str | None = None
    exit_on: str | None = None
    metrics: str | None = None
    name: str | None = None
    poll: float = 0.25
    refresh: float = 1.0
    limit: int = 40
    live: bool | None = None  # None: a live view when standard output is a terminal
    client_id: str | None = None  # a running ComfyUI: the websocket client id to listen as
    redactor: Redactor | None = None


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM (``docker stop``) end the watch between two reads, never inside one."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: the user really wants out
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_watch(options: WatchOptions, warn: Any) -> int:
    """Watch ``options.target`` until it ends or is stopped; the exit status."""
    from rich.console import Console

    from .alerts import FindingCommand, JsonLines
    from .analysis import LiveAnalysis
    from .follow import FileFollower, Follower, PipeFollower
    from .outputs import Dispatch, LiveView, NodeLines, Output, PlainLines
    from .server import ComfyServer, is_server
    from .session import Settings, watch

    follower: Follower
    server = None
    if is_server(options.target):
        server = ComfyServer(options.target, options.client_id)
        follower = server
    elif options.target == "-":
        follower = PipeFollower()
    else:
        follower = FileFollower(options.target, from_start=options.from_start)
    name = options.name or follower.name
    analysis = LiveAnalysis(follower.name, follower.first_line, options.redactor)
    outputs: list[Output] = []
    metrics = None
    command = None
    view: LiveView | None = None
    try:
        if options.metrics:
            from .metrics import Metrics

            metrics = Metrics(name, options.metrics)
            outputs.append(Dispatch(prompt=metrics.prompt, restart=metrics.run_started, ready=metrics.run_ready,
                                    error=metrics.error, finding=metrics.finding, update=metrics.update))
        if options.on_finding:
            command = FindingCommand(options.on_finding, name, warn)
            outputs.append(Dispatch(finding=command.finding))
        if options.jsonl:
            jsonl = JsonLines(sys.stdout, name)
            outputs.append(Dispatch(prompt=jsonl.prompt, restart=jsonl.restart, finding=jsonl.finding))
        else:
            console = Console()
            live = console.is_terminal if options.live is None else options.live
            if live:
                view = LiveView(console, options.limit)
                outputs.append(view)
            else:
                outputs.append(PlainLines(sys.stdout, console, analysis, options.limit))
        if server is not None:
            outputs.append(NodeLines(server.take_nodes, sys.stdout, jsonl=options.jsonl, log=name,
                                     plain=not options.jsonl and view is None))
        settings = Settings(poll=options.poll, refresh=options.refresh, exit_on=options.exit_on)
        with stop_signals() as stop:
            outcome = watch(follower, analysis, outputs, settings, stop.is_set)
        return outcome.status
    finally:
        if view is not None:
            view.stop()
        if command is not None:
            command.close()
        if metrics is not None:
            metrics.close()
        follower.close()
        analysis.close()
