"""Models a custom node (or a library it uses) loaded outside ComfyUI's model management: ComfyUI neither
counts nor unloads their VRAM, so when its own loads are starved of VRAM after one, that model is the likely
holder. The lowvram and oom rules both name it."""

from __future__ import annotations

from ..dataclass import dataclass
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


@dataclass
class Before:
    """What came before a starved load in its run's prompts: the last bar of a library that loads models
    outside ComfyUI (the latest in the log), and the loads fairly offered (a tenth of the GPU or more): the
    last one read and the latest line of one."""

    outside_bar: ProgressBar | None = None
    last_fair: Load | None = None
    latest_fair: tuple[int, int] | None = None


def before(facts: Facts, run: Run, at: tuple[int, int], vram: int) -> Before:
    """What ``run``'s prompts show before ``at`` (Before), read one prompt at a time through their own
    indexes, not the whole tables, and never listed: a run kept up for days has hundreds of thousands of
    prompts, and their bars and loads."""
    found = Before()
    for prompt in facts.prompts_of_runs((run.index,)):
        if (prompt.source, prompt.line) > at:
            break
        for bar in facts.bars_of(prompt):
            if (bar.source, bar.end_line) < at and (bar.label or "").startswith(OUTSIDE_LOAD_BARS) and (
                    found.outside_bar is None
                    or (bar.source, bar.end_line) > (found.outside_bar.source, found.outside_bar.end_line)):
                found.outside_bar = bar
        for ld in facts.loads_of(prompt):
            if (ld.source, ld.line) < at and ld.usable_mb is not None \
                    and STARVED_SHARE * vram <= ld.usable_mb < UNLIMITED_MB:
                found.last_fair = ld
                if found.latest_fair is None or (ld.source, ld.line) > found.latest_fair:
                    found.latest_fair = (ld.source, ld.line)
    return found


def find_holder(facts: Facts, run: Run, at: tuple[int, int], found: Before) -> Holder | None:
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
    holders = [Holder(f"`{node}`'s model", ev.source, ev.line, facts.cite_event(ev))
               for node, ev in loading.items() if node not in unloaded]
    bar = found.outside_bar  # the latest: an earlier one could not be the last model loaded
    if bar is not None:
        label = bar.label or ""
        library = "diffusers pipeline" if label.startswith(OUTSIDE_LOAD_BARS[0]) else "transformers model"
        cited = facts.cite(bar.source, bar.end_line, label)
        holders.append(Holder(f"a {library}", bar.source, bar.end_line, cited, f", `{label.rstrip('.: ')}`"))
    if not holders:
        return None
    holder = max(holders, key=lambda h: (h.source, h.line))
    freed = found.latest_fair is not None and (holder.source, holder.line) < found.latest_fair
    return None if freed else holder
