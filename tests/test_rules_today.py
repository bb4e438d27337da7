"""Today's ComfyUI and RunPod findings (issue 13): each fires on its evidence and stays silent elsewhere.

No corpus log shows these situations (the corpus test in test_diagnose.py checks that none of them
fires there), so each is shown on a short fixture built from real upstream lines (tests/fixtures/
README.md says which; tests/fixtures/upstream-messages.txt quotes each line with its source), and
kept silent on the corpus logs that come closest to it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from comfylog.api import analyze, analyze_text
from comfylog.compare import compare_reports
from comfylog.diagnose.deaths import work_left
from comfylog.diagnose.facts import Facts
from comfylog.model import Finding, Report
from comfylog.read.lines import read_lines

from .cli import run_cli
from .conftest import FIXTURES, ROOT, corpus_or_skip, found, ids

#: The rules of issue 13 (and later ones on today's messages) and the fixture each fires on.
NEW_RULES = {
    "container-ram": "runpod-killed-for-ram.log",
    "comfyui-died": "worker-comfyui-died-loading.log",
    "pinned-memory-slow": "pinned-memory-slow-reloads.log",
    "cold-after-oom": "oom-then-cold-prompt.log",
    "staging-overcommit": "dynamic-vram-staging-oom.log",
    "vae-tiled-retry": "vae-decode-tiled-retry.log",
    "dynamic-vram-flag": "dynamic-vram-off-highvram.log",
    "cold-start": "worker-slow-cold-start.log",
    "gpu-unsupported": "runpod-console-worker-view-2026.log",
    "local-api": "runpod-serve-api-on-endpoint.log",
    "desktop-exited": "desktop-mainlog-python-exited.log",
    "slow-startup": "pod-venv-on-network-volume-restarted.log",
    "comfyui-killed": "docker-compose-comfyui-killed-after-wan-vae.log",
}


@cache
def report_of(name: str) -> Report:
    return analyze(FIXTURES / name)


@cache
def corpus_report(prefix: str) -> Report:
    corpus = corpus_or_skip()
    return analyze(next((corpus / "logs").glob(f"{prefix}-*.log")))


def advice_text(finding: Finding) -> str:
    return " ".join(finding.advice)


# ---- every new rule: fires on its fixture, cites real lines, silent on the whole corpus -------------


@pytest.mark.parametrize("rule_id", sorted(NEW_RULES))
def test_fires_on_its_fixture_citing_lines_the_fixture_has(rule_id: str) -> None:
    path = FIXTURES / NEW_RULES[rule_id]
    finding = found(report_of(path.name), rule_id)
    lines = {raw.number: raw.text for raw in read_lines(str(path))[1]}
    assert finding.evidence
    for ev in finding.evidence:
        assert ev.text.rstrip("…") in lines[ev.line], (ev.line, ev.text)


def test_none_of_them_fires_on_a_corpus_log() -> None:
    corpus = corpus_or_skip()
    new = set(NEW_RULES)
    for path in sorted((corpus / "logs").glob("*.log")) + sorted((corpus / "scenarios").glob("*.log")):
        assert not ids(analyze(path)) & new, path.name


# ---- 1. container killed for RAM; 10. the worker lost ComfyUI: one story each -----------------------


def test_container_ram_tells_the_whole_death_once() -> None:
    report = report_of("runpod-killed-for-ram.log")
    finding = found(report, "container-ram")
    # the run, the kill and the restart: one finding, not oom-suspected + comfyui-died + unfinished
    assert ids(report) == {"container-ram"}
    assert "sampling (2/20 steps)" in finding.why and "1008 GB" in finding.why and "907 GB" in finding.why
    cited = {ev.line for ev in finding.evidence}
    assert {13, 39, 41, 45} <= cited  # pinned memory, the cut bar, HTTP unreachable, the next CUDA banner
    # ComfyUI 0.20.1 caches the classic way: --cache-lru would change nothing there
    assert "--disable-pinned-memory" in advice_text(finding) and "--cache-lru" not in advice_text(finding)
    assert finding.prompts == [0] and finding.cost_s > 0


def test_container_ram_needs_host_sized_memory_a_container_and_a_silent_end() -> None:
    # the build read its cgroup limit (`RAM limited by cgroup`): the death is the worker's story
    died = report_of("worker-comfyui-died-loading.log")
    assert "container-ram" not in ids(died)
    # ComfyUI started twice in one container with no prompt running (046), or restarts that each
    # logged their error (043): no silent death while working
    assert "container-ram" not in ids(corpus_report("046"))
    assert "container-ram" not in ids(corpus_report("043"))


def test_comfyui_died_names_what_it_was_doing_and_leaves_nothing_unfinished() -> None:
    report = report_of("worker-comfyui-died-loading.log")
    finding = found(report, "comfyui-died")
    assert ids(report) == {"comfyui-died"}  # not also "1 prompt never finished"
    assert "loading LTXAV" in finding.title and "53.6s before" in finding.why
    assert "container's RAM limit is the first suspect" in advice_text(finding)
    assert [ev.line for ev in finding.evidence] == [33, 35]


def test_what_a_dead_prompt_was_doing_is_fields_the_rules_read_not_a_sentence_they_cut() -> None:
    """comfyui-killed, comfyui-died and container-ram built their titles and advice by cutting ``work_left``'s sentence
    (``split(' (')``, ``removeprefix("loading ")``): the state and the model are fields now, on real deaths."""
    cases = {"worker-comfyui-died-loading.log": ("loading", "LTXAV", "loading LTXAV"),
             "worker-comfyui-died-sampling.log": ("sampling", "", "sampling"),
             "docker-compose-comfyui-killed-after-wan-vae.log": ("running", "", "running")}
    for name, (state, what, short) in cases.items():
        report = report_of(name)
        work = work_left(Facts(report), report.prompts[0], None)
        assert (work.state, work.what, work.short) == (state, what, short), name
        assert work.doing.startswith(short)
    died = found(report_of("worker-comfyui-died-loading.log"), "comfyui-died")
    assert died.title == "ComfyUI died while loading LTXAV: worker-comfyui found it gone"
    assert "It died while loading LTXAV:" in advice_text(died)


def test_a_sampling_cut_short_stays_a_suspected_oom_with_the_workers_word() -> None:
    report = report_of("worker-comfyui-died-sampling.log")
    finding = found(report, "oom-suspected")
    assert ids(report) == {"oom-suspected"}  # the worker's lost websocket is no error of ComfyUI's
    assert "worker-comfyui found ComfyUI's HTTP server gone" in finding.why
    assert finding.confidence == "medium"  # the worker says ComfyUI died: not a log copied mid-prompt
    assert [ev.line for ev in finding.evidence] == [35, 37]


def test_no_lowvram_advice_under_dynamic_vram() -> None:
    # `--lowvram` does nothing under dynamic VRAM: the OOM rules say so instead of advising it
    finding = found(report_of("worker-comfyui-died-sampling.log"), "oom-suspected")
    assert "under dynamic VRAM `--lowvram` does nothing" in advice_text(finding)
    assert "or `--lowvram` for this workflow" not in advice_text(finding)
    legacy = found(report_of("oom-then-cold-prompt.log"), "oom")  # the legacy loader: --lowvram still offloads
    assert "`--lowvram`)" in advice_text(legacy)


def test_a_handlers_own_websocket_error_after_a_native_crash_stays_the_crash() -> None:
    assert ids(corpus_report("045")) == {"crash"}


# ---- 2. models reloaded every prompt under dynamic VRAM -------------------------------------------


def test_dynamic_reloads_advise_cache_classic_on_a_build_that_has_it() -> None:
    finding = found(report_of("dynamic-vram-reload-every-prompt.log"), "reload-thrash")
    assert "dynamic VRAM" in finding.why and "RAM-pressure cache" in finding.why
    assert "`--cache-classic`" in finding.advice[0]  # ComfyUI 0.24: the flag exists
    assert finding.cost_s == pytest.approx(2 * 41.9, abs=0.2)  # the load time of prompts 2 and 3
    assert finding.severity == "warning"


def test_legacy_reloads_keep_their_own_advice() -> None:
    # 036: SDXL loaded again in each of 85 prompts by the legacy loader on a 12 GB laptop GPU
    finding = found(corpus_report("036"), "reload-thrash")
    assert "--cache-classic" not in advice_text(finding) and "dynamic VRAM" not in finding.why


# ---- 3. loads slowed by pinned memory -----------------------------------------------------------------


def test_pinned_memory_measured_against_the_same_models_first_read() -> None:
    report = report_of("pinned-memory-slow-reloads.log")
    finding = found(report, "pinned-memory-slow")
    assert "157 MB/s" in finding.why and "155 MB/s" in finding.why  # prompt 2's reload and the first read
    assert "--disable-pinned-memory" in finding.advice[0]
    assert finding.prompts == [1, 2]
    assert "slow-load" not in ids(report)  # the disk is not blamed for what pinning explains


def test_pinned_memory_silent_where_reloads_run_at_disk_speed() -> None:
    # 036 pins memory and reloads every prompt, at 300-600 MB/s: nothing to blame on pinning
    assert "pinned-memory-slow" not in ids(corpus_report("036"))
    # 020 pins 733992 MB on a 5090 and loads at GB/s
    assert "pinned-memory-slow" not in ids(corpus_report("020"))


# ---- 4. dynamic VRAM switched off by a flag; --lowvram under it ----------------------------------------


def test_highvram_switched_dynamic_vram_off() -> None:
    finding = found(report_of("dynamic-vram-off-highvram.log"), "dynamic-vram-flag")
    assert finding.title == "HIGH_VRAM: `--highvram` or `--gpu-only` switched dynamic VRAM off"
    assert finding.severity == "info" and "0.20.1" in finding.why and "3 `loaded ...` lines" in finding.why


def test_lowvram_does_nothing_under_dynamic_vram_and_lowvram_forced_steps_aside() -> None:
    report = report_of("lowvram-under-dynamic-vram.log")
    finding = found(report, "dynamic-vram-flag")
    assert finding.title == "`--lowvram` does nothing under dynamic VRAM"
    assert "lowvram-forced" not in ids(report)  # its "keeps weights off the GPU" is not so under dynamic VRAM


def test_no_flag_blamed_where_dynamic_vram_cannot_run() -> None:
    # ROCm (004, 024), PyTorch older than 2.8 with its own warning (031, 050), a 2025 build (042)
    for prefix in ("004", "024", "031", "050", "042"):
        assert "dynamic-vram-flag" not in ids(corpus_report(prefix)), prefix
    # HIGH_VRAM on a build from before dynamic VRAM (011, 018): no dynamic VRAM to switch off
    for prefix in ("011", "018"):
        assert "dynamic-vram-flag" not in ids(corpus_report(prefix)), prefix


# ---- 5. GGUF on the legacy path beside dynamic loads ---------------------------------------------------


def test_gguf_beside_dynamic_loads_is_one_finding_with_comfyuis_advice() -> None:
    report = report_of("gguf-legacy-beside-dynamic.log")
    finding = found(report, "gguf")
    assert "bypass dynamic VRAM" in finding.title and "lowvram patches: 85" in finding.why
    assert "native ComfyUI weights (fp8, int8)" in finding.advice[0]
    assert finding.severity == "warning"
    assert "lowvram" not in ids(report)  # the same partial load, told once (lowvram would advise GGUF)


def test_gguf_without_dynamic_vram_keeps_the_plain_finding() -> None:
    corpus = corpus_or_skip()
    finding = found(analyze(corpus / "scenarios" / "local-wan-rtx4090-baseline.log"), "gguf")
    assert finding.title.startswith("Quantized GGUF weights") and "dynamic VRAM" not in finding.why


# ---- 6. staging overcommit -------------------------------------------------------------------------------


def test_staging_overcommit_takes_the_oom_and_names_vram_headroom() -> None:
    report = report_of("dynamic-vram-staging-oom.log")
    finding = found(report, "staging-overcommit")
    assert "33041 MB" in finding.why and "24564 MB" in finding.why and "device copy failed" in finding.why
    assert finding.advice[0].startswith("Start ComfyUI with `--vram-headroom 1`")  # comfy-aimdo 0.4.13 has it
    assert "oom" not in ids(report)  # one story for one OOM


def test_staging_beyond_vram_without_a_failure_is_normal() -> None:
    # 24701 MB staged on a 16 GB GPU, and only the VAE's recovered OOM: dynamic VRAM streamed it
    assert "staging-overcommit" not in ids(report_of("vae-decode-tiled-retry.log"))
    # 019 ran out of memory without dynamic VRAM: the plain oom finding stays
    assert {"oom"} <= ids(corpus_report("019")) and "staging-overcommit" not in ids(corpus_report("019"))


# ---- 7. VAE decode retried tiled ----------------------------------------------------------------------


def test_vae_tiled_retry_of_an_encode_that_failed_again_is_no_tail_after_sampling(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#7761 (field6 07): `Ran out of memory when regular VAE encoding, retrying with tiled VAE
    encoding.` and then the prompt's OOM. It was told as "the tail after sampling is the VAE's", with the advice to
    decode with `VAE Decode (Tiled)`: an encode comes before sampling, and the tiled retry failed too."""
    finding = found(analyze(FIXTURES / "vae-encode-tiled-retry-then-oom.log"), "vae-tiled-retry")
    assert finding.title == "The VAE encode ran out of memory and was retried in tiles, and the retry failed"
    assert "after sampling" not in finding.why and "before sampling" in finding.why
    assert "The tiled retry ran out of memory too (line 2: `Allocation on device`)" in finding.why
    assert [a.split(" ", 2)[:2] for a in finding.advice] == [["Encode", "with"], ["A", "lower"]]
    assert [ev.line for ev in finding.evidence] == [1, 2]
    assert finding.figures["retries_failed"] == 1


