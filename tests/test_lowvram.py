"""The lowvram rule on real logs: what held the VRAM a starved load was not offered, and partial loads
that cost nothing.

ComfyUI offers each model the free VRAM less what it keeps back for the job's own computation
(``load_models_gpu`` in comfy/model_management.py); when that leaves nothing it falls back to a floor (64 MB
in 2024 builds, 128 MB later) or, since 2026, prints ``0.00 MB usable``. Such an offer is never "expected
on a small GPU": something took the VRAM, and the verdict names what the log shows taking it.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import comfylog.segment.segmenter
import comfylog.spool
from comfylog.api import analyze, analyze_text
from comfylog.diagnose import RULES
from comfylog.diagnose.facts import Facts
from comfylog.events import Event, EventKind
from comfylog.model import Finding, Report, Run
from comfylog.parse import parse
from comfylog.read.source import RawLine

from .conftest import CORPUS, EXAMPLES, FIXTURES, corpus_log

#: Excerpts of corpus logs 019, 030, 033 and 003 (tests/fixtures/README.md).
HELD_BY_NODE = FIXTURES / "lowvram-held-by-node-model.log"
SMALL_GPU_JOB = FIXTURES / "lowvram-floor-small-gpu-job.log"
HELD_BY_PIPELINE = FIXTURES / "lowvram-held-by-diffusers-pipeline.log"
NEGLIGIBLE = FIXTURES / "lowvram-negligible-partial.log"


def lowvram(report: Report) -> Finding:
    found = [f for f in report.findings if f.id == "lowvram"]
    assert len(found) == 1, [f.title for f in report.findings]
    return found[0]


def read(path: Path) -> str:
    """The excerpt as it is, CRLF and bare CR included."""
    return path.read_bytes().decode("utf-8")


def assert_no_bigger_gpu_or_quantizing(finding: Finding) -> None:
    """A starved load is not cured by smaller weights or a bigger card: the advice must not say so."""
    text = " ".join(finding.advice)
    assert "GPU with more VRAM" not in text and "quantized" not in text and "fp8" not in text
    assert "--lowvram" not in text, finding.advice  # 019 runs LOW_VRAM already; nowhere is it the cure


# ---- a custom node's own model held the VRAM (019: Qwen3-TTS before a Z-Image prompt) --------------


@pytest.mark.parametrize("source", ["fixture", "corpus"])
def test_a_starved_load_after_a_custom_nodes_own_model_names_that_model(source: str) -> None:
    report = analyze(HELD_BY_NODE if source == "fixture" else corpus_log("019"))
    finding = lowvram(report)
    assert finding.severity == "warning" and "expected" not in finding.title
    assert "`Lumina2` offered only 0 MB" in finding.title and "`Qwen3-TTS`'s model" in finding.title
    assert "`0.00 MB usable` is what ComfyUI prints" in finding.why
    held = finding.evidence[0]
    assert held.text.endswith("[Qwen3-TTS] Loading local model: Qwen3-TTS-12Hz-1.7B-Base")
    assert "loaded partially; 0.00 MB usable" in finding.evidence[1].text
    assert f"(line {held.line})" in finding.why and finding.figures["holder_line"] == held.line
    if source == "corpus":  # the last load of the TTS model; the ones before it were unloaded (lines 112-174)
        assert held.line == 177 and finding.evidence[1].line == 200
    # the TTS prompts came before this one: free it between the workflows
    assert finding.advice[0].startswith("Free the VRAM `Qwen3-TTS`'s model holds before these models load")
    assert "restart ComfyUI between that workflow and this one" in finding.advice[0]
    assert_no_bigger_gpu_or_quantizing(finding)


def test_the_out_of_memory_advice_does_not_offer_lowvram_to_a_run_already_low_vram() -> None:
    oom = next(f for f in analyze(corpus_log("019")).findings if f.id == "oom")
    mentions = [a for a in oom.advice if "--lowvram" in a]
    assert mentions and all("the run is already `LOW_VRAM`, so `--lowvram` changes nothing" in a for a in mentions)


def test_a_node_model_unloaded_before_the_starved_load_is_not_named() -> None:
    text = read(HELD_BY_NODE)
    done = "[2026-02-21 23:22:59.212] Prompt executed in 19.16 seconds\n"
    assert text.count(done) == 1
    # the node's own unload line, as it prints it at line 174 of 019
    unloaded = text.replace(done, "[2026-02-21 23:22:59.211] [Qwen3-TTS] Unloading 1 cached model(s)...\n" + done)
    finding = lowvram(analyze_text(unloaded))
    assert "Qwen3-TTS" not in finding.title + finding.why and "holder_line" not in finding.figures
    # nothing else in the log shows what held it: the job's computation or something outside ComfyUI
    assert "the job's computation or something outside ComfyUI took the rest" in finding.title
    assert finding.severity == "warning"
    assert_no_bigger_gpu_or_quantizing(finding)


# ---- the job's own computation took it (030: AnimateDiff on a 4 GB GPU, the 128 MB floor) ----------


@pytest.mark.parametrize("source", ["fixture", "corpus"])
def test_the_floor_on_a_small_gpu_after_a_fair_offer_is_the_jobs_computation(source: str) -> None:
    finding = lowvram(analyze(SMALL_GPU_JOB if source == "fixture" else corpus_log("030")))
    assert finding.severity == "warning"
    assert "with only 128 MB of VRAM offered: the job's own computation likely took the rest" in finding.title
    assert "128 MB is the floor ComfyUI falls back to" in finding.why
    # the sampler's first model got 758 MB just before the others got the floor
    assert "Just before, `AnimateDiffModel` was offered 758 MB" in finding.why
    assert finding.evidence[0].text.endswith("loaded partially 757.744920654297 757.7447509765625 0")
    if source == "corpus":
        assert finding.evidence[0].line == 103
    assert finding.advice == ["Make the job smaller so its computation leaves VRAM for the weights: fewer frames "
                              "(or a shorter context window), a lower resolution or a smaller batch"]
    assert_no_bigger_gpu_or_quantizing(finding)


# ---- a diffusers pipeline a custom node loaded (033) --------------------------------------------------


@pytest.mark.parametrize("source", ["fixture", "corpus"])
def test_a_diffusers_pipeline_loaded_before_the_starved_loads_is_named(source: str) -> None:
    finding = lowvram(analyze(HELD_BY_PIPELINE if source == "fixture" else corpus_log("033")))
    assert "offered only 64 MB of VRAM: a diffusers pipeline" in finding.title
    held = finding.evidence[0]
    assert "Loading pipeline components...: 100%" in held.text
    assert f"(line {held.line}, `Loading pipeline components`)" in finding.why
    if source == "corpus":
        assert held.line == 74
    # loaded in the same prompt as the starved loads: restarting between workflows would not separate them
    assert "Before them in the same prompt, a custom node loaded a diffusers pipeline" in finding.why
    assert "run that node in a prompt of its own" in finding.advice[0]


def test_a_pipeline_followed_by_a_fair_offer_did_not_hold_the_vram() -> None:
    text = read(HELD_BY_PIPELINE)
    requested = "[2024-11-12 10:20:58.475] Requested to load AutoencoderKL\r\n"
    assert text.count(requested) == 1
    # a load offered 5000 MB after the pipeline: the GPU was free after it, whatever the later floor was
    fair = "[2024-11-12 10:20:58.000] loaded partially 5000.0 4999.9 0\r\n"
    finding = lowvram(analyze_text(text.replace(requested, fair + requested)))
    assert "diffusers" not in finding.title + finding.why and "holder_line" not in finding.figures
    assert "only 64 MB of VRAM was offered" in finding.title  # the generic starved verdict


# ---- partial loads that left almost nothing in RAM (003: Flux on an RTX 4090) -------------------------


@pytest.mark.parametrize("source", ["fixture", "corpus"])
def test_partial_loads_leaving_a_sliver_in_ram_are_information(source: str) -> None:
    finding = lowvram(analyze(NEGLIGIBLE if source == "fixture" else corpus_log("003")))
    assert finding.severity == "info" and "negligible" in finding.title
    assert "has no measurable cost" in finding.why
    worst = "2.7%" if source == "corpus" else "0.2%"  # the corpus log also has a text encoder at 9068 of 9319 MB
    assert f"at most {worst} of the model's weights in RAM" in finding.why
    if source == "corpus":
        assert "(line 320: 9068 of 9319 MB on the GPU; the model's full size from line 227)" in finding.why
    assert_no_bigger_gpu_or_quantizing(finding)


def test_a_partial_load_leaving_a_fifth_in_ram_is_still_a_warning() -> None:
    text = read(NEGLIGIBLE)
    assert text.count(" 11332.043029785156 0") == 2
    # the same Flux (11350 MB in full, loaded completely in the excerpt) with 9000 MB loaded: 21% left in RAM
    finding = lowvram(analyze_text(text.replace(" 11332.043029785156 0", " 9000.0 0")))
    assert finding.severity == "warning" and "did not fit" in finding.title


# ---- the message row the holder is read from ------------------------------------------------------------


def node_models(*lines: str) -> list[Event]:
    return [e for e in parse([RawLine(n, text) for n, text in enumerate(lines, 1)])
            if isinstance(e, Event) and e.kind is EventKind.NODE_MODEL]


def test_a_custom_nodes_own_load_and_unload_lines_are_read_and_others_are_not() -> None:
    # lines 177, 178 and 174 of 019 (the emoji are the node's own), and look-alikes that are not such a load
    found = node_models("✅ [Qwen3-TTS] Loading local model: Qwen3-TTS-12Hz-1.7B-Base",
                        "🔧 [Qwen3-TTS] Loading model with attention: sdpa",
                        "[Qwen3-TTS] Unloading 1 cached model(s)...",
                        "[AnimateDiffEvo] - \x1b[0;32mINFO\x1b[0m - Loading motion module temporaldiff-v1.ckpt",
                        "[ApplyFooocusInpaint] 960 Lora keys loaded, 0 remaining keys not found in model",
                        "Requested to load Lumina2")
    assert [(e.line, e.fields["node"], e.fields["action"]) for e in found] == [
        (1, "Qwen3-TTS", "Loading"), (2, "Qwen3-TTS", "Loading"), (3, "Qwen3-TTS", "Unloading")]


# ---- a long log: runs read back from disk, thousands of them ------------------------------------------


def spill_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables on disk in tiny blocks, no block kept decoded, as in a long log whose runs, loads and prompts
    are far past the spools' budgets: a record looked up again is unpickled afresh (spool.PICK_BYTES)."""
    monkeypatch.setattr(comfylog.spool, "BLOCK", 3)
    monkeypatch.setattr(comfylog.segment.segmenter, "RUN_BLOCK", 1)
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)


