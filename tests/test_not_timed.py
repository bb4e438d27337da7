"""What the log cannot time is said to be unknown, never shown as zero (review stop21, A8), on the
real logs the review named: every output says it the same way (terminal ``—`` / "not timed", JSON
null with its reason in ``not_timed``, HTML, markdown, the exported tables), and a phase the log
did time as 0 s stays 0.0."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from comfylog.api import analyze, to_frames
from comfylog.index import status_notes
from comfylog.model import UNTIMED, UNTIMED_CAUSE
from comfylog.render.html import render_html
from comfylog.render.markdown import render_markdown
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import CORPUS, FIXTURES, corpus_log, corpus_or_skip


def _log(prefix: str) -> Path:
    corpus_or_skip()
    return next((CORPUS / "logs").glob(f"{prefix}-*.log"))


def _breakdown(text: str) -> str:
    """The terminal report's "Where the time went" section."""
    start = text.index("Where the time went")
    return text[start:text.index("every second counted once", start)]


def _prompts(path: Path) -> list[dict[str, Any]]:
    prompts: list[dict[str, Any]] = report_to_dict(analyze(path))["prompts"]
    return prompts


@pytest.mark.parametrize(("prefix", "inference_why"), [("049", "bar_not_advanced"), ("050", "no_sampling_bar")])
def test_a_log_with_no_clock_and_no_prompt_executed_times_nothing(prefix: str, inference_why: str) -> None:
    # 049: `got prompt`, two dynamic VRAM loads, a `0/60` bar, an exception; 050: loads, then the log ends.
    # Neither has a timestamp or a `Prompt executed in`: "load 0.0s 0%", "prompts 0.0s in all" were made up.
    path = _log(prefix)
    (prompt,) = _prompts(path)
    assert prompt["total_s"] is None
    assert (prompt["phases"]["load"], prompt["phases"]["inference"], prompt["phases"]["other"]) == (None, None, None)
    assert prompt["not_timed"] == {"load": "no_clock", "inference": inference_why, "other": "no_total"}
    text = str(run_cli("analyze", str(path), text=True, columns=120).stdout)
    breakdown = _breakdown(text)
    assert "0.0s" not in breakdown and "0%" not in breakdown, breakdown
    for phase in ("load", "inference", "other"):
        assert re.search(rf"{phase}\s+—\s+not timed", breakdown), (phase, breakdown)
    assert "wait" not in breakdown  # no RunPod worker: nothing waits
    assert "prompts not timed (1 prompt: no usable timestamps" in " ".join(breakdown.split())
    # one note for the prompt, each phase with its own reason (050 had three, each naming prompt 1 again)
    flat = " ".join(text.split())
    assert flat.count("— not timed (") == 1
    assert (f"— not timed (prompt 1): load ({UNTIMED_CAUSE['no_clock']}), inference ({UNTIMED_CAUSE[inference_why]}), "
            f"other ({UNTIMED_CAUSE['no_total']}): the log does not say how long these took") in flat
    page = render_html(analyze(path))
    totals = page[page.index('<section id="time">'):]
    totals = totals[:totals.index("</section>")]
    assert "not timed" in totals and "0.0s" not in totals and "0%" not in totals