def test_vae_tiled_retry_names_the_tail_after_sampling() -> None:
    finding = found(report_of("vae-decode-tiled-retry.log"), "vae-tiled-retry")
    assert finding.title == "The VAE decode ran out of memory and was retried in tiles: 3:29 after sampling"
    assert "39.2s before it failed" in finding.why and "the tiled retry 2:50" in finding.why
    assert finding.cost_s == pytest.approx(208.7, abs=0.1)
    assert [ev.line for ev in finding.evidence] == [17, 20]


def test_vae_tiled_retry_cites_its_warning_after_a_sampling_bar_the_log_starts_with(each_segmenter: str) -> None:
    """komikndr/raylight#48 (tests/fixtures/bar-glued-request-then-partial-load.log, field6 08): a Ray worker's
    sampler bar ends on line 1 (the prompt the log starts inside), the decode's tiled retry is line 4. Once the bar
    was read as the sampler's, the finding cited the bar alone and not the warning it rests on."""
    finding = found(analyze(FIXTURES / "bar-glued-request-then-partial-load.log"), "vae-tiled-retry")
    assert [ev.line for ev in finding.evidence] == [1, 4]
    assert finding.evidence[1].text.startswith("Warning: Ran out of memory when regular VAE decoding")


# ---- 8. the prompt after an OOM starts cold ----------------------------------------------------------------