def test_a_later_roomy_load_is_found_in_the_same_run_when_runs_are_read_back_from_disk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A run read back from disk is a copy each time: the same run is told by its index, not by identity
    (a long log lost "a later load in the same run was offered 21840 MB" and suspected another process)."""
    in_memory = lowvram(analyze(EXAMPLES / "runpod-lowvram-gguf.log"))
    assert "A later load in the same run was offered 21840 MB" in in_memory.why
    spill_everything(monkeypatch)
    report = analyze(EXAMPLES / "runpod-lowvram-gguf.log")
    assert report.runs.on_disk == len(report.runs) == 1
    assert lowvram(report) == in_memory
    del report
    gc.collect()  # the report and its index refer to each other: the records it kept pickled go back now


def test_the_rule_holds_a_few_runs_at_a_time_however_many_its_loads_ran_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs of the partial loads are read one at a time and let go (a 1 GB log's partial loads ran in
    thousands of runs of ~7 kB each: the rule held them all, 18 MB at the peak)."""
    copies = 40  # each copy of the excerpt a run of its own: ComfyUI's `Starting server` after work begins one
    text = ("[2025-08-02 23:20:00.182] Starting server\n" + read(SMALL_GPU_JOB)) * copies
    expected = lowvram(analyze_text(text))
    spill_everything(monkeypatch)
    found, held = runs_held_by_the_rule(analyze_text(text), copies)
    assert [f.title for f in found] == [expected.title] and found[0].why == expected.why
    assert len(held) >= copies and max(held) <= 3, held
    gc.collect()  # the report and its index refer to each other: the records it kept pickled go back now


