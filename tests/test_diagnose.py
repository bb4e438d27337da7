"""The diagnoser on real logs: each rule fires where the log shows its cause and stays silent elsewhere.

The expected findings per corpus log below were reviewed by reading the logs (INDEX.md notes in
brackets); a rule that starts firing somewhere new, or stops, fails here and must be looked at.
Rules with no natural example in the corpus are tested on a real scenario log with one documented
change (a start-up line, shifted timestamps, a log repeated the way a crash loop repeats it).
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape as html_escape
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

import pytest
from rich.console import Console

from comfylog.api import analyze, analyze_text
from comfylog.diagnose import MAX_EVIDENCE, RULES, SEVERITY_RANK, rules_markdown
from comfylog.diagnose.facts import Facts, Group
from comfylog.model import Finding, Report
from comfylog.read.lines import read_lines
from comfylog.render.html import render_html
from comfylog.render.json import render_json
from comfylog.render.markdown import render_markdown
from comfylog.render.terminal import render_terminal
from comfylog.segment.segmenter import ImportFailure, read_import_message
from comfylog.spool import Spool
from comfylog.text import dur

from .conftest import CORPUS, FIXTURES, ROOT, corpus_log, corpus_or_skip, expected_scenarios

SCENARIOS = CORPUS / "scenarios"

#: Finding ids per corpus log, reviewed against the logs.
EXPECTED_IDS: dict[str, set[str]] = {
    # one of the three prompts received by 21:55 never ran (nothing ran 21:56-21:59 with it queued): dropped,
    # not unfinished; the last prompt ran before the server was stopped (review stop22)
    "001": {"reload-thrash"},
    "002": {"lowvram"},  # 4 GB RTX 2050: lowvram expected (info)
    # Flux on a 4090: models did not fit together; prompt 2 sampled at 6.0 s/step among 1.3 (review stop21 A6)
    "003": {"lowvram", "reload-thrash", "exception", "first-load", "slow-steps"},
    # no clock: prompt 1 spent 45.8 s outside sampling against 0.4-0.6 s for the five after it, which loaded
    # nothing; its load lines (19.1 GB) are the difference (review stop21 B7; 024 the same machine)
    "004": {"first-load"},
    # ComfyUI-Manager's 143.8 s are its prestartup (installing), not its import (0.3 s)
    "005": {"lowvram", "validation-failed", "reload-thrash", "slow-prestartup", "exception", "slow-steps"},
    "006": {"oom", "first-load"},
    "007": {"oom", "import-failed", "unfinished"},  # MPS OOM; .ipynb_checkpoints "node"
    "008": {"cpu-only", "validation-failed", "exception"},  # Device: cpu with a CUDA build
    "009": {"lowvram", "reload-thrash", "exception"},  # GTX 1060 6 GB, SDXL + refiner
    "010": {"oom", "validation-failed", "import-failed", "reload-thrash", "exception", "slow-steps"},  # DirectML
    "011": set(),
    "012": {"unfinished", "validation-failed", "reload-thrash"},  # log ends mid-prompt
    "013": {"reload-thrash"},
    "014": {"reload-thrash"},
    "015": set(),
    "016": {"validation-failed", "exception"},
    # four of the six prompts queued at 10:18 never ran (10:19-10:24 idle); each later one ran: dropped, not
    # unfinished (review stop22)
    "017": {"validation-failed", "import-failed", "exception", "slow-steps"},
    "018": {"unfinished", "validation-failed", "import-failed", "slow-import"},
    # 6 GB LOW_VRAM, Z-Image: lowvram expected (info); the 2 prompts queued at 23:15:43 were dropped
    # unrun (later prompts ran), which is not `unfinished`
    "019": {"oom", "lowvram"},
    "020": {"validation-failed", "exception"},
    "021": {"import-failed", "unfinished"},
    "022": {"reload-thrash", "slow-import"},
    "023": {"validation-failed", "reload-thrash", "first-load"},
    "024": {"first-load"},
    # and comfyui_controlnet_aux's own two tracebacks: its dwpose modules need skimage
    "025": {"import-failed"},  # comfyui_controlnet_aux's dwpose failing at start-up: the node loaded in part
    "026": set(),
    "027": {"lowvram"},  # 6 GB GTX 1660 Ti, 11.7 GB model
    "028": {"exception"},  # 15 object_info tracebacks of controlaux nodes, no prompt
    "029": {"import-failed", "slow-import"},  # UltimateSDUpscale; comfyui-mixlab-nodes imports in 36 s
    "030": {"lowvram", "slow-prestartup"},  # 4 GB GTX 1050 Ti; Manager's prestartup 14.4 s
    "031": {"slow-load", "dynamic-vram-failed"},  # prompt 1 loads 115 GB, 14 min longer; PyTorch 2.7.1: no dyn. VRAM
    # loading in lowvram mode 856 on a 16 GB laptop GPU; its `lowvram: loaded module` lines were print()ed (2024-01)
    "032": {"lowvram", "import-failed"},
    "033": {"oom", "lowvram"},
    "034": {"oom", "import-failed"},
    "035": {"oom", "validation-failed", "import-failed"},
    "036": {"reload-thrash", "import-failed"},  # SDXL loaded again in each of 85 prompts
    # three boots (INDEX.md), the second with no marker before its device block: two restarts
    "037": {"exception", "validation-failed", "restart-loop", "args-refused"},
    "038": {"reload-thrash"},
    "039": {"exception", "validation-failed", "import-failed", "reload-thrash", "first-load"},
    "040": {"import-failed", "prestartup-failed", "slow-import"},
    "041": {"lora-mismatch"},  # 2304 `lora key not loaded` lines before the refiner's CLIP loads
    "042": {"exception"},  # a safetensors file not fully covered: the job's one prompt failed
    # six start-ups never ready, each dying on the same AttributeError; NumPy 2.2.6 under PyTorch 2.1.2 in each
    "043": {"restart-loop", "startup-failed", "numpy-mismatch"},
    "044": {"exception"},
    "045": {"crash"},  # `what(): CUDA error: no kernel image is available`, then Fatal Python error: not an OOM
    # ComfyUI started twice in one container: one restart, no loop; sam2's install put torch 2.11.0 over 2.9.1+cu129
    "046": {"torch-replaced"},
    "047": {"exception", "validation-failed", "slow-prestartup"},
    "048": {"handler-error", "import-failed"},  # the handler gave up (its poll timed out) with ComfyUI still loading
    "049": {"exception", "dynamic-vram-failed"},
    "050": {"unfinished", "dynamic-vram-failed",  # the log ends while the first prompt runs
             "import-failed"},  # three comfy_extras files failed on flash_attn (built for another PyTorch)
}


def by_id(report: Report) -> dict[str, Finding]:
    return {f.id: f for f in report.findings}


@pytest.fixture(scope="module")
def corpus_reports() -> dict[str, Report]:
    corpus = corpus_or_skip()
    return {path.name[:3]: analyze(path) for path in sorted((corpus / "logs").glob("*.log"))}


def test_every_corpus_log_gets_the_reviewed_findings(corpus_reports: dict[str, Report]) -> None:
    assert set(corpus_reports) == set(EXPECTED_IDS)
    got = {name: {f.id for f in report.findings} for name, report in corpus_reports.items()}
    assert got == EXPECTED_IDS


@pytest.mark.parametrize("entry", expected_scenarios(), ids=lambda e: e["file"])
def test_scenario_findings_come_out(entry: dict[str, object]) -> None:
    corpus_or_skip()
    report = analyze(SCENARIOS / str(entry["file"]))
    ids = [f.id for f in report.findings]
    assert set(entry.get("findings", [])) <= set(ids)  # type: ignore[arg-type]


def test_findings_are_sorted_most_costly_first_and_every_one_cites_real_lines(
    corpus_reports: dict[str, Report],
) -> None:
    corpus = corpus_or_skip()
    reports = dict(corpus_reports)
    reports.update({p.name: analyze(p) for p in sorted(SCENARIOS.glob("*.log"))})
    for name, report in reports.items():
        path = Path(report.sources[0].name)
        lines = {raw.number: raw.text for raw in read_lines(str(path))[1]}
        keys = [(-f.cost_s, SEVERITY_RANK[f.severity]) for f in report.findings]
        assert keys == sorted(keys), name
        for f in report.findings:
            assert f.id in RULES and f.severity in SEVERITY_RANK and f.confidence in ("high", "medium", "low")
            assert f.why and f.advice and f.title, (name, f.id)
            assert 1 <= len(f.evidence) <= MAX_EVIDENCE and f.evidence_total >= len(f.evidence), (name, f.id)
            for ev in f.evidence:
                assert ev.text.rstrip("…") in lines[ev.line], (name, f.id, ev.line, ev.text)
    assert corpus.is_dir()


# ---- loading -------------------------------------------------------------------------------------


def test_lowvram_is_the_main_cause_in_the_runpod_scenario() -> None:
    corpus_or_skip()
    report = analyze(SCENARIOS / "runpod-wan-lowvram-gguf.log")
    first = report.findings[0]
    assert first.id == "lowvram" and first.severity == "warning" and first.confidence == "high"
    prompt = report.prompts[0]
    assert first.cost_s == pytest.approx(prompt.phases.load)
    assert 342 <= first.cost_s <= 372  # the scenario's load phase
    assert first.figures["least_offered_mb"] == 128.0 and first.figures["total_vram_mb"] == 24217
    assert first.figures["partial_loads"] == 3 and first.figures["lowvram_module_lines"] == 122
    assert "only 128 MB" in first.title and "24 GB" in first.title
    assert "56%" in first.why
    assert any("device" in advice for advice in first.advice)
    assert first.evidence[0].text == "loaded partially 128.0 125.5274658203125 0"
    found = by_id(report)
    assert found["debug-logging"].figures["debug_lines"] == 122
    assert "COMFY_LOG_LEVEL=INFO" in found["debug-logging"].advice[0]  # a worker-comfyui log
    assert found["gguf"].figures["qtypes"] == {"Q5_K": 400, "Q6_K": 20}
    assert found["ws-wait"].cost_s == pytest.approx(prompt.phases.wait)
    assert found["ws-wait"].figures["timeouts"] == 6


# 019's one partial load was offered 0 MB while a custom node's model held the GPU: test_lowvram.py
@pytest.mark.parametrize("prefix", ["002", "009", "027"])
def test_lowvram_on_a_gpu_too_small_for_the_model_is_information(prefix: str) -> None:
    report = analyze(corpus_log(prefix))
    finding = by_id(report)["lowvram"]
    assert finding.severity == "info"
    assert "cannot hold" in finding.title and "expected" in finding.why
    assert "lowvram-forced" not in by_id(report)  # LOW_VRAM on a small GPU is ComfyUI's own choice


# 003's partial loads left at most 2.7% of a model in RAM, information: test_lowvram.py
@pytest.mark.parametrize("prefix", ["005"])
def test_lowvram_on_a_24gb_gpu_whose_models_did_not_fit_is_a_warning(prefix: str) -> None:
    finding = by_id(analyze(corpus_log(prefix)))["lowvram"]
    assert finding.severity == "warning" and "did not fit" in finding.title
    assert finding.figures["total_vram_mb"] >= 24000 and finding.figures["least_offered_mb"] > 5000
    assert finding.cost_s == 0.0 and "cannot time" in finding.why  # minute stamps


def test_lowvram_forced_on_a_large_gpu() -> None:
    corpus_or_skip()
    text = (SCENARIOS / "runpod-wan-lowvram-gguf.log").read_text(encoding="utf-8")
    assert text.count("Set vram state to: NORMAL_VRAM") == 1
    forced = analyze_text(text.replace("Set vram state to: NORMAL_VRAM", "Set vram state to: LOW_VRAM"))
    finding = by_id(forced)["lowvram-forced"]
    assert "`--lowvram`" in finding.title and finding.evidence[0].text == "Set vram state to: LOW_VRAM"
    assert finding.evidence[0].line == 1 + next(
        i for i, line in enumerate(text.split("\n")) if line.endswith("Set vram state to: NORMAL_VRAM"))
    assert finding.cost_s == pytest.approx(forced.prompts[0].phases.load)
    assert "lowvram-forced" not in by_id(analyze_text(text))


def test_gguf_fires_where_gguf_qtypes_name_quantized_types_only(corpus_reports: dict[str, Report]) -> None:
    corpus_or_skip()
    baseline = by_id(analyze(SCENARIOS / "local-wan-rtx4090-baseline.log"))
    assert list(baseline) == ["gguf"] and baseline["gguf"].severity == "info"
    assert not any("gguf" in by_id(r) for r in corpus_reports.values())


def shift_manager_times(text: str, from_line: int, seconds: float) -> str:
    """Move the ``[YYYY-MM-DD HH:MM:SS.mmm]`` stamps of lines ``from_line`` on by ``seconds``."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        m = re.match(r"\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\]", line)
        if m and number >= from_line:
            ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") + timedelta(seconds=seconds)
            line = f"[{ts.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}]" + line[m.end():]
        out.append(line)
    return "\n".join(out)