def test_a_prompt_the_log_ends_inside_with_nothing_of_it_did_not_load_or_sample_for_zero(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#14378 (tests/fixtures/aimdo-verbose-got-prompt-cut.log): `[INFO] got prompt` and
    comfy-aimdo's debug lines, then the paste ends; no stamps. Where the time went said `load 0.0s 0%` and
    `inference 0.0s 0%` for a prompt still running where the log ends: it may load and sample after it."""
    path = FIXTURES / "aimdo-verbose-got-prompt-cut.log"
    (prompt,) = _prompts(path)
    assert prompt["status"] == "unfinished" and prompt["total_s"] is None
    assert (prompt["phases"]["load"], prompt["phases"]["inference"], prompt["phases"]["other"]) == (None, None, None)
    assert prompt["not_timed"] == {"inference": "no_total", "load": "no_total", "other": "no_total"}
    breakdown = _breakdown(str(run_cli("analyze", str(path), text=True, columns=120).stdout))
    assert "0.0s" not in breakdown, breakdown
    for phase in ("load", "inference", "other"):
        assert re.search(rf"{phase}\s+—\s+not timed", breakdown), (phase, breakdown)


def test_a_prompt_untimed_for_two_reasons_is_named_in_one_note() -> None:
    # 005 (minute stamps, too coarse to time a load): prompts 8, 10 and 12 loaded models and drew no sampling bar,
    # 9, 11, 13 and on sampled with a bar. Each prompt is named once, its phases grouped by their reason.
    prompts = _prompts(_log("005"))
    assert prompts[7]["not_timed"] == {"load": "no_clock", "inference": "no_sampling_bar", "other": "no_clock"}
    assert prompts[8]["not_timed"] == {"load": "no_clock", "other": "no_clock"}
    flat = " ".join(str(run_cli("analyze", str(_log("005")), text=True, columns=120).stdout).split())
    notes = flat.split("— not timed (")[1:]
    assert len(notes) == 2
    assert notes[0].startswith(f"prompts 8, 10, 12): load and other ({UNTIMED_CAUSE['no_clock']}), inference "
                               f"({UNTIMED_CAUSE['no_sampling_bar']}): the log does not say how long these took")
    assert notes[1].startswith(f"prompts 9, 11, 13, 14, 15, 16 and 20 more): {UNTIMED['no_clock']}")


def test_019_sampling_without_a_bar_before_an_oom_is_not_zero_inference() -> None:
    # 019 line 198-202: Lumina2 requested and loaded partially at 23:35:34, an OOM in its forward at 23:35:37;
    # the log holds no progress bar at all. Its loading (1:44) is timed; what came after it is not known.
    prompts = _prompts(_log("019"))
    sixth = prompts[5]
    assert sixth["status"] == "error" and sixth["phases"]["load"] == pytest.approx(104.018, abs=0.01)
    assert sixth["phases"]["inference"] is None and sixth["phases"]["other"] is None
    assert sixth["not_timed"] == {"inference": "no_sampling_bar", "other": "no_sampling_bar"}
    assert sixth["total_s"] - sixth["phases"]["load"] == pytest.approx(3.504, abs=0.01)  # the seconds in doubt
    # the Qwen3-TTS prompts loaded nothing through ComfyUI and drew no bar: timed, their rule gives 0 inference
    assert all(p["phases"]["inference"] == 0.0 and p["not_timed"] is None for p in (prompts[0], prompts[3], prompts[4]))
    text = str(run_cli("analyze", str(_log("019")), text=True, columns=120).stdout)
    row = next(line for line in text.splitlines() if re.match(r"\s*6\s+23:33:50", line))
    assert row.split()[2:6] == ["error", "1:48", "1:44", "—"], row
    assert re.search(r"inference\s+—\s+not timed", _breakdown(text))
    assert re.search(r"not timed\s+3\.5s", _breakdown(text))


def test_015_no_load_line_in_a_run_a_library_loads_is_not_no_load() -> None:
    # 015: prompt 1 loads LLaVA through transformers (`Loading checkpoint shards`, line 59); prompts 2-4 print
    # no load line, while the wrapper keeps and moves that model itself: their load is unknown, not 0.0s.
    data = report_to_dict(analyze(_log("015")))
    prompts = data["prompts"]
    assert prompts[0]["phases"]["load"] == pytest.approx(43.128, abs=0.01) and prompts[0]["not_timed"] is None
    for prompt in prompts[1:]:
        assert prompt["phases"]["load"] is None and prompt["phases"]["other"] is None
        assert prompt["not_timed"] == {"load": "unlogged_loads", "other": "unlogged_loads"}
        (sampler,) = [b for b in data["progress_bars"] if b["prompt"] == prompt["index"] and b["kind"] == "sampling"]
        assert sampler["total"] == 30 and sampler["elapsed_s"] > 190  # the 30-step bar still times its sampling
        assert prompt["phases"]["inference"] == pytest.approx(sampler["elapsed_s"], abs=0.5)
    text = str(run_cli("analyze", str(_log("015")), text=True, columns=120).stdout)
    assert "— not timed (prompts 2, 3, 4): no load line, but a library loads" in " ".join(text.split())


@pytest.mark.parametrize("path", ["logs/003", "logs/009", "logs/038", "scenarios/local-wan-rtx4090-baseline.log"])
def test_a_local_comfyui_has_no_wait_column_or_row(path: str) -> None:
    corpus_or_skip()
    folder, name = path.split("/")
    log = CORPUS / folder / name if name.endswith(".log") else _log(name)
    report = analyze(log)
    assert not report.wait_applies
    # the JSON keeps wait 0.0 (nothing waited: no worker), the scenario's ground truth says so
    assert {p["phases"]["wait"] for p in report_to_dict(report)["prompts"]} == {0.0}
    text = str(run_cli("analyze", str(log), text=True, columns=200, process=False).stdout)
    header = next(line for line in text.splitlines() if line.split()[:2] == ["#", "received"]
                  or line.split()[:3] == ["#", "run", "received"])
    assert "wait" not in header.split() and "load" in header.split()
    assert not re.search(r"^\s*wait\s", _breakdown(text), re.M)
    assert "W wait" not in text
    markdown = render_markdown(report)
    assert "| inference | other |" in markdown and "| wait |" not in markdown
    page = render_html(report)
    assert "<th class=\"num\">wait</th>" not in page and "<th class=\"num\">inference</th>" in page


def test_a_runpod_worker_keeps_its_measured_wait() -> None:
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    assert report.wait_applies
    text = str(run_cli("analyze", str(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log"), text=True,
                       columns=200).stdout)
    assert re.search(r"^\s*wait\s+51\.1s", _breakdown(text), re.M)
    assert "| wait |" in render_markdown(report)


def test_a_phase_timed_as_zero_stays_zero() -> None:
    # 001's prompts 7-17 print `Prompt executed in 0.02 seconds`, no load line, no bar: cached outputs. Without
    # a clock their load and sampling are still known: none (0.0), not unknown.
    prompts = _prompts(_log("001"))
    cached = [p for p in prompts if p["executed_s"] == 0.02]
    assert len(cached) == 11
    for prompt in cached:
        assert prompt["phases"] == {"load": 0.0, "inference": 0.0, "wait": 0.0, "other": 0.02}
        assert prompt["not_timed"] is None


def test_the_exported_tables_carry_the_reason() -> None:
    frames = to_frames(analyze(_log("019")))
    prompts = frames["prompts"]
    sixth = prompts[prompts["index"] == 5].iloc[0]
    assert sixth["phases_inference"] != sixth["phases_inference"]  # NaN: missing, not 0.0
    assert sixth["not_timed"] == '{"inference":"no_sampling_bar","other":"no_sampling_bar"}'
    assert prompts["not_timed"].isna().sum() == len(prompts) - 1


def test_dropped_prompts_are_explained_under_every_prompt_table() -> None:
    # Corpus 019: prompts 2 and 3 were received at 23:15:43 and never ran (the next execution began later).
    report = analyze(corpus_log("019"))
    note = "dropped (prompts 2, 3): received, then gone from the queue without running"
    assert note in " ".join(status_notes(report.prompts))
    assert note in render_markdown(report)


def test_014_an_interrupted_prompt_whose_bar_the_log_dropped_did_not_sample_for_zero() -> None:
    # 014 lines 159-163: `got prompt`, a blank line (the bar's close: ComfyUI-Manager's log file keeps only states
    # at 100%), `Processing interrupted`, `Prompt executed in 23.55 seconds`; the models were still loaded from
    # prompt 1. What ran for those 23.5 s is not in the log: not "inference 0.0s" (review stop21 leftover b).
    prompts = _prompts(_log("014"))
    second = prompts[1]
    assert second["status"] == "interrupted" and second["estimated"]
    assert second["phases"]["inference"] is None and second["phases"]["other"] is None
    assert second["not_timed"] == {"inference": "interrupted_no_bar", "other": "interrupted_no_bar"}
    # an interrupted prompt whose bar did reach the log is timed by it (prompt 4: 30/30 before the upscaler)
    assert prompts[3]["status"] == "interrupted" and prompts[3]["phases"]["inference"] == pytest.approx(69.0, abs=1)
    text = " ".join(str(run_cli("analyze", str(_log("014")), text=True, columns=120).stdout).split())
    assert f"— not timed (prompt 2): {UNTIMED['interrupted_no_bar']}" in text
    assert "2 15:18:00 interrupted ~23.6s 0.0s —" in text


def test_039_a_prompt_whose_bar_tqdm_hid_did_not_sample_for_zero() -> None:
    # 039 lines 726-735: prompt 28 loaded nothing, and where its sampler's bar belongs tqdm printed ` ... (more
    # hidden) ...` (734: a bar drawn below the console's rows); `Prompt executed in 9.16 seconds`. It sampled, for a
    # time the log does not give: not "inference 0.0s, other 9.2s" (review stop24 A6). The prompts beside it, whose
    # bars are in the log, stay timed.
    prompts = _prompts(_log("039"))
    hidden = prompts[27]
    assert hidden["phases"]["inference"] is None and hidden["phases"]["other"] is None
    assert hidden["not_timed"] == {"inference": "hidden_bar", "other": "hidden_bar"}
    assert hidden["phases"]["load"] == 0 and hidden["total_s"] == pytest.approx(9.16)
    assert prompts[26]["not_timed"] is None and prompts[28]["not_timed"] is None


@pytest.mark.parametrize(("prefix", "load_s"), [("044", 37.826), ("042", 2.28)])
def test_milliseconds_after_the_last_load_hide_no_sampling(prefix: str, load_s: float) -> None:
    # 044 lines 96-98: `Requested to load SDXLClipModel`, `loaded completely` at 08:37:02.591, the exception in
    # CLIPTextEncode at 02.597 and `Prompt executed in 37.83 seconds` at 02.600; 042 fails in UNETLoader 46 ms
    # after its last line. "whether and how long it sampled is not in the log" of 13 ms, and "not timed 0.0s 0%"
    # in where the time went, were said of a time the stamps bound to a few milliseconds (review stop22 C1).
    (prompt,) = _prompts(_log(prefix))
    assert prompt["status"] == "error" and prompt["not_timed"] is None
    assert prompt["phases"]["load"] == pytest.approx(load_s, abs=0.05)
    assert prompt["phases"]["inference"] == 0.0 and prompt["phases"]["other"] < 0.05
    text = str(run_cli("analyze", str(_log(prefix)), text=True, columns=120).stdout)
    assert "not timed" not in text and "? not timed" not in text
    assert not re.search(r"^\s*not timed\s", _breakdown(text), re.M)


def test_an_unfinished_prompt_without_a_clock_shows_the_sampling_its_bar_times(each_segmenter: str) -> None:
    """robertvoy/ComfyUI-Distributed#66 (tests/fixtures/bar-close-redraw-later-elapsed.log, field3 07): no stamps, a
    prompt the log ends inside, a 4-step bar that ran 4:19 (259.52 s). Its inference is timed by the bar and its load
    and other are not (`not_timed` names only those), but the prompt tables showed `—` for every phase of a prompt
    without a total. Each table now shows the bar's time and `—` for the two the log cannot time."""
    report = analyze(FIXTURES / "bar-close-redraw-later-elapsed.log")
    (prompt,) = report.prompts
    assert prompt.status == "unfinished" and prompt.total_s is None
    assert prompt.phases.inference == 259.52 and prompt.not_timed == {"load": "no_clock", "other": "no_total"}
    done = run_cli("analyze", str(FIXTURES / "bar-close-redraw-later-elapsed.log"), text=True, columns=120)
    assert done.returncode == 0
    out = str(done.stdout)
    (row,) = [line for line in out.splitlines() if line.lstrip().startswith("1 ") and "unfinished" in line]
    assert row.split()[3:7] == ["—", "—", "4:20", "—"]  # total, load, infer, other
    assert "| 1 | — | unfinished | — | — | \\~4:20 | — |" in render_markdown(report)
    assert "<td>4:20</td>" in render_html(report).replace('<td class="num">', "<td>")


def test_the_caption_counts_what_a_prompt_without_a_total_timed_as_the_rows_do() -> None:
    """Comfy-Org/ComfyUI#15255 (field4 09): `Prompt executed in 106.91 seconds`, then the next prompt samples 20
    steps in 1:06 where the log ends. The inference row holds both samplings (2:11, 76%) while the caption said
    "prompts 1:47 in all, 1 prompt not timed": the rows came to more than the prompts "in all"."""
    path = FIXTURES / "aimdo-next-prompt-sampling-when-log-ends.log"
    text = str(run_cli("analyze", str(path), text=True, columns=120).stdout)
    flat = " ".join(_breakdown(text).split())
    assert re.search(r"inference\s+2:11\s+76%", flat), flat
    assert "prompts 1:47 in all, 1 prompt without a total (1:06 of it timed, in the rows)" in flat
    page = " ".join(render_html(analyze(path)).split())
    assert "1 prompt without a total (1:06 of it timed, in the rows)" in page


def test_a_diffusers_pipeline_that_samples_without_a_bar_did_not_sample_for_zero(each_segmenter: str) -> None:
    """field4 14 (tests/fixtures/diffusers-pipeline-no-sampling-bar-minute-stamps.log): prompt 4 runs a diffusers
    Kandinsky pipeline, whose `Loading pipeline components...` bars (lines 57, 59) are diffusers loading it, then
    `Prompt executed in 11.99 seconds` (line 60) with no sampling bar between: the pipeline sampled with its own loop.
    It showed `infer 0.0s` and `other 9.6s`; the sampling is unknown, and so the rest of the total. Prompt 2 runs
    the same pipeline and samples with ComfyUI's bar (line 37): timed as before."""
    report = analyze(FIXTURES / "diffusers-pipeline-no-sampling-bar-minute-stamps.log")
    second, fourth = report.prompts[1], report.prompts[3]
    assert fourth.executed_s == 11.99 and fourth.phases.load == 2.38
    assert fourth.phases.inference is None and fourth.phases.other is None
    assert fourth.not_timed == {"inference": "no_sampling_bar", "other": "no_sampling_bar"}
    assert second.phases.inference == 1.616 and second.not_timed is not None and "inference" not in second.not_timed


def test_the_prompt_a_log_starts_inside_is_before_it_only_up_to_the_logs_first_stamp() -> None:
    """Comfy-Org/ComfyUI#5557 (field5 14): an SD3 prompt of 248.75 s ends at 13:12:28.55, 3:36.7 after the log's
    first stamp (13:08:51.87), so 32 s of it are before the log. Its phases time only the sampling (3:07): its loads
    and VAE decode are in the log but untimed. The caption said "1:02 of it before the log's first line", counting
    those 30 s of the log as before it."""
    path = FIXTURES / "error-report-sd3-prompt-the-log-starts-inside.log"
    text = str(run_cli("analyze", str(path), text=True, columns=120).stdout)
    flat = " ".join(_breakdown(text).split())
    assert "prompts 4:15 in all, 32.1s of it before the log's first line (not in the log)" in flat, flat
    assert re.search(r"not timed\s+30\.1s", flat), flat
    page = " ".join(render_html(analyze(path)).split())
    assert "32.1s of it before the log&#x27;s first line" in page


def test_a_text_encoder_s_weights_loaded_into_its_layers_are_load(each_segmenter: str) -> None:
    """patientx-cfz/comfyui-rocm#114 (tests/fixtures/rocm-flux2-text-encoder-missing-weight.log, field6 09): 7 s from
    `Using MixedPrecisionOps for text encoder` (comfy/sd1_clip.py, as it builds the text encoder) to comfy/ops.py's
    `Missing weight for layer model.lm_head` (printed as the state dict is loaded into the model's layers) were not
    timed: no row read that line, so its time was other work, and the prompt loaded models but drew no bar."""
    report = analyze(FIXTURES / "rocm-flux2-text-encoder-missing-weight.log")
    first = report.prompts[0]
    assert first.total_s == pytest.approx(9.0)
    assert first.phases.load == pytest.approx(8.0)  # 1 s of the VAE, 7 s of the text encoder's weights
