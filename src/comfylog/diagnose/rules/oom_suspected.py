"""A prompt that died silently during sampling: how out of memory looks when the process is killed."""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ...text import dur, with_article
from ..deaths import ram_killed, shell_killed, worker_lost
from ..engine import Advice, finding, rule
from ..facts import Facts, gpu_phrase, gpu_vram_mb, prompt_seconds
from ..jobs import abandoned
from ..memory import ADVICE_SMALLER_IMAGE, ADVICE_SMALLER_JOB, ALLOC_ADVICE, alloc_conf_advice, budget, job_text

ADVICE_OFFLOAD = Advice("Offload weights: block swap / offload in the video wrapper, or `--lowvram` for this workflow")
#: Under dynamic VRAM `--lowvram` does nothing (comfy/cli_args.py): the wrapper's own offload is what is left.
ADVICE_OFFLOAD_DYNAMIC = Advice("Offload weights: block swap / offload in the video wrapper (under dynamic VRAM "
                                "`--lowvram` does nothing)")
ADVICE_RAM = Advice("Give the container more RAM if it was the one killed (check `dmesg` for `Killed process` to tell "
                    "RAM from VRAM)")
ADVICE_BIGGER_GPU = Advice("A GPU with more VRAM")


@rule(
    "oom-suspected", "error", None,
    trigger="A prompt cut off during sampling (its last bar short of its total) with no error logged, "
    "followed by a restart or the end of the log; never for a prompt that finished.",
    advice=(ADVICE_SMALLER_JOB, ADVICE_SMALLER_IMAGE, ADVICE_OFFLOAD, ADVICE_OFFLOAD_DYNAMIC, *ALLOC_ADVICE, ADVICE_RAM,
            ADVICE_BIGGER_GPU),
)
def _oom_suspected(facts: Facts) -> list[Finding]:
    findings = []
    killed, lost, left = ram_killed(facts), worker_lost(facts), abandoned(facts)
    shell = shell_killed(facts)
    for index, end in facts.silent_deaths().items():
        if index in killed:
            continue  # container-ram tells this death: the run's RAM sizing explains it
        if index in shell:
            continue  # the start script says ComfyUI was killed (SIGKILL): comfyui-killed tells it
        if index in left:
            continue  # the RunPod job ended under it with ComfyUI still working: handler-error tells it
        prompt = facts.prompts_by_index([index])[0]
        run = facts.run_of(prompt)
        bar = facts.bars_of(prompt)[-1]
        video = prompt.video
        into = (prompt.ended_at - bar.start).total_seconds() if prompt.ended_at and bar.start else None
        evidence = [facts.cite_event(ev) for ev in facts.prompt_events(EventKind.VIDEO_SAMPLING, prompt)]
        evidence.append(facts.cite(bar.source, bar.end_line, f"{bar.done:g}/{bar.total:g} steps"))
        memory = run.gpu_memory if run else None
        if run is not None:
            evidence += [facts.cite_event(ev) for ev in facts.run_events(EventKind.GPU_MEMORY, run)][:1]
        following = facts.runs.get(run.index + 1) if run is not None else None
        evidence += [facts.cite_event(ev) for ev in facts.prompt_events(EventKind.VIDEO_SEQ_LEN, prompt)][:1]
        if end == "restart" and following is not None:
            starts = (facts.run_events(EventKind.CUDA_BANNER, following)
                      or facts.run_events(EventKind.VRAM_STATE, following))
            evidence += [facts.cite_event(ev) for ev in starts[:1]]
        what = job_text(video) if video else with_article(f"{bar.total:g}-step run")
        stop = "the process started again" if end == "restart" else "the log ends"
        if index in lost:  # worker-comfyui's word that ComfyUI was gone: it died, the log was not cut
            stop = "worker-comfyui found ComfyUI's HTTP server gone" + (" and the process started again"
                                                                         if end == "restart" else "")
            evidence += [facts.cite(e.source, e.line, e.message) for e in lost[index][:1]]
        sampling = f"Sampling {what}" if video else f"{with_article(f'{bar.total:g}-step', capital=True)} sampling"
        why = (f"{sampling} stopped at {bar.done:g}/{bar.total:g}"
               + (f", {dur(into)} after it began," if into is not None else "")
               + f" and {stop}, with no error anywhere: the process was killed without a chance to log. "
               "That is how running out of memory looks when the kernel's OOM killer or the container's "
               "memory limit ends the process, or the driver gives up on the GPU")
        vram = gpu_vram_mb(run)
        found = budget(facts, prompt)
        if found is None and vram:
            why += f" on {gpu_phrase(run)} ({vram} MB)"
            if memory:
                why += f"; nvidia-smi showed {memory['free_mib']} MiB free of {memory['total_mib']} MiB before start"
        why += "." + ("" if end == "restart" or index in lost else
                      " A log copied while the prompt was still running looks the same, hence low confidence.")
        if found is not None:
            why += " " + found.why()
        alloc, alloc_line = alloc_conf_advice(facts, run)
        if alloc_line is not None:
            evidence.append(facts.cite_event(alloc_line))
        offload = ADVICE_OFFLOAD_DYNAMIC() if run is not None and run.setup.get("dynamic_vram") else ADVICE_OFFLOAD()
        advice = [found.advice() if found is not None else ADVICE_SMALLER_IMAGE(), offload, alloc,
                  ADVICE_RAM(), ADVICE_BIGGER_GPU()]
        figures: dict[str, object] = {"run_end": end, "bar": f"{bar.done:g}/{bar.total:g}", "line": bar.line,
                                      "total_vram_mb": vram}
        if into is not None:
            figures["seconds_into_sampling"] = round(into, 3)
        if video:
            figures["video"] = video
        if memory:
            figures["gpu_memory_mib"] = memory
        findings.append(finding(
            "oom-suspected", f"Silent crash during sampling ({what}): most likely out of memory",
            "medium" if end == "restart" or index in lost else "low", why, advice, evidence, figures,
            prompt_seconds(prompt), [index]))
    return findings