def runs_held_by_the_rule(report: Report, runs: int) -> tuple[list[Finding], list[int]]:
    """The lowvram rule's findings on ``report`` (of ``runs`` runs, all on disk), and how many runs were
    alive at each run it looked up, beyond those alive before it ran."""
    assert len(report.runs) == runs and report.runs.on_disk == runs
    facts = Facts(report)
    run_at = facts.run_at

    def runs_alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is Run)

    gc.collect()
    before = runs_alive()  # other tests' reports may hold some
    held: list[int] = []

    def counting(source: int, line: int) -> Run | None:
        held.append(runs_alive() - before)
        return run_at(source, line)

    facts.run_at = counting  # type: ignore[method-assign]
    found = RULES["lowvram"].check(facts)
    del facts.run_at  # no cycle through the hook: the report goes with this call
    return found, held


def test_a_starved_first_load_of_the_run_suspects_another_process_first() -> None:
    # 032 lines 79-87: the run's first prompt, the first model it loads (SDXL refiner's CLIP) offered 856 MB of a
    # 16 GB laptop GPU (`loading in lowvram mode 856.49`): nothing of this ComfyUI held the GPU yet, so "other models
    # still loaded" is no suspect and a loader's device option is not the first thing to check (review stop22 C5).
    finding = next(f for f in analyze(corpus_log("032")).findings if f.id == "lowvram")
    assert "It was the run's first model load (line 87): no model of this ComfyUI held the GPU yet." in finding.why
    assert "other models still loaded" not in finding.why
    assert finding.advice[0] == "Make sure no other process holds VRAM (nvidia-smi)"
    assert finding.advice[1].startswith("Load the models on the main GPU")
    # a starved load after another in the same run keeps its suspects and order (the lowvram scenario: WanVAE on
    # 128 MB, line 58, after the text encoder's complete load, line 56)
    later = next(f for f in analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log").findings
                 if f.id == "lowvram")
    assert "first model load" not in later.why and "other models still loaded" in later.why
    assert later.advice[0].startswith("Load the models on the main GPU")


