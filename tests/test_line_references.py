"""Every output that cites a log line by number names the file when the report reads several logs
(a line number alone is then ambiguous), and reads as before for one log."""

from __future__ import annotations

import re
from pathlib import Path

from comfylog.api import analyze

from .cli import run_cli
from .conftest import corpus_or_skip

#: "line 20" or "lines 178-188" in prose, not followed by the file it is in.
BARE_LINE = re.compile(r"\blines? \d+(?:-\d+)?(?![\d-])(?! of )")


def two_logs() -> tuple[Path, Path]:
    """The lowvram scenario (its findings cite lines 16, 20, 178-188, 193) and 043 (errors only)."""
    corpus = corpus_or_skip()
    return (corpus / "scenarios" / "runpod-wan-lowvram-gguf.log",
            next((corpus / "logs").glob("043-*.log")))


def flat(text: str | bytes) -> str:
    return " ".join(str(text).split())


def test_findings_name_the_file_of_each_line_they_cite_when_several_logs_are_read() -> None:
    gguf, restarts = two_logs()
    report = analyze([str(gguf), str(restarts)])
    texts = [t for f in report.findings for t in (f.why, *f.advice)]
    cited = " ".join(texts)
    assert "`Set vram state to: NORMAL_VRAM` (line 20 of runpod-wan-lowvram-gguf.log)" in cited
    assert "lines 178-188 of runpod-wan-lowvram-gguf.log" in cited
    assert "(line 16 of runpod-wan-lowvram-gguf.log)" in cited
    assert [m.group(0) for t in texts for m in BARE_LINE.finditer(t)] == []


def test_findings_of_every_corpus_pair_cite_no_bare_line_number() -> None:
    """Each corpus log read with the next one: every rule that cites a line names its file.

    The one bare "line N" allowed is a Python syntax error quoted from the log (``(file.py, line 147)``).
    """
    corpus = corpus_or_skip()
    logs = sorted((corpus / "logs").glob("*.log")) + sorted((corpus / "scenarios").glob("*.log"))
    bare = []
    for first, second in zip(logs, logs[1:], strict=False):
        for f in analyze([str(first), str(second)]).findings:
            for text in (f.why, *f.advice):
                bare += [(f.id, text[max(0, m.start() - 30):m.end()]) for m in BARE_LINE.finditer(text)
                         if not text[:m.start()].endswith(".py, ")]
    assert bare == []


def test_one_log_reads_as_before() -> None:
    gguf, _ = two_logs()
    report = analyze(str(gguf))
    cited = " ".join(t for f in report.findings for t in (f.why, *f.advice))
    assert "`Set vram state to: NORMAL_VRAM` (line 20)" in cited
    assert "ComfyUI's lines 178-188 (" in cited
    assert "of runpod-wan-lowvram-gguf.log" not in cited
    terminal = str(run_cli("analyze", str(gguf), text=True, columns=120).stdout)
    assert "runpod-wan-lowvram-gguf.log:" not in terminal
    markdown = str(run_cli("analyze", str(gguf), "-f", "markdown", text=True).stdout)
    assert "\n58  loaded partially" in markdown or "\n 58  loaded partially" in markdown


def test_terminal_errors_name_the_log_and_keep_the_line_whole() -> None:
    gguf, restarts = two_logs()
    for columns in (120, 80, 60):
        text = str(run_cli("analyze", str(gguf), str(restarts), text=True, columns=columns).stdout)
        errors = text[text.index("Errors"):]
        header = next(line for line in errors.splitlines()[1:] if line.strip())  # a blank edge when padded
        assert header.split()[:2] == ["log", "line"], header
        assert re.search(r"043-\S*\s+65\s+—\s+exception", errors), errors  # a name may wrap, its line never
        terminal = flat(text)
        assert "(line 20 of runpod-wan-lowvram-gguf.log)" in terminal


def test_markdown_and_html_label_quoted_lines_with_their_file(tmp_path: Path) -> None:
    gguf, restarts = two_logs()
    markdown = str(run_cli("analyze", str(gguf), str(restarts), "-f", "markdown", text=True).stdout)
    assert "runpod-wan-lowvram-gguf.log:20  Set vram state to: NORMAL_VRAM" in markdown
    assert "(line 193 of runpod-wan-lowvram-gguf.log)" in markdown
    page = tmp_path / "two.html"
    run_cli("report", str(gguf), str(restarts), "-o", str(page))
    body = page.read_text(encoding="utf-8")
    assert '<span class="ln">runpod-wan-lowvram-gguf.log:20</span>' in body
    assert '<td class="num">043-nohaxjsutluck-runpod-restart-loop-6-cuda-banners.log:65</td>' in body
    # the timeline's and step rates' hovers, in the page's JSON (where < is written \u003c)
    assert "line 65 of 043-nohaxjsutluck-runpod-restart-loop-6-cuda-banners.log\\u003cbr" in body
    assert "line 172 of runpod-wan-lowvram-gguf.log\\u003cbr" in body
    assert not re.search(r"line \d+\\u003cbr", body)


def test_markdown_evidence_of_several_logs_is_labelled_as_such() -> None:
    """033 and 006 both run out of memory: the oom finding quotes lines of both files, so its block
    is "Lines of 2 logs", each line labelled NAME:LINE; a finding of one file's lines says 1 log."""
    corpus = corpus_or_skip()
    first, second = (next((corpus / "logs").glob(f"{n}-*.log")) for n in ("033", "006"))
    markdown = str(run_cli("analyze", str(first), str(second), "-f", "markdown", text=True).stdout)
    assert "The log's" not in markdown
    blocks = re.findall(r"<summary>(.*?)</summary>\n\n```text\n(.*?)\n```", markdown, re.S)
    assert blocks and any(label.startswith("Lines of 2 logs (") for label, _ in blocks), blocks
    for label, body in blocks:
        files = {line.split(":")[0].strip() for line in body.splitlines()}
        assert files <= {first.name, second.name}, body  # every line names its file
        logs = int(re.search(r"of (\d) logs?", label).group(1))  # type: ignore[union-attr]
        assert logs == len(files), (label, body)
