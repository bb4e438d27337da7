"""Model loading far below a local disk's speed: a network volume, usually."""

from __future__ import annotations

from collections.abc import Iterable

from ...events import Event, EventKind, Phase
from ...model import Evidence, Finding, Prompt
from ...text import clock, dur, plural
from ..engine import Advice, finding, rule
from ..facts import LONG_LOAD_S, Facts
from ..load_speed import (
    MIN_MB,
    SLOW_MB_S,
    LoadSilence,
    estimated_loads,
    longest_load_silence,
    pinned_prompts,
    timed_loads,
    weights_mb,
)

#: Model loading slower than this (MB/s) is far below a local disk (SSDs read 500 MB/s and more).
SLOW_LOAD_MB_S = SLOW_MB_S
#: What a local SSD reads (MB/s): the time beyond it is what a slow volume costs.
LOCAL_DISK_MB_S = 500.0
#: slow-load only judges prompts that spent at least this long loading, and this much data.
SLOW_LOAD_MIN_S = LONG_LOAD_S
SLOW_LOAD_MIN_MB = MIN_MB
#: One stretch of load time with no load request or loaded model logged in it that holds this share of the load
#: time or more decides the rate: the finding says so, gives the rate without it and is of low confidence (the
#: log cannot tell loading from a node that logs nothing there).
SILENCE_SHARE = 0.5
#: Load time left without that stretch shorter than this (seconds) times no speed.
SILENCE_REST_MIN_S = 1.0
#: Where RunPod mounts a serverless network volume (pods mount theirs at /workspace, which may also be local).
NETWORK_VOLUME = "/runpod-volume"

ADVICE_LOCAL_DISK = Advice("Copy the models to the machine's local disk or bake them into the image instead of "
                           "reading them from a network volume")
ADVICE_WARM = Advice("Keep workers warm (models stay in RAM between jobs) and avoid loading the same file twice")


