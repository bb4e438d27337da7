"""Every line-prefix style of ../shared/notes/formats.md, detected per line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from comfylog.parse.native import native_module
from comfylog.pipeline import analyze_paths, analyze_text
from comfylog.read.lines import open_input, read_lines, read_text
from comfylog.read.prefixes import MINUTE, PrefixReader, compose_prefixed
from comfylog.render.json import render_json

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("line", "text", "ts", "style"),
    [
        ("got prompt", "got prompt", None, "none"),
        ("[2024-03-23 21:53] got prompt", "got prompt", datetime(2024, 3, 23, 21, 53), "manager-min"),
        ("[2025-10-22 18:04:30.118] got prompt", "got prompt", datetime(2025, 10, 22, 18, 4, 30, 118000),
         "manager-ms"),
        ("2024-12-17T21:15:37.373432 - got prompt", "got prompt", datetime(2024, 12, 17, 21, 15, 37, 373432),
         "error-report"),
        ("2025-10-23T16:28:02.618719777Z Sampling 121 frames", "Sampling 121 frames",
         datetime(2025, 10, 23, 16, 28, 2, 618719), "docker"),
        ("[INFO] got prompt", "got prompt", None, "none"),
        ("ERROR:root:!!! Exception during processing !!!", "!!! Exception during processing !!!", None, "none"),
        ('{"requestId": "sync-1", "message": "Started.", "level": "INFO"}', "Started.", None, "none"),
        ("20:46:09 got prompt", "got prompt", datetime(1900, 1, 1, 20, 46, 9), "time-only"),
        ("[20:46:09] got prompt", "got prompt", datetime(1900, 1, 1, 20, 46, 9), "time-only"),
        # docker time outside, Manager time inside: the docker (UTC) time wins, both are stripped
        ("2025-10-22T18:04:30.000000000Z [2025-10-22 20:04:30.118] got prompt", "got prompt",
         datetime(2025, 10, 22, 18, 4, 30), "docker"),
        ("2025-10-22T20:46:04.036567863Z {\"requestId\": null, \"message\": \"Jobs in queue: 1\", \"level\": \"INFO\"}",
         "Jobs in queue: 1", datetime(2025, 10, 22, 20, 46, 4, 36567), "docker"),
        # error reports before Nov 2024 used logging's default formatter
        ("2024-10-01 12:34:56,789 - root - INFO - got prompt", "got prompt",
         datetime(2024, 10, 1, 12, 34, 56, 789000), "error-report"),
        # the Krita AI Diffusion plugin's server.log (github.com/Acly/krita-ai-diffusion issue #169, DirectML)
        ("2023-11-26 18:59:33,878 INFO got prompt", "got prompt", datetime(2023, 11, 26, 18, 59, 33, 878000),
         "error-report"),
        ("2023-11-26 19:56:22,847 INFO Set vram state to: NORMAL_VRAM", "Set vram state to: NORMAL_VRAM",
         datetime(2023, 11, 26, 19, 56, 22, 847000), "error-report"),
        # print() writes its newline separately: the newline's own "<time> - " ends the line
        ("2024-12-17T21:15:37.373432 - got prompt2024-12-17T21:15:37.373501 - ", "got prompt",
         datetime(2024, 12, 17, 21, 15, 37, 373432), "error-report"),
        # a print() of several arguments glues the stamp of each write inside the line (a Windows portable
        # build's error report, github.com/Comfy-Org/ComfyUI issue #10903)
        ("2025-11-27T00:45:36.444325 - ** Platform:2025-11-27T00:45:36.444873 -  2025-11-27T00:45:36.444976 - "
         "Windows2025-11-27T00:45:36.445076 - ", "** Platform: Windows",
         datetime(2025, 11, 27, 0, 45, 36, 444325), "error-report"),
        # pasted into an issue, a bar's CR became a line break: the bar's line holds only the next write's
        # stamp (tests/fixtures/error-report-pasted-bars.log, github.com/pytorch/pytorch issue #141287)
        ("100%|██████████| 8/8 [00:43<00:00,  5.35s/it]2026-08-03T18:06:33.345523 - ",
         "100%|██████████| 8/8 [00:43<00:00,  5.35s/it]", datetime(2026, 8, 3, 18, 6, 33, 345523), "error-report"),
        # runpod-python's plain (non-JSON) logger, and its TIP level (rp_tips.py)
        ("INFO   | sync-6f0a1c52-e1 | Started.", "Started.", None, "none"),
        ("INFO   | Jobs in queue: 1", "Jobs in queue: 1", None, "none"),
        ("TIP    | Your return body is 21.5 MB which exceeds the 20 MB limit. Consider using S3 upload and "
         "returning the object's URL instead.", "Your return body is 21.5 MB which exceeds the 20 MB limit. "
         "Consider using S3 upload and returning the object's URL instead.", None, "none"),
        # runpod 1.12 puts a batch job's id before its messages
        ('{"requestId": "sync-6f0a1c52-e1", "message": "[batchId=6f0a1c52] Started.", "level": "INFO"}',
         "Started.", None, "none"),
        # RunPod's console today: a docker-like time, then its lower-case level
        ("2026-06-04T13:16:48.452Z [error] Worker is unhealthy, exiting.", "Worker is unhealthy, exiting.",
         datetime(2026, 6, 4, 13, 16, 48, 452000), "docker"),
        # RunPod's web console (a copy of it: read/console.py reverses its rows)
        ("2025-11-10  21:50:27.563 | info | x4twfmpe23foac | got prompt", "got prompt",
         datetime(2025, 11, 10, 21, 50, 27, 563000), "runpod-console"),
        # RunPod's log stream (API v2), alone or as an SSE data field; an offset is turned into UTC
        ('{"source": "container", "line": "got prompt", "ts": "2025-11-10T21:50:27.563123456Z"}', "got prompt",
         datetime(2025, 11, 10, 21, 50, 27, 563123), "runpod-stream"),
        ('data: {"source": "container", "line": "[2025-11-10 23:50:27.100] got prompt", '
         '"ts": "2025-11-10T23:50:27+02:00"}', "got prompt", datetime(2025, 11, 10, 21, 50, 27), "runpod-stream"),
        # SwarmUI's pasted server log (AdminAPI.LogSubmitToPastebin), a line of the ComfyUI it started
        # (github.com/mcmonkeyprojects/SwarmUI issue #873), and one of its own; its console's time-only form (#226)
        ("2025-07-06 22:22:31.167 [Debug] [ComfyUI-0/STDERR] To see the GUI go to: http://127.0.0.1:7821",
         "To see the GUI go to: http://127.0.0.1:7821", datetime(2025, 7, 6, 22, 22, 31, 167000), "swarmui"),
        ("2025-07-06 22:22:31.444 [Init] Self-Start ComfyUI-0 on port 7821 started.",
         "Self-Start ComfyUI-0 on port 7821 started.", datetime(2025, 7, 6, 22, 22, 31, 444000), "swarmui"),
        # ... and the process tag alone, as lines of its log view are copied (#1214)
        ("[ComfyUI-0/STDERR] ComfyUI version: 0.7.0", "ComfyUI version: 0.7.0", None, "none"),
        ("15:20:23.712 [Init] === SwarmUI v0.9.2.2 Starting at 2024-08-30 15:20:23 ===",
         "=== SwarmUI v0.9.2.2 Starting at 2024-08-30 15:20:23 ===", datetime(1900, 1, 1, 15, 20, 23, 712000),
         "time-only"),
        # ComfyUI Desktop's electron-log (github.com/Comfy-Org/ComfyUI issue #5581): `[info]` padded to `[error]`'s
        # width, and the renderer's word before a chunk of ComfyUI's output
        ("[2024-11-15 17:55:34.998] [info]  Received log message: ** ComfyUI startup time: 2024-11-15 17:55:34.993841",
         "** ComfyUI startup time: 2024-11-15 17:55:34.993841", datetime(2024, 11, 15, 17, 55, 34, 998000),
         "manager-ms"),
        ("[2024-11-15 17:55:35.154] [info]  Ping failed. Retrying...", "Ping failed. Retrying...",
         datetime(2024, 11, 15, 17, 55, 35, 154000), "manager-ms"),
        ("[2024-11-15 17:55:35.153] [error] Failed to connect to server at http://127.0.0.1:8000/queue: connect "
         "ECONNREFUSED 127.0.0.1:8000", "Failed to connect to server at http://127.0.0.1:8000/queue: connect "
         "ECONNREFUSED 127.0.0.1:8000", datetime(2024, 11, 15, 17, 55, 35, 153000), "manager-ms"),
        # Ray's driver before a worker's line (ray-project/ray doc/source/ray-observability/ray-logging.rst:
        # `(pid=45601) task`, `(MyActor pid=480956) actor log message`; python/ray/_private/worker.py
        # print_worker_logs adds `, ip=...` for a worker on another node)
        ("(pid=45601) task", "task", None, "none"),
        ("(MyActor pid=480956) actor log message", "actor log message", None, "none"),
        ("(RayWorker pid=3787908, ip=10.0.0.2) Requested to load WanVAE", "Requested to load WanVAE", None, "none"),
        # a worker's bar through Ray's tqdm (python/ray/experimental/tqdm_ray.py: the driver's desc is
        # "(pid=N) " + desc + " " + str(position)): the label loses Ray's prefix and the position (field6 08)
        ("(pid=3787908)  0: 100%|█████| 20.0/20.0 [01:26<00:00, 4.66s/it]Requested to load WanVAE",
         "100%|█████| 20.0/20.0 [01:26<00:00, 4.66s/it]Requested to load WanVAE", None, "none"),
        ("(pid=3787908, ip=10.0.0.2) VAE decode 1:  50%|██  | 1/2 [00:02<00:02,  2.00s/it]",
         "VAE decode:  50%|██  | 1/2 [00:02<00:02,  2.00s/it]", None, "none"),
        # not Ray's: a parenthesis of prose, and a worker's own tqdm the log monitor relayed (no position)
        ("(pid 12) is not a Ray prefix", "(pid 12) is not a Ray prefix", None, "none"),
        ("(RayWorker pid=3787908) Sampling:  50%|██  | 1/2 [00:02<00:02,  2.00s/it]",
         "Sampling:  50%|██  | 1/2 [00:02<00:02,  2.00s/it]", None, "none"),
        # the API docs' own event: compact JSON, ts first
        ('data: {"ts":"2026-06-01T12:02:03Z","source":"container","line":"Model loaded."}', "Model loaded.",
         datetime(2026, 6, 1, 12, 2, 3), "runpod-stream"),
    ],
)
def test_prefix_styles(line: str, text: str, ts: datetime | None, style: str) -> None:
    got = PrefixReader().read(line)
    assert (got.text, got.ts, got.style) == (text, ts, style)


def test_manager_minute_prefix_is_marked_coarse() -> None:
    assert PrefixReader().read("[2024-03-23 21:53] got prompt").resolution == MINUTE
    assert PrefixReader().read("[2025-10-22 18:04:30.118] got prompt").resolution == 0.0


def test_time_only_prefixes_roll_over_at_midnight() -> None:
    reader = PrefixReader()
    times = [reader.read(f"[{t}] x").ts for t in ("23:59:58", "23:59:59", "00:00:01", "00:00:02")]
    assert times[2] == datetime(1900, 1, 2, 0, 0, 1)
    assert times == sorted(times)


def test_json_line_that_is_not_a_runpod_log_is_kept_as_text() -> None:
    line = '{"prompt": {"3": {"class_type": "KSampler"}}}'
    assert PrefixReader().read(line).text == line


@pytest.mark.parametrize(
    "line", ["2024-99-99T10:00:00Z got prompt", "[2024-02-30 10:00] got prompt", "2024-01-01T25:00:00 - got prompt"]
)
def test_an_impossible_prefix_time_gives_no_time_instead_of_a_crash(line: str) -> None:
    got = PrefixReader().read(line)
    assert (got.text, got.ts) == ("got prompt", None)


def test_pasted_error_report_bars_time_their_sampling(each_segmenter: str) -> None:
    """Each bar of a pasted error report is timed by the stamp after it, so its sampling is inference
    (tests/fixtures/error-report-pasted-bars.log: two prompts sampled 8 steps in 0:43-0:44, then printed
    `Prompt executed in 46.47 seconds`; without the bar's time their 44 s were `other`)."""
    report = analyze_paths([str(FIXTURES / "error-report-pasted-bars.log")])
    received = [p for p in report.prompts if p.received]
    assert [p.status for p in received] == ["ok", "unfinished"]
    assert [round(p.phases.inference or 0, 1) for p in received] == [43.7, 44.0]
    assert received[0].phases.other == pytest.approx(46.475 - 43.68, abs=0.01)


COMPOSE_LOG = FIXTURES / "docker-compose-rocm-hip-exception.log"


def test_docker_compose_output_is_read_without_its_service_prefix(each_segmenter: str) -> None:
    """`docker compose` puts `comfyui-rocm  | ` before every line (tests/fixtures/docker-compose-rocm-hip-exception.log,
    YanWenKun/ComfyUI-Docker#122): taken off, the traceback is read to its last line and no evidence carries it."""
    source, lines = read_lines(str(COMPOSE_LOG))
    assert next(lines).text.startswith("!!! Exception") and source.compose_prefixed  # decided before the first line
    assert open_input(str(COMPOSE_LOG), blocks=True).source.compose_prefixed  # the native scanner is told
    report = analyze_paths([str(COMPOSE_LOG)])
    assert report.runs[0].last_line == 9  # the traceback (lines 6-9) is read: with the prefix it was not
    (found,) = [f for f in report.findings if f.id == "exception"]
    assert [ev.text.startswith("!!! Exception during processing !!! HIP error") for ev in found.evidence] == [True]


def test_compose_colour_codes_and_timestamps_around_the_prefix_come_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose colours the whole prefix (cmd/formatter/colors.go: `\\x1b[36m` ... `\\x1b[0m`), and with
    `--timestamps` a docker stamp follows it (cmd/formatter/logs.go): both are read as without compose, by the
    Python reader and the native scanner alike."""
    lines = COMPOSE_LOG.read_text("utf-8").splitlines()
    coloured = "".join(f"\x1b[36m{line[:16]}\x1b[0m{line[16:]}\n" for line in lines)
    stamped = "".join(f"{line[:16]}2025-08-12T10:00:0{i}.000000000Z {line[16:]}\n" for i, line in enumerate(lines))
    plain = analyze_text(COMPOSE_LOG.read_text("utf-8"))
    for text in (coloured, stamped):
        report = analyze_text(text)
        assert [(e.kind, e.message) for e in report.errors] == [(e.kind, e.message) for e in plain.errors]
        assert report.runs[0].last_line == 9
    assert analyze_text(stamped).sources[0].timestamp_styles == {"docker": 9}
    for text in (coloured, stamped):
        reports = []
        for scanner in ("python", "native") if native_module() is not None else ():
            monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
            reports.append(render_json(analyze_text(text)))
        assert len(set(reports)) <= 1


def test_a_log_is_compose_output_only_when_most_of_its_lines_say_so() -> None:
    """runpod-python's `INFO   | ` (rp_logger.py) has compose's shape but is a level, and one `Name   | value` line of a
    node's table does not make a log compose output."""
    lines = COMPOSE_LOG.read_text("utf-8").splitlines()
    assert compose_prefixed(lines)
    assert compose_prefixed(["Attaching to comfyui-rocm", *lines[:2]])  # compose's own line before the services'
    assert not compose_prefixed(["INFO   | sync-6f0a1c52-e1 | Started.", "INFO   | Jobs in queue: 1",
                                 "DEBUG  | Handler output: {}"])
    assert not compose_prefixed(["got prompt", "Model       | Size", "model.safetensors | 6.5 GB",
                                 "Requested to load SDXL", "loaded completely 9.5 4897.05 True"])
    table = "got prompt\nModel       | Size\nRequested to load SDXL\n"
    source, lines = read_text(table)
    assert [raw.text for raw in lines][1] == "Model       | Size" and not source.compose_prefixed


def test_a_swarmui_log_of_comfyui_is_read(each_segmenter: str) -> None:
    """SwarmUI's server log of ComfyUI-Zluda (tests/fixtures/swarmui-zluda-stderr-cp437-bars.log, patientx/ComfyUI-Zluda
    #39): every line's `<date> <time> [Debug] [ComfyUI-1/STDERR] ` is its time, and the bar's cp437 blocks are repaired,
    so the excerpt is a ComfyUI log (it was refused) and its 20-step bar times its sampling."""
    report = analyze_paths([str(FIXTURES / "swarmui-zluda-stderr-cp437-bars.log")])
    source = report.sources[0]
    assert source.timestamp_styles == {"swarmui": 11} and source.repaired_mojibake == 16
    [bar] = report.progress_bars
    assert (bar.kind, bar.done, bar.total, bar.final_rate, bar.rate_unit) == ("sampling", 7, 20, 8.89, "s/it")
    [prompt] = report.prompts
    assert prompt.status == "unfinished" and prompt.phases.inference == pytest.approx(62.23)
    # it starts and ends inside that prompt: an excerpt, not a silent crash
    assert [f.id for f in report.findings] == ["unfinished"] and "an excerpt" in report.findings[0].why


def test_swarmui_s_process_tag_alone_is_a_prefix(each_segmenter: str) -> None:
    """github.com/mcmonkeyprojects/SwarmUI issue #1214 (tests/fixtures/swarmui-process-tag-no-time.log): each line
    of ComfyUI's start-up under SwarmUI behind `[ComfyUI-0/STDERR] ` alone (no time, no level). The device and
    versions, anchored rows, were missed (`GPU —`, `versions —`)."""
    report = analyze_paths([str(FIXTURES / "swarmui-process-tag-no-time.log")])
    (run,) = report.runs
    assert run.device == "cuda:0 AMD Radeon(TM) Graphics : native"
    assert (run.comfyui_version, run.pytorch_version) == ("0.7.0", "2.9.0+rocmsdk20251116")
    assert run.total_vram_mb == 12461


def test_a_comfyui_desktop_log_is_read(each_segmenter: str) -> None:
    """ComfyUI Desktop's main.log (tests/fixtures/desktop-electron-received-log-message.log, Comfy-Org/ComfyUI #5581):
    electron-log's padded `[info]  ` and the renderer's `Received log message: ` go, so ComfyUI's own text reads
    (Manager's prestartup times, 3.5 s)."""
    _, lines = read_lines(str(FIXTURES / "desktop-electron-received-log-message.log"))
    reader = PrefixReader()
    texts = [reader.read(raw.text).text for raw in lines]
    assert texts[0] == "[START] Security scan" and texts[3] == "** ComfyUI startup time: 2024-11-15 17:55:34.993841"
    assert texts[-1] == "Ping failed. Retrying..."
    [run] = analyze_paths([str(FIXTURES / "desktop-electron-received-log-message.log")]).runs
    assert run.prestartup_s == 3.5 and run.setup["platform"] == "Windows"


def test_a_ray_worker_s_bar_redrawn_reads_alike_in_both_scanners(monkeypatch: pytest.MonkeyPatch) -> None:
    """field6 08's bar (tests/fixtures/bar-glued-request-then-partial-load.log) as the driver redraws it, each state
    after a CR with Ray's `(pid=N) ` again, read by the Python reader and the native scanner alike: one sampler bar
    with no label, its request glued after it."""
    real = (FIXTURES / "bar-glued-request-then-partial-load.log").read_text(encoding="utf-8").split("\n")
    head, glued = real[0].split("]Requested", 1)
    states = [f"(pid=3787908)  0:  {p:>2}%|          | {n:.1f}/20.0 [00:{n // 4:02.0f}<01:00,  4.66s/it]"
              for n, p in ((0.0, 0), (5.0, 25), (10.0, 50))]
    text = "\r".join([*states, head + "]Requested" + glued]) + "\n" + "\n".join(real[1:])
    outputs = []
    for scanner in ("python", "native") if native_module() is not None else ("python",):
        monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
        report = analyze_text(text)
        assert [(b.label, b.done, b.total) for b in report.progress_bars] == [(None, 20, 20)]
        assert report.loads[0].model == "WanVAE"
        outputs.append(render_json(report))
    assert len(set(outputs)) == 1
