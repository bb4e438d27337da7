"""The command line: parses options, calls the library, picks a renderer. Nothing else lives here."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from .sources import UnusableInput

app = typer.Typer(
    name="comfylog",
    help=(
        "Reads ComfyUI, ComfyUI-Manager and RunPod logs and tells you where the time went "
        "(start-up, load, inference, waiting) and why a run died.\n\n"
        "Give log files, .gz files, markdown with the log in ``` fences (issue bodies, "
        "\"ComfyUI Error Report\"), or - for standard input."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEBUG = {"on": False}


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: the only way comfylog reports unusable input."""
    typer.echo(f"comfylog: error: {message}", err=True)
    raise typer.Exit(code)


def _inputs(logs: list[str] | None) -> list[str]:
    if logs:
        return logs
    if not sys.stdin.isatty():
        return ["-"]
    fail("no log given: name one or more files, or pipe a log into standard input (-)")


def _write(text: str, output: Path | None) -> None:
    if output is None or str(output) == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    typer.echo(f"wrote {output}", err=True)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks instead of one-line errors."),
) -> None:
    DEBUG["on"] = debug


@app.command()
def analyze(
    logs: list[str] | None = typer.Argument(
        None, help="Log files (or - for stdin). Several files are read in order as one report."
    ),
    format: OutputFormat = typer.Option(
        OutputFormat.text, "--format", "-f", help="text: terminal report; json: flat tables (schema v1, see README)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
    limit: int = typer.Option(40, "--limit", min=1, help="Rows shown in the prompt and error tables (text format)."),
) -> None:
    """Report the machine, every prompt with its load / inference / wait time, and a timeline.

    Examples:\n
      comfylog analyze comfyui.log\n
      docker logs --timestamps worker 2>&1 | comfylog analyze -\n
      comfylog analyze run.log --format json | jq '.prompts[] | .phases'
    """
    from .api import analyze as run_analysis

    report = run_analysis(_inputs(logs))
    if format is OutputFormat.json:
        from .render.json import render_json

        _write(render_json(report), output)
        return
    from rich.console import Console

    from .render.terminal import render_terminal

    if output is not None:
        console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
        render_terminal(report, console, limit)
        _write(console.export_text(), output)
        return
    render_terminal(report, Console(), limit)


# --- further commands are added below this line, one function each ---


def main() -> None:
    """Entry point: run the app; unusable input becomes one line and exit status 2."""
    try:
        app()
    except UnusableInput as exc:
        if DEBUG["on"]:
            raise
        typer.echo(f"comfylog: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("comfylog: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: say so in one line unless --debug
        if DEBUG["on"] or "--debug" in sys.argv:
            raise
        typer.echo(f"comfylog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(3)
