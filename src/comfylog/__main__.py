"""The ``comfylog`` command and ``python -m comfylog``: the collector is set as an analysis wants it
(gcpolicy.py) before the command line is imported, then cli.run runs it.

Importing typer, click, rich and the pipeline makes objects that live as long as the process; the
collector's passes over them at CPython's default thresholds free nothing (~14 M instructions, 1.6% of a
small log's analyze, issue 14).
"""

from __future__ import annotations

from typing import NoReturn

from .gcpolicy import use_analysis_thresholds


def run() -> NoReturn:
    use_analysis_thresholds()
    from .cli import run as run_command  # here: its imports run under the thresholds just set

    run_command()


if __name__ == "__main__":
    run()
