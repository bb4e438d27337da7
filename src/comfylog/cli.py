"""The command line: parses options, calls the library, picks a renderer. Nothing else lives here."""

from __future__ import annotations

import copy
import inspect
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

import typer

from . import commands
from .commands import (
    DEBUG,
    OutputFormat,
    _inputs,
    _print_rich,
    _progress,
    _redactor,
    _require_comfyui,
    _write,
    _write_html_report,
    _write_streamed,
    exit_as_process,
    fail,
)
from .gcpolicy import use_analysis_thresholds

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


def version_text() -> str:
    """What ``comfylog --version`` prints: the version, which scanner reads logs and which segmenter
    segments them (each native or python)."""
    from .engines import native_module, scanner, segmenter_in_use  # not the scanner and segmenter themselves
    from .version import __version__

    which = scanner()
    module = native_module()
    detail = f" {module.version()}" if which == "native" and module is not None else ""
    return f"comfylog {__version__} (scanner {which}{detail}, segmenter {segmenter_in_use()})"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Show comfylog's version, scanner and segmenter (native or python), then exit."),
) -> None:
    DEBUG["on"] = debug


def _typer_command(options: type[Any], body: Callable[[Any], None]) -> Callable[..., None]:
    """A function typer makes a command of: its parameters are the fields of ``options`` (commands.py
    declares them once, for typer and for its plain reader), its help is ``body``'s, and it runs ``body``
    on the options given."""

    def command(**values: Any) -> None:
        body(options(**values))

    parameters = []
    for f, kind, given in commands.declared(options):
        info = (typer.Option(f.default, *given.names, help=given.help, min=given.min) if given.names
                else typer.Argument(f.default, help=given.help))
        parameters.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind))
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = command.__qualname__ = body.__name__
    command.__doc__ = body.__doc__
    return command


app.command("analyze")(_typer_command(commands.AnalyzeOptions, commands.analyze))


# --- further commands are added below this line, one function each ---


class TableFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"
    trace = "trace"


@app.command()
def export(
    logs: list[str] = typer.Argument(
        ..., help="Log files, directories (every *.log, *.txt, *.gz under them) or quoted globs."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Directory to write one file per table into (created); for --format trace, "
        "the trace file (- for standard output).",
    ),
    format: TableFormat = typer.Option(
        TableFormat.csv, "--format", "-f", help="csv, jsonl, parquet (needs pyarrow: the parquet extra), or trace "
        "(Trace Event Format JSON for Perfetto / chrome://tracing).",
    ),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Logs analysed at once, each in its own process."),
    redact: bool | None = typer.Option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the output."
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too (implies --redact)."),
) -> None:
    """Write the report's tables as CSV, JSON Lines or Parquet, for pandas, DuckDB or Spark; or a trace.

    One file per table (sources, summary, runs, prompts, progress_bars, loads, errors, findings),
    each row with a source column (the log's path).

    Each log is analysed on its own (two at a time by default), so prompt and run indexes restart per log.

    --format trace writes one JSON file to open in ui.perfetto.dev or chrome://tracing.

    A trace has a process per run of one log, or a process per log when given several (one timeline).

    Examples:\n
      comfylog export workers/ -o tables/\n
      comfylog export 'logs/**/*.log' -o tables/ --format parquet\n
      duckdb -c "SELECT source, median(total_s) FROM 'tables/prompts.csv' GROUP BY source"\n
      comfylog export comfyui.log --format trace -o run.trace.json
    """
    from functools import partial

    from .export import MissingDependency, check_format, export_logs
    from .fleet import expand_inputs, map_logs

    if format is TableFormat.trace:
        from .render.trace import log_trace, report_trace, write_trace

        if output.is_dir():
            fail(f"{output}: is a directory; with --format trace, -o names the trace file to write")
        paths = expand_inputs(logs)
        redactor = _redactor(redact, redact_ips)
        if len(paths) == 1:
            from .api import analyze as run_analysis

            parts = [report_trace(run_analysis(paths, redact=redactor or False))]
        else:
            parts = map_logs(log_trace if redactor is None else partial(log_trace, redactor=redactor), paths, jobs)
        _write_streamed(lambda out: write_trace(parts, out), output)
        return
    if output.exists() and not output.is_dir():
        fail(f"{output}: exists and is not a directory (-o names a directory of tables)")
    paths = expand_inputs(logs)
    try:
        check_format(format.value)  # before any log is read
    except MissingDependency as exc:
        fail(str(exc))
    redactor = _redactor(redact, redact_ips)
    try:
        with _progress() as progress:  # each table's rows are written as they are made
            written, rows = export_logs(paths, str(output), format.value, redactor, jobs, progress)
    except MissingDependency as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.filename is not None and not Path(exc.filename).resolve().is_relative_to(output.resolve()):
            raise  # not the output's: reading failed
        fail(f"{output}: cannot write ({exc.strerror})")
    typer.echo(f"wrote {len(written)} {format.value} tables ({rows} rows from {len(paths)} logs) to {output}", err=True)