@rule(
    "slow-load", "warning", Phase.LOAD,
    trigger=f"A prompt that loads only completely (no partial loads) and gets to sampling (one that failed before "
    f"may have read weights it never loaded) spends {SLOW_LOAD_MIN_S:.0f} s or more "
    f"loading at under {SLOW_LOAD_MB_S:.0f} MB/s (MB of `loaded completely` / load seconds), far below a "
    "local disk: typically a network volume; or models read from a RunPod network volume (`Adding extra search "
    f"path ... {NETWORK_VOLUME}/...`) by prompts that load slowly, partial loads included. Without usable "
    "timestamps, a prompt that loads and takes longer than the run's prompts that load nothing (same sampling "
    "time within 1.5x) is judged on that difference, marked as estimated. Where one stretch of the load time with "
    f"no load request or loaded model logged in it holds {SILENCE_SHARE:.0%} of it or more (the time before a load "
    "line counts as load), the finding says how long and before which line, gives the rate without it, and is of "
    "low confidence: the log cannot tell a slow read from a node that logs nothing.",
    advice=(ADVICE_LOCAL_DISK, ADVICE_WARM),
)
def _slow_load(facts: Facts) -> list[Finding]:
    slow: list[tuple[Prompt, float, float]] = []
    partial: list[Prompt] = []  # slow to load, with partial loads: the time is lowvram's to count
    pinned = pinned_prompts(facts)  # reloads no faster than the first read: pinned-memory-slow's, not the disk's
    for prompt in facts.prompts_in("loading_long"):  # timed, loading SLOW_LOAD_MIN_S or more, not cold
        load_s = prompt.phases.seconds(Phase.LOAD)  # a timed prompt's: known
        if prompt.index in pinned:
            continue
        loads = facts.loads_of(prompt)
        bars = [b for b in facts.bars_of(prompt) if b.is_loading]
        if prompt.lowvram_module_loads or any(ld.kind != "complete" for ld in loads):
            partial.append(prompt)
            continue
        if bars:
            continue  # download bars move data comfylog cannot size
        if prompt.status != "ok" and not any(b.is_sampling for b in facts.bars_of(prompt)):
            continue  # failed before sampling: it read weights it never moved to the GPU (044), unsized
        mb = weights_mb(loads)
        if mb >= SLOW_LOAD_MIN_MB and mb / load_s < SLOW_LOAD_MB_S:
            slow.append((prompt, mb, load_s))
    volume = [ev for ev in facts.events[EventKind.EXTRA_SEARCH_PATH] if NETWORK_VOLUME in str(ev.fields["path"])]
    if not slow:
        if volume and partial:
            return _on_network_volume(facts, volume, partial)
        return _estimated(facts, volume)
    mb = sum(s[1] for s in slow)
    load_s = sum(s[2] for s in slow)
    rate = mb / load_s
    excess = _beyond_local_disk((s[1], s[2]) for s in slow)
    evidence = [facts.cite_event(ev) for p, _, _ in slow for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, p)]
    if not evidence:
        evidence = _load_lines(facts, (p for p, _, _ in slow))
    on_volume = (f" The models are read from a RunPod network volume (`{volume[0].fields['path']}`, "
                 f"{facts.lines_ref(volume[0].source, volume[0].line)})." if volume
                 else " (A network volume is the usual cause.)")
    evidence += [facts.cite_event(ev) for ev in volume[:1]]
    figures: dict[str, object] = {"loaded_mb": round(mb, 1), "load_s": round(load_s, 3), "mb_per_s": round(rate, 1)}
    silences = [s for s in (longest_load_silence(facts, p) for p, _, _ in slow) if s is not None]
    silence = max(silences, key=lambda s: s.seconds, default=None)
    if silence is not None and silence.seconds >= SILENCE_SHARE * load_s:
        return [_silent(facts, slow, silence, figures, evidence, on_volume if volume else "", excess)]
    return [finding(
        "slow-load", f"Slow model loading: {mb / 1024:.1f} GB in {dur(load_s)} ({rate:.0f} MB/s)", "medium",
        f"{plural(len(slow), 'prompt')} loaded {mb:.0f} MB of weights in {dur(load_s)} of load time, {rate:.0f} MB/s; "
        f"a local SSD reads {LOCAL_DISK_MB_S:.0f} MB/s or more, so about {dur(excess)} went to slow storage."
        f"{on_volume} The load time also holds the nodes' own work, hence medium confidence.",
        [ADVICE_LOCAL_DISK(), ADVICE_WARM()],
        evidence, figures, excess, (p.index for p, _, _ in slow))]


