"""Input: files, gzip, stdin, encodings, line endings, ANSI, mojibake, markdown, unusable input."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

from comfylog.api import analyze, analyze_text
from comfylog.diagnose.builds import DYNAMIC_VRAM_DEFAULT, at_least, ram_cache_default, version_tuple
from comfylog.index import comfyui_sources
from comfylog.model import Run
from comfylog.parse.native import native_module
from comfylog.pipeline import analyze_paths
from comfylog.read.lines import _newlines, open_input, read_lines
from comfylog.read.markdown import MARKDOWN_PEEK_LINES, may_be_markdown, peek_markdown
from comfylog.read.source import UnusableInput
from comfylog.read.streams import looks_binary
from comfylog.render.markdown import render_markdown
from comfylog.render.terminal import render_terminal

from .cli import run_cli
from .conftest import CORPUS, FIXTURES, corpus_or_skip


def lines_of(path: Path) -> list[str]:
    _, lines = read_lines(str(path))
    return [raw.text for raw in lines]


def test_crlf_lf_and_bare_cr(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"one\r\ntwo\n\r 50%|#| 1/2 [00:01<00:01, 1.0it/s]\r100%|#| 2/2 [00:02<00:00, 1.0it/s]\r\nlast")
    assert lines_of(p) == ["one", "two", "\r 50%|#| 1/2 [00:01<00:01, 1.0it/s]\r100%|#| 2/2 [00:02<00:00, 1.0it/s]",
                           "last"]


def test_ansi_codes_are_stripped_and_cp1252_mojibake_repaired(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_text("\x1b[32m[INFO]\x1b[0m got prompt\n100%|â–ˆâ–ˆ| 2/2 [00:02<00:00, 1.0it/s]\n", encoding="utf-8")
    assert lines_of(p) == ["[INFO] got prompt", "100%|██| 2/2 [00:02<00:00, 1.0it/s]"]


def test_a_windows_console_copy_loses_the_arrows_of_its_colour_codes() -> None:
    """Comfy-Org/ComfyUI #14618: a portable build's console copied where ESC is drawn as `←`; the colour codes
    go as ANSI codes do, so the level tag reads as a prefix."""
    lines = lines_of(FIXTURES / "windows-console-arrow-sgr.log")
    assert lines[1] == "[INFO] setup plugin alembic.autogenerate.schemas"
    assert not any("\u2190" in line for line in lines)


def test_tqdm_blocks_read_as_code_page_437_are_repaired() -> None:
    """patientx/ComfyUI-Zluda #39: SwarmUI's log of a bar whose UTF-8 blocks were read as cp437 (`Γûê` is `█`)."""
    lines = lines_of(FIXTURES / "swarmui-zluda-stderr-cp437-bars.log")
    assert lines[6].endswith(" 15%|█▌        | 3/20 [00:26<02:31,  8.93s/it]")
    assert not any("Γû" in line for line in lines)


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"got prompt\n\xff\xfe broken \x80\nPrompt executed in 1.00 seconds\n")
    report = analyze_paths([str(p)])
    assert report.summary.replaced_bytes == 3
    assert report.summary.got_prompt == 1 and report.prompts[0].executed_s == 1.0


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    p = tmp_path / "run.log.whatever"
    p.write_bytes(gzip.compress(b"got prompt\nPrompt executed in 2.50 seconds\n"))
    assert analyze_paths([str(p)]).prompts[0].executed_s == 2.5


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"got prompt\nPrompt executed in 3.00 seconds\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    report = analyze_paths(["-"])
    assert report.sources[0].name == "<stdin>" and report.prompts[0].executed_s == 3.0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("dir", "is a directory"), (b"\x00\x01\x02\x03" * 1000, "binary")],
)
def test_unusable_inputs_say_why(tmp_path: Path, content: object, message: str) -> None:
    p = tmp_path / "input"
    if content == "dir":
        p.mkdir()
    elif isinstance(content, bytes):
        p.write_bytes(content)
    with pytest.raises(UnusableInput, match=message):
        analyze_paths([str(p)])


def test_empty_file_is_an_empty_report(tmp_path: Path) -> None:
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    report = analyze_paths([str(p)])
    assert report.prompts == [] and report.runs == []


