"""Record tables that spill to disk (spool.py) read back exactly what was put in.

The end-to-end tests shrink the blocks to a few records, so every corpus log's prompts, bars,
loads, errors and runs go through the temporary file, and compare the whole report and its
findings with the ones built in memory.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import comfylog.segment
import comfylog.spool
from comfylog.api import analyze
from comfylog.model import Phases, Prompt
from comfylog.render.json import report_to_dict
from comfylog.spool import Spool

from .conftest import CORPUS, corpus_or_skip


def prompts(n: int) -> list[Prompt]:
    return [Prompt(index=i, run=i // 10, got_at=None, line=3 * i, phases=Phases(load=i / 7)) for i in range(n)]


def test_released_blocks_go_to_disk_and_read_back_the_same() -> None:
    made = prompts(1000)
    spool: Spool[Prompt] = Spool(block=64)
    spool.extend(made)
    assert spool.on_disk == 0  # nothing is written before the owner says it is final
    spool.release(700)
    assert spool.on_disk == 640  # whole blocks only
    assert len(spool) == 1000
    assert list(spool) == made
    assert list(reversed(spool)) == made[::-1]
    assert spool[5] == made[5] and spool[-1] == made[-1] and spool[639] == made[639]
    assert spool[630:650] == made[630:650] and spool[-3:] == made[-3:]
    assert spool == made and spool != made[:-1]
    with pytest.raises(IndexError):
        spool[1000]


def test_records_read_back_from_disk_are_copies_until_stored_again() -> None:
    spool: Spool[Prompt] = Spool(prompts(200), block=50)
    spool.release()
    assert spool.on_disk == 200
    copy = spool[10]
    copy.status = "ok"
    assert spool[60].status == "unfinished"  # another block was decoded in between
    assert spool[10].status == "unfinished"
    spool[10] = copy
    assert spool[60].index == 60 and spool[10].status == "ok" and list(spool)[10].status == "ok"


def test_records_not_released_stay_the_very_objects() -> None:
    made = prompts(300)
    spool: Spool[Prompt] = Spool(made, block=50)
    spool.release_while(lambda p: p.index < 120, keep=10)
    assert spool.on_disk == 100
    assert spool[250] is made[250]
    made[250].status = "error"
    assert spool[250].status == "error"


def test_a_spool_pickles_whole() -> None:
    spool: Spool[Prompt] = Spool(prompts(300), block=50)
    spool.release()
    back = pickle.loads(pickle.dumps(spool))
    assert back == spool and back.on_disk == 0


def corpus_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))


def whole(paths: list[Path]) -> tuple[dict[str, Any], int]:
    report = analyze([str(p) for p in paths])
    tables = (report.runs, report.prompts, report.progress_bars, report.loads, report.errors)
    return report_to_dict(report), sum(t.on_disk for t in tables)


def test_every_corpus_report_is_the_same_when_its_records_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    corpus_or_skip()
    logs = corpus_logs()
    in_memory = [whole([p]) for p in logs] + [whole(logs)]
    assert all(spilled == 0 for _, spilled in in_memory)
    monkeypatch.setattr(comfylog.spool, "BLOCK", 3)
    monkeypatch.setattr(comfylog.segment, "RELEASE_EVERY", 2)
    monkeypatch.setattr(comfylog.segment, "RUN_BLOCK", 2)
    spilled = [whole([p]) for p in logs] + [whole(logs)]
    for path, (expected, _), (got, _) in zip([*logs, Path("whole corpus")], in_memory, spilled, strict=True):
        assert got == expected, path.name
    assert sum(on_disk for _, on_disk in spilled) > 3000  # the comparison went through the disk
    assert any(r["findings"] for r, _ in spilled)