def test_loads_of_a_log_that_starts_mid_prompt_are_not_said_to_run_with_no_prompt(each_segmenter: str) -> None:
    """The paste of city96/ComfyUI-GGUF#427 (tests/fixtures/gguf-dynamic-vram-mid-prompt.log) starts at
    `Requested to load LTXAVTEModel_` and ends that prompt with `Prompt executed in 164.28 seconds` (line 19):
    its two partial loads ran in that prompt, whose `got prompt` is before the log. They are its loads, and
    the GGUF finding (GGUF beside dynamic VRAM), not lowvram's, tells them."""
    report = analyze(FIXTURES / "gguf-dynamic-vram-mid-prompt.log")
    first = next(p for p in report.prompts if not p.received)
    assert first.line == 1 and first.last_line == 19 and first.executed_s == 164.28
    partial = [ld for ld in report.loads if ld.kind == "partial"]
    assert [ld.line for ld in partial] == [2, 4] and {ld.prompt for ld in partial} == {first.index}
    assert not any("no prompt running" in f.why for f in report.findings)
    (gguf,) = [f for f in report.findings if f.id == "gguf"]
    assert "(line 2)" in gguf.why and not [f for f in report.findings if f.id == "lowvram"]


# ---- `0.00 MB usable` in an excerpt without the GPU's VRAM size (Comfy-Org/ComfyUI pull request #12227) --------


def test_nothing_offered_without_the_gpus_size_is_said_as_nothing_and_not_cured_by_smaller_weights() -> None:
    """The PR's log before its fix: WAN21 `loaded partially; 0.00 MB usable, 0.00 MB loaded, 14825.46 MB
    offloaded` after dynamic models that were never unloaded. Without a start-up the GPU's size is unknown, but
    nothing offered is no "part of the weights stayed in RAM", and loader options or smaller weights do not
    free VRAM that something else holds."""
    finding = lowvram(analyze(FIXTURES / "lowvram-nothing-offered-no-vram-size.log"))
    assert finding.severity == "warning"
    assert "no VRAM free" in finding.title and "part of their weights" not in finding.title
    assert "2 loads put none of the model's weights on the GPU (`0.00 MB loaded`)" in finding.why
    assert "`0.00 MB usable` is what ComfyUI prints" in finding.why
    assert "models still loaded from earlier steps or prompts" in finding.why
    advice = " ".join(finding.advice)
    assert "loader node's device" not in advice
    assert_no_bigger_gpu_or_quantizing(finding)
    assert finding.advice[0].startswith("Unload what the next step does not need")
    assert [ev.line for ev in finding.evidence] == [3, 9]
