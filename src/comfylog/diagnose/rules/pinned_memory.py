"""Loads slowed by pinned memory: a model reloaded no faster than its first read from disk."""

from __future__ import annotations

from ...events import Phase
from ...model import Evidence, Finding
from ...text import dur, gb, plural
from ..builds import setting_lines
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts
from ..load_speed import DISK_MB_S, SLOW_MB_S, pinned_slow_reloads

ADVICE_DISABLE = Advice("Start ComfyUI with `--disable-pinned-memory` and compare the load times: users with loads "
                        "this slow report them ten times faster without pinning (ComfyUI#10555)")


@rule(
    "pinned-memory-slow", "warning", Phase.LOAD,
    trigger=f"With `Enabled pinned memory`, a model of 1 GB or more loaded again (`Requested to load` to `loaded "
    f"completely`) at under {SLOW_MB_S:.0f} MB/s and no faster than its first load in the same log, on a machine "
    "whose RAM holds the file: a re-read normally comes from the page cache at RAM speed, so the disk alone does "
    "not explain it; pinning the weights does.",
    advice=(ADVICE_DISABLE,),
)
def _pinned_memory_slow(facts: Facts) -> list[Finding]:
    found = pinned_slow_reloads(facts)
    if not found:
        return []
    slow = [t for f in found for t in f.slow]
    first_run = found[0]
    models = list(dict.fromkeys(t.load.model or "a model" for t in slow))
    example = slow[0]
    before = first_run.first.get(example.load.model or "")
    excess = sum(max(0.0, t.seconds - t.mb / DISK_MB_S) for t in slow)
    evidence: list[Evidence] = []
    for timed in ([before] if before is not None else []) + slow[:MAX_EVIDENCE - 1]:
        evidence.append(facts.cite(timed.load.source, timed.requested_line, f"Requested to load {timed.load.model}"))
        evidence.append(facts.cite(timed.load.source, timed.load.line, f"loaded completely {timed.mb:.2f}"))
    pinned_lines = setting_lines(facts, first_run.run, "pinned_memory_mb")[:1]
    evidence = [facts.cite_event(ev) for ev in pinned_lines] + evidence
    first_text = (f"; its first load took {dur(before.seconds)} ({before.rate:.0f} MB/s)" if before is not None else "")
    ram = first_run.run.total_ram_mb
    why = (f"{example.load.model} ({example.mb:.0f} MB) loaded again in prompt {example.prompt.index + 1} in "
           f"{dur(example.seconds)}, {example.rate:.0f} MB/s{first_text}. "
           f"{plural(len(slow), 'reload')} of {', '.join(models)} ran under {SLOW_MB_S:.0f} MB/s and no faster than "
           "the first read. A file read moments before normally comes back from the page cache at RAM speed"
           + (f" (the machine has {gb(ram)} of RAM)" if ram else "") + ", so the disk alone does not explain these "
           "loads. ComfyUI pins the weights it loads (`Enabled pinned memory`, a budget of "
           f"{gb(first_run.pinned_mb)}), and pinning is known to crawl on some systems; pinned RAM also leaves "
           "less room for the page cache. "
           f"At a local disk's {DISK_MB_S:.0f} MB/s the reloads would have taken {dur(excess)} less.")
    return [finding(
        "pinned-memory-slow", f"Reloads of {', '.join(models[:2])} crawl at {example.rate:.0f} MB/s with pinned memory "
        "on: not the disk alone", "medium", why, [ADVICE_DISABLE()], evidence,
        {"reloads": len(slow), "mb_per_s": round(example.rate, 1), "pinned_memory_mb": first_run.pinned_mb,
         "excess_s": round(excess, 3)},
        excess, {t.prompt.index for t in slow}, total=2 * len(slow) + 3)]