def _silent(facts: Facts, slow: list[tuple[Prompt, float, float]], silence: LoadSilence,
            figures: dict[str, object], evidence: list[Evidence], on_volume: str, excess: float) -> Finding:
    """Slow loading whose load time is mostly one stretch with no load line in it (LoadSilence): how much, before
    which line, and the rate with and without it. ComfyUI reads a file before it logs the load, so a slow volume
    looks like this (the time is counted as load, as the scenarios' ground truth counts it), but so does a node
    that logs nothing: the log cannot tell them apart, hence low confidence."""
    mb = sum(s[1] for s in slow)
    load_s = sum(s[2] for s in slow)
    rate = mb / load_s
    ev = silence.event
    share = silence.seconds / load_s
    line_text = _line_label(ev)
    at = f"line {ev.line} (`{line_text}`, {clock(ev.ts)})"
    if silence.unbroken:
        what = "one silent gap"
        where = (f"one silence: nothing is logged between line {silence.since_line} ({clock(silence.since)}) "
                 f"and {at}")
    else:
        what = "with no load request logged"
        since = f" (line {silence.since_line})" if silence.since_line is not None else ""
        where = (f"the time before {at} since {clock(silence.since)}{since}, with no load request or loaded "
                 "model logged in it")
    rest_s = load_s - silence.seconds
    figures.update(silence_s=round(silence.seconds, 3), silence_line=ev.line)
    copies = _copies(facts, slow)
    copied = ""
    if copies is not None:
        copy_s, copy_mb = copies
        copied = (f"the copies the log times (each from `Requested to load` to its `loaded completely`) took "
                  f"{dur(copy_s)} ({copy_mb / copy_s:.0f} MB/s)")
    if rest_s < SILENCE_REST_MIN_S:
        figures["without_silence_mb_per_s"] = None
        without = f"without it, what is left ({dur(rest_s)}) is too short to tell a speed."
        if copied:
            without += f" Apart from it, {copied}."
    else:
        rest_rate = mb / rest_s
        figures["without_silence_mb_per_s"] = round(rest_rate, 1)
        without = f"without it, {mb / 1024:.1f} GB in {dur(rest_s)} is {rest_rate:.0f} MB/s"
        if copies is not None and rest_s - copies[0] >= SILENCE_REST_MIN_S:
            # what is left holds more time before load lines: its rate is no disk's either
            without += (f"; of those {dur(rest_s)}, {copied}, and the other {dur(rest_s - copies[0])} came before "
                        "load lines too.")
        else:
            rest_excess = _beyond_local_disk((s[1], s[2] - (silence.seconds if s[0] is silence.prompt else 0.0))
                                             for s in slow)
            verdict = (f"still slow: {dur(rest_excess)} beyond a local disk" if rest_rate < SLOW_LOAD_MB_S
                       else "no slower than a disk")
            without += f" ({verdict})." + (f" Of them, {copied}." if copied else "")
    cited = [facts.cite_event(ev)]
    if silence.since_line is not None:
        cited.insert(0, facts.cite(ev.source, silence.since_line, f"line {silence.since_line}"))
    return finding(
        "slow-load", f"Slow model loading: {mb / 1024:.1f} GB in {dur(load_s)} ({rate:.0f} MB/s), "
        f"{dur(silence.seconds)} of it {what}", "low",
        f"{plural(len(slow), 'prompt')} loaded {mb:.0f} MB of weights in {dur(load_s)} of load time, {rate:.0f} MB/s. "
        f"{dur(silence.seconds)} of that ({share:.0%}) is {where}. comfylog counts the time before a load line as "
        "loading, because ComfyUI reads a model's file before it logs the load (a slow network volume shows as "
        "such a gap), but nodes that log nothing may have run there instead (a VAE or text encoder, a node's own "
        f"work): the log cannot tell which. Counted as loading, about {dur(excess)} went to slow storage (a local "
        f"SSD reads {LOCAL_DISK_MB_S:.0f} MB/s or more); {without}{on_volume} Hence low confidence.",
        [ADVICE_LOCAL_DISK(), ADVICE_WARM()],
        cited + evidence, figures, excess, (p.index for p, _, _ in slow))


def _line_label(ev: Event) -> str:
    """A load line as the why quotes it: the request with its model, else the line's start."""
    if ev.kind is EventKind.LOAD_REQUESTED and ev.fields.get("model"):
        return f"Requested to load {ev.fields['model']}"
    text = str(ev.fields.get("text") or ev.kind.value)
    return text if len(text) <= 60 else text[:59] + "…"


def _copies(facts: Facts, slow: list[tuple[Prompt, float, float]]) -> tuple[float, float] | None:
    """Seconds and MB of the slow prompts' loads from ``Requested to load`` to ``loaded completely`` (load_speed's
    timed loads), when every load of theirs that moved weights is timed so; else None."""
    indexes = {p.index for p, _, _ in slow}
    timed = [t for t in timed_loads(facts) if t.prompt.index in indexes]
    sized = [ld for p, _, _ in slow for ld in facts.loads_of(p) if ld.loaded_mb and ld.loaded_mb < 1e9]
    seconds = sum(t.seconds for t in timed)
    if not timed or len(timed) != len(sized) or seconds <= 0:
        return None
    return seconds, sum(t.mb for t in timed)


