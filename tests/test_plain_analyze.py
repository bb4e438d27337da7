"""``comfylog analyze`` read without typer (commands.py, issue 14's start-up): the plain reader and typer's
command are made from one declaration (commands.AnalyzeOptions), and wherever the plain reader takes a
command line it must read it as typer does; everything else goes to typer.

The typer side is a typer app made by cli.py's own ``_typer_command`` from the same declaration, with a
body that records the options it is given (cli.app's ``analyze`` is made the same way: its help is
compared below)."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from comfylog import cli, commands
from comfylog.commands import AnalyzeFormat, AnalyzeOptions, plain_analyze

from .cli import run_cli
from .conftest import EXAMPLES

LOG = str(EXAMPLES / "runpod-lowvram-gguf.log")


def typer_reads(args: list[str], body: Any = None) -> AnalyzeOptions | str:
    """The options typer's ``analyze`` (made from the declaration) gives its body for ``args``, or
    ``refused`` where typer stops with a usage error or help."""
    got: list[AnalyzeOptions] = []
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command("analyze")(cli._typer_command(AnalyzeOptions, body or got.append))
    try:
        app(args=args, prog_name="comfylog", standalone_mode=False)
    except click.exceptions.ClickException:
        return "refused"
    return got[0] if got else "refused"  # --help prints and returns


def plain_reads(args: list[str]) -> AnalyzeOptions | str:
    return plain_analyze(args) or "refused"


#: Command lines people type: the plain reader must take each (else plain analyze would never run).
TAKEN = [
    ["analyze", LOG],
    ["analyze", LOG, "--format", "json"],
    ["analyze", "-f", "json", LOG],
    ["analyze", "-fjson", LOG],
    ["analyze", LOG, "--format=markdown", "--no-redact"],
    ["analyze", LOG, "--limit", "5", "-o", "out.txt"],
    ["analyze", LOG, "--limit=5", "--output=out.txt", "--redact", "--redact-ips"],
    ["analyze", LOG, "--fleet", "-j", "3"],
    ["analyze", LOG, "-j0"],
    ["analyze", "-", "--format", "html", "-o", "-"],
    ["analyze", "--", "--format", LOG],
    ["analyze", LOG, LOG, "--limit", "2", "--limit", "7", "-f", "json", "-f", "text"],
    ["analyze"],
    ["analyze", LOG, "-o", ""],
]
#: Command lines the plain reader must leave to typer: help, the root's options, mistakes, values typer refuses.
LEFT = [
    ["analyze", "--help"], ["analyze", LOG, "--debug"], ["--debug", "analyze", LOG], ["analyze", LOG, "-h"],
    ["analyze", LOG, "--limit", "0"], ["analyze", LOG, "--limit", "abc"], ["analyze", LOG, "--limit"],
    ["analyze", LOG, "--format", "JSON"], ["analyze", LOG, "--fleet=1"], ["analyze", LOG, "-j", "-1"],
    ["analyze", LOG, "--jobs="], ["analyze", LOG, "--limit", " 7"], ["analyze", LOG, "--limit", "+7"],
    ["analyze", LOG, "--bogus"], ["analyze", LOG, "--form", "json"], ["report", LOG], ["anlyze", LOG],
    ["--version"], [],
]


@pytest.mark.parametrize("args", TAKEN, ids=" ".join)
def test_a_usual_command_line_is_read_without_typer_as_typer_reads_it(args: list[str]) -> None:
    plain = plain_reads(args)
    assert plain != "refused"
    assert plain == typer_reads(args)


@pytest.mark.parametrize("args", LEFT, ids=" ".join)
def test_help_mistakes_and_other_commands_are_left_to_typer(args: list[str]) -> None:
    assert plain_analyze(args) is None


def test_the_plain_reader_knows_every_name_of_typer_s_options() -> None:
    """Every option name typer's analyze has (each flag's off name too) and no other."""
    command = typer.main.get_command(cli.app).commands["analyze"]  # type: ignore[attr-defined]
    typer_names = {name for p in command.params for name in (*p.opts, *p.secondary_opts) if p.opts[0][:1] == "-"}
    assert set(commands._names(AnalyzeOptions)) == typer_names
    assert len(typer_names) == 11  # --format -f --output -o --limit --fleet --jobs -j --redact --no-redact --redact-ips


def test_cli_analyze_is_made_from_the_declaration() -> None:
    """cli.app's analyze is typer's command from AnalyzeOptions: its help is the one typer_reads' app shows."""
    ours = CliRunner().invoke(cli.app, ["analyze", "--help"], env={"COLUMNS": "100"})
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, name="comfylog")
    app.callback()(lambda: None)
    app.command("analyze")(cli._typer_command(AnalyzeOptions, commands.analyze))
    again = CliRunner().invoke(app, ["analyze", "--help"], env={"COLUMNS": "100"})
    assert ours.exit_code == again.exit_code == 0
    assert ours.output == again.output
    for f, _, declared in commands.declared(AnalyzeOptions):
        assert " ".join(declared.help.split())[:30] in " ".join(ours.output.replace("│", " ").split()), f.name


