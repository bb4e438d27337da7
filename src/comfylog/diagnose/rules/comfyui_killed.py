"""ComfyUI's process killed with SIGKILL, as the shell that started it says: `…: line N:  PID Killed  python main.py`.

A start script (a Docker image's entrypoint, a pod's start.sh) that waits for ComfyUI is told by the kernel how its
child ended; bash reports a child killed by a signal it does not trap (parse/messages.toml, row
``shell_job_killed``), and an interactive shell its foreground job's end as a bare ``Killed`` (row
``shell_foreground_killed``). SIGKILL cannot be caught, so ComfyUI logs nothing of its own: without this line the
log just stops, and ``unfinished`` could only guess between a copy taken early, a hang and a silent death.
"""

from __future__ import annotations

from ...events import Event
from ...model import Evidence, Finding
from ..deaths import kills, shell_killed, work_left
from ..engine import Advice, finding, rule
from ..facts import Facts, prompt_seconds

ADVICE_RAM = Advice("SIGKILL comes from outside the process, most often from the kernel's OOM killer when the "
                    "machine or the container runs out of RAM: `dmesg` shows `Out of memory: Killed process … "
                    "(python…)` for it (in Docker, `docker inspect` shows `\"OOMKilled\": true`)")
ADVICE_LOADING = Advice("It was loading {model}: loading reads the weights into RAM first, so RAM is the first "
                        "suspect: give the machine or container more RAM (or swap), or load smaller weights",
                        {"model": "a model"})
ADVICE_MORE_RAM = Advice("Give the machine or container more RAM (or swap), or run a smaller job (fewer frames, "
                         "a smaller image, smaller weights)")


@rule(
    "comfyui-killed", "error", None,
    trigger="The shell that started ComfyUI reports its process `Killed` (`…: line N:  PID Killed  python main.py`, "
    "or a terminal's bare `Killed`: SIGKILL, which ComfyUI cannot catch or log): ComfyUI died there, and the prompt "
    "it was running with it. A kill the run's RAM sizing explains is told by container-ram instead.",
    advice=(ADVICE_RAM, ADVICE_LOADING, ADVICE_MORE_RAM),
)
def _comfyui_killed(facts: Facts) -> list[Finding]:
    found = kills(facts)
    if not found:
        return []
    claimed = shell_killed(facts)
    claimed_kills = set(map(id, claimed.values()))
    told = [ev for ev in found if id(ev) in claimed_kills or not claimed]
    if not told:
        return []  # container-ram tells every kill with a prompt under it
    kill: Event = told[0]
    command = str(kill.fields.get("command", ""))
    script = str(kill.fields.get("script", "the start script"))
    pid = kill.fields.get("pid")
    evidence: list[Evidence] = [facts.cite_event(kill)]
    prompts = [p for p in facts.prompts_by_index(claimed) if claimed[p.index] is kill]
    doing = title_doing = ""
    advice = [ADVICE_RAM()]
    if prompts:
        first = prompts[0]
        work = work_left(facts, first, kill.ts)
        doing, title_doing, shown = work.doing, f" {work.when}", work.evidence
        loads = facts.loads_of(first)
        if work.state == "running" and loads and loads[-1].model:  # no bar or load after it: the model it last loaded
            last = loads[-1]
            doing = f"running with {last.model} loaded ({facts.lines_ref(last.source, last.line)})"
            title_doing = f" after loading {last.model}"
            shown = [facts.cite(last.source, last.line, f"{last.model} loaded")]
        evidence += shown  # the kill first: it is why the check fails
        received = "" if first.received else " (it began before the log's first line)"
        doing = f" Prompt {first.index + 1}{received} was {doing} then; it never finished."
        if len(prompts) > 1:
            doing += f" {len(prompts) - 1} more queued behind it died with it."
        advice.append(ADVICE_LOADING(model=work.what) if work.state == "loading" else ADVICE_MORE_RAM())
    else:
        advice.append(ADVICE_MORE_RAM())
    more = f" ({len(found)} kills in the log)" if len(found) > 1 else ""
    if "command" in kill.fields:
        said = (f"`{script}` reports ComfyUI's process{f' (PID {pid})' if pid is not None else ''} `Killed` "
                f"(`{command}`)")
    else:  # an interactive shell's word for its foreground job: the terminal ComfyUI ran in
        said = "The shell ComfyUI ran in reports it `Killed`"
    why = (f"{said}{more}: it ended on SIGKILL, which no Python code can catch, so ComfyUI logged nothing "
           f"of its own and the log just stops there.{doing}")
    return [finding(
        "comfyui-killed", f"ComfyUI was killed (SIGKILL){title_doing}", "high", why, advice, evidence,
        {"pid": pid, "prompts": len(prompts)}, sum(prompt_seconds(p) for p in prompts), [p.index for p in prompts])]
