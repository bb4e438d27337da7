"""`comfylog analyze --format markdown`: a reply for a GitHub issue thread that reads as a person's answer,
fits a comment, and never lets log text become markup (checked by parsing it with markdown-it-py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

import comfylog
from comfylog.render.markdown import GITHUB_COMMENT_LIMIT, clean, code_span, fence, prose, render_markdown

from .cli import run_cli
from .conftest import CORPUS, FIXTURES, corpus_or_skip

SCENARIOS = CORPUS / "scenarios"
HOSTILE = FIXTURES / "hostile-markdown.log"
#: GitHub-flavoured: tables, strikethrough, links with a scheme and e-mail addresses autolinked (linkify), HTML.
#: GitHub does not link bare domains (``1.GG``), so linkify's fuzzy links are off; ``www.`` links, which
#: GitHub makes and linkify then does not, are caught by GITHUB_LINKED in any text outside code.
MD = MarkdownIt("gfm-like")
MD.linkify.set({"fuzzy_link": False})
#: What GitHub turns into a mention, a reference or a picture outside code.
GITHUB_LINKED = re.compile(r"(?<![\w`])@[A-Za-z0-9]|#\d|\bGH-\d|:tada:|deadbeef1234|www\.", re.I)
OUR_HTML = re.compile(r"^(<details>|</details>|<summary>(The log's (\d+ lines?|lines \(\d+ of \d+\))|"
                      r"\d+ lines? of \d+ logs?|Lines of \d+ logs? \(\d+ of \d+\))</summary>)$")


def inline_tokens(tokens: list[Token]) -> list[Token]:
    return [child for t in tokens if t.children for child in t.children]


def markup_from_log(tokens: list[Token]) -> list[str]:
    """Every token that is markup comfylog does not write: HTML, links, images, headings in odd places."""
    bad = [f"{t.type}: {t.content!r}" for t in tokens
           if t.type == "html_block" and not OUR_HTML.match(t.content.strip())]
    bad += [f"{t.type}: {t.content!r}" for t in inline_tokens(tokens)
            if t.type in ("html_inline", "image", "link_open", "s_open")]
    bad += [f"text {t.content!r}" for t in inline_tokens(tokens)
            if t.type == "text" and GITHUB_LINKED.search(t.content)]
    return bad


# ---- the pieces ------------------------------------------------------------------------------------


HOSTILE_SNIPPETS = [
    "```", "````", "~~~", "`", "`` a`b ``", "<details>", "</details><script>alert(1)</script>", "@octocat",
    "#123", "owner/repo#7", "GH-42", "![x](https://example.com/x.png)", "[link](javascript:alert(1))", "**bold**",
    "_em_", "| a | b |", "&amp; &#64;", "<img src=x onerror=alert(1)>", "# heading", "> quote", "- item", "1. first",
    "www.example.com", "https://example.com/a_b", ":tada:", "C:\\Users\\x\\ComfyUI", "a\\`b", "deadbeef1234",
]


@pytest.mark.parametrize("text", HOSTILE_SNIPPETS)
def test_a_fence_holds_any_line_whole(text: str) -> None:
    tokens = MD.parse(fence([text, f"x {text} y"]))
    assert [t.type for t in tokens] == ["fence"]
    assert tokens[0].content == f"{text}\nx {text} y\n"


@pytest.mark.parametrize("text", HOSTILE_SNIPPETS)
def test_a_code_span_holds_any_text_whole(text: str) -> None:
    (paragraph,) = [t for t in MD.parse(code_span(text)) if t.type == "inline"]
    assert [c.type for c in paragraph.children or []] == ["code_inline"]
    assert paragraph.children[0].content == text  # type: ignore[index]


def letters(text: str) -> str:
    """Text without backticks and spaces: comfylog's texts quote the log in `code` spans and cannot tell the
    log's own backticks from theirs, so a pair of them in log text shows as code instead of as backticks."""
    return re.sub(r"[`\s]", "", text)


def visible(src: str) -> tuple[str, list[str]]:
    """What a reader sees of one line of markdown, and the markup it made."""
    tokens = MD.parse(src)
    seen = "".join(c.content for c in inline_tokens(tokens) if c.type in ("text", "code_inline"))
    kinds = [t.type for t in tokens] + [c.type for c in inline_tokens(tokens)]
    return seen, kinds