def test_slow_load_on_the_baseline_with_a_slow_disk_only() -> None:
    corpus_or_skip()
    text = (SCENARIOS / "local-wan-rtx4090-baseline.log").read_text(encoding="utf-8")
    assert "slow-load" not in by_id(analyze_text(text))  # 17.7 GB in 11 s: a local disk
    # The same run with its first GGUF read (line 32) taking two minutes longer, as from a network volume.
    slow = analyze_text(shift_manager_times(text, 32, 120.0))
    finding = by_id(slow)["slow-load"]
    load = slow.prompts[0].phases.load
    assert load == pytest.approx(131.0, abs=1.0)
    assert finding.figures["mb_per_s"] == pytest.approx(17739.1 / load, rel=0.01)
    assert 0 < finding.cost_s < load
    # Two minutes of it are one stretch with no load line (lines 31-34: the shifted read): the finding names it, gives
    # the rate without it (a local disk's) and cannot tell a slow read from a node that logs nothing.
    assert finding.confidence == "low" and finding.figures["silence_line"] == 34
    silence = finding.figures["silence_s"]
    assert isinstance(silence, float) and 120.0 < silence < load
    assert finding.figures["without_silence_mb_per_s"] == pytest.approx(17739.1 / (load - silence), rel=0.01)
    assert "the time before line 34 (`gguf qtypes" in finding.why and "since 18:04:32 (line 31)" in finding.why
    # what is left is the copies the log times (a local disk's speed) and more time before load lines
    assert (f"of those {dur(load - silence)}, the copies the log times (each from `Requested to load` to its `loaded "
            "completely`)") in finding.why
    assert [e.line for e in finding.evidence][:2] == [31, 34]
    assert "Requested to load WanTEModel" in [e.text for e in finding.evidence]
    # Partial loads are lowvram's to explain, not a slow disk's: their time is counted there; slow-load names the
    # RunPod network volume the models are read from (line 16) as a cause, with no time of its own.
    volume = by_id(analyze(SCENARIOS / "runpod-wan-lowvram-gguf.log"))["slow-load"]
    assert volume.cost_s == 0 and volume.title.startswith("Models on a RunPod network volume")
    assert [e.line for e in volume.evidence] == [16]


def test_slow_load_that_is_mostly_one_silence_says_so() -> None:
    """Comfy-Org/ComfyUI#12762 (tests/fixtures/rocm-wan-unstamped-bars.log): nothing is logged for 12.5 minutes between
    `loaded completely` (line 5) and `Requested to load WAN21` (line 6); the phases give that gap to loading, but the
    log does not say the weights were read then. slow-load says so: how much of the load time it is, between which
    lines, the rate with and without it, and low confidence."""
    path = FIXTURES / "rocm-wan-unstamped-bars.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    stamp = [datetime.strptime(lines[n - 1][1:24], "%Y-%m-%d %H:%M:%S.%f") for n in (5, 6)]
    gap = (stamp[1] - stamp[0]).total_seconds()
    report = analyze(path)
    finding = by_id(report)["slow-load"]
    load = report.prompts[0].phases.load
    assert load is not None and gap > load / 2
    assert finding.confidence == "low" and finding.title.endswith(f"{dur(gap)} of it one silent gap")
    assert finding.figures["silence_s"] == pytest.approx(gap, abs=0.001) and finding.figures["silence_line"] == 6
    mb = finding.figures["loaded_mb"]
    assert isinstance(mb, float) and finding.figures["mb_per_s"] == pytest.approx(mb / load, abs=0.1)
    assert finding.figures["without_silence_mb_per_s"] == pytest.approx(mb / (load - gap), abs=0.1)
    assert (f"nothing is logged between line 5 ({lines[4][12:20]}) and line 6 (`Requested to load WAN21`, "
            f"{lines[5][12:20]})") in finding.why
    assert "the log cannot tell which" in finding.why
    # what is left of the load time is mostly another such stretch (before line 11): said, not called slow storage
    assert f"without it, {mb / 1024:.1f} GB in {dur(load - gap)} is" in finding.why
    assert "came before load lines too" in finding.why
    assert [e.line for e in finding.evidence][:2] == [5, 6]
    assert finding.evidence[0].text.startswith("loaded completely; 17722.62 MB usable")  # read back from the log


