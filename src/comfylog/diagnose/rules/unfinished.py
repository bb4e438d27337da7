"""Prompts that never finished, and how their run ended."""

from __future__ import annotations

from collections import defaultdict

from ...events import Event, EventKind
from ...model import Evidence, Finding
from ...text import plural
from ..deaths import comfyui_died, faulted_prompts, ram_killed, shell_killed, worker_death
from ..engine import MAX_EVIDENCE, Advice, PromptList, finding, rule
from ..facts import Facts, PromptRef
from ..jobs import abandoned

ADVICE_REQUEUE = Advice("Nothing crashed: the server was {how} with work left; re-queue those prompts",
                        {"how": "stopped"})
ADVICE_COPIED_EARLY = Advice("If the log was copied while ComfyUI was still working, this is expected")
# A log that just ends cannot tell a dead process from a hung one: both readings are given, the hang naming where
# it stopped. A restart later in the same log says it died (ADVICE_RESTARTED), a stop says neither (ADVICE_REQUEUE).
ADVICE_STALLED = Advice("If ComfyUI is still running and the prompt makes no progress, it is stuck {where}, not "
                        "dead: `nvidia-smi` (or `rocm-smi`) shows whether the GPU still works, and "
                        "`py-spy dump --pid <PID>` where Python waits", {"where": "where the log stops"})
ADVICE_STALLED_DYNAMIC = Advice("Loads that hang with dynamic VRAM on (this log stages models for it) are reported "
                                "on ROCm (Comfy-Org/ComfyUI#13730: they ran with it disabled, for some with a "
                                "newer ROCm): start ComfyUI once with `--disable-dynamic-vram` to see whether it is "
                                "the cause")
ADVICE_DIED_SILENTLY = Advice("If the process is gone, it died without a message: check `dmesg` for the OOM killer, "
                              "the container's memory limit and whether the container restarted")
# A GPU fault under the prompt (gpu-fault) says how it ended: no guess at a hang or a silent death beside it.
ADVICE_FAULTED = Advice("The gpu-fault finding tells this end: the GPU faulted under {it} ({where}), so {it} fails "
                        "or hangs from there; restart ComfyUI before queueing again",
                        {"it": "the prompt", "where": "line N"})
ADVICE_RESTARTED = Advice("The process restarted under these prompts: find the cause at the end of the run (OOM "
                          "killer, memory limit, a crashing custom node)")


def _stopped_parts(stopped: int, asked_restart: int) -> list[str]:
    """The why's words for prompts whose server was stopped: by hand, or by ComfyUI-Manager's Restart."""
    parts = []
    if stopped > asked_restart:
        parts.append(f"{plural(stopped - asked_restart, 'prompt')} still running or queued when the server was stopped")
    if asked_restart:
        parts.append(f"{plural(asked_restart, 'prompt')} still running or queued when ComfyUI-Manager's Restart "
                     "restarted the server (`Restarting...`)")
    return parts


def _stopped_in_load(facts: Facts, running: list[PromptRef]) -> Event | None:
    """The `Requested to load` a running prompt printed on its input's last line: the log stops inside that load
    (the paste of Comfy-Org/ComfyUI#13730 ends at `Requested to load LTXAVTEModel_`, where LTX 2.3 hangs on
    ROCm), which says more than "never finished"."""
    for prompt in running:
        last = facts.report.sources[prompt.source].lines
        for ev in reversed(facts.events[EventKind.LOAD_REQUESTED]):
            if ev.source == prompt.source:
                if ev.line == last and ev.line > prompt.line:
                    return ev
                break
    return None


def _staged_dynamically(facts: Facts, stuck: Event) -> bool:
    """Whether the input of the load the log stops in staged a model for dynamic VRAM before it (comfy-aimdo's
    `Model X prepared for dynamic VRAM loading`, then the load ran under dynamic VRAM)."""
    return any(ev.source == stuck.source and ev.line < stuck.line for ev in facts.events[EventKind.DYNAMIC_LOAD])


