"""Machine output and alerts: JSON Lines of what happened, and a command run for each finding.

``--format jsonl`` writes one object per line: ``{"type": "prompt", ...}`` for each prompt whose record
is final, ``{"type": "finding", ...}`` for each finding announced and ``{"type": "restart", ...}`` for
each restart, with exactly the fields of the JSON tables (rows.py) plus ``type`` and ``log`` (the
source's name). ``--on-finding CMD`` runs CMD (through the shell, as written by the user) for each
warning and error announced, with the finding's JSON object on its standard input: log text reaches
the command only as JSON data, never in its command line or environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any, TextIO

from ..model import Finding, Prompt, Run
from ..rows import finding_row, prompt_row, run_row

#: Severities ``--on-finding`` runs its command for.
ALERT_SEVERITIES = ("error", "warning")
#: Seconds the commands still running at the end are waited for.
COMMAND_WAIT_S = 30.0


def finding_object(finding: Finding, log: str) -> dict[str, Any]:
    return {"type": "finding", "log": log, **finding_row(finding)}


class JsonLines:
    """Writes one JSON object per line to ``out`` and flushes it (a consumer reads as it comes)."""

    def __init__(self, out: TextIO, log: str) -> None:
        self.out = out
        self.log = log

    def _write(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    def prompt(self, prompt: Prompt) -> None:
        self._write({"type": "prompt", "log": self.log, **prompt_row(prompt)})

    def restart(self, run: Run) -> None:
        self._write({"type": "restart", "log": self.log, **run_row(run)})

    def finding(self, finding: Finding) -> None:
        self._write(finding_object(finding, self.log))


class FindingCommand:
    """Runs ``command`` for each warning and error, the finding's JSON on its stdin; never waits for it."""

    def __init__(self, command: str, log: str, warn: Any) -> None:
        self.command = command
        self.log = log
        self._warn = warn
        self._running: list[tuple[subprocess.Popen[bytes], str]] = []

    def finding(self, finding: Finding) -> None:
        if finding.severity not in ALERT_SEVERITIES:
            return
        self.reap()
        env = {**os.environ, "COMFYLOG_FINDING_ID": finding.id, "COMFYLOG_SEVERITY": finding.severity}
        data = json.dumps(finding_object(finding, self.log), ensure_ascii=False, default=str).encode("utf-8")
        try:
            proc = subprocess.Popen(self.command, shell=True, stdin=subprocess.PIPE, env=env)  # noqa: S602 - the user's
        except OSError as exc:
            self._warn(f"--on-finding: cannot run {self.command!r} ({exc.strerror})")
            return
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the command does not read its input: its choice
        self._running.append((proc, finding.id))

    def reap(self, wait: float = 0.0) -> None:
        """Collect the commands that ended (waiting up to ``wait`` seconds for the rest); report failures."""
        deadline = time.monotonic() + wait
        still = []
        for proc, finding_id in self._running:
            try:
                code = proc.wait(timeout=max(0.0, deadline - time.monotonic())) if wait else proc.poll()
            except subprocess.TimeoutExpired:
                code = None
            if code is None:
                still.append((proc, finding_id))
            elif code != 0:
                self._warn(f"--on-finding command exited with status {code} for finding {finding_id}")
        self._running = still

    def close(self) -> None:
        self.reap(wait=COMMAND_WAIT_S)
        for _, finding_id in self._running:
            self._warn(f"--on-finding command still running after {COMMAND_WAIT_S:g}s for finding {finding_id}: "
                       "left running")