def test_cold_prompt_after_oom_is_not_blamed_on_the_disk() -> None:
    report = report_of("oom-then-cold-prompt.log")
    finding = found(report, "cold-after-oom")
    assert "prompt 2 started with nothing loaded" in finding.why
    assert "took 1:47 now against 14.6s then" in finding.why
    assert report.prompts[1].cold and not report.prompts[0].cold
    assert "slow-load" not in ids(report) and "pinned-memory-slow" not in ids(report)
    assert "oom" in ids(report)


def test_no_cold_prompt_where_nothing_follows_the_oom() -> None:
    for prefix in ("019", "033"):  # `Got an OOM` ends the last prompt of the log
        assert "cold-after-oom" not in ids(corpus_report(prefix)), prefix


# ---- 9. cold start ------------------------------------------------------------------------------------------


def test_slow_cold_start_is_split_into_what_the_log_shows() -> None:
    finding = found(report_of("worker-slow-cold-start.log"), "cold-start")
    assert finding.title == "Cold start of 1:44 before ComfyUI's API answered"
    for part in ("prestartup 2.4s", "custom-node imports 51.5s (ComfyUI-Impact-Pack 47.2s",
                 "the assets scan 33.2s", "the other 16.8s", "9 `Still waiting for API server` lines"):
        assert part in finding.why, part
    assert "`--disable-assets`" in advice_text(finding)


