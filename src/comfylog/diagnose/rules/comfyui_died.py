"""worker-comfyui lost ComfyUI mid-prompt: the websocket closed and the HTTP server was gone, or the worker could
not reach it any more."""

from __future__ import annotations

from ...model import Finding
from ...text import plural
from ..deaths import comfyui_died, last_work
from ..engine import Advice, finding, rule
from ..facts import Facts, prompt_seconds

ADVICE_MEMORY = Advice("A process that vanishes without a traceback was killed: most often for memory. Check the "
                       "container's RAM limit against the models the prompt loads (`dmesg`: `Killed process`), and "
                       "give it more RAM or load smaller weights")
ADVICE_LOADING = Advice("It died while loading {model}: loading needs the weights in RAM first, so the container's "
                        "RAM limit is the first suspect", {"model": "a model"})
ADVICE_NATIVE = Advice("Run the prompt again on a pod with the console open: a native crash prints its reason there")


@rule(
    "comfyui-died", "error", None,
    trigger="worker-comfyui's websocket closed during a prompt and ComfyUI's HTTP server no longer answered "
    "(`ComfyUI HTTP unreachable`, `Max reconnection attempts reached`), or the worker could not reach ComfyUI any "
    "more while a prompt ran (`Failed to connect to server at … after N attempts`, `ComfyUI process has exited`), "
    "with no error from ComfyUI: the ComfyUI process died. Deaths the container's RAM sizing, the start script's "
    "`Killed` or a sampling cut short explain are told there instead.",
    advice=(ADVICE_LOADING, ADVICE_MEMORY, ADVICE_NATIVE),
)
def _comfyui_died(facts: Facts) -> list[Finding]:
    died = comfyui_died(facts)
    if not died:
        return []
    prompts = facts.prompts_by_index(died)
    first = prompts[0]
    work = last_work(facts, first)
    more = f" {plural(len(prompts), 'prompt')} died this way." if len(prompts) > 1 else ""
    why = (f"Prompt {first.index + 1} was {work.doing} when {work.ended}: the ComfyUI process was gone, not "
           f"the network, and it logged no error of its own.{more} A process killed by the kernel (out of RAM) "
           "or by a native crash ends that way; the worker's job fails with it.")
    advice = [ADVICE_MEMORY()]
    if work.left.state == "loading":
        advice.insert(0, ADVICE_LOADING(model=work.left.what))
    else:
        advice.append(ADVICE_NATIVE())
    return [finding(
        "comfyui-died", f"ComfyUI died {work.left.when}: worker-comfyui found it gone", "high", why,
        advice, work.evidence, {"doing": work.doing, "prompts": len(prompts)},
        sum(prompt_seconds(p) for p in prompts), died)]
