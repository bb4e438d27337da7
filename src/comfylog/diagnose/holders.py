"""Models a custom node (or a library it uses) loaded outside ComfyUI's model management: ComfyUI neither
counts nor unloads their VRAM, so when its own loads are starved of VRAM after one, that model is the likely
holder. The lowvram and oom rules both name it."""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Event, EventKind
from ..model import Evidence, Load, ProgressBar, Run
from .engine import Advice
from .facts import UNLIMITED_MB, Facts

#: A partial load offered less than this share of the GPU's VRAM was starved, not too big.
STARVED_SHARE = 0.10
ADVICE_FREE_HOLDER = Advice(
    "Free the VRAM {holder} holds before these models load: {how}",
    {"holder": "a custom node's own model", "how": "the node's own unload or clear-cache option, if it has one; else "
     "restart ComfyUI between that workflow and this one (or run that node in a prompt of its own)"})
#: How to free a custom node's model: restart between workflows, or split the one workflow that holds both.
FREE_BETWEEN = ("the node's own unload or clear-cache option, if it has one; else restart ComfyUI between that "
                "workflow and this one")
FREE_WITHIN = ("the node's own unload or offload option, if it has one; else run that node in a prompt of its "
               "own and restart ComfyUI before the rest")
#: Progress bars of libraries that load a model outside ComfyUI's model management: diffusers' pipelines
#: and transformers' sharded checkpoints. Custom nodes that run models of their own use them; ComfyUI's
#: loaders do not.
OUTSIDE_LOAD_BARS = ("Loading pipeline components", "Loading checkpoint shards")


@dataclass(frozen=True)
class Holder:
    """What the log shows loading a model outside ComfyUI's model management before the starved loads."""

    name: str
    source: int
    line: int
    evidence: Evidence
    #: What the cited line says, where the name does not (``, `Loading pipeline components` ``).
    quote: str = ""


def before(facts: Facts, run: Run, at: tuple[int, int], vram: int) -> tuple[list[ProgressBar], list[Load]]:
    """The progress bars and the fairly offered loads (a tenth of the GPU or more) of ``run``'s prompts
    before ``at``, in log order: read through the prompts' own indexes, not the whole tables."""
    bars: list[ProgressBar] = []
    fair: list[Load] = []
    for prompt in facts.prompts_of_run(run.index):
        if (prompt.source, prompt.line) > at:
            break
        bars += [bar for bar in facts.bars_of(prompt) if (bar.source, bar.end_line) < at]
        fair += [ld for ld in facts.loads_of(prompt) if (ld.source, ld.line) < at and ld.usable_mb is not None
                 and STARVED_SHARE * vram <= ld.usable_mb < UNLIMITED_MB]
    return bars, fair


def find_holder(
    facts: Facts, run: Run, at: tuple[int, int], bars: list[ProgressBar], fair: list[Load]
) -> Holder | None:
    """The last model loaded outside ComfyUI's model management before the first starved load, in its run.

    A custom node's own ``[Node] Loading … model`` line (not followed by its ``Unloading`` line), or a
    diffusers / transformers loading bar. None when a load between it and the starved ones was offered a
    fair share of the GPU (the VRAM was free after it, so it did not hold it).
    """
    loading: dict[str, Event] = {}  # each node's first `Loading` line since its last `Unloading` one
    unloaded: set[str] = set()
    for ev in facts.run_events(EventKind.NODE_MODEL, run):
        if (ev.source, ev.line) >= at:
            break
        node = str(ev.fields.get("node"))
        if ev.fields.get("action") != "Loading":
            unloaded.add(node)
        elif node in unloaded or node not in loading:
            unloaded.discard(node)
            loading[node] = ev
    found = [Holder(f"`{node}`'s model", ev.source, ev.line, facts.cite_event(ev))
             for node, ev in loading.items() if node not in unloaded]
    for bar in bars:
        label = bar.label or ""
        if label.startswith(OUTSIDE_LOAD_BARS):
            library = "diffusers pipeline" if label.startswith(OUTSIDE_LOAD_BARS[0]) else "transformers model"
            cited = facts.cite(bar.source, bar.end_line, label)
            found.append(Holder(f"a {library}", bar.source, bar.end_line, cited, f", `{label.rstrip('.: ')}`"))
    if not found:
        return None
    holder = max(found, key=lambda h: (h.source, h.line))
    freed = any((holder.source, holder.line) < (ld.source, ld.line) for ld in fair)
    return None if freed else holder
