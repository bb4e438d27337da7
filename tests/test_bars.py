"""Which progress bar is the sampler's (parse/bars.py, the ``[[bar]]`` rows of messages.toml).

045 (Wan InfiniteTalk on an A100) showed ``588/588 (+5) 16.50it/s`` as its prompt's steps: the VAE
encoding its input video, while the sampler died at 0/2; its Hugging Face download counted as
inference. A bar takes the phase of the work it counts: the sampler's steps are inference, loading
and downloads load, a VAE / text encoder / mask / audio step other.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from comfylog.api import analyze
from comfylog.compare import compare_reports
from comfylog.events import Phase
from comfylog.index import index_of
from comfylog.model import BarKind, ProgressBar, Prompt, Report
from comfylog.parse import bars, native
from comfylog.parse.bars import BAR_ROWS, bar_kind, bar_row, load_bar_rows
from comfylog.parse.parser import OpenBar
from comfylog.parse.table import TableError
from comfylog.watch.live import phase_now

from .conftest import CORPUS, FIXTURES, corpus_log, corpus_or_skip

#: Lines of 045 (tests/fixtures/README.md): every bar of its one prompt, the sampler's last.
WAN = FIXTURES / "wan-infinitetalk-bars.log"


def kinds(report: Report) -> list[tuple[str | None, BarKind]]:
    return [(b.label, b.kind) for b in report.progress_bars]


def seconds_painted(prompt: Prompt, start: datetime, end: datetime, phase: Phase) -> float:
    """Seconds of ``start``-``end`` that the prompt's spans give to ``phase``."""
    return sum(max(0.0, (min(s.end, end) - max(s.start, start)).total_seconds())
               for s in prompt.spans if s.phase is phase)


# ---- the table ---------------------------------------------------------------------------------------


def test_every_row_takes_its_own_examples_and_names_its_source() -> None:
    assert BAR_ROWS
    for row in BAR_ROWS:
        assert row.examples and row.source.strip(), row.name
        for label in row.examples:
            assert bar_row(label) is row, (row.name, label, bar_row(label))
            assert bar_kind(label, "it/s") is row.kind


def test_row_examples_are_labels_real_logs_print() -> None:
    """tqdm prints ``desc: `` before the percentage: each example is a label in a corpus log, or in a
    line rendered from its source's format code in tests/fixtures/upstream-messages.txt."""
    upstream = (FIXTURES / "upstream-messages.txt").read_text(encoding="utf-8")
    logs = sorted((CORPUS / "logs").glob("*.log"))
    text = "\n".join([upstream, *(p.read_text(encoding="utf-8", errors="replace") for p in logs)])
    for row in BAR_ROWS:
        for label in row.examples:
            if f"{label}: " not in text and not logs:
                corpus_or_skip()
            assert f"{label}: " in text, (row.name, label)


def test_every_labelled_bar_of_the_corpus_has_a_row() -> None:
    """No label of a real log falls to the default for unknown labels (other work) unnoticed."""
    corpus = corpus_or_skip()
    logs = sorted((corpus / "logs").glob("*.log")) + sorted((corpus / "scenarios").glob("*.log"))
    unknown = {(log.name, b.label) for log in logs for b in analyze(log).progress_bars
               if b.label is not None and not b.rate_unit.endswith("B/s") and bar_row(b.label) is None}
    assert not unknown


@pytest.mark.parametrize(("raw", "says"), [
    ("[[bar]]\nname = 'x'\nkind = 'inference'\nregex = 'x'\nexamples = ['x']\nsource = 'y'\n", "is not one of"),
    ("[[bar]]\nname = 'x'\nkind = 'other'\nregex = 'x'\nexamples = ['x']\n", "expected"),
])
def test_a_bad_bar_row_is_refused_with_what_to_do(raw: str, says: str) -> None:
    with pytest.raises(TableError, match=says):
        load_bar_rows(raw)


# ---- 045: the VAE is not the sampler ----------------------------------------------------------------


def test_045s_bars_are_loading_other_work_and_the_sampler_last() -> None:
    report = analyze(WAN)
    assert kinds(report) == [
        ("Fetching 5 files", BarKind.LOADING),  # huggingface_hub's snapshot download: files, not steps
        ("Loading weights", BarKind.LOADING),
        ("Processing chunks", BarKind.OTHER),
        ("WanVAE encoding frames", BarKind.OTHER),
        ("Loading T5 parameters", BarKind.LOADING),
        ("T5Encoder", BarKind.OTHER),
        ("T5Encoder", BarKind.OTHER),
        ("Loading transformer parameters to cuda:0", BarKind.LOADING),
        ("Sampling audio indices 0-81", BarKind.SAMPLING),
    ]


