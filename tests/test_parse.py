"""Lines -> events: the message table, tqdm bars, glued messages, tracebacks, lowvram counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfylog.api import analyze
from comfylog.events import Event, EventKind
from comfylog.parse import parse
from comfylog.pipeline import analyze_text
from comfylog.read.lines import read_lines
from comfylog.read.source import RawLine

from .conftest import CORPUS, FIXTURES, corpus_or_skip


def events_of(text: str) -> list[Event]:
    lines = [RawLine(i, t) for i, t in enumerate(text.split("\n"), 1)]
    return [item for item in parse(lines) if isinstance(item, Event)]


def test_glued_prompt_after_a_zero_percent_state_is_a_prompt_and_the_bar_goes_on() -> None:
    """004: `got prompt` is logged mid-bar; the bar's states continue on the next line."""
    report = analyze(FIXTURES / "004-glued-prompt-mid-bar.log")
    assert report.summary.got_prompt == 5
    assert [p.executed_s for p in report.prompts if p.executed_s] == [53.88, 8.26, 8.54]
    bars = [(b.total, b.done, b.final_rate, b.rate_unit) for b in report.progress_bars]
    assert bars == [(8, 8, 1.01, "s/it"), (8, 8, 1.05, "it/s"), (8, 8, 1.01, "it/s")]
    # The mid-bar `got prompt` queued a new prompt; the bar belongs to the prompt being executed.
    assert [b.prompt for b in report.progress_bars] == [0, 1, 2]


def test_glued_got_prompt_loading_counts_the_prompt_and_the_load_message() -> None:
    events = events_of("got promptLoading 1 new model")
    assert [e.kind for e in events] == [EventKind.PROMPT_RECEIVED, EventKind.LOAD_BATCH]


def test_custom_got_prompt_debug_lines_are_not_prompts() -> None:
    assert events_of("got prompt: {'3': {'inputs': {}}}") == []


def test_bar_labels_and_close_redraw_on_one_line() -> None:
    line = ("Sampling:  96%|#########6| 24/25 [00:30<00:01,  1.24s/it]\rSampling: 100%|##########| 25/25 "
            "[00:31<00:00,  1.24s/it]\rSampling: 100%|##########| 25/25 [00:31<00:00,  1.28s/it]")
    (bar,) = [e for e in events_of(line) if e.kind is EventKind.PROGRESS_BAR]
    assert bar.fields["label"] == "Sampling"
    assert (bar.fields["total"], bar.fields["final_rate"], bar.fields["rate_unit"]) == (25, 1.28, "s/it")
    assert bar.fields["states"] == 3


def test_close_redraw_on_its_own_docker_line_is_the_same_bar() -> None:
    text = ("2025-10-22T20:55:30.038903733Z 100%|##########| 2/2 [03:43<00:00, 110.98s/it]\n"
            "2025-10-22T20:55:30.040824402Z 100%|##########| 2/2 [03:43<00:00, 111.62s/it]")
    (bar,) = [e for e in events_of(text) if e.kind is EventKind.PROGRESS_BAR]
    assert bar.fields["final_rate"] == 111.62


def test_close_redraw_at_a_later_elapsed_time_is_the_same_bar(each_segmenter: str) -> None:
    """robertvoy/ComfyUI-Distributed#66 (tests/fixtures/bar-close-redraw-later-elapsed.log, a paste: every
    state on a line of its own): `4/4 [03:50<00:00, 57.68s/it]` then tqdm's close() redraw `4/4
    [04:19<00:00, 64.88s/it]`. One bar of 4:19, not two bars whose 8:10 of sampling the prompt never did; its rate the
    steps' (57.68 s/it at the last step), not the close's average with the 29 s after the last step in it."""
    report = analyze(FIXTURES / "bar-close-redraw-later-elapsed.log")
    (bar,) = report.progress_bars
    assert (bar.done, bar.total, bar.elapsed_s, bar.final_rate) == (4, 4, 259.52, 57.68)
    (prompt,) = report.prompts
    assert prompt.phases is not None and prompt.phases.inference == 259.52


def test_a_second_complete_state_after_a_close_redraw_is_a_new_bar() -> None:
    """Only the first completed state of a bar drawn a state a line takes a later-timed redraw: a bar
    drawn as its last state alone (an error report's) stays apart from the next one."""
    text = "\n".join([
        "  0%|          | 0/4 [00:00<?, ?it/s]",
        "100%|##########| 4/4 [00:10<00:00,  2.50s/it]",
        "100%|##########| 4/4 [00:11<00:00,  2.75s/it]",
        "100%|##########| 4/4 [00:12<00:00,  3.00s/it]",
        "100%|##########| 4/4 [00:09<00:00,  2.25s/it]",
        "100%|##########| 4/4 [00:10<00:00,  2.50s/it]",
    ])
    bars = [e for e in events_of(text) if e.kind is EventKind.PROGRESS_BAR]
    assert [b.fields["elapsed_s"] for b in bars] == [11, 12, 9, 10]


def test_completed_bars_on_consecutive_lines_are_separate_bars() -> None:
    """011: four 10-step bars, each line holding its last update and its close redraw."""
    line = "\r100%|#| 10/10 [00:04<00:00,  2.53it/s]\r100%|#| 10/10 [00:04<00:00,  2.4{}it/s]"
    bars = [e for e in events_of("\n".join(line.format(i) for i in (7, 9, 8, 8))) if e.kind is EventKind.PROGRESS_BAR]
    assert [b.fields["final_rate"] for b in bars] == [2.47, 2.49, 2.48, 2.48]