#: Words a command line may hold: the options, values good and bad, files, ``-``, ``--``.
WORDS = st.sampled_from([
    "--format", "-f", "--output", "-o", "--limit", "--fleet", "--jobs", "-j", "--redact", "--no-redact",
    "--redact-ips", "--", "-", "json", "text", "html", "markdown", "JSON", "0", "1", "7", "-1", "+3", " 2",
    "x.log", LOG, "--format=json", "--limit=3", "-fjson", "-j2", "-o-", "--fleet=", "--help", "-x", "",
    "--output=", "--limit=", "٣",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=7))
def test_wherever_the_plain_reader_takes_a_command_line_typer_reads_the_same(words: list[str]) -> None:
    args = ["analyze", *words]
    plain = plain_reads(args)
    if plain != "refused":
        assert plain == typer_reads(args)


def test_the_defaults_are_typer_s() -> None:
    assert plain_reads(["analyze", LOG]) == typer_reads(["analyze", LOG]) == AnalyzeOptions(
        logs=[LOG], format=AnalyzeFormat.text, output=None, limit=40, fleet=False, jobs=0, redact=None,
        redact_ips=False)
    assert plain_reads(["analyze", LOG, "-o", "r.txt"]) == typer_reads(["analyze", LOG, "-o", "r.txt"])
    assert isinstance(plain_analyze(["analyze", LOG, "-o", "r.txt"]).output, Path)  # type: ignore[union-attr]


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_COMFYLOG_COMPLETE", "bash_complete")
    assert plain_analyze(["analyze", LOG]) is None


def both_ways(raised: BaseException, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """Exit status and stderr of ``analyze LOG`` whose body raises ``raised``, read plainly and by typer."""

    def body(options: AnalyzeOptions) -> None:
        raise raised

    def through_typer(args: list[str]) -> None:
        typer_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        typer_app.callback()(lambda: None)
        typer_app.command("analyze")(cli._typer_command(AnalyzeOptions, body))
        typer_app(args=args, prog_name="comfylog")

    seen = []
    for plainly in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(commands, "analyze", body)
            if not plainly:
                patch.setattr(commands, "plain_analyze", lambda args: None)
            with CliRunner().isolation() as (_, err, _):
                try:
                    commands.main(["analyze", LOG], through_typer)
                    code = 0
                except SystemExit as exit_:
                    code = int(exit_.code or 0)
                sys.stderr.flush()
                seen.append((code, err.getvalue().decode()))
    return seen


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), BrokenPipeError(errno.EPIPE, "Broken pipe"), EOFError(),
                                    ValueError("a bug"), SystemExit(2)], ids=repr)
def test_what_escapes_the_command_ends_it_as_under_typer(raised: BaseException,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (130, silent), a closed pipe (1), EOFError (typer's "Aborted."), a bug (3, one line)."""
    plainly, by_typer = both_ways(raised, monkeypatch)
    assert plainly == by_typer
    assert plainly[0] == {"KeyboardInterrupt": 130, "BrokenPipeError": 1, "EOFError": 1, "ValueError": 3,
                          "SystemExit": 2}[type(raised).__name__]


def test_a_plain_analyze_prints_what_typer_s_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same report, errors and warnings, read plainly and by typer (the plain reader turned off)."""
    (tmp_path / "not.log").write_text("hello\n", encoding="utf-8")
    for args in (["analyze", LOG], ["analyze", LOG, "-f", "json"], ["analyze", str(tmp_path / "not.log")],
                 ["analyze", str(tmp_path / "not.log"), LOG, "--format", "markdown"],
                 ["analyze", str(tmp_path / "missing.log")], ["analyze", LOG, "-o", str(tmp_path)],
                 ["analyze", LOG, "--redact-ips", "--no-redact"], ["analyze", LOG, "-o", str(tmp_path / "r.txt")]):
        assert plain_analyze(args) is not None
        plain = run_cli(*args, text=True)
        with monkeypatch.context() as patch:
            patch.setattr(commands, "plain_analyze", lambda args: None)
            by_typer = run_cli(*args, text=True)
        assert (plain.returncode, plain.stdout, plain.stderr) == (by_typer.returncode, by_typer.stdout,
                                                                   by_typer.stderr), args
        assert plain.returncode in (0, 2), args
