"""Reading with worker processes (parallel.py) gives exactly the report of reading line by line.

Blocks are made tiny here, so block boundaries fall everywhere: inside tracebacks, progress bars,
lowvram runs and prompts of the real logs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from comfylog.analyze import _analyze, analyze_paths
from comfylog.parallel import Workers, read_parallel, scan_block
from comfylog.parse import QuietRun
from comfylog.render.json import report_to_dict

from .conftest import CORPUS, ROOT, corpus_or_skip


def both_ways(paths: list[Path], job_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    names = [str(p) for p in paths]
    sequential = analyze_paths(names, jobs=1)
    with Workers(2, job_bytes=job_bytes, min_bytes=0) as workers:
        parallel = _analyze([read_parallel(name, workers) for name in names])
    assert parallel.notable == sequential.notable  # the events the diagnoser reads, not only the JSON
    return report_to_dict(sequential), report_to_dict(parallel)


def corpus_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))


@pytest.mark.parametrize("job_bytes", [1500, 7000])
def test_every_corpus_log_reads_the_same_in_parallel(job_bytes: int) -> None:
    corpus_or_skip()
    for path in corpus_logs():
        sequential, parallel = both_ways([path], job_bytes)
        assert parallel == sequential, path.name


def test_the_whole_corpus_as_one_report_reads_the_same_in_parallel() -> None:
    corpus_or_skip()
    sequential, parallel = both_ways(corpus_logs(), 4000)
    assert parallel == sequential
    assert sequential["summary"]["got_prompt"] > 300  # the comparison covered real work


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_generated_multi_megabyte_log_reads_the_same_in_parallel(tmp_path: Path) -> None:
    corpus_or_skip()
    log = tmp_path / "bench.log"
    load_generator().generate(3_000_000, log, seed=5)
    sequential, parallel = both_ways([log], 64 * 1024)
    assert parallel == sequential
    assert sequential["summary"]["lowvram_module_loads"] > 5_000  # DEBUG-heavy copies were in it
    assert sequential["summary"]["restarts"] > 20


def test_most_lines_of_a_long_log_come_back_summed_up(tmp_path: Path) -> None:
    """The point of the workers: the parser sees few lines one by one."""
    corpus_or_skip()
    log = tmp_path / "bench.log"
    load_generator().generate(1_000_000, log, seed=9)
    result = scan_block(log.read_bytes(), 0)
    summed = sum(item.lines for item in result.items if isinstance(item, QuietRun))
    assert summed > result.last_line * 0.4


def test_time_only_prefixes_across_midnight_read_the_same_in_parallel(tmp_path: Path) -> None:
    """Time-only prefixes roll over at midnight; blocks holding them go to the parser whole."""
    corpus_or_skip()
    text = (CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log").read_text(encoding="utf-8")
    # The real log with its docker stamps cut to time-only ones and the clock put near midnight.
    shifted = re.sub(r"^2025-10-22T20:(\d\d:\d\d)\.\d+Z ", r"[23:\1] ", text, flags=re.M)
    shifted = re.sub(r"^2025-10-22T20:5(\d):(\d\d)\.\d+Z ", r"[00:0\1:\2] ", shifted, flags=re.M)
    log = tmp_path / "time-only.log"
    log.write_text(shifted + shifted, encoding="utf-8")
    sequential, parallel = both_ways([log], 3000)
    assert parallel == sequential
    assert sequential["sources"][0]["timestamp_styles"].get("time-only", 0) > 300


def test_markdown_input_reads_the_same_with_workers(tmp_path: Path) -> None:
    corpus_or_skip()
    body = (CORPUS / "logs" / "006-adipanda-a4000-oom.log").read_text(encoding="utf-8")
    issue = tmp_path / "issue.md"
    issue.write_text("## Logs\n\n```\n" + body + "```\n", encoding="utf-8")
    sequential, parallel = both_ways([issue], 2000)
    assert parallel == sequential
    assert sequential["sources"][0]["markdown"] is True


def test_a_gzipped_log_reads_the_same_in_parallel(tmp_path: Path) -> None:
    corpus_or_skip()
    import gzip

    log = tmp_path / "worker.log.gz"
    with gzip.open(log, "wb") as fh:
        for path in corpus_logs():
            fh.write(path.read_bytes())
    sequential, parallel = both_ways([log], 5000)
    assert parallel == sequential
    assert sequential["summary"]["got_prompt"] > 300


def test_tracebacks_before_lowvram_floods_read_the_same_in_parallel(tmp_path: Path) -> None:
    """`lowvram: loaded module ...` looks like a traceback's `Type: message` line: the workers must
    follow the parser's traceback states exactly, at block starts and after each traceback."""
    corpus_or_skip()
    oom = (CORPUS / "logs" / "006-adipanda-a4000-oom.log").read_text(encoding="utf-8")
    debug = (CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log").read_text(encoding="utf-8")
    tracebacks = [block for block in oom.split("\n\n") if "Traceback (most recent call last)" in block]
    lowvram = "".join(line + "\n" for line in debug.splitlines() if "lowvram: loaded module" in line)
    log = tmp_path / "mixed.log"
    log.write_text(debug + "".join(tb.rstrip("\n") + "\n" + lowvram * 3 for tb in tracebacks), encoding="utf-8")
    assert tracebacks
    for job_bytes in (700, 2500, 9000):
        sequential, parallel = both_ways([log], job_bytes)
        assert parallel == sequential
    assert sequential["summary"]["lowvram_module_loads"] > 300