def test_new_bar_when_count_goes_down_or_total_changes() -> None:
    text = "\n".join([
        " 50%|#| 1/2 [00:01<00:01,  1.00it/s]",
        "  0%| | 0/2 [00:00<?, ?it/s]",
        " 33%|#| 1/3 [00:01<00:02,  1.00it/s]",
    ])
    bars = [e for e in events_of(text) if e.kind is EventKind.PROGRESS_BAR]
    assert [(b.fields["total"], b.fields["done"]) for b in bars] == [(2, 1), (2, 0), (3, 1)]


def test_download_bar_with_si_units() -> None:
    (bar,) = [e for e in events_of("model.safetensors: 100%|#####| 1.23G/1.23G [00:10<00:00, 123MB/s]")
              if e.kind is EventKind.PROGRESS_BAR]
    assert bar.fields["total"] == 1.23e9 and bar.fields["rate_unit"] == "MB/s"
    assert bar.fields["label"] == "model.safetensors"


def test_traceback_is_one_event_with_its_exception_line() -> None:
    text = "\n".join([
        "Traceback (most recent call last):",
        '  File "/comfy/execution.py", line 152, in recursive_execute',
        "    output_data, output_ui = get_output_data(obj, input_data_all)",
        "torch.OutOfMemoryError: Allocation on device 0 would exceed allowed memory. (out of memory)",
        "got prompt",
    ])
    events = events_of(text)
    assert [e.kind for e in events] == [EventKind.TRACEBACK, EventKind.PROMPT_RECEIVED]
    tb = events[0]
    assert (tb.line, tb.end_line, tb.fields["oom"]) == (1, 4, True)
    assert tb.fields["exception_type"] == "torch.OutOfMemoryError"


def test_chained_tracebacks_stay_one_event() -> None:
    text = "\n".join([
        "Traceback (most recent call last):", '  File "a.py", line 1, in f', "KeyError: 'x'", "",
        "During handling of the above exception, another exception occurred:", "",
        "Traceback (most recent call last):", '  File "b.py", line 2, in g', "ValueError: bad", "got prompt",
    ])
    events = events_of(text)
    assert [e.kind for e in events] == [EventKind.TRACEBACK, EventKind.PROMPT_RECEIVED]
    assert events[0].fields["exception_type"] == "ValueError" and events[0].end_line == 9


def test_traceback_ends_on_its_exception_line_not_the_blank_lines_after_it() -> None:
    events = events_of("Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'x'\n\n\ngot prompt")
    assert (events[0].end_line, events[0].fields["exception_line"]) == (3, 3)


def test_cut_traceback_does_not_swallow_the_next_message() -> None:
    events = events_of("Traceback (most recent call last):\n  File \"a.py\", line 1\ngot prompt")
    assert [e.kind for e in events] == [EventKind.TRACEBACK, EventKind.PROMPT_RECEIVED]


def test_lowvram_module_lines_are_counted_not_stored() -> None:
    text = "\n".join(["loaded partially 128.0 125.5274658203125 0"]
                     + ["lowvram: loaded module regularly decoder.head.0 RMS_norm()"] * 500 + ["got prompt"])
    events = events_of(text)
    assert [e.kind for e in events] == [EventKind.LOADED_PARTIALLY, EventKind.LOWVRAM_MODULES,
                                        EventKind.PROMPT_RECEIVED]
    assert events[1].fields["count"] == 500 and (events[1].line, events[1].end_line) == (2, 501)


def test_prompt_executed_hms_form() -> None:
    (event,) = events_of("Prompt executed in 1:02:03")
    assert event.fields["hms"] == 3723.0


def test_old_error_root_exception_takes_its_message_from_the_traceback() -> None:
    corpus_or_skip()
    report = analyze(CORPUS / "logs" / "009-rendord-gtx1060-sdxl-refiner.log")
    (error,) = [e for e in report.errors if e.kind == "exception"]
    assert error.message.startswith("FileNotFoundError: [Errno 2] No such file or directory")
    assert error.line == 73


def test_oom_exception_traceback_and_unload_message_are_one_error() -> None:
    """019: `!!! Exception ... (out of memory)`, its traceback and `Got an OOM` are one incident."""
    corpus_or_skip()
    report = analyze(CORPUS / "logs" / "019-pogchan-gtx1660ti-lowvram-zimage.log")
    ooms = [e for e in report.errors if e.kind == "oom"]
    assert len(ooms) == 1
    assert "Allocation on device 0 would exceed allowed memory" in ooms[0].message
    prompt = report.prompts[ooms[0].prompt]
    assert prompt.status == "error"


def test_every_corpus_log_parses_without_skipping(tmp_path: Path) -> None:
    corpus_or_skip()
    for path in sorted((CORPUS / "logs").glob("*.log")):
        source, lines = read_lines(str(path))
        items = list(parse(lines))
        assert items, path.name
        assert source.replaced_bytes == 0, path.name


@pytest.mark.parametrize("text", ["", "\n\n\n", "\r\r\r", "100%|", "Traceback (most recent call last):"])
def test_degenerate_inputs(text: str) -> None:
    report = analyze_text(text)
    assert report.summary.got_prompt == 0


@pytest.mark.parametrize(("line", "attention"), [
    # 007, 008, 010, 012 print the sub-quadratic line with its advice after a comma.
    ("Using sub quadratic optimization for cross attention, if you have memory or speed issues try using: "
     "--use-split-cross-attention", "sub quadratic"),
    ("Using split optimization for attention", "split"),
    ("Using pytorch attention", "pytorch"),
    ("Using sage attention", "sage"),
])
def test_attention_setting_is_the_kernel_name(line: str, attention: str) -> None:
    report = analyze_text(f"Total VRAM 8192 MB, total RAM 16384 MB\n{line}\nUsing split attention in VAE\n")
    assert report.runs[0].setup["attention"] == attention
