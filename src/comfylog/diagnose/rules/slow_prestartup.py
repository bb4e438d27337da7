"""Custom nodes' prestartup scripts slow to run before ComfyUI starts (not their import)."""

from __future__ import annotations

from ...model import Finding, Run
from ...text import basename, dur, plural
from ..engine import Advice, finding, rule
from ..facts import Facts, run_group

#: Prestartup scripts taking this long (seconds, per node) are reported.
SLOW_PRESTARTUP_S = 10.0
ADVICE_MANAGER = Advice("ComfyUI-Manager's prestartup installs pending dependencies and checks for updates: set it "
                        "offline (`network_mode = offline` in its config.ini) once the nodes are installed")
ADVICE_BAKE = Advice("In containers, install the nodes' dependencies into the image so no start-up waits for them")


@run_group("slow_prestartup")
def _has_slow_prestartup(run: Run) -> bool:
    return any(seconds >= SLOW_PRESTARTUP_S for seconds, _, _, _ in run.prestartup_times)


@rule(
    "slow-prestartup", "info", None,
    trigger=f"A custom node's prestartup script (`Prestartup times for custom nodes:`) that ran "
    f"{SLOW_PRESTARTUP_S:.0f} s or more before ComfyUI started: installing or updating, not importing.",
    advice=(ADVICE_MANAGER, ADVICE_BAKE),
)
def _slow_prestartup(facts: Facts) -> list[Finding]:
    slow = [(run, seconds, path, line) for run in facts.runs_in("slow_prestartup")
            for seconds, path, _failed, line in run.prestartup_times if seconds >= SLOW_PRESTARTUP_S]
    if not slow:
        return []
    slow.sort(key=lambda s: -s[1])
    run, seconds, path, _ = slow[0]
    total = sum(s[1] for s in slow)
    manager = any("manager" in basename(p).lower() for _, _, p, _ in slow)
    return [finding(
        "slow-prestartup", f"Slow start-up before ComfyUI: {basename(path)}'s prestartup took {dur(seconds)}",
        "high",
        f"{plural(len(slow), 'custom node')} ran prestartup scripts for {SLOW_PRESTARTUP_S:.0f} s or more "
        f"({dur(total)} in all) before ComfyUI itself started: time spent installing or updating, listed under "
        "`Prestartup times for custom nodes`, not importing.",
        ([ADVICE_MANAGER()] if manager else []) + [ADVICE_BAKE()],
        [facts.cite(r.source, line, f"{s:.1f} seconds: {p}") for r, s, p, line in slow],
        {"nodes": {basename(p): s for _, s, p, _ in slow}, "prestartup_s": round(total, 3)})]