def test_comfyui_exited_ends_a_failed_start_told_once() -> None:
    report = report_of("worker-comfyui-exited-at-start.log")
    finding = found(report, "startup-failed")
    assert "cold-start" not in ids(report)  # the failed start is startup-failed's story, with the worker's line
    assert "worker-comfyui gave up on it after 32.1s (line 24" in finding.why and "libcudnn.so.9" in finding.why
    assert [ev.line for ev in finding.evidence] == [23, 24]


def test_a_quick_worker_start_is_no_finding() -> None:
    assert "cold-start" not in ids(corpus_report("042"))  # API reachable 8 s after the banner


# ---- 11. compare: the set-up of both machines --------------------------------------------------------------


def test_compare_names_the_set_up_difference_behind_a_load_gap() -> None:
    c = compare_reports(report_of("dynamic-vram-off-highvram.log"), report_of("lowvram-under-dynamic-vram.log"))
    rows = {fact.name: fact for fact in c.machine}
    assert rows["dynamic VRAM"].run is not None and rows["dynamic VRAM"].run.startswith("off")
    assert rows["dynamic VRAM"].baseline == "on" and rows["pinned memory"].same
    assert c.main_phase == "load"
    assert len(c.setup_differences) == 1 and c.setup_differences[0].startswith("dynamic VRAM: off")


def test_compare_names_no_set_up_difference_where_the_set_ups_match() -> None:
    c = compare_reports(report_of("pinned-memory-slow-reloads.log"), report_of("pinned-memory-slow-reloads.log"))
    assert c.setup_differences == []
    examples = Path(__file__).resolve().parents[1] / "examples"
    c = compare_reports(analyze(examples / "runpod-lowvram-gguf.log"), analyze(examples / "local-baseline.log"))
    # PyTorch differs (2.7.1 / 2.8.0) but the gap is loading, which PyTorch's kernels do not explain
    assert c.main_phase == "load" and c.setup_differences == []


# ---- CI: a death or an OOM told by a new finding still fails the check by default ----------------------


@pytest.mark.parametrize(("fixture", "rule_id"), [
    ("runpod-killed-for-ram.log", "container-ram"),
    ("worker-comfyui-died-loading.log", "comfyui-died"),
    ("dynamic-vram-staging-oom.log", "staging-overcommit"),
])
def test_check_fails_where_the_run_died(fixture: str, rule_id: str) -> None:
    done = run_cli("check", f"tests/fixtures/{fixture}", cwd=ROOT, text=True, columns=120)
    assert done.returncode == 1 and rule_id in str(done.stdout)


# ---- a GPU the installed PyTorch was not built for ---------------------------------------------------


def test_gpu_unsupported_on_a_runpod_worker_names_the_gpu_its_fix_and_the_failed_check() -> None:
    report = report_of("runpod-console-worker-view-2026.log")
    finding = found(report, "gpu-unsupported")
    assert (finding.severity, finding.confidence) == ("error", "high")
    assert report.runs[0].gpu == "NVIDIA RTX PRO 6000 Blackwell Server Edition MIG 1g.24gb"
    assert finding.figures["capability"] == 120
    assert finding.figures["built_for"][0] == "sm_50" and finding.figures["built_for"][-1] == "sm_90"
    assert [ev.line for ev in finding.evidence] == [6, 5, 7, 8]  # the warning, its list, the failed checks
    assert "cu128" in advice_text(finding) and "GPU types" in advice_text(finding)


def _warning(gpu_line: str, archs_line: str) -> str:
    """The fixture's two PyTorch lines with others in their place, and nothing failing after them."""
    text = (FIXTURES / "runpod-console-worker-view-2026.log").read_text(encoding="utf-8").splitlines()[:6]
    return "\n".join([*text[:4], text[4][:text[4].index("The current")] + archs_line,
                      text[5][:text[5].index("NVIDIA")] + gpu_line]) + "\n"


def test_gpu_unsupported_with_ptx_to_compile_and_no_failure_is_only_a_warning() -> None:
    text = _warning("NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
                    "PyTorch installation.",
                    "The current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_80 sm_90 compute_90.")
    finding = found(analyze_text(text), "gpu-unsupported")
    assert (finding.severity, finding.confidence) == ("warning", "medium")
    assert "PTX for compute_90" in finding.why


def test_gpu_unsupported_on_a_gpu_older_than_the_build_advises_an_older_pytorch() -> None:
    # A Kaggle P100 under a PyTorch built for sm_70 and up, as a notebook's log quoted it.
    text = _warning("Tesla P100-PCIE-16GB with CUDA capability sm_60 is not compatible with the current PyTorch "
                    "installation",
                    "The current PyTorch install supports CUDA capabilities "
                    "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120")
    finding = found(analyze_text(text), "gpu-unsupported")
    assert "older PyTorch" in advice_text(finding) and "sm_70" in advice_text(finding)
    assert "cu128" not in advice_text(finding)


