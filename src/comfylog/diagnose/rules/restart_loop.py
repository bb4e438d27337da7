"""ComfyUI starting again and again in one log: a crash loop."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

from ...events import EventKind
from ...model import Evidence, Finding, Run
from ...text import dur, plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import event_line
from ..facts import Facts, prompt_seconds

#: Restarts in one log from which a crash loop is reported.
RESTART_LOOP_MIN = 2

ADVICE_READ_ENDS = Advice("Read the last lines of each run before the next start-up (comfylog marks the prompts it "
                          "cut off)")
ADVICE_SILENT_ENDS = Advice("Silent ends are usually the kernel's OOM killer or the container's memory limit: give "
                            "it more RAM or lighten the workflow")
ADVICE_STOP_BILLING = Advice("On RunPod, a pod or worker that restarts in a loop keeps billing: stop it until the "
                             "cause is fixed")


@rule(
    "restart-loop", "error", None,
    trigger=f"{RESTART_LOOP_MIN} or more restarts in one log (a new CUDA banner, `Starting server`, "
    "Manager start-up or ComfyUI's `Total VRAM` after work began), not counting those ComfyUI-Manager's Restart "
    "asked for (`Restarting... [Legacy Mode]` at the end of the run before); a warning when no prompt was running "
    "at any of them and start-up did not fail (a crash while idle, or starts by hand or by a launcher).",
    advice=(ADVICE_READ_ENDS, ADVICE_SILENT_ENDS, ADVICE_STOP_BILLING),
)
def _restart_loop(facts: Facts) -> list[Finding]:
    # One pass over the runs, keeping counts and the first few lines: a loop has thousands of runs.
    start_ups: Counter[int] = Counter()
    restarts: Counter[int] = Counter()
    startups: dict[int, float] = defaultdict(float)
    cited: dict[int, set[int]] = defaultdict(set)  # start-up lines to cite (each once)
    first_cites: dict[int, list[Evidence]] = defaultdict(list)
    first_runs: dict[int, list[Run]] = defaultdict(list)
    ended: dict[int, set[int]] = defaultdict(set)
    asked: Counter[int] = Counter()  # restarts the run before asked for (ComfyUI-Manager's Restart)
    asking: dict[int, bool] = {}  # source -> whether its last run so far ended asking for a restart
    for run in facts.report.runs:
        source = run.source
        start_ups[source] += 1
        asked_for, asking[source] = asking.get(source, False), facts.asked_for_restart(run)
        if facts.run_end(run) == "restart":  # not one the run asked for: that is "stopped"
            ended[source].add(run.index)
        if not run.restart:
            continue
        if asked_for:
            asked[source] += 1
            continue
        restarts[source] += 1
        startups[source] += run.startup_s or 0.0
        starts = facts.run_events(EventKind.CUDA_BANNER, run) or facts.run_events(EventKind.VRAM_STATE, run)
        if starts and event_line(starts[0])[0] not in cited[source]:
            cited[source].add(event_line(starts[0])[0])
            if len(first_cites[source]) < MAX_EVIDENCE:
                first_cites[source].append(facts.cite_event(starts[0]))
        if len(first_runs[source]) < MAX_EVIDENCE:
            first_runs[source].append(replace(run, import_times=[]))
    looping = [source for source in range(len(facts.report.sources)) if restarts[source] >= RESTART_LOOP_MIN]
    # The prompts the restarts cut off, by source, in one walk of the unfinished ones.
    cut = {run: source for source in looping for run in ended[source]}
    lost: dict[int, list[int]] = defaultdict(list)  # indexes only: a loop can cut off thousands of prompts
    lost_s: dict[int, float] = defaultdict(float)
    if cut:
        for prompt in facts.prompts_in("unfinished"):
            looped = cut.get(prompt.run)
            if looped is not None:
                lost[looped].append(prompt.index)
                lost_s[looped] += prompt_seconds(prompt)
    findings = []
    for source in looping:
        evidence, total = first_cites[source], len(cited[source])
        if not evidence:
            evidence = [facts.cite(run.source, run.first_line, "start-up") for run in first_runs[source]]
            total = restarts[source]
        startup, n_runs, n_restarts, cut_off = startups[source], start_ups[source], restarts[source], lost[source]
        never_ready = source in facts.failed_startups()
        # ComfyUI started again while no prompt ran: a crash while idle, or a stop and a start by hand or by a
        # launcher (corpus 037: three starts of a Mac's ComfyUI by its launcher, each after its prompts ended)
        idle = not cut_off and not never_ready
        if never_ready:
            reason = (" None of them became ready: start-up itself fails each time (the startup-failed finding "
                      "names the error).")
        elif idle:
            reason = (" No prompt was running when it started again: it crashed while idle, or it was stopped and "
                      "started again (by hand, a launcher or a supervisor); the last lines before each start-up "
                      "tell which.")
        else:
            reason = " A process that keeps restarting is crashing, usually for the same reason each time."
        if asked[source]:
            reason += (f" Not counted: {plural(asked[source], 'restart')} ComfyUI-Manager's Restart asked for "
                       "(`Restarting...` at the end of the run before).")
        findings.append(finding(
            "restart-loop", f"{n_restarts} restarts: ComfyUI started {n_runs} times in one log",
            "medium" if idle else "high",
            f"The log holds {n_runs} start-ups of ComfyUI; {plural(len(cut_off), 'prompt')} were cut off by them"
            + (f" and start-ups took {dur(startup)}" if startup else "") + "." + reason,
            [ADVICE_READ_ENDS(), *([] if never_ready or idle else [ADVICE_SILENT_ENDS()]), ADVICE_STOP_BILLING()],
            evidence, {"restarts": n_restarts, **({"restarts_asked": asked[source]} if asked[source] else {}),
                       "start_ups": n_runs, "startup_s": round(startup, 3),
                       "prompts_lost": len(cut_off)},
            lost_s[source], cut_off, severity="warning" if idle else None, total=total))
    return findings
