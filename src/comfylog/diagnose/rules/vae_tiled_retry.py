"""A VAE decode (or encode) that ran out of memory and was retried in tiles: the long tail after sampling."""

from __future__ import annotations

import bisect

from ...events import EventKind, Phase
from ...model import ErrorRecord, Evidence, Finding
from ...text import dur, plural
from ..engine import Advice, finding, rule
from ..evidence import event_line
from ..facts import Facts, is_timed

ADVICE_TILED = Advice("Decode with the `VAE Decode (Tiled)` node (for video, with temporal tiling too): the decode "
                      "then does not first fail at full size")
ADVICE_SMALLER = Advice("Fewer frames or a lower resolution make the full-size decode fit")
#: comfy/sd.py's ``VAE.encode`` (Comfy-Org/ComfyUI @ 033046cc, read through the code index) logs `Warning: Ran out of
#: memory when regular VAE encoding, retrying with tiled VAE encoding.` and encodes the input in tiles: the image or
#: video a node hands the VAE before sampling (WanImageToVideo's start image: Comfy-Org/ComfyUI#7761).
ADVICE_TILED_ENCODE = Advice("Encode with the `VAE Encode (Tiled)` node where the workflow has a `VAE Encode` node; "
                             "a node that encodes inside itself (an image-to-video node's start image) takes a smaller "
                             "input instead: the encode then does not first fail at full size")
ADVICE_SMALLER_ENCODE = Advice("A lower resolution or fewer frames of the input make the full-size encode fit")


@rule(
    "vae-tiled-retry", "warning", Phase.OTHER,
    trigger="`Warning: Ran out of memory when regular VAE decoding, retrying with tiled VAE decoding.` (or "
    "encoding): the full-size decode failed and ComfyUI ran it again in tiles; the time after sampling is that.",
    advice=(ADVICE_TILED, ADVICE_SMALLER, ADVICE_TILED_ENCODE, ADVICE_SMALLER_ENCODE),
)
def _vae_tiled_retry(facts: Facts) -> list[Finding]:
    records = [e for e in facts.errors_in("oom_recovered") if "VAE" in e.message]
    if not records:
        return []
    prompts = facts.prompts_by_index({e.prompt for e in records if e.prompt is not None})
    evidence: list[Evidence] = []
    tails = 0.0
    parts = []
    cited_warning = False
    for prompt in prompts:
        warnings = [ev for ev in facts.prompt_events(EventKind.OOM, prompt) if ev.fields.get("recovered")]
        bars = facts.sampling_bars(prompt)
        last = bars[-1] if bars else None
        if last is not None:
            evidence.append(facts.cite(last.source, last.end_line, f"{last.done:g}/{last.total:g} steps"))
        evidence += [facts.cite_event(ev) for ev in warnings[:1]]
        cited_warning = cited_warning or bool(warnings)
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
    if not cited_warning:  # the warnings past the lines of their prompt (field6 08: a prompt the log starts inside)
        evidence += [facts.cite(e.source, e.line, e.message) for e in records[:3]]
    decode = any("decoding" in e.message for e in records)
    encode = any("encoding" in e.message for e in records)
    failed = _retry_failed(facts, records)
    evidence += [facts.cite(oom.source, oom.line, oom.message) for oom in failed[:1]]
    if decode:
        why = (f"ComfyUI ran out of VRAM decoding with the VAE at full size and retried in tiles "
               f"({plural(len(records), 'retry', 'retries')}). "
               + ("; ".join(parts).capitalize() + ". " if parts else "")
               + "The tail after sampling is the VAE's, not the sampler's: the failed attempt is time lost, and "
               "tiles are slower than one pass.")
    else:  # an encode comes before sampling (an image or video into latents): no tail after it
        why = (f"ComfyUI ran out of VRAM encoding with the VAE at full size (the image or video it turns into "
               f"latents, before sampling) and retried in tiles ({plural(len(records), 'retry', 'retries')}). "
               "The failed attempt is time lost, and tiles are slower than one pass.")
    if failed:
        at = ", ".join(facts.lines_ref(oom.source, oom.line) for oom in failed[:3])
        why += (f" The tiled retry ran out of memory too ({at}: `{failed[0].message}`): tiles did not make it fit, "
                "so the prompt failed.")
    advice = ([ADVICE_TILED(), ADVICE_SMALLER()] if decode else []) + (
        [ADVICE_TILED_ENCODE(), ADVICE_SMALLER_ENCODE()] if encode else [])
    stage = "decode and encode" if decode and encode else "decode" if decode else "encode"
    title = f"The VAE {stage} ran out of memory and was retried in tiles" + (
        ", and the retry failed" if failed else f": {dur(tails)} after sampling" if tails else "")
    return [finding(
        "vae-tiled-retry", title, "high", why, advice, evidence,
        {"retries": len(records), "tail_s": round(tails, 3), **({"retries_failed": len(failed)} if failed else {})},
        tails, (p.index for p in prompts))]


def _retry_failed(facts: Facts, records: list[ErrorRecord]) -> list[ErrorRecord]:
    """The OOMs that ended a tiled retry of ``records`` (the warnings), one per failed retry: comfy/sd.py retries
    right after the warning, so an OOM error next in the same prompt (or in the prompt the log starts inside, where
    the warning came before anything opened it: Comfy-Org/ComfyUI#7761), with no other retry between them, is the
    retry's. One pass over each list (a bisect per warning), not a scan of the OOMs per warning."""
    ooms = list(facts.errors_in("oom"))
    at = [(oom.source, oom.line) for oom in ooms]
    retries = sorted((e.source, e.line) for e in records)
    failed: list[ErrorRecord] = []
    for warning in records:
        after = (warning.source, warning.line)
        i = bisect.bisect_right(at, after)
        if i == len(ooms) or at[i][0] != warning.source:
            continue
        oom = ooms[i]
        if bisect.bisect_left(retries, at[i]) - bisect.bisect_right(retries, after) > 0:
            continue  # another retry came between: the OOM is that one's
        if warning.prompt is not None:
            if oom.prompt == warning.prompt:
                failed.append(oom)
            continue
        prompt = next(iter(facts.prompts_by_index([oom.prompt])), None) if oom.prompt is not None else None
        if prompt is not None and not prompt.received:
            failed.append(oom)
    return failed