@app.command()
def report(
    logs: list[str] | None = typer.Argument(
        None, help="Log files (or - for stdin). Several files are read in order as one report."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="HTML file to write. Default: <log name>.html in the current directory."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the report in your web browser."),
    baseline: str | None = typer.Option(
        None, "--baseline", "-b", help="A log of the same workflow to compare with (as comfylog compare does)."
    ),
    redact: bool | None = typer.Option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the page "
        "(default: redact, the page is made to be shared).",
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too."),
) -> None:
    """Write a self-contained HTML report with a timeline, to open offline or attach to an issue.

    Findings with their log lines, the machine, a timeline of every run (start-up, idle,
    load / inference / wait per prompt, restarts, errors), step rates and
    the prompt table. With --baseline, the comparison side by side and both prompts' timelines
    aligned at their start. plotly is inside the file (about 5 MB): it opens offline and can be
    attached to an issue. Log text is shown as text, never run.

    Examples:\n
      comfylog report comfyui.log --open\n
      comfylog report runpod.log --baseline local.log -o runpod-vs-local.html
    """
    redactor = _redactor(redact, redact_ips, default=True)
    where = _write_html_report(_inputs(logs), output, redactor, baseline)
    if open_browser:
        import webbrowser

        if not webbrowser.open(where.as_uri()):
            typer.echo(f"comfylog: no web browser could be started; open {where.as_uri()} yourself", err=True)


@app.command()
def compare(
    run: str = typer.Argument(..., help="The log to explain (the slow one), or - for stdin."),
    baseline: str = typer.Argument(..., help="The reference log (the fast one) of the same workflow."),
    prompt: int | None = typer.Option(None, "--prompt", min=1, help="Compare this prompt of the run (1-based)."),
    baseline_prompt: int | None = typer.Option(
        None, "--baseline-prompt", min=1, help="...with this prompt of the baseline (default: the same number)."
    ),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text: a table; json: the figures."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
    redact: bool | None = typer.Option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the output."
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too (implies --redact)."),
) -> None:
    """Compare a run with a baseline of the same workflow and name what makes it slower.

    Machine, total, each phase, the per-step rate of matching sampling bars, model loads and
    findings, each with the ratio; names the phase that
    explains most of the difference and the findings behind it. Prompts are paired in order (several
    pairs: medians), or chosen with --prompt / --baseline-prompt.

    Examples:\n
      comfylog compare runpod.log local.log\n
      comfylog compare runpod.log local.log --prompt 2 --baseline-prompt 1 --format json
    """
    from .api import analyze as run_analysis
    from .compare import CompareError, compare_reports
    from .pipeline import let_go

    if run == "-" and baseline == "-":
        fail("only one of the two logs can be read from standard input")
    try:
        redactor = _redactor(redact, redact_ips) or False
        with _progress() as progress:
            run_report = run_analysis(run, redact=redactor, progress=progress)
            let_go(run_report)  # two reports at once: each gives back what its analysis kept decoded
            baseline_report = run_analysis(baseline, redact=redactor, progress=progress)
            let_go(baseline_report)
        comparison = compare_reports(_require_comfyui(run_report), _require_comfyui(baseline_report), prompt,
                                     baseline_prompt)
    except CompareError as exc:
        fail(str(exc))
    if format is OutputFormat.json:
        from .render.compare import compare_json_pieces

        to_stdout = output is None or str(output) == "-"  # a file ends as the JSON does, as it always has
        _write_streamed(lambda out: out.writelines(compare_json_pieces(comparison)), output,
                        end="\n" if to_stdout else "")
        return
    from .render.compare import render_compare

    _print_rich(lambda console: render_compare(comparison, console), output)


#: ``--fail-on``; its help lists the ids, filled in only when help is shown (the catalog costs 0.3 s to import).
FAIL_ON: Any = typer.Option(
    None, "--fail-on", help="Rules that fail the check, comma-separated or repeated; 'none' for none. Ids: {ids}. "
    "Default: {default}.",
)


def _fill_help(args: list[str]) -> None:
    """Put the rule ids into ``--fail-on``'s help when help is asked for."""
    if FAIL_ON.help and "{ids}" in FAIL_ON.help and ("--help" in args or "-h" in args):
        from .check import DEFAULT_FAIL_ON, known_ids

        FAIL_ON.help = FAIL_ON.help.format(ids=", ".join(known_ids()), default=", ".join(DEFAULT_FAIL_ON))


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    junit = "junit"


@app.command()
def check(
    logs: list[str] | None = typer.Argument(
        None, help="Log files (or - for stdin), markdown issue bodies too. Each is checked on its own."
    ),
    max_total: float | None = typer.Option(None, "--max-total", help="Fail if a prompt takes longer (seconds)."),
    max_load: float | None = typer.Option(None, "--max-load", help="Fail if a prompt spends longer loading (s)."),
    max_wait: float | None = typer.Option(None, "--max-wait", help="Fail if a prompt waits longer (seconds)."),
    max_slowdown: float | None = typer.Option(
        None, "--max-slowdown", help="Fail if the run is more than this many times slower than --baseline."
    ),
    baseline: str | None = typer.Option(None, "--baseline", help="Reference log for --max-slowdown."),
    fail_on: list[str] | None = FAIL_ON,
    warn_on: list[str] | None = typer.Option(
        None, "--warn-on", help="Ids that only warn (this also takes them out of the default --fail-on). "
        "Default: every other finding of severity warning or error.",
    ),
    config: str | None = typer.Option(
        None, "--config",
        help="Config file (default: ./comfylog.toml, else the \\[tool.comfylog] table of ./pyproject.toml).",
    ),
    format: CheckFormat = typer.Option(
        CheckFormat.text, "--format", "-f", help="text, json, github (workflow commands + job summary) or junit."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
    redact: bool | None = typer.Option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the "
        "messages (default: only for --format github, whose annotations and summary are shown to others).",
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too (implies --redact)."),
) -> None:
    """Check logs against rules for CI: exit 0 pass, 1 a rule failed, 2 unusable input or options.

    Rules: limits on each prompt's total, load and wait time,
    a limit on the slowdown against a baseline, and the findings that fail (or warn).

    Examples:\n
      comfylog check comfyui.log --max-total 600\n
      comfylog check worker.log --max-slowdown 2 --baseline local.log --format github\n
      comfylog check logs/*.log --fail-on oom,exception --format junit -o comfylog.xml
    """
    from .check import ConfigError, check_logs, find_config, resolve_options

    try:
        settings, path = find_config(Path.cwd(), config)
        options = resolve_options(
            {"max_total": max_total, "max_load": max_load, "max_wait": max_wait, "max_slowdown": max_slowdown,
             "baseline": baseline, "fail_on": fail_on, "warn_on": warn_on},
            settings, path,
        )
    except ConfigError as exc:
        fail(str(exc))
    with _progress() as progress:
        result = check_logs(_inputs(logs), options, _redactor(redact, redact_ips, default=format is CheckFormat.github),
                            progress)
    if format is CheckFormat.json:
        from .render.ci import render_check_json

        _write(render_check_json(result), output)
    elif format is CheckFormat.junit:
        from .render.ci import render_check_junit

        _write(render_check_junit(result), output)
    elif format is CheckFormat.github:
        from .render.ci import render_check_github, render_check_summary

        _write(render_check_github(result), output)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as f:
                    f.write(render_check_summary(result))
            except OSError as exc:
                typer.echo(f"comfylog: warning: cannot write the job summary {summary} ({exc.strerror})", err=True)
    else:
        from .render.ci import render_check_text

        _print_rich(lambda console: render_check_text(result, console), output)
    raise typer.Exit(result.exit_code)


@app.command("redact")
def redact_command(
    logs: list[str] | None = typer.Argument(None, help="Log files (.gz too), or - for stdin."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (one log), or directory (several logs, or an existing "
        "directory: each log under its own name). Default: standard output.",
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too."),
) -> None:
    """Write a copy of a log with API keys, tokens, e-mail addresses and user names taken out.

    Every other byte stays as it was (line endings, colours, invalid UTF-8), so the copy can be
    attached to an issue and still read by any tool. A .gz is written decompressed. What was
    redacted, by kind, is counted on stderr; SECURITY.md lists what is and is not redacted.

    Examples:\n
      comfylog redact comfyui.log -o comfyui.redacted.log\n
      docker logs worker 2>&1 | comfylog redact > worker.log\n
      comfylog redact logs/*.log -o redacted/
    """
    from collections import Counter

    from .read.copy import copy_redacted, open_log_bytes
    from .read.redact import Redactor, describe

    inputs = _inputs(logs)
    to_dir = output is not None and str(output) != "-" and (output.is_dir() or len(inputs) > 1)
    targets: list[Path | None] = []
    for log in inputs:
        target = output if not to_dir else output / _plain_name(log) if output else None
        if target is not None and str(target) == "-":
            target = None
        if target is not None and log != "-" and Path(log).resolve() == target.resolve():
            fail(f"{target}: is also an input; choose another name with -o")
        if target is not None and target in targets:
            fail(f"{target}: two logs would be written there (same name); redact them one at a time")
        targets.append(target)
    opened = [open_log_bytes(log) for log in inputs]  # fail fast, before anything is written
    if to_dir and output is not None:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"{output}: cannot create the directory ({exc.strerror})")
    redactor = Redactor(ips=redact_ips)
    for (stream, first, name), target in zip(opened, targets, strict=True):
        counts: Counter[str] = Counter()
        try:
            if target is None:
                copy_redacted(stream, first, sys.stdout.buffer, redactor, counts)
                sys.stdout.buffer.flush()
            else:
                with open(target, "wb") as out:
                    copy_redacted(stream, first, out, redactor, counts)
        except OSError as exc:
            fail(f"{target or 'standard output'}: cannot write ({exc.strerror})")
        finally:
            stream.close()
        where = f" -> {target}" if target is not None else ""
        typer.echo(f"comfylog: {redactor.redact(name)}{where}: redacted {describe(counts)}", err=True)
        stopped = getattr(stream, "stopped", None)
        if stopped:
            typer.echo(f"comfylog: warning: {redactor.redact(name)}: {stopped}; the copy ends there", err=True)


class WatchFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


class Severity(str, Enum):
    error = "error"
    warning = "warning"


@app.command("watch")
def watch_command(
    log: str = typer.Argument(
        ..., help="The log to follow: a file (followed by name through rotation, like tail -F; it may not exist "
        "yet), - for standard input, or http://HOST:PORT for a running ComfyUI."),
    from_start: bool = typer.Option(False, "--from-start", help="Read the file from its start (default: its end)."),
    format: WatchFormat = typer.Option(
        WatchFormat.text, "--format", "-f", help="text: a live view on a terminal, else one line per event; the "
        "report analyze prints at the end. jsonl: one JSON object per finished prompt, finding and restart."),
    on_finding: str | None = typer.Option(
        None, "--on-finding", metavar="CMD", help="Run CMD (through the shell) for each warning and error found, the "
        "finding as JSON on its standard input."),
    exit_on: Severity | None = typer.Option(
        None, "--exit-on", help="End with exit status 1 at the first finding this severe (error, or warning too)."),
    metrics: str | None = typer.Option(
        None, "--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics on http://HOST:PORT/metrics "
        "(host 127.0.0.1 unless given; 0.0.0.0 to be scraped from elsewhere)."),
    name: str | None = typer.Option(None, "--name", help="The log's name in metrics and JSON Lines (default: LOG)."),
    client_id: str | None = typer.Option(
        None, "--client-id", help="http://...: listen as this websocket client (the client_id a script queues prompts "
        "with, to time their nodes); never the browser's."),
    poll: float = typer.Option(0.25, "--poll", min=0.01, help="Seconds between two looks at a quiet file."),
    limit: int = typer.Option(40, "--limit", min=1, help="Rows shown in the final report's prompt and error tables."),
    redact: bool | None = typer.Option(
        None, "--redact/--no-redact", help="Take API keys, tokens, e-mail addresses and user names out of the output."
    ),
    redact_ips: bool = typer.Option(False, "--redact-ips", help="Redact IP addresses too (implies --redact)."),
) -> None:
    """Follow a log as ComfyUI writes it: a live view, alerts, JSON Lines and Prometheus metrics.

    At the end of the input (or Ctrl-C) it prints the report analyze prints for the same lines.

    Examples:\n
      comfylog watch ComfyUI/user/comfyui.log\n
      docker logs -f --timestamps worker 2>&1 | comfylog watch -\n
      comfylog watch comfyui.log --metrics :9464 --on-finding 'notify-send comfylog'\n
      comfylog watch comfyui.log --format jsonl --exit-on error | jq -c 'select(.type == "finding")'
    """
    from .watch import WatchOptions, run_watch

    options = WatchOptions(
        target=log, from_start=from_start, jsonl=format is WatchFormat.jsonl, on_finding=on_finding,
        exit_on=exit_on.value if exit_on else None, metrics=metrics, name=name, poll=poll, limit=limit,
        client_id=client_id, redactor=_redactor(redact, redact_ips))
    status = run_watch(options, warn=lambda message: typer.echo(f"comfylog: warning: {message}", err=True))
    if status:
        raise typer.Exit(status)


def _plain_name(log: str) -> str:
    """The file name a log's redacted copy gets in an output directory (a .gz is written plain)."""
    name = "stdin.log" if log == "-" else Path(log).name
    return name[:-3] if name.lower().endswith(".gz") and len(name) > 3 else name


def _unwrap(doc: str) -> str:
    """A docstring with each paragraph on one line: the terminal wraps help to its own width, and a
    line break kept from the source would break a sentence in the middle."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p[: len(p) - len(p.lstrip())] + " ".join(line.strip() for line in p.splitlines())
                       for p in paragraphs)


for _command in app.registered_commands:
    if _command.callback is not None and _command.callback.__doc__:
        _command.callback.__doc__ = _unwrap(_command.callback.__doc__)


def _app_for(args: list[str]) -> typer.Typer:
    """``app`` with only the command ``args`` start with, where they name one: typer makes every command's
    click parameters (signatures read, annotations evaluated) on each start, ~9 ms of a small log's analyze
    (issue 14), and a command line that names one command meets none of the others (its help and its
    errors are that command's own)."""
    for command in app.registered_commands if args else ():
        # the name typer gives a command (typer.main.get_command_name)
        name = command.name or (command.callback.__name__.lower().replace("_", "-") if command.callback else None)
        if name == args[0]:
            one = copy.copy(app)
            one.registered_commands = [command]
            return one
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point: run ``argv`` (default: the command line), a plain ``analyze`` without typer
    (commands.py), anything else through typer; unusable input becomes one line and exit status 2."""
    commands.main(sys.argv[1:] if argv is None else argv, run_typer)


def run_typer(args: list[str]) -> None:
    """The command line ``args`` through typer (every one commands.py does not read itself)."""
    _fill_help(args)
    _app_for(args)(args=args, prog_name="comfylog")


def run() -> NoReturn:
    """``main`` on the command line in a process of its own (commands.exit_as_process); the collector
    runs as it does while a log is analysed (gcpolicy.py) from the start: its passes over the objects
    that importing comfylog makes free nothing (15 M instructions more)."""
    use_analysis_thresholds()
    exit_as_process(main)