def test_markdown_issue_body_reads_only_fenced_log(tmp_path: Path) -> None:
    corpus_or_skip()
    log = (CORPUS / "logs" / "027-pogchan-gtx1660ti-partial-prev.log").read_text(encoding="utf-8")
    body = f"My render is slow, see log:\n\n```\n{log}\n```\n\nAny idea? got prompt (not a log line)\n"
    p = tmp_path / "issue.md"
    p.write_text(body, encoding="utf-8")
    report = analyze_paths([str(p)])
    assert report.sources[0].markdown
    assert report.summary.got_prompt == 1
    assert report.prompts[0].executed_s == 215.93
    assert report.runs[0].gpu == "NVIDIA GeForce GTX 1660 Ti"
    # line numbers point into the markdown file: the fence is line 3, so log line 1 is line 4
    assert report.prompts[0].line == 3 + next(
        i for i, text in enumerate(log.split("\n"), 1) if "got prompt" in text)


ERROR_REPORT = """# ComfyUI Error Report
## Error Details
- **Node ID:** 3
- **Node Type:** KSampler
- **Exception Type:** torch.OutOfMemoryError
- **Exception Message:** Allocation on device
## Stack Trace
```
  File "/comfy/execution.py", line 327, in execute
    output_data = get_output_data(obj, input_data_all)
```
## System Information
- **ComfyUI Version:** 0.3.10
- **Arguments:** main.py --lowvram
- **PyTorch Version:** 2.5.1+cu124
## Devices

- **Name:** cuda:0 NVIDIA GeForce RTX 3060 : cudaMallocAsync
  - **Type:** cuda
  - **VRAM Total:** 12878086144

## Logs
```
2024-12-17T21:15:37.373432 - got prompt
2024-12-17T21:15:39.000000 - Requested to load SDXL
2024-12-17T21:15:40.000000 - loaded partially 5000.0 4999.5 0
```
## Attached Workflow
```
{"last_node_id": 9, "nodes": [{"type": "got prompt"}]}
```
"""


def test_the_one_search_for_markdown_misses_no_input_peek_markdown_calls_markdown() -> None:
    """The native reader's plain-log test (read/lines.py) runs peek_markdown only where may_be_markdown
    finds a fence or a quote: on every fixture, corpus log and markdown body here the two must agree
    that an input is markdown, and a plain log must pass with the one search."""
    corpus_or_skip()
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace")
             for p in [*sorted(FIXTURES.iterdir()), *sorted((CORPUS / "logs").glob("*.log"))] if p.is_file()}
    quoted = texts["quoted-torch-missing.md"]
    texts["error-report.md"] = ERROR_REPORT
    texts["indented fences"] = "".join(f"{indent}{fence}\n{quoted}\n{indent}{fence}\n"
                                       for indent in ("", "   ", "\t") for fence in ("```", "~~~~"))
    said = {}
    for name, text in texts.items():
        head = text.split("\n", MARKDOWN_PEEK_LINES)[:MARKDOWN_PEEK_LINES]
        _, markdown = peek_markdown(iter(enumerate(head, start=1)))
        said[name] = markdown
        assert may_be_markdown("\n".join(head)) or not markdown, name
    assert said["quoted-torch-missing.md"] and said["error-report.md"] and said["indented fences"]
    assert not may_be_markdown(texts["001-aiaesthetica-rtx4000ada-18prompts.log"])


def test_the_plain_log_peek_counts_no_further_than_it_needs() -> None:
    """read/lines.py peeks blocks until it has MARKDOWN_PEEK_LINES lines: the newlines of a block are
    counted in its first bytes when those hold enough, and it decides as a count of the whole block
    would, on every corpus log (a 1 MB log has its 400 lines in its first 64 kB)."""
    corpus_or_skip()
    for path in sorted((CORPUS / "logs").glob("*.log")):
        data = path.read_bytes()
        whole = data.count(b"\n")
        for wanted in (1, MARKDOWN_PEEK_LINES, whole, whole + 1):
            found = _newlines(data, wanted)
            assert (found >= wanted) == (whole >= wanted), path.name
            assert found == whole or wanted <= found <= whole, path.name
    big = max((CORPUS / "logs").glob("*.log"), key=lambda p: p.stat().st_size).read_bytes()
    assert _newlines(big, MARKDOWN_PEEK_LINES) < big.count(b"\n")  # the first 64 kB sufficed