def test_check_fails_a_worker_whose_pytorch_cannot_use_its_gpu() -> None:
    """The worker died at its fitness check, running no prompt: no-success has nothing to fail on."""
    result = run_cli("check", str(FIXTURES / "runpod-console-worker-view-2026.log"), text=True)
    assert result.returncode == 1, result.stdout
    assert "gpu-unsupported" in str(result.stdout)


# PyTorch's own answer, in the three wordings of tests/fixtures/upstream-messages.txt (2.13+, 2.10-2.12, 2.8-2.9)
TORCH_2_13_WARNING = (FIXTURES / "pytorch-gpu-warning-2.13.log").read_text(encoding="utf-8")


def test_gpu_unsupported_quotes_the_builds_pytorch_names_not_a_guess() -> None:
    """torch 2.13 has no CUDA 12.8 build: the advice is PyTorch's own commands, not our cu128 default."""
    finding = found(analyze_text(TORCH_2_13_WARNING), "gpu-unsupported")
    advice = advice_text(finding)
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu129" in advice
    assert "cu130" in advice and "cu128" not in advice
    assert [ev.line for ev in finding.evidence] == [9, 10, 6, 7]


def test_gpu_unsupported_reads_the_cuda_versions_of_torch_2_10_and_2_8() -> None:
    lines = TORCH_2_13_WARNING.splitlines()
    for said in ("Please follow the instructions at https://pytorch.org/get-started/locally/ to install a PyTorch "
                 "release that supports one of these CUDA versions: 12.8, 13.0",
                 "    configurations:  12.8 13.0 following instructions at"):
        text = "\n".join([*lines[:4], said, *lines[7:]]) + "\n"
        advice = advice_text(found(analyze_text(text), "gpu-unsupported"))
        assert "CUDA 12.8 or 13.0" in advice and "whl/cu128" in advice, said


def test_gpu_unsupported_says_when_no_published_build_runs_the_gpu() -> None:
    lines = TORCH_2_13_WARNING.splitlines()
    said = ("No published PyTorch CUDA builds for release 2.13.0+cu130 support this GPU. Visit "
            "https://pytorch.org/get-started/locally/ to find a compatible release.")
    advice = advice_text(found(analyze_text("\n".join([*lines[:4], said, *lines[7:]]) + "\n"), "gpu-unsupported"))
    assert "no published CUDA build of 2.13.0+cu130" in advice and "cu128" not in advice


# ---- a RunPod worker that failed its start-up checks -------------------------------------------------

def _worker_view(*lines: int, fitness: str | None = None) -> str:
    """Lines (1-based) of the 2026 worker view, the fitness failure's message replaced by ``fitness``."""
    text = (FIXTURES / "runpod-console-worker-view-2026.log").read_text(encoding="utf-8").splitlines()
    chosen = [text[n - 1] for n in lines]
    if fitness is not None:
        chosen = [line.replace("_cuda_init_check | RuntimeError: CUDA initialization failed", fitness)
                  for line in chosen]
    return "\n".join(chosen) + "\n"