WAN_WHOLE = CORPUS / "logs" / "045-abhishekmanyam-runpod-a100-wan-infinitetalk-801frames.log"


@pytest.mark.parametrize("path", [WAN, WAN_WHOLE], ids=["excerpt", "corpus"])
def test_045s_steps_are_the_samplers_0_of_2_not_the_vaes_588(path: Path) -> None:
    if not path.is_file():
        corpus_or_skip()
    report = analyze(path)
    index = index_of(report)
    (prompt,) = report.prompts
    assert index.main_bar_text(prompt) == ("0/2", "—")
    main = index.main_bar(prompt)
    assert main is not None and main.bar.label == "Sampling audio indices 0-81" and main.sampling_bars == 1
    # Inference is the sampler's bar only: from its start (line 272) to the prompt's end, nothing before.
    sampler = main.bar
    assert sampler.start is not None and prompt.ended_at is not None
    assert prompt.phases.inference == pytest.approx((prompt.ended_at - sampler.start).total_seconds(), abs=0.002)
    # The VAE's 35.6 s and the T5 encoder are other; the download is load.
    for bar in report.progress_bars:
        assert bar.start is not None and bar.end is not None
        painted = seconds_painted(prompt, bar.start, bar.end, bar.phase)
        assert painted == pytest.approx((bar.end - bar.start).total_seconds(), abs=0.002), bar.label
    vae = next(b for b in report.progress_bars if b.label == "WanVAE encoding frames")
    assert vae.phase is Phase.OTHER and vae.elapsed_s > 35
    fetch = next(b for b in report.progress_bars if b.label == "Fetching 5 files")
    assert fetch.phase is Phase.LOAD and prompt.phases.load is not None and prompt.phases.load >= fetch.elapsed_s


def test_the_bar_after_a_video_samplers_line_is_the_samplers_whatever_its_label(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, each_segmenter: str) -> None:
    """WanVideoWrapper announces its loop (``Sampling 801 frames in 12 windows, at 640x352 with 2
    steps``): the next bar is the sampler's even where no row knows its label; without that line the
    same label is some node's work. Both segmenters (the Rust one is handed the bar rows once per
    process: its cache is cleared to hand it the rows without the sampler's)."""
    monkeypatch.setattr(bars, "BAR_ROWS", tuple(r for r in BAR_ROWS if r.kind is not BarKind.SAMPLING))
    bars._label_kind.cache_clear()
    native._segmenter_tables.cache_clear()
    try:
        announced = analyze(WAN)
        assert kinds(announced)[-1] == ("Sampling audio indices 0-81", BarKind.SAMPLING)
        assert index_of(announced).main_bar_text(announced.prompts[0]) == ("0/2", "—")
        lines = WAN.read_bytes().splitlines(keepends=True)
        unannounced = tmp_path / "wan-infinitetalk-bars-unannounced.log"
        unannounced.write_bytes(b"".join(line for line in lines if b"Sampling 801 frames" not in line))
        cut = analyze(unannounced)
        assert kinds(cut)[-1] == ("Sampling audio indices 0-81", BarKind.OTHER)
        assert index_of(cut).main_bar_text(cut.prompts[0]) == ("—", "—")
    finally:
        bars._label_kind.cache_clear()
        native._segmenter_tables.cache_clear()


def test_compare_pairs_no_vae_bar_as_sampling_steps() -> None:
    """compare's per-step rows pair the sampler's bars by position: 045's download and encoder bars are
    not its bars 1 to 6 (``bar 1: 5 steps in the run, 30 in the baseline`` was the pairing)."""
    comparison = compare_reports(analyze(corpus_log("045")), analyze(corpus_log("015")))
    assert comparison.steps == []
    assert comparison.unmatched_steps == [
        "prompt 1 has 0 sampling bars with a step rate, baseline prompt 1 has 1"]  # 045's sampler never stepped


def test_the_live_view_calls_a_vae_bar_being_drawn_other_work() -> None:
    vae = OpenBar("WanVAE encoding frames", 300, 588, 16.5, "it/s", 18.0, 227, None)
    sampler = OpenBar(None, 1, 20, 1.3, "s/it", 1.0, 300, None)
    assert phase_now(None, vae, False) is Phase.OTHER
    assert phase_now(None, sampler, False) is Phase.INFERENCE