def _on_network_volume(facts: Facts, volume: list[Event], partial: list[Prompt]) -> list[Finding]:
    """Slow loads with partial loads, from a network volume: a cause whose share of the time the log
    cannot split from the partial loading's (the lowvram finding counts the time)."""
    load_s = sum(p.phases.load or 0.0 for p in partial)
    folders = ", ".join(dict.fromkeys(str(ev.fields["folder"]) for ev in volume))
    return [finding(
        "slow-load", f"Models on a RunPod network volume: a cause of {dur(load_s)} of slow loading", "medium",
        f"ComfyUI reads {folders} from `{NETWORK_VOLUME}` ({facts.lines_ref(volume[0].source, volume[0].line)}), "
        f"RunPod's network storage: every load reads the weights over the network, far slower than a local disk. "
        f"{plural(len(partial), 'prompt')} "
        f"spent {dur(load_s)} loading; {'it' if len(partial) == 1 else 'they'} also loaded partially, so the log "
        "cannot tell how much of that time is "
        "the volume's (the lowvram finding counts it), hence medium confidence.",
        [ADVICE_LOCAL_DISK(), ADVICE_WARM()], [facts.cite_event(ev) for ev in volume],
        {"network_volume": NETWORK_VOLUME, "load_s": round(load_s, 3)}, 0.0, (p.index for p in partial),
        total=len(volume))]


def _estimated(facts: Facts, volume: list[Event]) -> list[Finding]:
    """Slow loading in a log without usable timestamps: a prompt that loaded weights, against the
    prompts near it in the same run that loaded nothing and sampled about as long. What it took beyond their
    time outside sampling is taken as its load time (an estimate, said as one: load_speed.estimated_loads)."""
    slow = [(e.prompt, e.mb, e.seconds, e.compared, e.usual) for e in estimated_loads(facts) if e.slow]
    if not slow:
        return []
    mb = sum(s[1] for s in slow)
    load_s = sum(s[2] for s in slow)
    rate = mb / load_s
    excess = _beyond_local_disk((s[1], s[2]) for s in slow)
    first, first_mb, first_s, compared, usual = slow[0]
    evidence = _load_lines(facts, (p for p, *_ in slow))
    evidence += [facts.cite_event(ev) for ev in volume[:1]]
    on_volume = (f" The models are read from a RunPod network volume (`{volume[0].fields['path']}`, "
                 f"{facts.lines_ref(volume[0].source, volume[0].line)})." if volume else "")
    # The method on the first such prompt, its own figures; the sums when there are more.
    more = (f" In all, {plural(len(slow), 'prompt')} loaded {mb / 1024:.1f} GB in about {dur(load_s)} by this "
            "estimate." if len(slow) > 1 else "")
    return [finding(
        "slow-load", f"Slow model loading (estimated): {mb / 1024:.1f} GB in about {dur(load_s)} "
        f"({rate:.0f} MB/s)", "low",
        f"The log has no usable timestamps, so the load time is estimated: prompt {first.index + 1} took "
        f"{dur(first.total_s or 0.0)} and loaded {first_mb / 1024:.1f} GB of weights; "
        f"{plural(compared, 'other prompt')} of its run loaded nothing, sampled about as long and spent "
        f"{dur(usual)} outside sampling. The time beyond that, about {dur(first_s)}, is "
        f"{first_mb / first_s:.0f} MB/s if loading was all of it.{more} A local SSD reads "
        f"{LOCAL_DISK_MB_S:.0f} MB/s or more, so about {dur(excess)} may have "
        f"gone to slow storage (a network volume, or a cold disk cache).{on_volume} A prompt that loads can also be "
        "slower for other reasons (compiling, caches warming up), hence low confidence.",
        [ADVICE_LOCAL_DISK(), ADVICE_WARM()],
        evidence, {"loaded_mb": round(mb, 1), "load_s": round(load_s, 3), "mb_per_s": round(rate, 1),
                   "estimated": True},
        excess, (p.index for p, *_ in slow))]


def _beyond_local_disk(loads: Iterable[tuple[float, float]]) -> float:
    """Of (MB, seconds) loads, the seconds beyond what a local SSD would have taken: what slow storage cost."""
    return sum(max(0.0, seconds - mb / LOCAL_DISK_MB_S) for mb, seconds in loads)


def _load_lines(facts: Facts, prompts: Iterable[Prompt]) -> list[Evidence]:
    """The prompts' ``loaded completely`` lines as evidence."""
    return [facts.cite(p.source, ld.line, f"loaded completely {ld.loaded_mb}") for p in prompts
            for ld in facts.loads_of(p)]