def test_slow_load_estimated_without_timestamps() -> None:
    # 031 has no timestamps: prompt 1 loads 115 GB and takes 17:45 (line 86), prompts 2 and 3 load nothing,
    # sample as long (8 steps at ~14.8 s/it) and take 3:31 and 3:25; the 14 minutes beyond them are the load.
    text = corpus_log("031").read_text(encoding="utf-8", errors="replace")
    finding = by_id(analyze_text(text))["slow-load"]
    assert finding.confidence == "low" and finding.title.startswith("Slow model loading (estimated)")
    assert finding.figures["estimated"] is True
    assert finding.figures["load_s"] == pytest.approx(1065.0 - 119.04 - (92.4 + 88.5) / 2, abs=1.0)
    assert finding.figures["loaded_mb"] == pytest.approx(49120.13 + 63209.94 + 577.08 + 4966.19, abs=0.1)
    assert [e.line for e in finding.evidence] == [50, 55, 83, 85]
    # Prompt 1's block once more at the end (a second cold load): the first prompt's own figures, then the sums.
    lines = text.splitlines(keepends=True)
    twice = by_id(analyze_text("".join(lines + lines[44:86])))["slow-load"]
    assert "prompt 1 took 17:45 and loaded 115.1 GB of weights" in twice.why
    assert "In all, 2 prompts loaded 230.2 GB" in twice.why
    # The first prompt no longer than the others: no load time beyond theirs, no finding.
    fast = text.replace("Prompt executed in 00:17:45", "Prompt executed in 00:03:35")
    assert "slow-load" not in by_id(analyze_text(fast))


def test_code_calling_a_torch_function_the_installed_pytorch_lacks() -> None:
    # 044: ComfyUI 0.7.0's comfy/ops.py calls torch.compiler.is_compiling (line 135), which PyTorch 2.1.2 lacks.
    finding = by_id(analyze(corpus_log("044")))["exception"]
    first = finding.advice[0]
    assert "(`ops.py:run_every_op`) calls `torch.compiler.is_compiling`" in first
    assert "PyTorch 2.1.2+cu121 does not have" in first and "ComfyUI 0.7.0" in first
    assert not any("custom_nodes/NAME" in a for a in finding.advice)  # the frame is known: no "read the traceback"


@pytest.mark.parametrize("message", [
    "Error while deserializing header: incomplete metadata, file not fully covered",  # 042, safetensors 0.4+
    "Error while deserializing header: MetadataIncompleteBuffer",  # older safetensors, the same cut-short file
])
def test_a_model_file_that_does_not_read_whole_is_to_download_again(message: str) -> None:
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\nTo see the GUI go to: http://127.0.0.1:8188\ngot prompt\n"
            f"!!! Exception during processing !!! {message}\nTraceback (most recent call last):\n"
            '  File "/comfyui/comfy/utils.py", line 55, in load_torch_file\n'
            "    sd = safetensors.torch.load_file(ckpt, device=device.type)\n"
            f"safetensors_rust.SafetensorError: {message}\nPrompt executed in 2.27 seconds\n")
    finding = by_id(analyze_text(text))["exception"]
    assert finding.advice[0].startswith("The model file did not read whole")
    assert "Download it again" in finding.advice[0]


def test_reload_thrash_names_the_model_reloaded_prompt_after_prompt() -> None:
    finding = by_id(analyze(corpus_log("022")))["reload-thrash"]
    assert finding.figures["streaks"]["BaseModel"] == 33 and finding.severity == "info"
    assert "6 GB" in finding.why and finding.evidence[0].text == "Requested to load BaseModel"


def test_cpu_only_on_the_cpu_log() -> None:
    report = analyze(corpus_log("008"))
    finding = by_id(report)["cpu-only"]
    assert finding.evidence[0].text == "Set vram state to: DISABLED"
    assert "2.5.1+cu124" in finding.why and "--cpu" in finding.why
    assert finding.cost_s == pytest.approx(sum(p.phases.inference for p in report.prompts))


# ---- failures ------------------------------------------------------------------------------------


def test_oom_suspected_on_the_silent_restart() -> None:
    corpus_or_skip()
    report = analyze(SCENARIOS / "runpod-wan-oom-restart.log")
    assert [f.id for f in report.findings] == ["oom-suspected"]  # not also "unfinished"
    finding = report.findings[0]
    assert finding.severity == "error" and finding.confidence == "medium"
    assert finding.figures["video"] == {"frames": 121, "width": 704, "height": 704, "steps": 3}
    assert finding.figures["gpu_memory_mib"]["free_mib"] == 23563 and finding.figures["bar"] == "0/3"
    texts = [e.text for e in finding.evidence]
    assert "Sampling 121 frames at 704x704 with 3 steps" in texts and "== CUDA ==" in texts
    assert any(t.endswith("0/3 [00:00<?, ?it/s]") for t in texts)
    joined = " ".join(finding.advice)
    assert "Make the job smaller: 57 frames at 704x704 or 121 frames at 496x496" in joined  # half, no reference
    assert "larger GPU" not in joined and "more VRAM" in joined
    # line 18 already sets the allocator: say what was set and what to change, not the same advice again
    assert "is already set to `max_split_size_mb:512` (line 18)" in joined
    assert "Set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`" not in joined
    assert "No job of this model finished in the logs given" in finding.why and "estimate" in joined


def test_no_oom_suspected_where_every_prompt_finished(corpus_reports: dict[str, Report]) -> None:
    corpus_or_skip()
    reports = [*corpus_reports.values(), *(analyze(p) for p in SCENARIOS.glob("*.log"))]
    for report in reports:
        for finding in report.findings:
            if finding.id == "oom-suspected":
                assert all(report.prompts[i].status == "unfinished" for i in finding.prompts)
    assert all("oom-suspected" not in by_id(r) for r in corpus_reports.values())


def test_a_prompt_cut_off_by_a_restart_outside_sampling_is_unfinished() -> None:
    corpus_or_skip()
    lines = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8").split("\n")
    assert lines[44].endswith("0/3 [00:00<?, ?it/s]")
    report = analyze_text("\n".join(lines[:44] + lines[45:]))  # the same log without the sampling bar
    found = by_id(report)
    assert "oom-suspected" not in found
    assert found["unfinished"].severity == "error" and "restart" in found["unfinished"].why


def test_restart_loop_on_a_crash_that_repeats() -> None:
    corpus_or_skip()
    text = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8")
    assert "restart-loop" not in by_id(analyze_text(text))  # one restart is not a loop
    # the same container crashing again a day later (the copy as it is goes back in time: another log, joined out of
    # order, whose start-up is no restart: 2)
    report = analyze_text(text + text.replace("2025-10-23T", "2025-10-24T"))
    finding = by_id(report)["restart-loop"]
    assert finding.figures["restarts"] == 3 and finding.severity == "error"
    assert by_id(analyze_text(text + text))["restart-loop"].figures["restarts"] == 2
    assert [e.text for e in finding.evidence] == ["== CUDA =="] * 3
    assert len(by_id(report)) >= 2 and "oom-suspected" in by_id(report)


def test_restarts_comfyui_manager_asked_for_are_no_crash_loop(each_segmenter: str) -> None:
    """ComfyUI-Manager's Restart prints `Restarting... [Legacy Mode]` (manager_server.py) to the console and starts
    the process again: installing two node packs with a restart after each is no crash loop. Corpus 024 (a server log
    of one process, no Manager) three times in a row is three start-ups; the restart-loop finding fires on them
    alone, not where the runs before asked for them, and counts only the restarts nobody asked for."""
    text = corpus_log("024").read_text("utf-8")
    asked = text + "\nRestarting... [Legacy Mode]\n\n"
    crashing = analyze_text(text * 3)
    assert len(crashing.runs) == 3 and by_id(crashing)["restart-loop"].figures["restarts"] == 2
    report = analyze_text(asked * 2 + text)
    assert len(report.runs) == 3 and "restart-loop" not in by_id(report)
    assert [run.setup.get("restart_requested") for run in report.runs] == [True, True, None]
    mixed = by_id(analyze_text(asked + text * 3))["restart-loop"]  # one asked for, then two crashes
    assert (mixed.figures["restarts"], mixed.figures["restarts_asked"], mixed.figures["start_ups"]) == (2, 1, 4)
    assert "Not counted: 1 restart ComfyUI-Manager's Restart asked for" in mixed.why
    assert "restart-loop" not in by_id(analyze_text(text + "Restarting...\n" + text * 2))  # comfy-cli's spelling


