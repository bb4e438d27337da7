"""Every regex that reads log text is safe from catastrophic backtracking on hostile lines.

Each regex gets adversarial lines of 100 kB: long repetitions of every character it cares about,
of its literal pieces and of its example cut short (near misses), and runs of spaces after a valid
line. The bound (1 s per regex and line) is far above what a linear regex needs (a few ms) and far
below what a quadratic one takes (the four patterns fixed here took 70-120 s on such lines).
Then whole lines through the parser: a needle repeated over a 256 kB line must not make the
parser search the line once per needle found.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from comfylog import diagnose
from comfylog.lazyre import LazyRegex
from comfylog.parse import parser, traceback
from comfylog.parse import table as patterns
from comfylog.parse.bars import BAR_ROWS
from comfylog.parse.native import native_module
from comfylog.parse.progress import PROGRESS_EXAMPLE, PROGRESS_RE, search_progress
from comfylog.parse.table import PATTERNS
from comfylog.pipeline import analyze_text
from comfylog.read import clean, markdown, prefixes, redact

LINE_CHARS = 100_000
#: Seconds one regex may take on one hostile line (linear ones take milliseconds).
REGEX_BUDGET_S = 1.0
#: Seconds the whole pipeline may take on one hostile 256 kB line (it takes about 0.1 s).
LINE_BUDGET_S = 5.0
SRC = Path(__file__).resolve().parents[1] / "src" / "comfylog"

Search = Callable[[str], object]


def _regexes() -> Iterator[tuple[str, Search, str, str]]:
    """(name, how the code applies it, its source text, an example line it matches)."""
    for p in PATTERNS:
        yield f"pattern:{p.name}", p.regex.search, p.regex.pattern, p.example
    yield "PROGRESS_RE", search_progress, PROGRESS_RE.pattern, PROGRESS_EXAMPLE
    for row in BAR_ROWS:  # searched in a bar's label (at most 300 characters), held to the same bound
        yield f"bar:{row.name}", row.regex.search, row.regex.pattern, row.examples[0]
    yield "NEEDLE_RE", patterns.needle_re().search, patterns.needle_re().pattern, "got prompt"
    yield "OOM_RE", patterns.OOM_RE.search, patterns.OOM_RE.pattern, "torch.OutOfMemoryError: CUDA out of memory."
    yield "QTYPE_RE", patterns.QTYPE_RE.findall, patterns.QTYPE_RE.pattern, "F32 (2), Q5_K (400)"
    yield "DEVICE_INDEX_RE", lambda t: patterns.DEVICE_INDEX_RE.sub("", t), patterns.DEVICE_INDEX_RE.pattern, "cuda:0 "
    yield "ALLOCATOR_SUFFIX_RE", patterns.ALLOCATOR_SUFFIX_RE.search, patterns.ALLOCATOR_SUFFIX_RE.pattern, "x : native"
    prefix_examples = {
        "DOCKER_RE": "2025-10-23T16:28:02.618719777Z ",
        "REPORT_RE": "2024-12-17T21:15:37.373432 - ",
        "MANAGER_RE": "[2025-10-22 18:04:30.118] ",
        "TIME_ONLY_RE": "[20:46:09] ",
        "LEVEL_TAG_RE": "[INFO] ",
        "PY_FORMATTER_RE": "2024-12-17 21:15:37,373 - root - INFO - ",
        "REPORT_TAIL_RE": "2024-12-17T21:15:37.373432 - ",
        "REPORT_STAMP_RE": "2024-12-17T21:15:37.373432 - ",
        "RUNPOD_PLAIN_RE": "INFO   | job-1 | ",
        "PY_LOGGING_RE": "ERROR:root:",
        "SWARM_PROCESS_RE": "[ComfyUI-0/STDERR] ",
    }
    for name, example in prefix_examples.items():
        regex = getattr(prefixes, name)
        yield f"prefix:{name}", regex.search, regex.pattern, example
    # taken only at the start of a line (without_compose), as the native scanner's anchored copy is
    yield "prefix:COMPOSE_RE", prefixes.COMPOSE_RE.match, prefixes.COMPOSE_RE.pattern, "comfyui-rocm  | "
    for module, name, example in ((clean, "ANSI_RE", "\x1b[32m"), (clean, "ARROW_SGR_RE", "\u2190[32m"),
                                  (markdown, "FENCE_RE", "```"),
                                  (clean, "MOJIBAKE_RE", "â–ˆ"),
                                  (markdown, "REPORT_FIELD_RE", "- **Node Type:** KSampler")):
        regex = getattr(module, name)
        yield f"read:{name}", regex.search, regex.pattern, example
    for module, name, example in ((parser, "BANNER_RULE_RE", "=========="),
                                  (traceback, "EXCEPTION_LINE_RE", "torch.OutOfMemoryError: x"),
                                  (traceback, "CHAINED_RE", "During handling of the above exception")):
        regex = getattr(module, name)
        yield f"parse:{name}", regex.search, regex.pattern, example
    # The diagnosis reads record messages (log text) with regexes too: every module-level one, found by walking
    # the package, so a new rule's regex is held to the same bound without being listed here.
    for info in pkgutil.walk_packages(diagnose.__path__, "comfylog.diagnose."):
        module = importlib.import_module(info.name)
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, (re.Pattern, LazyRegex)) and isinstance(value.pattern, str):
                yield f"diagnose:{info.name.rsplit('.', 1)[-1]}:{attr}", value.search, value.pattern, ""
    for rule in (*redact.RULES, *redact.IP_RULES):
        yield f"redact:{rule.kind}:{rule.regex.pattern[:12]}", rule.regex.search, rule.regex.pattern, ""
    yield "redact:all", redact.Redactor(ips=True).redact, "", ""
    module = native_module()
    if module is not None:  # native/src/redact.rs: the rules without IPs, on the scan threads
        yield "redact:native", module.redact_line, "", ""


def hostile_lines(source: str, example: str) -> Iterator[tuple[str, str]]:
    """Lines built to make a backtracking regex slow: what it cares about, over and over."""
    n = LINE_CHARS
    chars = {c for c in source if c.isprintable()} | set("09aZ _-.:%|[]()/\\@=\t\r\x1b")
    for c in sorted(chars):
        yield f"{c!r} repeated", c * n
        yield f"a, {c!r} repeated, NUL", "a" + c * n + "\x00"
    for piece in sorted(set(re.findall(r"[A-Za-z0-9 %|:._=*!@/-]{2,}", source.replace("\\", "")))):
        yield f"{piece[:20]!r} repeated", (piece * (n // len(piece) + 1))[:n]
    if example:
        for cut in sorted({1, len(example) // 2, len(example) - 1} - {0}):
            near = example[:cut]
            yield f"example[:{cut}] repeated", (near * (n // len(near) + 1))[:n]
        yield "example, spaces, x", example + " " * n + "x"
        yield "example cut, spaces", example[:-1] + " " * n
        yield "example, then 100 kB", example + "x" * n


REGEXES = list(_regexes())


@pytest.mark.parametrize(("name", "search", "source", "example"), REGEXES, ids=[r[0] for r in REGEXES])
def test_regex_is_linear_on_hostile_lines(name: str, search: Search, source: str, example: str) -> None:
    source = source or "".join(rule.regex.pattern for rule in redact.RULES)
    example = example or "RUNPOD_API_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 a@b.example /home/alice/x hf_" + "a" * 30
    slowest = (0.0, "")
    for label, line in hostile_lines(source, example):
        started = time.perf_counter()
        search(line)
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, label))
    assert slowest[0] < REGEX_BUDGET_S, f"{name} took {slowest[0]:.2f} s on {slowest[1]}"


def test_progress_re_is_only_searched_through_search_progress() -> None:
    """PROGRESS_RE.search itself is quadratic on digits before a late ``%|``: nothing may call it."""
    for path in SRC.rglob("*.py"):
        if path.name != "progress.py":  # which names it in search_progress's docstring
            assert "PROGRESS_RE.search" not in path.read_text(encoding="utf-8"), path


def test_search_progress_finds_what_progress_re_search_finds() -> None:
    lines = [PROGRESS_EXAMPLE, "Sampling:  50%|█| 1/2 [00:01<00:01, 1.0it/s]\r100%|█| 2/2 [00:02<00:00, 1.0it/s]",
             "1234%|#| 1/2 [00:01<00:01, 1.0it/s]", "x|12%|bad\r 5%|#| 1/20 [00:00<?, ?it/s]",
             "a" * 400 + PROGRESS_EXAMPLE,
             "no bar here", "50%|#| 1/2 [00:01<00:01, 1.0it/s" + "|" * 10, "[INFO] 0%|          | 0/8 [00:00<?, ?it/s]"]
    for line in lines:
        want, got = PROGRESS_RE.search(line), search_progress(line)
        assert (want and (want.span(), want.groupdict())) == (got and (got.span(), got.groupdict())), line


def _needle_lines() -> Iterator[tuple[str, str]]:
    n = 256 * 1024
    for p in PATTERNS:
        for needle in p.needles:
            yield f"{p.name}:{needle}", (needle * (n // len(needle) + 1))[:n]
    yield "percent-bars", ("1%|" * n)[:n]
    yield "cr-states", ("\r 50%|█| 1/2 [00:01<00:01, 1.0it/s]" * (n // 36))
    yield "glued-prompts", "got prompt" * (n // 10)


NEEDLE_LINES = list(_needle_lines())


@pytest.mark.parametrize(("name", "line"), NEEDLE_LINES, ids=[n for n, _ in NEEDLE_LINES])
def test_parser_reads_a_line_full_of_one_needle_in_linear_time(name: str, line: str) -> None:
    started = time.perf_counter()
    report = analyze_text("got prompt\n" + line + "\nPrompt executed in 1.00 seconds\n")
    elapsed = time.perf_counter() - started
    assert elapsed < LINE_BUDGET_S, f"{name}: {elapsed:.2f} s"
    assert report.sources[0].lines == 3


def test_glued_messages_on_one_line_are_bounded_and_counted() -> None:
    """``got prompt`` glued 26,000 times on one line: the first 100 are read, the line is counted as skipped."""
    report = analyze_text("got prompt" * 26_000 + "\n")
    assert report.summary.got_prompt == parser.MAX_GLUED_MESSAGES
    assert report.summary.skipped_lines == 1
    two = analyze_text("got promptLoading 1 new model\nPrompt executed in 1.00 seconds\n")
    assert two.summary.got_prompt == 1 and two.summary.skipped_lines == 0
