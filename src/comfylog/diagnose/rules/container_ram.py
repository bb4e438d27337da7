"""ComfyUI killed inside a container that it sized from the host's RAM: pinned memory and the RAM
cache take far more than the container may use, and the kernel ends the process without a word."""

from __future__ import annotations

from ...model import Evidence, Finding
from ...text import gb, plural
from ..builds import ram_cache_default, setting_lines
from ..deaths import last_work, ram_killed
from ..engine import Advice, finding, rule
from ..facts import Facts, prompt_seconds

ADVICE_PINNED = Advice("Start ComfyUI with `--disable-pinned-memory`: no pinned-memory budget, which this build "
                       "sizes from the host's RAM")
ADVICE_CACHE = Advice("Replace the default RAM-pressure cache, sized from the same host figure, with `--cache-lru "
                      "200` (at most 200 node results; the workaround in ComfyUI#14938)")
ADVICE_CACHE_IF = Advice("If `python main.py --help` lists `--cache-classic` (ComfyUI after 0.22, whose default "
                         "cache is the RAM-pressure cache, sized from the same host figure), also start it with "
                         "`--cache-lru 200` (at most 200 node results; the workaround in ComfyUI#14938)")
ADVICE_UPDATE = Advice("Update ComfyUI: builds that read the container's limit print `RAM limited by cgroup to X MB "
                       "(host has Y MB)` at start-up and size pinned memory and the cache from the limit (ComfyUI PR "
                       "#15927)")
ADVICE_LIMIT = Advice("A larger RAM limit for the container (the pod's or endpoint's memory) helps only together with "
                      "the advice above: without it the budgets still follow the host's RAM (ComfyUI PR #15272 "
                      "measured pinned memory alone at 133% of a container's limit)")
ADVICE_CONFIRM = Advice("`dmesg` on the host shows `Memory cgroup out of memory: Killed process ... (python)` for "
                        "such a kill")


@rule(
    "container-ram", "error", None,
    trigger="A prompt cut off with no error (the container started again, or worker-comfyui lost ComfyUI) in a "
    "container run whose `Enabled pinned memory` was sized from the RAM it saw (`total RAM`), with no `RAM "
    "limited by cgroup` line: ComfyUI did not read the container's limit, so its pinned memory and RAM cache "
    "can outgrow it and the kernel kills the process.",
    advice=(ADVICE_PINNED, ADVICE_CACHE, ADVICE_CACHE_IF, ADVICE_UPDATE, ADVICE_LIMIT, ADVICE_CONFIRM),
)
def _container_ram(facts: Facts) -> list[Finding]:
    killed = ram_killed(facts)
    if not killed:
        return []
    prompts = facts.prompts_by_index(killed)
    first = prompts[0]
    sized = killed[first.index]
    work = last_work(facts, first)
    cache_default = ram_cache_default(sized.run)
    pinned_lines = setting_lines(facts, sized.run, "pinned_memory_mb")
    evidence: list[Evidence] = [facts.cite_event(ev) for ev in pinned_lines[:1]] + work.evidence
    share = sized.pinned_mb / sized.total_ram_mb
    advice = [ADVICE_PINNED()]
    if cache_default is not False:  # a classic-cache build keeps only the last prompt's results
        advice.append(ADVICE_CACHE() if cache_default else ADVICE_CACHE_IF())
    advice += [ADVICE_UPDATE(), ADVICE_LIMIT(), ADVICE_CONFIRM()]
    cached = "" if cache_default is False else " and caching node results"
    more = f" ({plural(len(prompts), 'prompt')} died this way)" if len(prompts) > 1 else ""
    why = (f"Prompt {first.index + 1} was {work.doing} when ComfyUI went away without logging an error: "
           f"{work.ended}{more}. A process the kernel kills for memory leaves no traceback. This run sized its "
           f"memory from {gb(sized.total_ram_mb)} of RAM (`total RAM {sized.total_ram_mb} MB`) and budgeted "
           f"{gb(sized.pinned_mb)} of it for pinned memory ({share:.0%}, `Enabled pinned memory`), inside a "
           "container, with no `RAM limited by cgroup` line: this ComfyUI did not read the container's memory "
           "limit, and a container on a shared host gets a fraction of the host's RAM. Pinning the weights it "
           f"loads{cached} up to that figure overshoots the limit, and the container's OOM killer ends ComfyUI. "
           "The log cannot show the kill itself, hence medium confidence.")
    return [finding(
        "container-ram", f"ComfyUI killed {work.left.when}: most likely the container's RAM limit "
        f"(memory sized from the host's {gb(sized.total_ram_mb)})", "medium", why,
        advice, evidence,
        {"total_ram_mb": sized.total_ram_mb, "pinned_memory_mb": sized.pinned_mb, "doing": work.doing,
         "prompts": len(prompts)},
        sum(prompt_seconds(p) for p in prompts), killed)]