def test_restarts_while_idle_are_told_without_calling_them_a_crash(each_segmenter: str) -> None:
    """Corpus 024 (a server log of one process that ends idle) three times in a row: two restarts with no prompt
    running at either. That is a crash while idle or a stop and a start by hand or by a launcher (corpus 037: a
    Mac's launcher starting ComfyUI three times): a warning that says so, without the OOM advice, which `check`
    warns on instead of failing. A loop that cuts prompts off stays an error that fails it."""
    from comfylog.check import CheckOptions, check_reports

    text = corpus_log("024").read_text("utf-8")
    idle = analyze_text(text * 3)
    finding = by_id(idle)["restart-loop"]
    assert (finding.severity, finding.confidence, finding.figures["prompts_lost"]) == ("warning", "medium", 0)
    assert "No prompt was running when it started again" in finding.why and "is crashing" not in finding.why
    assert not any("OOM killer" in a for a in finding.advice)
    outcome = {o.rule: o.status for o in check_reports([("idle", idle)], CheckOptions()).logs[0].outcomes}
    assert outcome["restart-loop"] == "warn"
    corpus_or_skip()
    crash = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8")
    crashing = analyze_text(crash + crash)
    loop = by_id(crashing)["restart-loop"]
    assert loop.severity == "error" and loop.figures["prompts_lost"] > 0 and "is crashing" in loop.why
    outcome = {o.rule: o.status for o in check_reports([("crash", crashing)], CheckOptions()).logs[0].outcomes}
    assert outcome["restart-loop"] == "fail"


def test_a_prompt_a_restart_manager_asked_for_cut_off_was_stopped_not_killed(each_segmenter: str) -> None:
    """The OOM-restart scenario's prompt dies at 0/3 and the container starts again: oom-suspected. Had the run
    printed ComfyUI-Manager's `Restarting... [Legacy Mode]` before the new start-up, the restart was asked for
    (the Restart button while a prompt ran): the prompt was stopped, no OOM, no crash loop."""
    corpus_or_skip()
    lines = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8").split("\n")
    banner = next(i for i, line in enumerate(lines) if line.endswith(" ==========") and i > 44)
    assert "oom-suspected" in by_id(analyze_text("\n".join(lines)))
    asked = lines[:banner] + ["2025-10-23T16:28:13.500000000Z Restarting... [Legacy Mode]"] + lines[banner:]
    found = by_id(analyze_text("\n".join(asked)))
    assert "oom-suspected" not in found and "restart-loop" not in found
    unfinished = found["unfinished"]
    assert unfinished.severity == "info"
    assert "1 prompt still running or queued when ComfyUI-Manager's Restart restarted the server" in unfinished.why
    assert unfinished.advice[0].startswith("Nothing crashed: the server was restarted by ComfyUI-Manager's Restart")
    assert unfinished.evidence[0].line == banner + 1 and "Restarting..." in unfinished.evidence[0].text


def test_restart_loops_in_two_inputs_each_count_their_own_prompts_in_one_walk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus_or_skip()
    text = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8")
    alone = by_id(analyze_text(text + text))["restart-loop"]
    paths = [tmp_path / "a.log", tmp_path / "b.log"]
    for path in paths:
        path.write_text(text + text, encoding="utf-8")  # two containers crashing again and again
    report = analyze(paths)
    loops = [f for f in report.findings if f.id == "restart-loop"]
    assert [f.evidence[0].source for f in loops] == [0, 1] and alone.prompts
    offset = min(p.index for p in report.prompts if p.source == 1)
    assert loops[0].prompts == alone.prompts and loops[1].prompts == [i + offset for i in alone.prompts]
    assert all(f.figures == alone.figures and f.cost_s == alone.cost_s for f in loops)
    walks: list[str] = []
    walk = Facts.prompts_in
    monkeypatch.setattr(Facts, "prompts_in", lambda self, group: walks.append(group) or walk(self, group))
    assert RULES["restart-loop"].check(Facts(report)) == loops
    assert walks == ["unfinished"]


@pytest.mark.parametrize(("prefix", "device_advice"), [
    # 006 and 019 run cudaMallocAsync, whose pool PYTORCH_CUDA_ALLOC_CONF's expandable_segments does not change:
    # 006's figures leave 8 GiB to something else on the GPU (nvidia-smi shows what), 019's sampling needs offloading.
    # 007's MPS limit is an Intel Mac's ~4 GB discrete GPU's (test_oom_mps.py): its memory is its own.
    ("006", "nvidia-smi"), ("007", "own ~4.0 GB of memory"), ("010", "DirectML"),
    ("019", "`--lowvram`"),
])
def test_oom_with_advice_for_the_device(prefix: str, device_advice: str) -> None:
    report = analyze(corpus_log(prefix))
    finding = by_id(report)["oom"]
    assert finding.severity == "error" and finding.confidence == "high"
    assert any(device_advice in a for a in finding.advice)
    assert all(report.prompts[i].status == "error" for i in finding.prompts)
    assert all(re.search(r"out of memory|OutOfMemory|not enough GPU video memory|^(Currently allocated|Device limit|"
                         r"Free \(according to CUDA\))", e.text) or e.line == finding.figures.get("holder_line")
               for e in finding.evidence)


def test_oom_after_a_starved_load_names_the_model_a_node_loaded_outside_comfyui() -> None:
    """019: `Lumina2` was offered 0.00 MB after the TTS node loaded its own model: the OOM's first advice frees
    that model, as the lowvram finding's does (review stop22); 006's OOMs follow no such load."""
    found = by_id(analyze(corpus_log("019")))
    oom, lowvram = found["oom"], found["lowvram"]
    assert oom.figures["holder_line"] == lowvram.figures["holder_line"] == 177
    assert oom.advice[0].startswith("Free the VRAM `Qwen3-TTS`'s model holds")
    assert any(e.line == 177 and "Qwen3-TTS" in e.text for e in oom.evidence)
    assert "holder_line" not in by_id(analyze(corpus_log("006")))["oom"].figures


@pytest.mark.parametrize(("prefix", "dropped", "received"), [
    # 017 lines 398-424: six prompts at 10:18; two ran, the rest of the queue never did: `Prompt executed in 40.66
    # seconds` at 10:25 began after 10:24, five minutes after the last one ended, which no queue allows
    ("017", [18, 19, 20, 21], "10:18"),
    # 001 lines 53-165: three prompts by 21:55, two ran; the next began at 21:59, three minutes after
    ("001", [2], "21:55"),
])
def test_minute_stamps_show_prompts_dropped_from_the_queue(prefix: str, dropped: list[int], received: str) -> None:
    report = analyze(corpus_log(prefix))
    assert [p.index for p in report.prompts if p.status == "dropped"] == dropped
    assert not any(p.status == "unfinished" for p in report.prompts)  # the last prompt ran: nothing left
    assert report.prompts[dropped[0]].got_at is not None
    assert report.prompts[dropped[0]].got_at.strftime("%H:%M") == received
    assert "unfinished" not in by_id(report)


def test_directml_vram_placeholder_is_not_quoted_as_the_cards_size() -> None:
    finding = by_id(analyze(corpus_log("010")))["oom"]
    assert finding.figures["total_vram_mb"] is None and "placeholder" in finding.why


def test_directml_vram_placeholder_is_shown_as_unknown_and_no_rule_reads_it() -> None:
    """010's `Total VRAM 1024 MB` under DirectML is ComfyUI's fixed figure (model_management.get_total_memory:
    `mem_total = 1024 * 1024 * 1024 #TODO` with directml): the run shows it as not known, not as a 1 GB card."""
    from comfylog.diagnose.facts import gpu_vram_mb

    from .cli import run_cli

    report = analyze(corpus_log("010"))
    (run,) = report.runs
    assert run.total_vram_mb == 1024 and run.vram_placeholder() and gpu_vram_mb(run) is None
    terminal = run_cli("analyze", str(corpus_log("010")), columns=120, text=True).stdout
    assert "VRAM            not known (DirectML prints a fixed 1024 MB)   RAM 32699 MB" in terminal
    assert not re.search(r"(?<![\d.])1 GB", terminal)
    assert set(re.findall(r"(\w+) 1024 MB", terminal)) == {"fixed", "its"}  # only where it says it is a placeholder
    markdown = run_cli("analyze", str(corpus_log("010")), "-f", "markdown", text=True).stdout
    assert "on `privateuseone`," in markdown and "VRAM not known (DirectML prints a fixed 1024 MB)" in markdown