@rule(
    "unfinished", "warning", None,
    trigger="A prompt that never ended (no `Prompt executed in`), not already explained as a silent crash: "
    "an error when a restart followed, a warning when the log just ends, information when the server was "
    "stopped on purpose.",
    advice=(ADVICE_REQUEUE, ADVICE_COPIED_EARLY, ADVICE_STALLED, ADVICE_STALLED_DYNAMIC, ADVICE_DIED_SILENTLY,
            ADVICE_FAULTED, ADVICE_RESTARTED),
)
def _unfinished(facts: Facts) -> list[Finding]:
    silent = facts.silent_deaths()
    # deaths container-ram / comfyui-killed / comfyui-died explain, and jobs the handler ended with ComfyUI still
    # working (handler-error)
    told = (ram_killed(facts).keys() | shell_killed(facts).keys() | comfyui_died(facts).keys()
            | abandoned(facts).keys())
    died = worker_death(facts)  # and the prompts whose worker thread died (prompt-worker-died names them)
    told |= {p.index for p in died[1]} if died is not None else set()
    # folded as they come, not listed: a log of 1,000,000 queued prompts held a PromptRef of each
    before = {p.index for p in facts.prompts_in("before_log")}
    listed = PromptList()
    first: list[PromptRef] = []  # cited
    running: list[PromptRef] = []  # at most one a run in a real log
    ends: dict[str, int] = {}  # prompts by how their run ended, in the order first met
    end_runs: dict[str, set[int]] = defaultdict(set)
    inside: set[int] = set()  # the prompts a log starts inside (its `got prompt` is before the log): one an input
    asked_restart = 0  # of the "stopped" prompts, those in a run that asked for its restart
    for p in facts.prompts_in("unfinished"):
        if p.index in silent or p.index in told:
            continue
        prompt = PromptRef(p.index, p.run, p.source, p.line, p.total_s, p.started)
        listed.add(prompt.index)
        if len(first) < MAX_EVIDENCE:
            first.append(prompt)
        if prompt.started:
            running.append(prompt)
        if prompt.index in before:
            inside.add(prompt.index)
        run = facts.runs.get(prompt.run)
        end = facts.run_end(run) if run is not None else "log-ends"
        ends[end] = ends.get(end, 0) + 1
        end_runs[end].add(prompt.run)
        if run is not None and facts.asked_for_restart(run):
            asked_restart += 1  # "stopped" by ComfyUI-Manager's Restart: said so
    count = listed.count
    if not count:
        return []
    queued = count - len(running)
    parts = []
    evidence: list[Evidence] = []
    for end, in_end in ends.items():
        how_many = plural(in_end, "prompt")
        if end == "restart":
            parts.append(f"{how_many} cut off by a restart")
        elif end == "stopped":
            parts += _stopped_parts(in_end, asked_restart)
        else:
            parts.append(f"{how_many} still running or queued where the log ends")
        for group_run in sorted(end_runs[end]):
            run = facts.runs.get(group_run)
            if run is not None and end == "stopped":
                stops = facts.run_events(EventKind.SERVER_STOPPED, run) or [
                    ev for ev in facts.run_events(EventKind.RUN_SETTING, run) if ev.fields.get("restart_requested")]
                evidence += [facts.cite_event(ev) for ev in stops[:1]]
            following = facts.runs.get(group_run + 1)
            if following is not None and end == "restart":
                starts = (facts.run_events(EventKind.CUDA_BANNER, following)
                          or facts.run_events(EventKind.VRAM_STATE, following))
                evidence += [facts.cite_event(ev) for ev in starts[:1]]
    # the prompt a log starts inside: cited at its first line of work
    evidence += [facts.cite(p.source, p.line, "its first line of work" if p.index in inside else "got prompt")
                 for p in first]
    severity = "error" if "restart" in ends else "warning" if "log-ends" in ends else "info"
    received = facts.report.summary.got_prompt
    why = (f"{'; '.join(parts)}. The log shows {received} `got prompt` and {facts.report.summary.executed} "
           f"`Prompt executed in` lines ({len(running)} prompt{'s' if len(running) != 1 else ''} had started, "
           f"{queued} {'was' if queued == 1 else 'were'} still queued).")
    only_inside = len(inside) == count and set(ends) == {"log-ends"}
    if inside:
        one = len(inside) == 1
        why += (f" {'It' if one and count == 1 else plural(len(inside), 'of them', 'of them')} began "
                f"before the log's first line: the log starts inside {'it' if one else 'them'} (its work comes "
                f"before any `got prompt`){' and ends before its end: an excerpt' if only_inside else ''}.")
    stuck = _stopped_in_load(facts, running) if "log-ends" in ends else None
    if stuck is not None:
        why += (f" The log's last line is the running prompt's `Requested to load {stuck.fields['model']}` "
                f"(line {stuck.line}): it stopped inside that load.")
        evidence.insert(0, facts.cite_event(stuck))
    faulted = {p.index: fault for p in running if (fault := faulted_prompts(facts).get(p.index)) is not None}
    fault_advice = None
    if faulted:
        fault = next(iter(faulted.values()))
        one = len(faulted) == 1
        said = f"{fault.fields.get('api', 'CUDA')} warning: {fault.fields.get('message')}"
        where = facts.lines_ref(fault.source, fault.line)
        why += (f" {'It was' if one and count == 1 else plural(len(faulted), 'of them was', 'of them were')} "
                f"running when the GPU faulted (`{said}`, {where}; the gpu-fault finding): after that fault the "
                f"GPU's calls fail or hang, so {'it' if one else 'they'} cannot end well.")
        fault_advice = ADVICE_FAULTED(it="it" if one else "them", where=where)
        evidence.append(facts.cite_event(fault))
    # the fault tells the end: no hang, silent death or restart to guess beside it
    if fault_advice is not None and len(faulted) == len(running):
        advice = [fault_advice]
        confidence = "high"
    elif severity == "info":
        how = "stopped" if not asked_restart else "restarted by ComfyUI-Manager's Restart" if asked_restart == ends[
            "stopped"] else "stopped or restarted by ComfyUI-Manager"
        advice = [ADVICE_REQUEUE(how=how)]
        confidence = "high"
    elif severity == "warning":
        if stuck is None:
            advice = [ADVICE_COPIED_EARLY(), ADVICE_STALLED(where="where the log stops"), ADVICE_DIED_SILENTLY()]
        else:
            advice = [ADVICE_COPIED_EARLY(), ADVICE_STALLED(where=f"in that load (`Requested to load "
                                                                 f"{stuck.fields['model']}`)")]
            if _staged_dynamically(facts, stuck):
                advice.append(ADVICE_STALLED_DYNAMIC())
            advice.append(ADVICE_DIED_SILENTLY())
        confidence = "medium"
    else:
        advice = [ADVICE_RESTARTED()]
        confidence = "high"
    if fault_advice is not None and len(faulted) < len(running):
        advice.append(fault_advice)
    title = (f"The log ends inside {'the prompt' if count == 1 else plural(count, 'prompt')} it "
             "starts inside" if only_inside else f"{plural(count, 'prompt')} never finished")
    return [finding(
        "unfinished", title, confidence, why, advice, evidence,
        {"unfinished": count, "running": len(running), "queued": queued, "run_end": ends},
        sum(p.total_s or 0.0 for p in running), listed, severity=severity,
        total=len(evidence) - len(first) + count)]