def test_worker_unhealthy_names_the_failed_check_and_exits_check_non_zero(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(_worker_view(1, 2, 3, 4, 7, 8, 9), encoding="utf-8")  # no PyTorch warning this time
    finding = found(analyze(log), "worker-unhealthy")
    assert (finding.severity, finding.confidence) == ("error", "high")
    assert finding.figures["check"] == "_cuda_init_check" and finding.figures["exit_code"] == "1"
    assert "faulty GPU or driver" in advice_text(finding)
    assert [ev.line for ev in finding.evidence] == [5, 6, 7]
    done = run_cli("check", str(log), text=True)
    assert done.returncode == 1 and "worker-unhealthy" in str(done.stdout)


def test_worker_unhealthy_advice_fits_the_check_that_failed() -> None:
    # runpod-python 1.12's own messages (rp_system_fitness.py), as its fitness loop prints them
    disk = "_disk_check | RuntimeError: Insufficient disk space: 1.20GB free (2.1%), 10.0% required"
    finding = found(analyze_text(_worker_view(1, 2, 7, 8, 9, fitness=disk)), "worker-unhealthy")
    assert "container disk" in advice_text(finding) and "Insufficient disk space" in finding.title
    own = "check_models_present | FileNotFoundError: /runpod-volume/models missing"
    finding = found(analyze_text(_worker_view(1, 2, 7, 8, fitness=own)), "worker-unhealthy")
    assert "`check_models_present` is not one of runpod-python's built-in checks" in advice_text(finding)


def test_gpu_unsupported_owns_a_failed_cuda_check_it_explains() -> None:
    ids = [f.id for f in report_of("runpod-console-worker-view-2026.log").findings]
    assert "gpu-unsupported" in ids and "worker-unhealthy" not in ids


def test_a_worker_that_exited_with_nothing_before_is_said_to_have_died_silently() -> None:
    finding = found(analyze_text(_worker_view(1, 2, 3, 4, 9)), "worker-unhealthy")
    assert finding.confidence == "medium" and "no error in its log" in finding.title
    assert "start the image locally" in advice_text(finding)


def test_worker_comfyui_gpu_check_names_the_error_it_echoed() -> None:
    # runpod-workers/worker-comfyui src/start.sh's pre-flight check (upstream-messages.txt), then RunPod's line
    text = ("worker-comfyui: Checking GPU availability...\n"
            "worker-comfyui: GPU is not available. PyTorch CUDA init failed:\n"
            "worker-comfyui: FAIL: CUDA driver initialization failed, you might not have a CUDA gpu.\n"
            "worker exited with exit code 1\n")
    finding = found(analyze_text(text), "worker-unhealthy")
    assert "CUDA driver initialization failed" in finding.title
    assert finding.figures["exit_code"] == "1"


def test_a_node_failure_whose_prompt_began_before_the_log_is_a_failed_prompt() -> None:
    """`!!! Exception during processing !!!` is printed only for a node of a running prompt (execution.py): where the
    excerpt starts after its `got prompt`, the finding is still a failed prompt, not "no prompt was running"; and
    ROCm's `HIP error: invalid device function` is named as no kernels for the GPU, not a custom node's fault."""
    report = analyze(FIXTURES / "docker-compose-rocm-hip-exception.log")
    found = next(f for f in report.findings if f.id == "exception")
    assert found.title == "1 prompt failed: `HIP error: invalid device function`"
    assert "No prompt was running" not in found.why
    assert "Its `got prompt` is before the log starts" in found.why
    assert found.advice[0].startswith("`HIP error: invalid device function`: this PyTorch (ROCm) build has no kernels")
    assert not any("custom_nodes/NAME" in item for item in found.advice)


def test_a_cuda_error_that_breaks_the_process_says_to_restart_it() -> None:
    """`CUDA error: an illegal memory access was encountered` (YanWenKun/ComfyUI-Docker #195): NVIDIA's runtime
    documents that after it any further CUDA work returns the same error until the process is relaunched, which is
    what the issue reports (every later prompt failed until the container restarted). The advice says so, not that
    the workflow's files or inputs are wrong."""
    report = analyze(FIXTURES / "cuda-illegal-address-exception.log")
    found = next(f for f in report.findings if f.id == "exception")
    assert found.title == "1 prompt failed: `CUDA error: an illegal memory access was encountered`"
    assert found.advice[0].startswith("`CUDA error: an illegal memory access was encountered` leaves the process's "
                                      "CUDA state broken")
    assert "until ComfyUI is restarted" in found.advice[0]
    assert not any(item.startswith("Missing files and wrong inputs") for item in found.advice)


def test_a_start_up_that_fails_in_cuda_initialisation_blames_the_driver_not_the_packages() -> None:
    """A RunPod pod whose PyTorch raises `CUDA unknown error` from `torch._C._cuda_init()` while main.py imports
    model_management (wlsdml1114/Infinitetalk_Runpod_hub #18, "on many pods"): PyTorch's text for the driver's
    cudaErrorUnknown (c10/cuda/CUDAFunctions.cpp). Reinstalling ComfyUI's requirements cannot help; the advice
    names the driver and the machine."""
    report = analyze(FIXTURES / "runpod-pod-cuda-unknown-error.log")
    found = next(f for f in report.findings if f.id == "startup-failed")
    assert found.confidence == "high"
    assert found.advice == [found.advice[0]]
    assert found.advice[0].startswith("`RuntimeError: CUDA unknown error - this may be due to an incorrectly set up "
                                      "environment`: the NVIDIA driver failed")
    assert "requirements.txt" not in found.advice[0]


def test_the_prompt_worker_thread_dying_is_said_and_its_cut_traceback_named() -> None:
    """ComfyUI-Zluda's console in Comfy-Org/ComfyUI #2810 (patientx, 2024-04-13): `got prompt`, then Python's
    `Exception in thread Thread-1 (prompt_worker):` (threading.excepthook; main.py's queue thread) and a traceback
    the paste cuts. The thread that runs prompts is gone: the finding says so, and that the log ends before the
    exception."""
    report = analyze(FIXTURES / "zluda-prompt-worker-died.log")
    found = next(f for f in report.findings if f.id == "prompt-worker-died")
    assert found.title == "ComfyUI's prompt worker died: no prompt runs after it"
    assert found.evidence[0].line == 26
    assert "The log ends before the exception that ended it. It left 1 prompt unfinished." in found.why
    assert found.advice[0].startswith("Restart ComfyUI")
    assert found.advice[1].startswith("The log ends inside the thread's traceback (line 26)")
    assert found.prompts == [0]


def test_an_oom_right_after_a_requested_load_came_in_that_load() -> None:
    """Comfy-Org/ComfyUI #11331 (gonzalu, 2025-12-15): the second Flux2 prompt runs out of memory on
    `Requested to load Flux2TEModel_` with the first prompt's Flux2 still partly loaded, and the paste cuts the
    traceback after its first frame. Nothing between the request and the OOM says the load went on, so the OOM came
    in that load: no advice to lower the resolution, and the text encoder is named."""
    report = analyze(FIXTURES / "flux2-oom-loading-text-encoder.log")
    found = next(f for f in report.findings if f.id == "oom")
    assert "It came while the text encoder was being loaded (`Requested to load Flux2TEModel_`): the model's " \
        "weights did not fit" in found.why
    assert "building" not in found.why  # the request line says the load: not said twice (field2 05)
    assert not any("resolution" in item for item in found.advice)
    assert any(item.startswith("Put the text encoder on the CPU") for item in found.advice)


def test_a_prestartup_traceback_the_log_ends_inside_is_said_to_be_cut() -> None:
    """tests/fixtures/prestartup-traceback-cut.log cut inside its traceback (after the first frame's source line, as
    a paste is cut): prestartup-failed quoted the traceback's exception line, which is not in the log, and crashed
    (KeyError: 'exception_line'). It now says the log ends inside the traceback."""
    data = (FIXTURES / "prestartup-traceback-cut.log").read_text(encoding="utf-8").split("\n")
    assert data[2].lstrip().startswith('File "') and data[3].lstrip().startswith("spec.loader.exec_module")
    report = analyze_text("\n".join(data[:4]))
    found = next(f for f in report.findings if f.id == "prestartup-failed")
    assert "The log ends inside the traceback after the line, before its exception." in found.why
    assert found.title == "1 prestartup script failed before ComfyUI started: `ComfyUI-Manager`"


def test_unfinished_leaves_a_dead_prompt_worker_to_prompt_worker_died() -> None:
    """Comfy-Org/ComfyUI #2810 (field2 09): `got prompt`, then `Exception in thread Thread-1 (prompt_worker):`.
    prompt-worker-died says the queue's thread died and names the prompt it left; `unfinished` read the same end
    again as "copied early, stuck, or died without a message: check `dmesg`", none of which is so: the process lives
    and runs no prompt. The prompt is left to prompt-worker-died."""
    report = analyze(FIXTURES / "zluda-prompt-worker-died.log")
    assert "prompt-worker-died" in ids(report)
    assert "unfinished" not in ids(report)
    assert [p.status for p in report.prompts] == ["unfinished"]


def test_unfinished_defers_to_the_gpu_fault_under_its_prompt() -> None:
    """Comfy-Org/ComfyUI #12762 (field 01): the excerpt ends at `UserWarning: HIP warning: unspecified launch
    failure` inside the prompt it starts inside. gpu-fault says what the fault does; `unfinished` guessed beside it
    that the process hung or died without a message (`dmesg`). It now names the fault and defers to gpu-fault."""
    report = report_of("rocm-hip-launch-failure-warning.log")
    assert "gpu-fault" in ids(report)
    ended = found(report, "unfinished")
    assert "running when the GPU faulted (`HIP warning: unspecified launch failure`, line 16; the gpu-fault " \
        "finding)" in ended.why
    assert ended.advice == ["The gpu-fault finding tells this end: the GPU faulted under it (line 16), so it fails "
                            "or hangs from there; restart ComfyUI before queueing again"]
    assert 16 in [ev.line for ev in ended.evidence]


def test_a_log_that_shows_only_the_container_start_says_so() -> None:
    """runpod-workers/worker-comfyui #78 (field2 02): RunPod's system log, then the container's CUDA banner, where the
    excerpt ends. startup-failed said "The log shows ComfyUI's start-up", but no line of ComfyUI's is there: only the
    container's start."""
    report = report_of("runpod-system-log-then-cuda-banner.log")
    failed = found(report, "startup-failed")
    assert failed.why.startswith("The log shows only the container's start (NVIDIA's CUDA banner, line 13), no line "
                                 "of ComfyUI's, never `To see the GUI go to` and no prompt")
    assert "ComfyUI's start-up" not in failed.why
    assert "The log ends during the container's start (line 17) with no error." in failed.why


# ---- ComfyUI Desktop's main.log: the ComfyUI server it started exited (field4 05, 15) ---------------------------


@pytest.mark.parametrize("fixture", ["desktop-mainlog-python-exited.log", "desktop-mainlog-access-violation.log"])
def test_a_desktop_main_log_whose_comfyui_server_exited_is_read_and_told(fixture: str, each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#12956 and Comfy-Org/desktop#1611: main.log holds only the app's side (the exit, the
    updater), and was refused as "not a ComfyUI log". Its `Python process exited with code N` and the same exit
    again in `Unhandled exception during server start Error: ...` are one exit, told with where its reason is."""
    report = analyze(FIXTURES / fixture)
    finding = found(report, "desktop-exited")
    assert (finding.severity, finding.confidence) == ("error", "high")
    assert finding.title == "ComfyUI Desktop: the ComfyUI server exited while it was starting"
    assert finding.figures["exits"] == 1 and [ev.line for ev in finding.evidence] == [1]
    assert "comfyui.log" in advice_text(finding)
    if fixture == "desktop-mainlog-access-violation.log":
        assert finding.figures["exit_code"] == 3221225477 and "0xC0000005: an access violation" in finding.why
    else:
        assert finding.figures["exit_code"] == 1 and "Exit code 1 is Python ending on an uncaught error" in finding.why
    done = run_cli("check", str(FIXTURES / fixture), text=True)
    assert done.returncode == 1 and "desktop-exited" in str(done.stdout)


def test_a_slow_start_up_from_a_python_on_a_network_volume_is_said_with_its_figures() -> None:
    """field4 03 (tests/fixtures/pod-venv-on-network-volume-restarted.log): ComfyUI's first line (line 6, 04:07:15.38)
    to `To see the GUI go to` (line 104, 04:08:42.88) is 87.5 s, its one custom node imported in 0.0 s, its Python
    `/runpod-volume/venv/bin/python` (line 26); the restart from the same venv took 37.1 s (line 110). With the venv
    elsewhere (the path edited) nothing is said: the log would not say where the time went."""
    finding = found(report_of("pod-venv-on-network-volume-restarted.log"), "slow-startup")
    assert finding.figures == {"startup_s": 87.493, "custom_nodes_s": 0.0}
    assert "RunPod network volume (`/runpod-volume/venv/bin/python`)" in finding.why
    assert "The next start-up from the same Python took 37.1s (line 110)" in finding.why
    text = (FIXTURES / "pod-venv-on-network-volume-restarted.log").read_text("utf-8")
    assert "slow-startup" not in ids(analyze_text(text.replace("/runpod-volume/venv", "/opt/venv")))
    # after a log whose clock is a month later (benchmarks/generate.py --concat puts corpus 046 after such logs), the
    # clock goes back a month: the start-up is timed by its own stamps, as alone (no start-up of 743 h, none of 0.0s)
    later = "2026-05-04T04:46:27.891215000Z Starting server\n2026-05-04T04:46:27.891215000Z To see the GUI go to: " \
            "http://0.0.0.0:8188\n"
    assert found(analyze_text(later + text), "slow-startup").figures == finding.figures


def test_the_start_scripts_killed_line_tells_how_comfyui_died(each_segmenter: str) -> None:
    """YanWenKun/ComfyUI-Docker#123: the WAN prompt's VAE loaded, then the image's entrypoint shell reported
    `line 52:     9 Killed   python3 ./ComfyUI/main.py …` and compose `exited with code 137`. It was told as a
    prompt that "never finished", with "if the log was copied while ComfyUI was still working, this is expected":
    the log says ComfyUI was killed (SIGKILL, which it cannot log), and the death is told once."""
    report = analyze(FIXTURES / "docker-compose-comfyui-killed-after-wan-vae.log")
    finding = found(report, "comfyui-killed")
    assert ids(report) == {"comfyui-killed"}  # not unfinished's guesses beside it
    assert (finding.severity, finding.confidence) == ("error", "high")
    assert finding.title == "ComfyUI was killed (SIGKILL) after loading WanVAE"
    assert "PID 9" in finding.why and "python3 ./ComfyUI/main.py" in finding.why
    assert [ev.line for ev in finding.evidence] == [5, 4] and finding.prompts == [0]
    assert "OOM killer" in advice_text(finding)
    done = run_cli("check", str(FIXTURES / "docker-compose-comfyui-killed-after-wan-vae.log"), text=True)
    assert done.returncode == 1 and "comfyui-killed" in str(done.stdout)


def test_a_killed_line_of_another_program_is_no_comfyui_death() -> None:
    """The shell's `Killed` line names the command it ran: only ComfyUI's `main.py` is ComfyUI dying."""
    text = (FIXTURES / "docker-compose-comfyui-killed-after-wan-vae.log").read_text(encoding="utf-8")
    report = analyze_text(text.replace("./ComfyUI/main.py", "./train.py"), name="other.log")
    assert "comfyui-killed" not in ids(report)


def test_a_worker_that_cannot_reach_comfyui_under_a_prompt_lost_it(each_segmenter: str) -> None:
    """runpod-workers/worker-comfyui#40: the 2024 worker's handler polled ComfyUI; its job ended on `Connection reset
    by peer`, and for the next job the worker `Failed to connect to server at http://127.0.0.1:8188 after 500
    attempts`. ComfyUI was gone under the prompt it was running, but only a lost websocket counted as losing it, so
    the prompt was told as one that "never finished" ("if the log was copied while ComfyUI was still working, this
    is expected")."""
    report = analyze(FIXTURES / "worker-polling-connection-reset-then-unreachable.log")
    finding = found(report, "comfyui-died")
    assert "unfinished" not in ids(report) and "handler-error" in ids(report)
    assert "Failed to connect to server at http://127.0.0.1:8188 after 500 attempts" in finding.why
    assert "websocket" not in finding.why  # this worker had none
    assert [ev.line for ev in finding.evidence] == [5]


def test_a_package_installed_after_the_node_failed_on_it_asks_for_a_restart_not_an_install(
        each_segmenter: str) -> None:
    """field5 02 (edenartlab/eden-comfyui's Cog log): `comfyui_controlnet_aux` failed on `No module named
    'matplotlib'` at line 63 and loaded in part; a node pip-installed matplotlib at line 150 of the same start-up.
    The advice said to install it: the log shows it installed, too late for this process."""
    report = analyze(FIXTURES / "cog-2023-matplotlib-installed-after-node-failed.log")
    finding = found(report, "import-failed")
    advice = advice_text(finding)
    assert "Install `matplotlib` into" not in advice
    assert ("`matplotlib` was installed after `comfyui_controlnet_aux` failed on it, later in the same start-up "
            "(line 150: pip's `Successfully installed … matplotlib-3.8.2`)") in advice and "restart ComfyUI" in advice
    assert 150 in [ev.line for ev in finding.evidence]
    # the node that failed on a package nothing installed keeps the advice to install it
    text = (FIXTURES / "cog-2023-matplotlib-installed-after-node-failed.log").read_text("utf-8")
    later = analyze_text(text.replace(" matplotlib-3.8.2 ", " "), name="no-install.log")
    assert "Install `matplotlib` into" in advice_text(found(later, "import-failed"))