def test_unfinished_says_how_the_run_ended() -> None:
    stopped = by_id(analyze(corpus_log("021")))["unfinished"]
    assert stopped.severity == "info" and any(e.text == "Stopped server" for e in stopped.evidence)
    ends = by_id(analyze(corpus_log("012")))["unfinished"]
    assert ends.severity == "warning" and "log ends" in ends.why
    assert ends.evidence[0].text == "got prompt" and ends.evidence[0].line == 1934


def test_unfinished_lists_the_first_and_last_prompts_of_many() -> None:
    """012 ends inside its last prompt; with 99 more `got prompt` lines after it (queued before the log was
    copied), 100 prompts never finished: the finding lists the first and last 20 and counts the rest in the JSON
    and on the page (a log of 1,000,000 queued prompts listed every one). 012 as it is lists its one prompt, and
    its figures have no count."""
    text = corpus_log("012").read_bytes().decode()  # its progress bars' carriage returns kept
    one = by_id(analyze_text(text))["unfinished"]
    assert len(one.prompts) == 1 and "prompts_not_listed" not in one.figures
    report = analyze_text(text + "[2024-02-10 05:13] got prompt\n" * 99)
    found = by_id(report)["unfinished"]
    unfinished = [p.index for p in report.prompts if p.status == "unfinished"]
    assert len(unfinished) == 100 and found.figures["unfinished"] == 100
    assert found.prompts == unfinished[:20] + unfinished[-20:] and found.figures["prompts_not_listed"] == 60
    assert found.title == "100 prompts never finished" and found.evidence[0].line == 1934
    row = next(f for f in json.loads(render_json(report))["findings"] if f["id"] == "unfinished")
    assert len(row["prompts"]) == 40 and row["figures"]["prompts_not_listed"] == 60
    page = render_html(report)
    assert f"prompts {', '.join(str(i + 1) for i in unfinished[:12])} … (100 in all)" in page
    assert "unfinished 100 · running 1 · queued 99 · run end log-ends 100 · prompts not listed 60" in page


def test_exception_validation_and_imports() -> None:
    failed = by_id(analyze(corpus_log("016")))["exception"]
    assert failed.figures["prompts"] == 9 and failed.evidence[0].text.startswith("AttributeError:")
    rejected = by_id(analyze(corpus_log("005")))["validation-failed"]
    assert rejected.figures["rejected"] == 7
    assert rejected.evidence[0].text == "Failed to validate prompt for output 9:"
    imports = by_id(analyze(corpus_log("017")))["import-failed"]
    assert imports.figures["failed"] == 3 and "insightface" in imports.why
    assert imports.evidence[0].text.endswith("(IMPORT FAILED): /workspaces/ComfyUI/custom_nodes/IPAdapter-ComfyUI")
    # 005, line 475: ComfyUI-Manager's prestartup (installing) took 143.8 s; its import (line 502) 0.3 s
    found = by_id(analyze(corpus_log("005")))
    assert found["slow-prestartup"].figures["nodes"] == {"ComfyUI-Manager": 143.8}
    assert "slow-import" not in found and "Manager's prestartup installs" in found["slow-prestartup"].advice[0]


def test_validation_names_every_missing_input_file_and_says_empty_model_lists_are_an_unread_folder() -> None:
    """field6 01 (WenerSantos3/ComfyUI user/comfyui_8188.log, an L40 pod): LoadAudio's `Invalid audio file: 1.ogg`
    beside LoadImage's `Invalid image file: 1.jpeg`, and seven loaders' `Value not in list: … not in []`. The advice
    named `1.jpeg` alone ("not readable as images") and told to put each model file in the models folder, where the
    empty lists say ComfyUI reads no file at all from those folders."""
    found = by_id(analyze(FIXTURES / "validation-empty-model-lists-missing-audio-and-image.log"))
    rejected = found["validation-failed"]
    assert rejected.advice[0] == ("Put the input files the workflow names (`1.ogg`, `1.jpeg`) in ComfyUI's `input` "
                                  "folder, or upload them with the job: ComfyUI cannot find them")
    assert rejected.advice[1].startswith("Every list the log prints is empty (`not in []`)")
    assert not any(a.startswith("A `Value not in list` names a file") for a in rejected.advice)


@pytest.mark.parametrize("caller", ["nodes.py:load_checkpoint", "sd.py:load_checkpoint_guess_config"])
def test_a_checkpoint_loader_without_its_file_is_matched_to_the_ckpt_name_refused(caller: str) -> None:
    # CheckpointLoaderSimple's function is load_checkpoint (over ComfyUI's load_checkpoint_guess_config, the frame that
    # calls load_torch_file(None)) and its input ckpt_name: "checkpoint" never matched "ckpt_name", so the missing-file
    # advice named no file for a checkpoint (review stop22 C7). 016's first prompt refused one (line 55); its own
    # failure is IPAdapter's, so the checkpoint loader's matching is asked directly on that prompt's lines.
    from comfylog.diagnose.rules import exception

    report = analyze(corpus_log("016"))
    facts = Facts(report)
    first = next(e for e in report.errors if e.kind == "exception" and e.prompt == 0)
    refused = exception._refused_file(facts, first, caller)
    assert refused == ("line 55: its prompt's validation refused "
                       "`ckpt_name: 'SD1.5/epicrealism_naturalSin.safetensors'`"), refused
    # the loaders 016 did match keep their files
    assert "ipadapter_file: 'ip-adapter-plus_sd15.bin'" in exception._refused_file(
        facts, first, "IPAdapterPlus.py:load_ipadapter_model")


def test_pasted_text_cites_what_it_can_without_reading_files() -> None:
    corpus_or_skip()
    text = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8")
    finding = analyze_text(text).findings[0]
    assert finding.id == "oom-suspected"
    assert "0/3 steps" in [e.text for e in finding.evidence]  # the bar line, described (no file to read)


# ---- the catalog and the README ------------------------------------------------------------------


def test_readme_rules_table_is_generated_from_the_catalog() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    assert start in readme and end in readme, "README lacks the rules markers"
    section = readme.split(start, 1)[1].split(end, 1)[0]
    assert section.strip() == rules_markdown().strip(), "regenerate: python scripts/readme_tables.py"
    for rule_id in RULES:
        assert f"| `{rule_id}` |" in section


