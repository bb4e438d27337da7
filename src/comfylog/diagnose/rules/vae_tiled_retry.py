"""A VAE decode (or encode) that ran out of memory and was retried in tiles: the long tail after sampling."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Evidence, Finding
from ...text import dur, plural
from ..engine import Advice, finding, rule
from ..evidence import event_line
from ..facts import Facts, is_timed

ADVICE_TILED = Advice("Decode with the `VAE Decode (Tiled)` node (for video, with temporal tiling too): the decode "
                      "then does not first fail at full size")
ADVICE_SMALLER = Advice("Fewer frames or a lower resolution make the full-size decode fit")


@rule(
    "vae-tiled-retry", "warning", Phase.OTHER,
    trigger="`Warning: Ran out of memory when regular VAE decoding, retrying with tiled VAE decoding.` (or "
    "encoding): the full-size decode failed and ComfyUI ran it again in tiles; the time after sampling is that.",
    advice=(ADVICE_TILED, ADVICE_SMALLER),
)
def _vae_tiled_retry(facts: Facts) -> list[Finding]:
    records = [e for e in facts.errors_in("oom_recovered") if "VAE" in e.message]
    if not records:
        return []
    prompts = facts.prompts_by_index({e.prompt for e in records if e.prompt is not None})
    evidence: list[Evidence] = []
    tails = 0.0
    parts = []
    for prompt in prompts:
        warnings = [ev for ev in facts.prompt_events(EventKind.OOM, prompt) if ev.fields.get("recovered")]
        bars = facts.sampling_bars(prompt)
        last = bars[-1] if bars else None
        if last is not None:
            evidence.append(facts.cite(last.source, last.end_line, f"{last.done:g}/{last.total:g} steps"))
        evidence += [facts.cite_event(ev) for ev in warnings[:1]]
        if not is_timed(prompt) or last is None or last.end is None or prompt.ended_at is None or not warnings:
            continue
        tail = (prompt.ended_at - last.end).total_seconds()
        retry = (prompt.ended_at - warnings[0].ts).total_seconds() if warnings[0].ts else None
        tails += tail
        text = (f"prompt {prompt.index + 1} went on for {dur(tail)} after its last sampling step "
                f"({facts.lines_ref(last.source, last.end_line)})")
        if retry is not None:
            failed_at = facts.lines_ref(warnings[0].source, event_line(warnings[0])[0])
            text += (f": the full-size decode ran {dur(tail - retry)} before it failed ({failed_at}), "
                     f"the tiled retry {dur(retry)}")
        parts.append(text)
    if not evidence:
        evidence = [facts.cite(e.source, e.line, e.message) for e in records[:3]]
    decode = "decode" if any("decoding" in e.message for e in records) else "encode"
    why = (f"ComfyUI ran out of VRAM decoding with the VAE at full size and retried in tiles "
           f"({plural(len(records), 'retry', 'retries')}). " + ("; ".join(parts).capitalize() + ". " if parts else "")
           + "The tail after sampling is the VAE's, not the sampler's: the failed attempt is time lost, and "
           "tiles are slower than one pass.")
    if decode == "encode":
        why = why.replace("decoding with", "encoding with")
    return [finding(
        "vae-tiled-retry", f"The VAE {decode} ran out of memory and was retried in tiles"
        + (f": {dur(tails)} after sampling" if tails else ""), "high", why, [ADVICE_TILED(), ADVICE_SMALLER()],
        evidence, {"retries": len(records), "tail_s": round(tails, 3)}, tails, (p.index for p in prompts))]
