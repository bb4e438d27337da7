"""The command line without typer: ``analyze``'s parameters as data, what ``analyze`` does with them, the
helpers the commands share, and the entry point around them.

``comfylog analyze FILE`` is what people run most, mostly on one small log, and importing typer (its click,
shell completion, subprocess and platform) was ~110 M of its ~770 M instructions (issue 14's start-up
target). So a command line that is only ``analyze`` with its own options is read here, from the one
declaration (``AnalyzeOptions``) cli.py also makes typer's ``analyze`` from, and runs without typer. This
reader takes only what it is sure typer would read the same way: help, an option it does not know, a
value typer would refuse or a shell-completion request all go to typer, so every message about the
command line is typer's own (tests/test_plain_analyze.py holds the two readers to the same values).
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import Field, field, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, get_args, get_type_hints

from .dataclass import dataclass
from .read.source import UnusableInput

if TYPE_CHECKING:
    from .model import Report
    from .read.redact import Redactor
    from .render.progress import ProgressDisplay

#: ``--debug`` (a root option: only typer reads it): show Python tracebacks instead of one-line errors.
DEBUG = {"on": False}


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


class AnalyzeFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


@dataclass
class Parameter:
    """How a field of a command's options is given on the command line: its option names (none: the
    command's arguments), help, and the lowest number it takes."""

    names: tuple[str, ...]
    help: str
    min: int | None = None


def argument(default: Any, *, help: str) -> Any:
    """A field given as the command's arguments (typer.Argument's arguments)."""
    return field(default=default, metadata={"parameter": Parameter((), help)})


def option(default: Any, *names: str, help: str, min: int | None = None) -> Any:
    """A field given as an option (typer.Option's arguments); ``--a/--b`` names a flag's on and off."""
    return field(default=default, metadata={"parameter": Parameter(names, help, min)})


def declared(options: type[Any]) -> list[tuple[Field[Any], Any, Parameter]]:
    """Each field of a command's options: the field, its type (the annotation evaluated) and how it is given."""
    types = get_type_hints(options)
    return [(f, types[f.name], f.metadata["parameter"]) for f in fields(options)]


@dataclass
class AnalyzeOptions:
    """``comfylog analyze``'s arguments and options: typer's command is made from these fields (cli.py),
    and ``plain_analyze`` reads the same ones without typer."""

    logs: list[str] | None = argument(
        None,
        help="Log files (or - for stdin). Several files are read in order as one report; a directory "
        "or a quoted glob (logs/*.log) makes a fleet summary, one row per log.",
    )
    format: AnalyzeFormat = option(
        AnalyzeFormat.text, "--format", "-f", help="text: terminal report; json: flat tables (schema v1, see README); "
        "markdown: a reply to post in a GitHub issue (redacted unless --no-redact); html: the page `comfylog report` "
        "writes (to -o, else <log name>.html; redacted unless --no-redact).",
    )
    output: Path | None = option(
        None, "--output", "-o", help="Write to this file instead of standard output.")
    limit: int = option(
        40, "--limit", min=1, help="Rows shown in the prompt and error tables (text and markdown formats)."
    )
    fleet: bool = option(
        False, "--fleet", help="Analyse each log on its own: one row per log, fleet-wide percentiles, common findings."
    )
    jobs: int = option(
        0, "--jobs", "-j", min=0, help="Fleet mode: logs analysed at once, each in its own process (0: 2).",
    )
    redact: bool | None = option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the output."
    )
    redact_ips: bool = option(False, "--redact-ips", help="Redact IP addresses too (implies --redact).")