def test_readme_rules_script_regenerates_the_section(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "readme_tables.py"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(readme.replace("| `oom` |", "| `oom-old` |"), encoding="utf-8")
    check = subprocess.run([sys.executable, str(script), "--check", str(stale)], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 1 and "out of date" in check.stderr
    subprocess.run([sys.executable, str(script), str(stale)], check=True, capture_output=True, timeout=60)
    assert stale.read_text(encoding="utf-8") == readme


def test_a_log_that_overflows_the_kept_events_still_gets_its_findings() -> None:
    corpus_or_skip()
    lines = (SCENARIOS / "runpod-wan-lowvram-gguf.log").read_text(encoding="utf-8").split("\n")
    stamp = lines[56].split(" ", 1)[0]  # the time of the line before the first partial load
    flood = [f"{stamp} worker-comfyui - Websocket receive timed out. Still waiting..."] * 20_001
    report = analyze_text("\n".join(lines[:57] + flood + lines[57:]))
    assert report.notable_dropped > 0
    lowvram = by_id(report)["lowvram"]  # its partial-load events were dropped: the load records are cited
    assert lowvram.evidence and lowvram.evidence[0].line == 58 + len(flood)
    assert lowvram.evidence_total == 3 + 122 + 2  # and the two lines that rule causes out (20, 193)


def test_lora_keys_not_loaded_in_todays_form_make_one_finding_per_report() -> None:
    """comfy/lora.py's current line has a colon (tests/fixtures/upstream-messages.txt); three of them in a
    prompt that loads a Flux model next: the LoRA did nothing, and no refiner is blamed."""
    keys = ["lora_unet_double_blocks_0_img_attn_proj.lora_down.weight",
            "lora_unet_double_blocks_0_img_attn_proj.lora_up.weight", "lora_unet_double_blocks_0_img_attn_proj.alpha"]
    text = "\n".join(["got prompt", *(f"lora key not loaded: {k}" for k in keys), "Requested to load Flux",
                      "Prompt executed in 4.20 seconds", ""])
    (found,) = [f for f in analyze_text(text).findings if f.id == "lora-mismatch"]
    assert found.figures["lora_keys_not_loaded"] == 3 and found.prompts == [0]
    assert "refiner" not in found.why and found.evidence[0].line == 2 and found.evidence_total == 3


def test_a_node_whose_name_begins_another_gets_its_own_import_reason() -> None:
    # ComfyUI's `Cannot import PATH module for custom nodes: REASON` and its import-times list, for two nodes
    # whose names share a beginning (the form of corpus 021, lines 53 and 142): each reason is its own node's.
    base = "/ComfyUI/custom_nodes/"
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\n"
            f"Cannot import {base}Foo-Bar module for custom nodes: No module named 'aaa'\n"
            f"Cannot import {base}Foo module for custom nodes: No module named 'bbb'\n"
            "\nImport times for custom nodes:\n"
            f"   0.0 seconds (IMPORT FAILED): {base}Foo-Bar\n"
            f"   0.0 seconds (IMPORT FAILED): {base}Foo\n\n"
            "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")
    finding = by_id(analyze_text(text))["import-failed"]
    assert "No module named 'aaa' (Foo-Bar)" in finding.why and "No module named 'bbb' (Foo)" in finding.why


def test_a_failed_node_whose_import_times_row_is_cut_is_named_and_a_skipped_pack_is_no_missing_package(
        each_segmenter: str) -> None:
    """github.com/807502278/ComfyUI_MaskGCT #8 (tests/fixtures/desktop-import-failed-cut.log): the paste holds
    `Cannot import …/ComfyUI_MaskGCT …` (line 13) and `Skip …/DesktopSettingsExtension … lack of
    NODE_CLASS_MAPPINGS.` (line 14), but of the import times only the rows up to comfyui-manager, where
    DesktopSettingsExtension alone is IMPORT FAILED (line 18)."""
    path = FIXTURES / "desktop-import-failed-cut.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "Cannot import" in lines[12] and "ComfyUI_MaskGCT" not in "".join(lines[13:])
    assert "Skip " in lines[13] and "(IMPORT FAILED)" in lines[17]
    report = analyze(path)
    finding = by_id(report)["import-failed"]
    assert finding.title == "2 custom nodes failed to import"
    assert set(finding.figures["nodes"]) == {"ComfyUI_MaskGCT", "DesktopSettingsExtension"}
    assert "module 'pkgutil' has no attribute 'ImpImporter' (ComfyUI_MaskGCT)" in finding.why
    assert "lack of NODE_CLASS_MAPPINGS (DesktopSettingsExtension)" in finding.why
    assert ("its `Cannot import` line names ComfyUI_MaskGCT, whose row of the import times is not in the log"
            in finding.why)
    advice = " ".join(finding.advice)
    assert "Install the missing Python packages" not in advice
    assert "`DesktopSettingsExtension` imported but defines no nodes (no `NODE_CLASS_MAPPINGS`)" in advice
    assert {e.line for e in finding.evidence} == {13, 18}
    skipped = [e for e in report.errors if e.line == 14]
    assert [e.kind for e in skipped] == ["import_failed"] and "DesktopSettingsExtension" in skipped[0].message



def test_pkgutil_impimporter_is_an_old_setuptools_and_a_skipped_folder_may_be_no_node_pack() -> None:
    """desktop-import-failed-cut.log (field2 11): ComfyUI_MaskGCT failed on `module 'pkgutil' has no attribute
    'ImpImporter'`, the words of an old setuptools' pkg_resources (`register_finder(pkgutil.ImpImporter, ...)`,
    guarded since setuptools 66.1.0) under Python 3.12, which removed the class: the finding gave it no advice. And
    DesktopSettingsExtension's `Skip` may be a web-only extension or a folder that is no node pack."""
    finding = by_id(analyze(FIXTURES / "desktop-import-failed-cut.log"))["import-failed"]
    (setuptools,) = [a for a in finding.advice if "ImpImporter" in a]
    assert setuptools.startswith("`ComfyUI_MaskGCT` failed on `module 'pkgutil' has no attribute 'ImpImporter'`: an "
                                 "old setuptools' `pkg_resources` (before 66.1) imported under Python 3.12 or later")
    assert '`python -m pip install "setuptools>=66.1,<82"`' in setuptools
    (skipped,) = [a for a in finding.advice if "NODE_CLASS_MAPPINGS" in a]
    assert "A web-only extension needs none and can stay" in skipped
    assert "a folder that is no node pack at all (a library or a download put in `custom_nodes`) can be removed" \
        in skipped
    assert not any("Install the missing Python packages" in a for a in finding.advice)

def test_the_reports_count_the_failed_nodes_the_finding_names(each_segmenter: str) -> None:
    """desktop-import-failed-cut.log (field2 11): import-failed names 2 nodes, but the run's header counted only the
    import times' IMPORT FAILED rows ("4 imported, 1 failed"). The terminal, markdown and HTML now count both and
    say where the other comes from."""
    report = analyze(FIXTURES / "desktop-import-failed-cut.log")
    assert by_id(report)["import-failed"].figures["failed"] == 2
    said = ("2 failed (ComfyUI_MaskGCT by its `Cannot import` line: its row of the import times is not in the log)")
    console = Console(width=400, record=True, color_system=None)
    render_terminal(report, console)
    assert f"4 imported, slowest 0.0s (websocket_image_save.py), {said}" in console.export_text()
    assert f"{said}" in render_markdown(report)
    assert html_escape(said.replace("`", ""), quote=False) in render_html(report)  # no code spans in its facts

#: ComfyUI's ``Cannot import PATH module for custom nodes: REASON`` (nodes.py, load_custom_node).
CANNOT_IMPORT_RE = re.compile(r"Cannot import (?P<path>.+?) module for custom nodes: (?P<reason>.*)$")


@pytest.mark.parametrize("prefix", ["021", "050"])  # custom nodes on Windows; ComfyUI's own comfy_extras/ files
def test_an_import_failure_reads_back_from_its_record_as_the_log_said_it(prefix: str) -> None:
    """The segmenter words an import failure's record and import-failed reads it back, both in segmenter.py: the
    path and reason of every real ``Cannot import`` line come back whole from the record's message."""
    path = corpus_log(prefix)
    report = analyze(path)
    said = {raw.number: m for raw in read_lines(str(path))[1] if (m := CANNOT_IMPORT_RE.search(raw.text))}
    assert len(said) >= 3
    for n, m in said.items():
        (record,) = [e for e in report.errors if e.kind == "import_failed" and n in (e.line, e.end_line)]
        builtin = "comfy_extras" in m["path"]
        expected = ImportFailure(builtin, m["path"], m["reason"].strip())
        assert read_import_message(record.message) == expected
        assert read_import_message(record.message, m["path"]) == expected
        assert read_import_message(record.message, m["path"][:-1]) is None  # a node whose name begins this one's


def test_a_built_in_node_file_in_a_folder_named_with_a_bracket_keeps_its_name_and_reason() -> None:
    # 050 with its ComfyUI in `/wgb/ComfyUI (2)/`: the path of a message is no longer cut at its first ` (`.
    text = corpus_log("050").read_text(encoding="utf-8", errors="replace")
    moved = text.replace("/wgb/ComfyUI/", "/wgb/ComfyUI (2)/")
    findings = [by_id(analyze_text(t))["import-failed"] for t in (text, moved)]
    assert findings[0].figures["builtin"] == findings[1].figures["builtin"] == [
        "comfy_extras/nodes_latent.py", "comfy_extras/nodes_post_processing.py", "comfy_extras/nodes_morphology.py"]
    assert findings[1].why == findings[0].why and findings[1].title == findings[0].title


def test_a_server_that_became_ready_without_a_clock_did_not_fail_to_start() -> None:
    # No timestamps, a start-up traceback (a custom node's), then `To see the GUI go to` and no prompt: ComfyUI
    # became ready; the traceback is the exception rule's, not a start-up that failed.
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\nDevice: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync\n"
            "Traceback (most recent call last):\n"
            '  File "/ComfyUI/custom_nodes/Foo/__init__.py", line 3, in <module>\n    import bar\n'
            "ModuleNotFoundError: No module named 'bar'\n\n"
            "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")
    report = analyze_text(text)
    assert report.runs[0].ready_at is None and report.runs[0].ready_line == 10
    assert "startup-failed" not in by_id(report)