# ---- other logs whose figures moved: each against its lines ------------------------------------------


def test_015s_vae_decode_after_sampling_is_other_time() -> None:
    """HunyuanVideoWrapper decodes in tiles after sampling (``Decoding rows``, ``Blending tiles``, lines
    80-81): each prompt's inference is its one 30-step bar, the decode is other."""
    report = analyze(corpus_log("015"))
    index = index_of(report)
    for prompt in report.prompts:
        (sampler,) = index.sampling_bars(prompt)
        assert sampler.label is None and sampler.total == 30
        assert index.main_bar_text(prompt)[0] == "30/30"
        assert prompt.phases.inference == pytest.approx(sampler.elapsed_s, abs=0.002)
        decode = [b for b in index.bars_of(prompt) if b.label in ("Decoding rows", "Blending tiles")]
        assert len(decode) == 2 and all(b.phase is Phase.OTHER for b in decode)


def test_011s_tiled_vae_bars_are_not_sampling_steps() -> None:
    """Minute stamps: inference is the sum of the samplers' own times (seven unlabelled bars), not the
    Tiled VAE's encoder and decoder queues (lines 114-138)."""
    report = analyze(corpus_log("011"))
    index = index_of(report)
    prompt = report.prompts[0]
    sampling = index.sampling_bars(prompt)
    assert len(sampling) == 7 and all(b.label is None for b in sampling)
    assert prompt.estimated and prompt.phases.inference == pytest.approx(sum(b.elapsed_s for b in sampling), abs=0.002)
    tiled = [b for b in index.bars_of(prompt) if b.label and b.label.startswith("[Tiled VAE]")]
    assert len(tiled) == 4 and all(b.kind is BarKind.OTHER for b in tiled)


def test_020s_mask_only_prompt_has_no_steps() -> None:
    """Prompt 1 of 020 ran a mask node only (``Expanding/Contracting Mask`` 1/1, line 183): no sampler."""
    report = analyze(corpus_log("020"))
    index = index_of(report)
    first = report.prompts[0]
    assert [b.label for b in index.bars_of(first)] == ["Expanding/Contracting Mask"]
    assert index.main_bar(first) is None and index.main_bar_text(first) == ("—", "—")
    assert first.phases.inference == 0.0


def test_a_bar_record_says_its_kind() -> None:
    bar = ProgressBar(0, "T5Encoder", 24, 24, 140.51, "it/s", 0.171, 231, 231, BarKind.OTHER)
    assert not bar.is_sampling and not bar.is_loading and bar.phase is Phase.OTHER


def test_a_node_s_labelled_sampling_loop_is_inference(each_segmenter: str) -> None:
    """field6 06 (tests/fixtures/scail2-chunk-bar-then-prompt-worker-dies.log): WanAnimatePlus's SCAIL-2 loop draws
    `SCAIL-2 chunk 1/3` around the chunk's sampling steps (its own next line: `sampling loop took 372.53s; steps=6`).
    It was read as a node's other work: the prompt showed no steps, and its 6:12 of sampling was not inference."""
    report = analyze(FIXTURES / "scail2-chunk-bar-then-prompt-worker-dies.log")
    assert kinds(report) == [("SCAIL-2 chunk 1/3", BarKind.SAMPLING)]
    (prompt,) = report.prompts
    index = index_of(report)
    assert index.main_bar_text(prompt) == ("6/6", "62.09s/it")
    assert prompt.phases.inference == pytest.approx(6 * 62.09, abs=0.01)


def test_a_ray_worker_s_sampler_bar_is_the_sampler_s(each_segmenter: str) -> None:
    """field6 08 (tests/fixtures/bar-glued-request-then-partial-load.log): raylight runs ComfyUI's sampler in a Ray
    actor with tqdm.auto's trange swapped for Ray's tqdm, whose bar the driver draws as `(pid=3787908)  0: 100%|…|`
    (Ray's prefix, the sampler's empty label, the bar's position). Its label was `(pid=3787908)  0`, other work."""
    report = analyze(FIXTURES / "bar-glued-request-then-partial-load.log")
    assert kinds(report) == [(None, BarKind.SAMPLING)]
    (bar,) = report.progress_bars
    assert (bar.done, bar.total, bar.final_rate, bar.rate_unit) == (20, 20, 4.66, "s/it")
    assert index_of(report).main_bar_text(report.prompts[0]) == ("20/20", "4.66s/it")