def echo(message: str) -> None:
    """A line on stderr as typer.echo(err=True) writes it (click's echo: ANSI codes taken out where stderr is
    not a terminal, flushed), without importing typer."""
    stream = sys.stderr
    if stream is None:  # no stream to write to (pythonw)
        return
    try:
        terminal = stream.isatty()
    except Exception:
        terminal = False
    if not terminal and not type(stream).__module__.startswith("ipykernel."):
        import re

        message = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", message)
    stream.write(message + "\n")
    stream.flush()


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: the only way comfylog reports unusable input."""
    echo(f"comfylog: error: {message}")
    raise SystemExit(code)


def _inputs(logs: list[str] | None) -> list[str]:
    if logs:
        return logs
    if not sys.stdin.isatty():
        return ["-"]
    fail("no log given: name one or more files, or pipe a log into standard input (-)")


def _progress() -> ProgressDisplay:
    """A progress line on stderr for work that lasts (only on a terminal, only after a second)."""
    from .render.progress import ProgressDisplay

    return ProgressDisplay()


def _require_comfyui(report: Report) -> Report:
    """Refuse input with no ComfyUI line at all (exit 2); warn about the inputs of several that have none."""
    from .index import comfyui_sources, not_comfyui_reason

    found = comfyui_sources(report)
    missing = [i for i in range(len(report.sources)) if i not in found]
    if missing and len(missing) == len(report.sources):
        fail("; ".join(not_comfyui_reason(report, i) for i in missing[:3]))
    for i in missing:
        echo(f"comfylog: warning: {not_comfyui_reason(report, i)}")
    return report


def _write_streamed(write: Callable[[TextIO], None], output: Path | None, end: str = "\n") -> None:
    """Like _write, for output written piece by piece (JSON of a long log: never all in memory);
    ``end`` follows it."""
    if output is None or str(output) == "-":
        write(sys.stdout)
        sys.stdout.write(end)
        return
    try:
        with output.open("w", encoding="utf-8") as fh:
            write(fh)
            fh.write(end)
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    echo(f"wrote {output}")


def _write(text: str, output: Path | None) -> None:
    if output is None or str(output) == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    echo(f"wrote {output}")


def _print_rich(draw: Callable[[Any], None], output: Path | None, width: int = 120) -> None:
    """Draw a rich renderable on the terminal, or as plain text into ``output`` as it is drawn (a
    recording console would hold all of it: the prompt numbers of two long logs' comparison)."""
    from rich.console import Console

    if output is None:
        draw(Console())
        return
    # never a terminal (FORCE_COLOR or not): plain text, as a recording's export_text gives it
    _write_streamed(lambda out: draw(Console(width=width, file=out, force_terminal=False, force_jupyter=False)),
                    output, end="")


def _redactor(redact: bool | None, redact_ips: bool, default: bool = False) -> Redactor | None:
    """What ``--redact/--no-redact`` and ``--redact-ips`` ask for; ``default`` when neither is given."""
    if redact is False and redact_ips:
        fail("--no-redact and --redact-ips contradict each other")
    if not (redact_ips or (default if redact is None else redact)):
        return None
    from .read.redact import Redactor

    return Redactor(ips=redact_ips)


def analyze(options: AnalyzeOptions) -> None:
    """Report the machine, every prompt with its load / inference / wait time, and a timeline.

    Examples:\n
      comfylog analyze comfyui.log\n
      docker logs --timestamps worker 2>&1 | comfylog analyze -\n
      comfylog analyze run.log --format json | jq '.prompts[] | .phases'\n
      comfylog analyze workers/            (fleet: every *.log, *.txt, *.gz under it)\n
      comfylog analyze issue-body.md --format markdown -o reply.md\n
      comfylog analyze comfyui.log --format html -o report.html   (as comfylog report)
    """
    from .api import analyze as run_analysis

    logs, format, output, limit = options.logs, options.format, options.output, options.limit
    private = format in (AnalyzeFormat.markdown, AnalyzeFormat.html)  # made to be shared: redacted by default
    redactor = _redactor(options.redact, options.redact_ips, default=private)
    if options.fleet or _may_be_fleet(logs or []):
        if format is AnalyzeFormat.markdown:
            fail("--format markdown replies about one report; give the log files, not a directory or --fleet")
        if format is AnalyzeFormat.html:
            fail("--format html is one report's page; give the log files, not a directory or --fleet")
        _fleet_report(_inputs(logs), OutputFormat(format.value), output, limit, options.jobs, redactor)
        return
    if format is AnalyzeFormat.html:
        _write_html_report(_inputs(logs), output, redactor)
        return
    with _progress() as progress:
        report = run_analysis(_inputs(logs), redact=redactor or False, progress=progress,
                              json_rows=format is AnalyzeFormat.json)
    _require_comfyui(report)
    if format is AnalyzeFormat.json:
        from .render.json import write_json

        _write_streamed(lambda out: write_json(report, out), output)
        return
    if format is AnalyzeFormat.markdown:
        from .render.markdown import render_markdown

        _write(render_markdown(report, limit, redacted=redactor is not None), output)
        return
    from .render.terminal import render_terminal

    _print_rich(lambda console: render_terminal(report, console, limit), output)


def _may_be_fleet(logs: list[str]) -> bool:
    """fleet.wants_fleet's answer; files that exist (and -) are never a fleet, and a command line of only
    those does not import fleet.py (~8 ms of a small log's analyze, issue 14)."""
    if all(log == "-" or os.path.isfile(log) for log in logs):
        return False
    from .fleet import wants_fleet

    return wants_fleet(logs)


def _fleet_report(
    logs: list[str], format: OutputFormat, output: Path | None, limit: int, jobs: int, redactor: Redactor | None
) -> None:
    """``analyze`` in fleet mode: every log analysed on its own, in parallel, then one summary."""
    from .fleet import DEFAULT_WORKERS, analyze_fleet
    from .render.fleet_json import render_fleet_json

    with _progress() as progress:
        summary = analyze_fleet(logs, workers=jobs or DEFAULT_WORKERS, redactor=redactor, progress=progress)
    if not summary.usable:
        fail("; ".join(str(log.unusable) for log in summary.unusable[:3]) + " (no log could be read)")
    for log in summary.unusable:
        echo(f"comfylog: warning: skipped {log.unusable}")
    if format is OutputFormat.json:
        _write(render_fleet_json(summary), output)
        return

    from .render.fleet import render_fleet_terminal

    _print_rich(lambda console: render_fleet_terminal(summary, console, limit), output, width=160)


def _write_html_report(
    inputs: list[str], output: Path | None, redactor: Redactor | None, baseline: str | None = None,
) -> Path:
    """The HTML page of ``report`` (and ``analyze --format html``), written to ``output`` or to <log name>.html:
    its path. A page is a file, never standard output (about 5 MB of plotly)."""
    if output is not None and str(output) == "-":
        fail("-o -: the HTML report is a file, not a stream; name one, e.g. -o report.html")
    if output is None:
        name = Path(inputs[0]).name if len(inputs) == 1 and inputs[0] != "-" else ""
        for suffix in (".gz", ".log", ".txt", ".md"):
            name = name[: -len(suffix)] if name.lower().endswith(suffix) and len(name) > len(suffix) else name
        output = Path(f"{name}.html" if name else "comfylog-report.html")
    if output.is_dir():
        fail(f"{output}: is a directory; -o names the HTML file to write")
    if any(log != "-" and Path(log).resolve() == output.resolve() for log in [*inputs, baseline or "-"]):
        fail(f"{output}: is also an input; choose another name with -o")
    if baseline == "-" and "-" in inputs:
        fail("only one of the log and the baseline can be read from standard input")
    from .api import analyze as run_analysis
    from .pipeline import let_go
    from .render.html import write_html

    with _progress() as progress:
        run_report = run_analysis(inputs, redact=redactor or False, progress=progress)
        baseline_report = None
        if baseline is not None:
            let_go(run_report)  # two reports at once: each gives back what its analysis kept decoded
            baseline_report = run_analysis(baseline, redact=redactor or False, progress=progress)
            let_go(baseline_report)
    _require_comfyui(run_report)
    comparison = None
    if baseline_report is not None:
        from .compare import CompareError, compare_reports

        try:
            comparison = compare_reports(run_report, _require_comfyui(baseline_report))
        except CompareError as exc:
            fail(str(exc))
    try:
        with output.open("w", encoding="utf-8") as out, _progress() as progress:
            progress("writing the page", 0, None)
            try:
                write_html(out, run_report, baseline_report, comparison)  # written as it is made
            except BaseException:
                out.close()
                output.unlink(missing_ok=True)  # no half a page
                raise
            size = out.tell()
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    where = output.resolve()
    echo(f"wrote {where} ({size / 1e6:.1f} MB)")
    return where


# --- the plain reader ---------------------------------------------------------------------------

#: A flag's value is its name's; an option's is the next word (or what follows ``=``, or a short name's letter).
TAKES_VALUE = object()


def _names(options: type[Any]) -> dict[str, tuple[str, Any, Parameter, Any]]:
    """Each option name of ``options``'s fields: the field's name, type and Parameter, and the value the
    name gives (a flag's True or False) or TAKES_VALUE."""
    names: dict[str, tuple[str, Any, Parameter, Any]] = {}
    for f, kind, given in declared(options):
        for name in given.names:
            if "/" in name:
                on, off = name.split("/")
                names[on], names[off] = (f.name, kind, given, True), (f.name, kind, given, False)
            else:
                names[name] = (f.name, kind, given, True if kind is bool else TAKES_VALUE)
    return names


def _value(kind: Any, given: Parameter, text: str) -> Any:
    """``text`` as typer makes a value of type ``kind`` from it, or TAKES_VALUE where typer would refuse it
    or this is not sure what typer would make of it."""
    kind = next((t for t in get_args(kind) if t is not type(None)), kind)  # X | None: X
    if isinstance(kind, type) and issubclass(kind, Enum):  # click's Choice: case-sensitive, the exact value
        return next((member for member in kind if member.value == text), TAKES_VALUE)
    if kind is int:  # click's IntRange; int() takes more (" 7", "+7", "7_0", other scripts' digits): typer's
        if not (text.isascii() and text.isdigit()):
            return TAKES_VALUE
        return int(text) if given.min is None or int(text) >= given.min else TAKES_VALUE
    if kind is Path:  # typer's Path: an existing path must be readable (typer/models.py TyperPath)
        try:
            os.stat(text)
        except OSError:
            return Path(text)
        except ValueError:  # a NUL
            return TAKES_VALUE
        return Path(text) if os.access(text, os.R_OK) else TAKES_VALUE
    return TAKES_VALUE


def plain_analyze(args: list[str]) -> AnalyzeOptions | None:
    """``args`` (``analyze`` and its arguments and options) read as typer reads them, where this is sure
    to read them the same; else None, and typer reads them.

    As click's parser: options and arguments in any order, ``--name=value``, ``-fjson``, the last of a
    repeated option wins, ``--`` ends the options, ``-`` is an argument.
    """
    if not args or args[0] != "analyze" or os.environ.get("_COMFYLOG_COMPLETE"):
        return None
    names = _names(AnalyzeOptions)
    values: dict[str, Any] = {}
    logs: list[str] = []
    words = args[1:]
    at = 0
    while at < len(words):
        word = words[at]
        at += 1
        if word == "--":
            logs.extend(words[at:])
            break
        if word[:1] != "-" or word == "-":
            logs.append(word)
            continue
        name, joined, text = word.partition("=") if word[:2] == "--" else (word[:2], word[2:], word[2:])
        found = names.get(name)
        if found is None:  # --help, --debug (the root's), a mistake: typer says what it says
            return None
        field_name, kind, given, flag_value = found
        if flag_value is not TAKES_VALUE:
            if joined:  # a flag given a value, or short flags run together
                return None
            values[field_name] = flag_value
            continue
        if not joined:
            if at == len(words):  # no value: typer's error
                return None
            text = words[at]
            at += 1
        value = _value(kind, given, text)
        if value is TAKES_VALUE:
            return None
        values[field_name] = value
    return AnalyzeOptions(logs=logs or None, **values)


# --- the entry point ----------------------------------------------------------------------------


def main(args: list[str], with_typer: Callable[[list[str]], None]) -> None:
    """``comfylog ARGS``: a plain ``analyze`` here, anything else by ``with_typer``; unusable input
    becomes one line and exit status 2, a bug one line and status 3 (unless --debug)."""
    DEBUG["on"] = False
    options = plain_analyze(args)
    try:
        if options is None:
            with_typer(args)
        else:
            _as_typer_runs(lambda: analyze(options))
    except UnusableInput as exc:
        if DEBUG["on"]:
            raise
        echo(f"comfylog: error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        echo("comfylog: interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: say so in one line unless --debug
        if DEBUG["on"] or "--debug" in args:
            raise
        echo(f"comfylog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        sys.exit(3)


class _QuietFlush:
    """A standard stream whose flush says nothing of a closed pipe (click's PacifyFlushWrapper)."""

    def __init__(self, wrapped: TextIO) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _as_typer_runs(command: Callable[[], None]) -> None:
    """Run ``command`` as typer runs a command (typer/core.py ``_main``): Ctrl-C ends it with status 130
    and no message; a closed pipe with status 1, the flushes at exit quiet about it; an EOFError (a bug:
    nothing here reads a terminal) prints typer's empty line and "Aborted." with status 1."""
    try:
        command()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except EOFError:
        from typer import _click, core, rich_utils  # only here: the same words, as typer prints them

        _click.echo(file=sys.stderr)
        if core.HAS_RICH:
            rich_utils.rich_abort_error()
        else:
            _click.echo("Aborted!", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _QuietFlush(sys.stdout)
        sys.stderr = _QuietFlush(sys.stderr)
        raise SystemExit(1) from None


def exit_as_process(main: Callable[[], None]) -> NoReturn:
    """Run ``main`` (the whole command) in a process of its own, then end it without tearing the
    interpreter down.

    Freeing the ~330 modules a report imports one by one is work whose result nobody sees: 5% of a small
    log's analyze (56 M of 1,140 M instructions; issue 14's start-up target). So once the output is flushed, the exit
    handlers have run (temporary directories' finalizers) and no other thread is left, the process
    ends at once with the status ``main`` exits with; anything unusual (a flush that fails, a
    thread still running, an exit status that is not a number) takes Python's normal exit instead.
    Tests call ``main`` in their own process; this is only for a process of its own.
    """
    try:
        main()
        code: str | int | None = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    if not isinstance(code, int) or threading.active_count() > 1:
        sys.exit(code)
    _flushed_or_exit(code)
    import atexit

    atexit._run_exitfuncs()  # run once: a normal exit after this has none left to run
    _flushed_or_exit(code)  # what the handlers wrote
    os._exit(code)


def _flushed_or_exit(code: int) -> None:
    """Flush standard output and error; where that fails (a closed pipe), exit as Python does, which
    says so as it always did."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # AttributeError: no stream (None)
        sys.exit(code)