def test_shapes_that_do_not_fit_in_a_prompt_that_loaded_nothing() -> None:
    # 037's message, in a prompt with no load line (the models were loaded by an earlier prompt, or watch's
    # window has no load): the advice goes without its "(this prompt loaded …)" clause, and analyze does not fail.
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\nTo see the GUI go to: http://127.0.0.1:8188\ngot prompt\n"
            "!!! Exception during processing !!! Given normalized_shape=[2560], expected input with shape [*2560], "
            "but got input of size[1, 256, 4096]\nPrompt executed in 0.51 seconds\n")
    finding = by_id(analyze_text(text))["exception"]
    assert finding.advice[0].startswith("Tensors of shapes that do not fit")
    assert "this prompt loaded" not in finding.advice[0]


def test_a_chain_that_began_with_a_missing_part_of_a_package_is_not_told_to_pip_install_it() -> None:
    """047's chain, its first exception turned into a missing part of a package (``a.b``): the advice says
    it is a part of ``torchvision``, never to install ``torchvision.transforms.functional_tensor``."""
    text = corpus_log("047").read_text("utf-8", errors="replace").replace(
        "No module named 'diffusers'", "No module named 'torchvision.transforms.functional_tensor'")
    (found,) = [f for f in analyze_text(text).findings if f.id == "exception"]
    advice = "\n".join(found.advice)
    assert "`torchvision.transforms.functional_tensor` is a part of `torchvision`" in advice
    assert "The chain of exceptions begins with" not in advice
    assert "install `torchvision.transforms.functional_tensor`" not in advice


def held_by(index: object, report: Report) -> list[object]:
    """The objects the index holds besides the report, its tables, classes, functions and modules."""
    tables = (report.runs, report.prompts, report.progress_bars, report.loads, report.errors)
    seen = {id(report), *(id(t) for t in tables)}
    held, todo = [], [index]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType, FunctionType, BuiltinFunctionType)):
            continue
        seen.add(id(obj))
        held.append(obj)
        todo += gc.get_referents(obj)
    return held


def test_the_diagnosis_leaves_the_renderers_its_index_without_the_rules_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report keeps the diagnosis's Facts as its index (``report.index_cache``): the groups the rules walk,
    what ``once`` and the other caches made, and the texts they could cite go when the diagnosis ends (they
    would live as long as the report), and the renderers read the same from what stays as from a new index."""
    made: list[object] = []

    def keep(method: Callable[..., Any]) -> Callable[..., Any]:
        def spy(self: Facts, *args: Any) -> Any:
            made.append(method(self, *args))
            return made[-1]
        return spy

    for name in ("once", "silent_deaths", "failed_startups"):
        monkeypatch.setattr(Facts, name, keep(getattr(Facts, name)))
    for path in (SCENARIOS / "runpod-wan-lowvram-gguf.log", SCENARIOS / "runpod-wan-oom-restart.log",
                 corpus_log("036"), corpus_log("037")):
        made.clear()
        report = analyze(path)
        index = report.index_cache
        assert isinstance(index, Facts) and report.findings and len(made) > 5
        held = held_by(index, report)
        assert not [obj for obj in held if isinstance(obj, (Group, Spool))], path.name
        assert not {id(obj) for obj in held} & {id(value) for value in made}, path.name
        assert not index.missing and not index.ranges
        rendered = render_json(report)
        report.index_cache = None
        assert render_json(report) == rendered


def test_import_failures_are_grouped_by_cause_and_a_name_a_package_lacks_is_named() -> None:
    # Corpus 025: four nodes fail on huggingface_hub's removed cached_download, two on skimage, eleven on one
    # reason each; the commonest causes come first, and installing packages does not fix a missing name.
    finding = by_id(analyze(corpus_log("025")))["import-failed"]
    assert ("cannot import name 'cached_download' from 'huggingface_hub' (ComfyUI-DepthCrafter-Nodes, "
            "ComfyUI-layerdiffuse, ComfyUI-TeaCache, ComfyUI_smZNodes); No module named 'skimage'") in finding.why
    assert "site-packages" not in finding.why  # the file of the package is not part of the cause
    assert any(a.startswith("The installed `huggingface_hub` has no `cached_download`") for a in finding.advice)


def test_a_circular_import_is_not_taken_for_a_package_version() -> None:
    base = "/ComfyUI/custom_nodes/"
    reason = ("cannot import name 'Node' from partially initialized module 'mynode' (most likely due to a circular "
              "import) (/ComfyUI/custom_nodes/mynode/__init__.py)")
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\n"
            f"Cannot import {base}mynode module for custom nodes: {reason}\n"
            "\nImport times for custom nodes:\n"
            f"   0.0 seconds (IMPORT FAILED): {base}mynode\n\n"
            "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")
    finding = by_id(analyze_text(text))["import-failed"]
    assert not any("has no `Node`" in a for a in finding.advice)


def test_numpy_2_under_a_pytorch_built_for_numpy_1_is_named() -> None:
    # Corpus 043: every start-up prints NumPy 2.2.6's refusal and PyTorch 2.1.2's `Failed to initialize NumPy`.
    finding = by_id(analyze(corpus_log("043")))["numpy-mismatch"]
    assert finding.title == "A module built for NumPy 1.x runs under NumPy 2.2.6: PyTorch"
    assert "PyTorch 2.1.2+cu121" in finding.why and "before 2.3" in finding.why
    assert finding.figures["refused"] == 6 and finding.severity == "warning"
    assert '"numpy<2"' in finding.advice[0] and [e.line for e in finding.evidence] == [33, 54]


def test_numpy_mismatch_is_an_error_when_numpy_is_not_available_failed_a_prompt() -> None:
    lines = corpus_log("043").read_text(encoding="utf-8").splitlines()
    text = "\n".join([*lines[32:54], "got prompt", "!!! Exception during processing !!! Numpy is not available",
                      "Traceback (most recent call last):",
                      '  File "/comfyui/nodes.py", line 1580, in save_images',
                      "    i = 255. * image.cpu().numpy()",
                      "RuntimeError: Numpy is not available", "Prompt executed in 0.05 seconds", ""])
    finding = by_id(analyze_text(text))["numpy-mismatch"]
    assert finding.severity == "error" and "followed from it" in finding.why


def test_an_abort_names_the_library_faulthandler_s_stack_shows() -> None:
    # Corpus 045: `no kernel image` on an A100, then faulthandler's stack with sageattention's core.py innermost,
    # called from ComfyUI-WanVideoWrapper's attention.py.
    finding = by_id(analyze(corpus_log("045")))["crash"]
    assert finding.title == "ComfyUI aborted: sageattention has no kernels for this GPU"
    assert "in `sageattention`, called by custom node `ComfyUI-WanVideoWrapper`" in finding.why
    assert finding.advice[0].startswith("`sageattention` has no kernels for this GPU (NVIDIA A100-SXM4-80GB)")
    assert "`sdpa`" in finding.advice[0] and [e.line for e in finding.evidence] == [273, 295, 296]


def test_an_abort_in_torch_itself_names_no_library(tmp_path: Path) -> None:
    text = corpus_log("045").read_text(encoding="utf-8").replace(
        "/usr/local/lib/python3.10/dist-packages/sageattention/core.py", "/usr/local/lib/python3.10/dist-packages/"
        "torch/nn/functional.py")
    log = tmp_path / "torch-abort.log"
    log.write_text(text, encoding="utf-8")
    finding = by_id(analyze(log))["crash"]
    assert finding.title == "ComfyUI aborted: a library has no kernels for this GPU"


def test_an_install_that_replaced_pytorch_is_named_with_the_way_back() -> None:
    # Corpus 046: Manager's uv install of sam2 lists ` + torch==2.11.0` (line 764) under ComfyUI's 2.9.1+cu129.
    finding = by_id(analyze(corpus_log("046")))["torch-replaced"]
    assert finding.title == "An install replaced PyTorch 2.9.1+cu129 with 2.11.0"
    assert finding.severity == "warning" and finding.confidence == "medium"
    assert finding.advice[0].startswith("Put back the PyTorch this ComfyUI ran with: `/runpod-volume/venv/bin/python "
                                        "-m uv pip install torch==2.9.1 --index-url https://download.pytorch.org/"
                                        "whl/cu129`")
    assert [e.line for e in finding.evidence] == [764]


def _pip_install_then_restart(installed: str, restarted: str) -> str:
    """A start-up, pip's summary line, and a second start-up that imports ``restarted``."""
    start = ("** ComfyUI startup time: 2024-09-06 17:45:12.542891\nTotal VRAM 24564 MB, total RAM 65298 MB\n"
             "pytorch version: {v}\nDevice: cuda:0 NVIDIA GeForce RTX 4090 : "
             "cudaMallocAsync\nStarting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")
    return (start.format(v="2.4.1+cu121")
            + f"Successfully installed nvidia-cudnn-cu12-9.1.0.70 torch-{installed} triton-3.0.0\n"
            + start.format(v=restarted))