def test_the_first_400_lines_decide_markdown_however_long_they_are(tmp_path: Path) -> None:
    """A plain log goes to the native scanner as blocks; the reader tests its first MARKDOWN_PEEK_LINES
    lines for markdown, whether they fill a few kB or more than the 64 kB looked at first."""
    corpus_or_skip()
    lines = (CORPUS / "logs" / "038-iamkaikai-rtx3090-1330prompts.log").read_text(encoding="utf-8").split("\n")
    wide = [line.ljust(300, ".") for line in lines[: MARKDOWN_PEEK_LINES + 50]]  # 400 lines: 120 kB
    assert len(wide) == MARKDOWN_PEEK_LINES + 50
    for fence_at, markdown in ((MARKDOWN_PEEK_LINES - 50, True), (MARKDOWN_PEEK_LINES + 20, False)):
        path = tmp_path / f"fence-{fence_at}.log"
        text = [*wide[:fence_at], "```", *wide[fence_at:], "```"]
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
        log = open_input(str(path), blocks=True)
        assert (log.blocks is None) is markdown, fence_at  # markdown is read line by line, in Python
        assert list(log.blocks) if log.blocks is not None else list(log.lines or ())  # read to the end: closed


def test_control_bytes_make_binary_past_a_tenth_of_the_first_chunk() -> None:
    """A log with a few stray control bytes (a terminal's bell, a form feed) is text; past a tenth of
    its first chunk, binary: the count decides, and a log with none is text without counting."""
    corpus_or_skip()
    text = (CORPUS / "logs" / "003-kenneth-flux-partial-loads.log").read_bytes()[:20_000]
    assert not looks_binary(text)
    for share, binary in ((0.09, False), (0.11, True)):
        noisy = bytearray(text)
        for i in range(0, len(noisy), round(1 / share)):
            noisy[i] = 7  # BEL
        assert looks_binary(bytes(noisy)) is binary, share


def test_comfyui_error_report_header_fills_in_facts(tmp_path: Path) -> None:
    p = tmp_path / "report.md"
    p.write_text(ERROR_REPORT, encoding="utf-8")
    report = analyze_paths([str(p)])
    assert report.summary.got_prompt == 1  # the workflow JSON fence is not log
    assert report.summary.partial_loads == 1
    run = report.runs[0]
    assert run.gpu == "NVIDIA GeForce RTX 3060"
    assert run.total_vram_mb == 12282
    assert (run.comfyui_version, run.pytorch_version) == ("0.3.10", "2.5.1+cu124")
    (error,) = [e for e in report.errors if e.kind == "oom"]
    assert "torch.OutOfMemoryError: Allocation on device" in error.message and "KSampler" in error.message
    assert report.sources[0].report_fields["arguments"] == "main.py --lowvram"


@pytest.mark.parametrize("scanner", ["python", pytest.param("native", marks=pytest.mark.skipif(
    native_module() is None, reason="comfylog was installed without the native scanner"))])