@pytest.mark.parametrize("text", HOSTILE_SNIPPETS)
def test_prose_shows_log_text_as_it_is_and_makes_no_markup(text: str) -> None:
    src = prose(f"the node {text} failed: {text}")
    seen, kinds = visible(src)
    assert letters(seen) == letters(f"the node {text} failed: {text}")
    if "`" not in text:
        assert seen == f"the node {text} failed: {text}"
    assert set(kinds) <= {"paragraph_open", "paragraph_close", "inline", "text", "code_inline"}
    assert markup_from_log(MD.parse(src)) == []


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="`*_[]()<>!#@&|~\\:/.-+= \tab1GH$;x", max_size=40))
def test_prose_of_any_text_makes_no_markup(text: str) -> None:
    src = prose(text)
    seen, kinds = visible(src)
    assert letters(seen) == letters(clean(text))
    if "`" not in text:
        assert seen == clean(text).strip(" ")
    assert set(kinds) <= {"paragraph_open", "paragraph_close", "inline", "text", "code_inline"}
    assert markup_from_log(MD.parse(src)) == []


def test_prose_keeps_the_code_spans_of_comfylogs_words() -> None:
    src = prose("Drop `--lowvram` / `--novram` from the start command")
    tokens = inline_tokens(MD.parse(src))
    assert [t.content for t in tokens if t.type == "code_inline"] == ["--lowvram", "--novram"]


# ---- the reply to a hostile log ---------------------------------------------------------------------


def test_a_hostile_log_becomes_no_markup_in_the_reply() -> None:
    report = comfylog.analyze(str(HOSTILE))
    reply = render_markdown(report)
    tokens = MD.parse(reply)
    assert markup_from_log(tokens) == []
    # the log's lines are all there, each block in one fence that none of them closed
    fences = [t for t in tokens if t.type == "fence"]
    wanted = [f for f in report.findings if f.evidence]
    assert len(fences) == len(wanted)
    for block, finding in zip(fences, wanted, strict=True):
        shown = [re.sub(r"^\s*\d+  ", "", line) for line in block.content.splitlines()]
        assert shown == [clean(ev.text) for ev in sorted(finding.evidence, key=lambda e: e.line)]
    html = MD.render(reply)
    assert html.count("<details>") == html.count("</details>") == len(fences)
    for forbidden in ("<script", "<img", "<iframe", "href=", "<strong>bold"):
        assert forbidden not in html
    # what the log says is still there for the reader, as code
    code = " ".join(t.content for t in inline_tokens(tokens) if t.type == "code_inline")
    for word in ("@octocat", "#123", "@maintainer", "#42,", "GH-7", "deadbeef1234", ":tada:"):
        assert word in code or word in " ".join(f.content for f in fences)


def test_details_blocks_are_followed_by_markdown_again() -> None:
    """``<details>`` needs blank lines around its parts, or what follows stays raw HTML (GitHub docs)."""
    corpus_or_skip()
    reply = render_markdown(comfylog.analyze(str(SCENARIOS / "runpod-wan-lowvram-gguf.log")))
    assert "<details>\n\n<summary>" in reply and "</summary>\n\n```" in reply and "```\n\n</details>\n\n" in reply
    tokens = MD.parse(reply)
    after = [tokens[i + 1].type for i, t in enumerate(tokens[:-1])
             if t.type == "html_block" and "</details>" in t.content]
    assert after and set(after) == {"heading_open"}  # the next finding's title, the prompt table's heading


# ---- what the replies say ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["runpod-wan-lowvram-gguf.log", "local-wan-rtx4090-baseline.log",
                                  "runpod-wan-oom-restart.log"])
def test_the_scenario_replies_are_pinned(name: str, golden: Any) -> None:
    corpus_or_skip()
    done = run_cli("analyze", str(SCENARIOS / name), "--format", "markdown", text=True)
    assert done.returncode == 0, done.stderr
    assert markup_from_log(MD.parse(str(done.stdout))) == []
    golden(f"markdown-{name[:-4]}.md", str(done.stdout))


