"""The ``comfylog`` command and ``python -m comfylog``: the collector is set as an analysis wants it
(gcpolicy.py) before anything else is imported, then commands.main runs the command line: a plain
``analyze`` without typer, anything else through cli.py (imported only then).

Importing typer, click, rich and the pipeline makes objects that live as long as the process; the
collector's passes over them at CPython's default thresholds free nothing (~14 M instructions, 1.6% of a
small log's analyze, issue 14).
"""

from __future__ import annotations

import sys
from typing import NoReturn

from .gcpolicy import use_analysis_thresholds


def run() -> NoReturn:
    use_analysis_thresholds()
    from .commands import exit_as_process, main  # here: its imports run under the thresholds just set

    exit_as_process(lambda: main(sys.argv[1:], _with_typer))


def _with_typer(args: list[str]) -> None:
    """A command line commands.py leaves to typer."""
    from .cli import run_typer

    run_typer(args)


if __name__ == "__main__":
    run()