def test_pip_replacing_pytorch_is_an_error_once_the_next_start_imports_it() -> None:
    finding = by_id(analyze_text(_pip_install_then_restart("2.5.0", "2.5.0+cu124")))["torch-replaced"]
    assert finding.severity == "error" and "the next start did import 2.5.0+cu124" in finding.why
    assert "`python -m pip install torch==2.4.1 --index-url https://download.pytorch.org/whl/cu121`" in \
        finding.advice[0]


def test_reinstalling_the_same_pytorch_is_not_a_replacement() -> None:
    assert "torch-replaced" not in by_id(analyze_text(_pip_install_then_restart("2.4.1+cu121", "2.4.1+cu121")))


def test_reloads_of_models_that_cannot_fit_together_ask_to_load_less_not_for_highvram() -> None:
    # Corpus 036: SDXL and SD3 with their text encoders, 20 GiB a prompt, on a 12 GB laptop GPU.
    finding = by_id(analyze(corpus_log("036")))["reload-thrash"]
    assert "one prompt loads 20.21 GiB of models on a 12 GB" in finding.why
    assert finding.advice[0].startswith("One prompt needs more than the GPU holds (20.21 GiB of models on 12 GB)")
    assert not any("--highvram" in a for a in finding.advice)


def test_reloads_of_small_models_on_a_big_gpu_are_new_or_re_patched_models() -> None:
    # The `loaded completely;` form of corpus 036, three prompts of one 4.8 GB model on a 24 GB GPU.
    prompt = ("got prompt\nRequested to load SDXL\nloaded completely; 20000.00 MB usable, 4897.05 MB loaded, full "
              "load: True\n100%|##########| 20/20 [00:05<00:00,  3.80it/s]\nPrompt executed in 6.10 seconds\n")
    text = ("Total VRAM 24564 MB, total RAM 65298 MB\nDevice: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync\n"
            "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n" + prompt * 3)
    finding = by_id(analyze_text(text))["reload-thrash"]
    assert "take 4.78 GiB of a 24 GB NVIDIA GeForce RTX 4090" in finding.why
    assert finding.advice[0].startswith("The models are small for this GPU") and \
        not any("--highvram" in a for a in finding.advice)


def test_a_findings_advice_is_its_rules_templates_filled_in(corpus_reports: dict[str, Report]) -> None:
    """finding() refuses advice its rule does not list: each item must be one of the rule's templates with
    its ``{value}`` fields filled in by any text (Advice.matches, found without a regex). Every corpus
    finding's advice is; the same text with its start, its end or a part in the middle changed is not."""
    items = [(f.id, item) for report in corpus_reports.values() for f in report.findings for item in f.advice]
    assert len({rule_id for rule_id, _ in items}) >= 20
    filled = 0
    for rule_id, item in items:
        catalog = RULES[rule_id].advice
        template = next(a for a in catalog if a.matches(item))
        filled += item != template.template
        parts = re.split(r"\{\w+\}", template.template)  # its literal text, around the fields
        broken = [f"!{item[1:]}" if parts[0] else None, f"{item[:-1]}!" if parts[-1] else None,
                  *(item.replace(part, "!") for part in parts if len(part) > 2)]  # a part nowhere in it
        for text in filter(None, broken):
            assert not template.matches(text), (rule_id, text)
    assert filled  # advice with values in it (a flag, a size) among them


def test_a_prompt_whose_log_ends_at_its_load_request_is_said_to_have_stopped_in_that_load(each_segmenter: str) -> None:
    """The paste of Comfy-Org/ComfyUI#13730 (tests/fixtures/ltx-rocm-stalls-in-load.log, LTX 2.3 on ROCm) ends
    with the running prompt's `Requested to load LTXAVTEModel_`: the unfinished finding names that load."""
    from .conftest import FIXTURES

    report = analyze(FIXTURES / "ltx-rocm-stalls-in-load.log")
    (found,) = [f for f in report.findings if f.id == "unfinished"]
    assert "`Requested to load LTXAVTEModel_` (line 17): it stopped inside that load" in found.why
    assert 17 in [e.line for e in found.evidence]
    # a prompt whose log goes on past its load request is not said to have stopped in it
    staged = "Model LTXAVTEModel_ prepared for dynamic VRAM loading. 25440MB Staged. 0 patches attached.\n"
    text = (FIXTURES / "ltx-rocm-stalls-in-load.log").read_text() + staged
    (found,) = [f for f in analyze_text(text).findings if f.id == "unfinished"]
    assert "stopped inside" not in found.why


def test_a_log_that_just_ends_is_read_as_a_hang_or_a_death_and_a_restart_as_a_death(each_segmenter: str) -> None:
    """A log that stops cannot tell a hung ComfyUI from a dead one: Comfy-Org/ComfyUI#13730's paste
    (tests/fixtures/ltx-rocm-stalls-in-load.log) ends in a load under dynamic VRAM where the UI stalled, not died, so
    the advice gives the hang (in that load, and the dynamic VRAM test) before the death; a restart in the log says
    it died (corpus 012 ends mid-prompt: no load named; the restart scenario's prompt was cut off by a restart)."""
    from .conftest import FIXTURES

    def advice(report: Report) -> str:
        return " | ".join(next(f for f in report.findings if f.id == "unfinished").advice)

    stalled = advice(analyze(FIXTURES / "ltx-rocm-stalls-in-load.log"))
    assert "it is stuck in that load (`Requested to load LTXAVTEModel_`), not dead" in stalled
    assert "`--disable-dynamic-vram`" in stalled and "`dmesg` for the OOM killer" in stalled
    assert stalled.index("stuck") < stalled.index("--disable-dynamic-vram") < stalled.index("dmesg")
    # without the dynamic VRAM staging before the load, no dynamic VRAM advice
    text = "\n".join(line for line in (FIXTURES / "ltx-rocm-stalls-in-load.log").read_text("utf-8").splitlines()
                     if "prepared for dynamic VRAM loading" not in line) + "\n"
    assert "--disable-dynamic-vram" not in advice(analyze_text(text))
    ends = advice(analyze(corpus_log("012")))
    assert "it is stuck where the log stops, not dead" in ends and "`dmesg`" in ends
    lines = (SCENARIOS / "runpod-wan-oom-restart.log").read_text(encoding="utf-8").split("\n")
    restarted = advice(analyze_text("\n".join(lines[:44] + lines[45:])))  # without its bar: not oom-suspected
    assert "restarted under these prompts" in restarted and "stuck" not in restarted


def test_a_gpu_runtime_warning_is_a_fault_only_for_a_kernel_that_faulted() -> None:
    """Comfy-Org/ComfyUI#12762 (tests/fixtures/rocm-hip-launch-failure-warning.log): PyTorch's `UserWarning: HIP
    warning: unspecified launch failure` is a kernel fault (ROCm: AMD_SERIALIZE_KERNEL=3, PyTorch's own hint); the
    same check's `CUDA warning: driver shutting down` (cudaErrorCudartUnloading, at exit) is none."""
    from .conftest import FIXTURES

    text = (FIXTURES / "rocm-hip-launch-failure-warning.log").read_text("utf-8")
    fault = by_id(analyze_text(text))["gpu-fault"]
    assert fault.figures == {"faults": 1, "api": "HIP", "message": "unspecified launch failure"}
    assert "(line 16, 13:16:53)" in fault.why and "The log ends there." in fault.why
    assert any("AMD_SERIALIZE_KERNEL=3" in item for item in fault.advice)
    cuda = text.replace("HIP warning: unspecified launch failure", "CUDA warning: an illegal memory access was "
                        "encountered") + "[2026-03-03 13:16:54.000] Prompt executed in 1500.00 seconds\n" * 4
    fault = by_id(analyze_text(cuda))["gpu-fault"]
    assert any("CUDA_LAUNCH_BLOCKING=1" in item for item in fault.advice) and "The log ends" not in fault.why
    exiting = text.replace("HIP warning: unspecified launch failure", "CUDA warning: driver shutting down")
    assert "gpu-fault" not in by_id(analyze_text(exiting))