def summary_line(name: str) -> str:
    return render_markdown(comfylog.analyze(str(SCENARIOS / name))).split("\n", 1)[0]


def test_the_lowvram_reply_answers_the_field_report() -> None:
    """"10:50 on RunPod against 1:30 locally": the reply names the partial loads as the main cause."""
    corpus_or_skip()
    line = summary_line("runpod-wan-lowvram-gguf.log")
    assert "1 prompt (ok) on `NVIDIA GeForce RTX 4090` (24 GB), 10:51 of prompt time" in line
    assert "Main finding: **Models loaded partially (lowvram)" in line and "(explains 6:04)" in line
    reply = render_markdown(comfylog.analyze(str(SCENARIOS / "runpod-wan-lowvram-gguf.log")))
    assert "loaded partially 128.0 125.5274658203125 0" in reply
    headings = [line for line in reply.splitlines() if line.startswith("### ")]
    assert headings[0].startswith("### ⚠️ Models loaded partially") and "websocket timeouts" in headings[1]
    assert headings[-2:] == ["### Prompts", "### Machine"]


def test_the_oom_reply_answers_the_field_report() -> None:
    """"The container restarted silently 10 s into sampling": a silent crash, most likely out of memory."""
    corpus_or_skip()
    line = summary_line("runpod-wan-oom-restart.log")
    assert "1 prompt (unfinished)" in line and "ComfyUI started again once" in line
    assert "Main finding: **Silent crash during sampling (121 frames at 704x704 with 3 steps)" in line


def test_the_baseline_reply_finds_nothing_wrong() -> None:
    corpus_or_skip()
    line = summary_line("local-wan-rtx4090-baseline.log")
    assert line.startswith("**comfylog:** 1 prompt (ok) on `NVIDIA GeForce RTX 4090` (24 GB), 1:30 of prompt time.")
    assert "No error or warning; 1 note below." in line


# ---- size, redaction, the command -------------------------------------------------------------------


def test_a_long_log_is_cut_to_fit_a_comment_with_a_note() -> None:
    corpus = corpus_or_skip()
    report = comfylog.analyze(str(next((corpus / "logs").glob("038-*.log"))))  # 1330 prompts
    reply = render_markdown(report, limit=5000)
    assert len(reply) <= GITHUB_COMMENT_LIMIT
    assert "shortened to fit a GitHub comment" in reply
    assert "more prompts not shown" in reply
    assert markup_from_log(MD.parse(reply)) == []
    short = render_markdown(report)  # the default 40 rows fit: nothing was cut for size
    assert "shortened" not in short and "1290 more prompts not shown" in short


def test_the_reply_is_redacted_unless_asked_not_to(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    log = next((corpus / "logs").glob("007-*.log"))
    assert "wangyuan198" in log.read_text("utf-8", "replace")
    redacted = run_cli("analyze", str(log), "--format", "markdown", text=True)
    assert redacted.returncode == 0 and "wangyuan198" not in str(redacted.stdout)
    assert "were redacted" in str(redacted.stdout)
    kept = run_cli("analyze", str(log), "--format", "markdown", "--no-redact", text=True)
    assert "wangyuan198" in str(kept.stdout) and "was not redacted" in str(kept.stdout)


def test_a_fleet_gets_no_markdown_reply() -> None:
    corpus_or_skip()
    done = run_cli("analyze", str(SCENARIOS), "--format", "markdown", text=True)
    assert done.returncode == 2 and "markdown replies about one report" in str(done.stderr)


def test_an_issue_body_with_a_fenced_log_gets_the_same_reply_as_the_log(tmp_path: Path) -> None:
    corpus_or_skip()
    log = SCENARIOS / "runpod-wan-oom-restart.log"
    body = tmp_path / "issue-body.md"
    body.write_text("My pod restarts while sampling, help!\n\n```\n" + log.read_text("utf-8") + "```\n\nThanks @dev\n",
                    encoding="utf-8")
    from_body = run_cli("analyze", str(body), "--format", "markdown", text=True)
    from_log = run_cli("analyze", str(log), "--format", "markdown", text=True)
    assert from_body.returncode == 0
    assert str(from_body.stdout).split("\n", 1)[0] == str(from_log.stdout).split("\n", 1)[0]
