"""Every fact of ../shared/corpus/expected.json must come out of `comfylog analyze --format json`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from comfylog.api import analyze
from comfylog.rows import report_to_dict

from .conftest import CORPUS, FACT_TALLY, corpus_or_skip, expected_logs

FACTS = ("prompts", "executed_s", "gpu", "total_vram_mb", "vram_state", "partial_loads", "lowvram",
         "progress_bars", "ws_timeouts", "restarts")


def observed_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The ground-truth facts, read from comfylog's JSON the way a user would read them."""
    run = data["runs"][0] if data["runs"] else {}
    return {
        "prompts": data["summary"]["got_prompt"],
        "executed_s": [p["executed_s"] for p in data["prompts"] if p["executed_s"] is not None],
        "gpu": run.get("gpu"),
        "total_vram_mb": run.get("total_vram_mb"),
        "vram_state": run.get("vram_state"),
        "partial_loads": data["summary"]["partial_loads"],
        "lowvram": data["summary"]["lowvram"],
        # a bar whose rate tqdm never showed (``?it/s``) has no rate to give a unit to
        "progress_bars": [(b["total"], b["final_rate"], b["rate_unit"] if b["final_rate"] is not None else None)
                          for b in data["progress_bars"]],
        "ws_timeouts": data["summary"]["ws_timeouts"],
        "restarts": data["summary"]["restarts"],
    }


def expected_bars(bars: list[dict[str, Any]]) -> list[tuple[Any, float | None, str | None]]:
    out: list[tuple[Any, float | None, str | None]] = []
    for bar in bars:
        if bar["final_rate"] is None:
            out.append((bar["total"], None, None))
            continue
        m = re.fullmatch(r"([\d.]+)(.+)", bar["final_rate"])
        assert m, bar
        out.append((bar["total"], float(m.group(1)), m.group(2)))
    return out


@pytest.mark.parametrize("entry", expected_logs(), ids=lambda e: e["file"][:40])
def test_corpus_log_facts(entry: dict[str, Any]) -> None:
    corpus_or_skip()
    data = report_to_dict(analyze(CORPUS / "logs" / entry["file"]))
    got = observed_facts(data)
    # expected.json leaves a fact out where the log makes it ambiguous (INDEX.md says why)
    facts = [fact for fact in FACTS if fact in entry]
    want = {fact: entry[fact] for fact in facts}
    if "progress_bars" in want:
        want["progress_bars"] = expected_bars(entry["progress_bars"])
    mismatched = {}
    for fact in facts:
        FACT_TALLY["checked"] += 1
        if got[fact] == want[fact]:
            FACT_TALLY["matched"] += 1
        else:
            mismatched[fact] = (want[fact], got[fact])
    assert not mismatched, mismatched


def test_corpus_span_matches_prefix_timestamps() -> None:
    """span_s (last minus first line-prefix time) agrees with the ground truth where it has one."""
    corpus_or_skip()
    for entry in expected_logs():
        data = report_to_dict(analyze(CORPUS / "logs" / entry["file"]))
        assert data["summary"]["span_s"] == entry["span_s"], entry["file"]


def test_every_corpus_log_has_phases_that_add_up() -> None:
    corpus_or_skip()
    for entry in expected_logs():
        data = report_to_dict(analyze(CORPUS / "logs" / entry["file"]))
        for prompt in data["prompts"]:
            if prompt["total_s"] is None:
                continue
            known = [v for v in prompt["phases"].values() if v is not None]
            assert min(known, default=0.0) >= 0
            if len(known) == 4:  # every phase timed: they partition the prompt
                assert sum(known) == pytest.approx(prompt["total_s"], abs=0.01), (entry["file"], prompt["index"])
            else:  # a phase the log cannot time is null with its reason, and the known ones leave its seconds over
                nulls = {name for name, seconds in prompt["phases"].items() if seconds is None}
                assert set(prompt["not_timed"] or ()) == nulls, (entry["file"], prompt["index"])
                assert sum(known) <= prompt["total_s"] + 0.01, (entry["file"], prompt["index"])


def test_dynamic_vram_loads_and_memory_set_up_match_the_ground_truth() -> None:
    """expected.json's extra facts of today's ComfyUI: dynamic VRAM loads with their staged MB, pinned memory."""
    corpus_or_skip()
    checked = 0
    for entry in expected_logs():
        extra = entry["extra"]
        if "dynamic_vram_loads" not in extra:
            continue
        data = report_to_dict(analyze(CORPUS / "logs" / entry["file"]))
        dynamic = [ld for ld in data["loads"] if ld["kind"] == "dynamic"]
        assert len(dynamic) == extra["dynamic_vram_loads"], entry["file"]
        assert [ld["staged_mb"] for ld in dynamic] == extra["staged_mb"], entry["file"]
        if "dynamic_vram_models" in extra:
            assert [ld["model"] for ld in dynamic] == extra["dynamic_vram_models"], entry["file"]
        setup = data["runs"][0]["setup"] if data["runs"] else {}
        assert setup.get("pinned_memory_mb") == extra["pinned_memory_mb"], entry["file"]
        if extra.get("comfy_aimdo_version"):
            assert setup.get("aimdo_version") == extra["comfy_aimdo_version"], entry["file"]
        if str(extra.get("dynamic_vram_status", "")).startswith("unsupported"):
            assert setup.get("dynamic_vram") is False and setup.get("dynamic_vram_off") == "PyTorch older than 2.8"
        for prompt in data["prompts"]:  # a dynamic load is load time
            if any(ld["prompt"] == prompt["index"] for ld in dynamic) and prompt["estimated"]:
                assert prompt["phases"]["load"] is None, entry["file"]  # no clock: loaded, for how long unknown
        checked += 1
    assert checked >= 6
