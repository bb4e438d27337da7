"""The one way tests run the command line: in this process through typer's CliRunner (fast), or as a
real ``python -m comfylog`` process where the process itself matters (a terminal on stdin, FIFOs,
signals, start-up, what is imported)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from comfylog.cli import main


@dataclass
class Result:
    """What the command did: its exit status and what it wrote (bytes, or text with ``text=True``)."""

    returncode: int
    stdout: bytes | str
    stderr: bytes | str


@contextlib.contextmanager
def _working_directory(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(
    *args: str, stdin: bytes | str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None,
    text: bool = False, columns: int = 100, process: bool = False, timeout: float = 180,
) -> Result:
    """Run ``comfylog ARGS``: in-process unless ``process``; ``columns`` is the terminal width rich sees."""
    settings = {"COLUMNS": str(columns), "GITHUB_STEP_SUMMARY": "", **(env or {})}
    if process:
        done = subprocess.run([sys.executable, "-m", "comfylog", *args], input=stdin, capture_output=True,
                              timeout=timeout, cwd=cwd, env={**os.environ, **settings}, text=text)
        return Result(done.returncode, done.stdout, done.stderr)
    with CliRunner().isolation(input=stdin, env=settings) as (out, err, _), _working_directory(cwd):
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    if text:
        return Result(code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))
    return Result(code, stdout, stderr)