def test_managers_2023_revision_line_gives_the_comfyui_version(scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Comfy-Org/ComfyUI #2227 (field2 10): a 2023 portable build prints no `ComfyUI version:`; ComfyUI-Manager
    V1.10's `### ComfyUI Revision: 1796 [97015b6b] | Released on '2023-12-08'` is the only word of it. Both scanners
    read it from the same row, and the reports show it as a revision (a count of commits, not a version number)."""
    monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
    report = analyze(FIXTURES / "windows-portable-2023-manager-revision.log")
    (run,) = report.runs
    assert run.comfyui_version == "1796 [97015b6b]"
    assert run.versions() == ["ComfyUI revision 1796 [97015b6b]"]
    assert "`ComfyUI revision 1796 [97015b6b]`" in render_markdown(report)
    assert version_tuple(run.comfyui_version) is None  # no rule reads a revision count as version 1796


def test_a_revision_whose_commit_starts_with_a_letter_is_shown_whole() -> None:
    """Corpus 003's `### ComfyUI Revision: 2425 [c24f8973]`: the terminal draws its machine rows as rich markup,
    which took `[c24f8973]` for a style tag and dropped it ("ComfyUI revision 2425")."""
    report = analyze(corpus_or_skip() / "logs" / "003-kenneth-flux-partial-loads.log")
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render_terminal(report, console)
    assert "ComfyUI revision 2425 [c24f8973]" in console.file.getvalue()  # type: ignore[attr-defined]

def test_comfyuis_own_version_line_wins_over_managers_revision() -> None:
    """Corpus 028 holds ComfyUI's `ComfyUI version: 0.3.26` (line 72) and Manager's later `### ComfyUI Revision: 3238
    [9aac21f8] *DETACHED` (line 77): the version stays ComfyUI's own."""
    report = analyze(corpus_or_skip() / "logs" / "028-echeg-runpod-pod-cuda-banner-startup.log")
    assert [run.comfyui_version for run in report.runs] == ["0.3.26"]


@pytest.mark.parametrize("scanner", ["python", pytest.param("native", marks=pytest.mark.skipif(
    native_module() is None, reason="comfylog was installed without the native scanner"))])
def test_managers_version_line_gives_the_comfyui_version_with_its_commits(
        scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Corpus 020's lines 48-51 (tests/fixtures/manager-version-describe-no-comfyui-line.log): a paste that starts after
    ComfyUI's `ComfyUI version: 0.14.1`, so ComfyUI-Manager V3.39.2's `### ComfyUI Version: v0.14.1-15-gb254cecd |
    Released on '2026-02-20'` is the only word of the version: git describe's 0.14.1 and 15 commits after it. It was
    not read (versions —)."""
    monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
    report = analyze(FIXTURES / "manager-version-describe-no-comfyui-line.log")
    (run,) = report.runs
    assert run.comfyui_version == "v0.14.1-15-gb254cecd"
    assert run.versions() == ["ComfyUI 0.14.1 + 15 commits [b254cecd]"]
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render_terminal(report, console)
    assert "ComfyUI 0.14.1 + 15 commits [b254cecd]" in console.file.getvalue()  # type: ignore[attr-defined]



def test_managers_git_describe_wins_over_comfyuis_own_line_of_the_same_release(each_segmenter: str) -> None:
    """The whole of corpus 020: ComfyUI's `ComfyUI version: 0.14.1` (line 30; comfyui_version.py changes at releases
    only), then Manager's `### ComfyUI Version: v0.14.1-15-gb254cecd` (line 51): the same release and the 15 commits
    past it, which ComfyUI's own line hid. Where they name different releases ComfyUI's own stays (it is the code
    that runs), as with Manager's revision line (corpus 028, the test above)."""
    report = analyze(corpus_or_skip() / "logs" / "020-combatshotgun-rtx5090-flux2.log")
    assert [r.comfyui_version for r in report.runs][:1] == ["v0.14.1-15-gb254cecd"]
    lines = (FIXTURES / "manager-version-describe-no-comfyui-line.log").read_text("utf-8")
    stamp = lines.split("] ", 1)[0] + "] "  # the fixture's first stamp: ComfyUI's line put before Manager's
    for own, expected in (("0.14.1", "v0.14.1-15-gb254cecd"), ("0.14.0", "0.14.0")):
        (run,) = analyze_text(f"{stamp}ComfyUI version: {own}\n{lines}").runs
        assert run.comfyui_version == expected


def test_a_build_past_a_release_is_that_release_and_more() -> None:
    """The version rules (builds.py: dynamic VRAM the default from 0.15, the RAM-pressure cache after 0.22) on the
    versions ComfyUI-Manager printed in the corpus: 020's `v0.14.1-15-gb254cecd` is 0.14.1 and 15 commits, which may
    hold what 0.15 shipped (ComfyUI's own line says 0.14.1 for it): unknown, not "before 0.15"; 048's
    `v0.3.48-5-gaebac221` is 0.3.48 and 5 commits, before 0.15; 045's `v0.20.1-43-gcea8d092` is after it."""
    assert version_tuple("v0.14.1-15-gb254cecd") == (0, 14, 1)
    assert at_least("v0.14.1-15-gb254cecd", DYNAMIC_VRAM_DEFAULT) is None
    assert at_least("0.14.1", DYNAMIC_VRAM_DEFAULT) is False
    assert at_least("v0.3.48-5-gaebac221", DYNAMIC_VRAM_DEFAULT) is False
    assert at_least("v0.20.1-43-gcea8d092", DYNAMIC_VRAM_DEFAULT) is True
    assert at_least("1796 [97015b6b]", DYNAMIC_VRAM_DEFAULT) is None  # a revision count is no version
    # --cache-classic came after 0.22: a build past 0.22's tag may or may not have it (a 2026 log in the code index
    # prints `### ComfyUI Version: v0.22.0-37-g0077d78c`); 0.20.1 and 43 commits has not
    assert ram_cache_default(Run(index=0, comfyui_version="v0.22.0-37-g0077d78c")) is None
    assert ram_cache_default(Run(index=0, comfyui_version="v0.20.1-43-gcea8d092")) is False
    assert ram_cache_default(Run(index=0, comfyui_version="0.22.0")) is False


def test_evidence_read_back_from_an_error_report_is_its_log_not_its_header(tmp_path: Path) -> None:
    """Line numbers count the whole file, but only fenced lines are log: read back those alone."""
    p = tmp_path / "report.md"
    p.write_text(ERROR_REPORT, encoding="utf-8")
    report = analyze([str(p)])
    (oom,) = [f for f in report.findings if f.id == "oom"]
    assert oom.evidence and all(not e.text.startswith("- **") for e in oom.evidence)
    assert any("OutOfMemoryError" in e.text for e in oom.evidence)


def test_inputs_whose_clocks_do_not_follow_on_are_spanned_each_on_its_own() -> None:
    """A 2026 log read before a 2025 one: no span joins them, each input says its own."""
    corpus = corpus_or_skip()
    later = next((corpus / "logs").glob("036-*.log"))  # 2026-01-18
    earlier = corpus / "scenarios" / "runpod-wan-oom-restart.log"  # 2025-10-23
    report = analyze([str(later), str(earlier)])
    assert not report.summary.inputs_in_time_order
    assert [src.span_s for src in report.sources] == [pytest.approx(16866.0, abs=1), pytest.approx(84.762, abs=0.001)]
    header = run_cli("analyze", str(later), str(earlier), text=True, columns=200).stdout
    assert "clocks out of order" in str(header) and "4:41:06" in str(header) and "log spans" not in str(header)
    # The same machine's previous log read first: one clock, one span.
    prev, log = next((corpus / "logs").glob("027-*.log")), next((corpus / "logs").glob("019-*.log"))
    report = analyze([str(prev), str(log)])
    assert report.summary.inputs_in_time_order
    assert report.summary.span_s is not None and report.summary.span_s > sum(s.span_s or 0 for s in report.sources)


@pytest.mark.parametrize("scanner", ["python", pytest.param("native", marks=pytest.mark.skipif(
    native_module() is None, reason="comfylog was installed without the native scanner"))])
def test_an_error_report_without_fences_is_read_as_one(scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Comfy-Org/ComfyUI#9128 (field4 13): the report's text with no fence around it (as copied from a rendered
    page, or from inside the fence an issue put it in), cut five lines into its `## Logs`. Its header fields are
    the device and versions; its unfenced `## Logs` are the log; the stack trace before `## System Information`
    is not. A report is made after a prompt failed on a serving ComfyUI, so its cut log is no failed start-up
    (it was "ComfyUI never became ready: no error in the log", an error)."""
    monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
    report = analyze(FIXTURES / "error-report-unfenced-xpu-logs-cut.md")
    (src,) = report.sources
    assert src.markdown and src.report_fields["comfyui_version"] == "0.3.47"
    assert src.report_fields["device"] == "xpu:0 Intel(R) Arc(TM) Graphics"
    (run,) = report.runs
    assert run.comfyui_version == "0.3.47" and run.gpu == "Intel(R) Arc(TM) Graphics"
    assert run.total_vram_mb == 59450 and run.first_line == 27  # the first line of `## Logs`
    assert not report.findings and not report.errors


def test_comfyuis_old_pytorch_warning_makes_an_error_reports_start_a_comfyui_log(each_segmenter: str) -> None:
    """patientx/ComfyUI-Zluda#198: a fork's start as an error report keeps it holds, of ComfyUI's own lines, only
    `Warning, you are using an old pytorch version ...` (comfy/utils.py); it was refused as "not a ComfyUI log"."""
    path = FIXTURES / "zluda-error-report-start-old-pytorch.log"
    report = analyze(path)
    assert comfyui_sources(report) == {0}
    assert report.runs[0].setup["unsafe_checkpoint_load"] is True
    done = run_cli("check", str(path), text=True)
    assert done.returncode == 0 and "not a ComfyUI log" not in str(done.stderr)


def test_comfyuis_enable_manager_warning_makes_a_launchers_start_a_comfyui_log(each_segmenter: str) -> None:
    """patientx-cfz/comfyui-rocm#71 (field6 11): a launcher's start-up whose only line of ComfyUI's own is main.py's
    `To use the `--enable-manager` feature, the `comfyui-manager` package must be installed first.` was refused as
    "not a ComfyUI log" (exit 2). The run goes on without the Manager (main.py sets `args.enable_manager = False`)."""
    path = FIXTURES / "rocm-launcher-enable-manager-package-missing.log"
    report = analyze(path)
    assert comfyui_sources(report) == {0}
    assert report.runs[0].setup["manager_disabled"] is True
    done = run_cli("analyze", str(path), text=True)
    assert done.returncode == 0 and "not a ComfyUI log" not in str(done.stderr)
