"""Workflows ComfyUI refused at validation, in whole or in part, with the causes it printed."""

from __future__ import annotations

from collections import Counter

from ...events import Event, EventKind
from ...lazyre import lazy_re
from ...model import ErrorRecord, Evidence, Finding
from ...text import listing, plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts, platform_of

#: ComfyUI's validator (execution.py) on a node type no installed node provides.
MISSING_NODE_RE = lazy_re(r"Cannot execute because node (.{1,200}?) does not exist")
#: A loader's reason for an input file it cannot find: LoadImage's `Invalid image file: {}`, LoadAudio's `Invalid audio
#: file: {}` (comfy_extras/nodes_audio.py) and LoadVideo's `Invalid video file: {}` (comfy_extras/nodes_video.py;
#: also VideoHelperSuite's loaders), each `validate_inputs` returning it when `folder_paths.exists_annotated_filepath`
#: fails (checked through the code index). Field6 01: a WanVideoWrapper job missing both `1.ogg` and `1.jpeg`.
INVALID_FILE_RE = lazy_re(r"Invalid (image|audio|video) file: (.*\S)")
#: Lines after a validation failure searched for its ``* Node id:`` / ``- Reason: detail`` lines.
DETAIL_WINDOW = 60

ADVICE_CAUSES = Advice("Fix what the lines after `Failed to validate prompt for output N` name: usually a missing "
                       "model file, a missing custom node or an unconnected input")
ADVICE_MISSING_INPUT = Advice("Connect or fill in the missing inputs ({inputs}) in the workflow",
                              {"inputs": "the inputs the log names"})
ADVICE_NOT_IN_LIST = Advice("A `Value not in list` names a file or option this machine does not have: put the file "
                            "in the models folder (or pick one that exists)")
#: execution.py's `validate_inputs` writes `f"{x}: '{val}' not in {list_info}"`, `list_info` the options' list itself
#: when it has 20 or fewer (checked through the code index): `not in []` is a folder with no file in it at all.
ADVICE_EMPTY_LISTS = Advice("Every list the log prints is empty (`not in []`): this ComfyUI found no file at all in "
                            "those model folders. The models are not downloaded, or are where it does not look (a "
                            "network volume not mounted, or mounted elsewhere; `extra_model_paths.yaml` or "
                            "`--base-directory` pointing elsewhere)")
ADVICE_MISSING_NODE = Advice("Install the custom nodes that provide {nodes} (ComfyUI-Manager's `Install Missing Custom "
                             "Nodes`; on a worker, in its image), or take them out of the workflow",
                             {"nodes": "the node types the log names"})
ADVICE_API = Advice("An API workflow must name model files that exist on this machine")
ADVICE_INPUT_FILES = Advice("Put the input files the workflow names ({files}) in ComfyUI's `input` folder, or upload "
                            "them with the job: ComfyUI cannot find them",
                            {"files": "the files the log names"})
ADVICE_BACKSLASH = Advice("The workflow names files in subfolders with Windows backslashes (`{example}`) and this "
                          "ComfyUI runs on {platform}, where its lists use `/`: the files may be there as "
                          "`{fixed}`; pick them again in the loader or save the workflow with `/`",
                          {"example": "folder\\file", "platform": "Linux or macOS", "fixed": "folder/file"})


@rule(
    "validation-failed", "warning", None,
    trigger="`Failed to validate prompt` / `Prompt outputs failed validation`: prompts ComfyUI refused to "
    "run, or outputs it ignored; the causes are quoted from the `* Node id:` and `- Reason: detail` lines.",
    advice=(ADVICE_CAUSES, ADVICE_MISSING_NODE, ADVICE_MISSING_INPUT, ADVICE_INPUT_FILES, ADVICE_BACKSLASH,
            ADVICE_EMPTY_LISTS, ADVICE_NOT_IN_LIST, ADVICE_API),
)
def _validation_failed(facts: Facts) -> list[Finding]:
    rejected = {p.index for p in facts.prompts_in("invalid")}
    records: list[ErrorRecord] = []  # the first few, for evidence
    total = ignored = 0
    prompts: list[int] = []
    reasons: dict[str, None] = {}
    causes: Counter[str] = Counter()
    cause_lines: list[Evidence] = []
    missing: dict[str, None] = {}
    for e in facts.errors_in("validation"):  # one pass, counting: a long log has thousands of these
        total += 1
        if len(records) < MAX_EVIDENCE:
            records.append(e)
        reasons.setdefault(e.message)
        if e.prompt is not None:
            prompts.append(e.prompt)
            ignored += e.prompt not in rejected
        if len(causes) < 50:
            for cause, reason, detail, ev in _causes(facts, e):
                if not causes[cause] and len(cause_lines) < MAX_EVIDENCE:
                    cause_lines.append(facts.cite_event(ev))
                causes[cause] += 1
                if reason == "Required input is missing" and detail:
                    missing.setdefault(detail)
    if not total:
        return []
    parts = []
    if rejected:
        parts.append(f"{plural(len(rejected), 'prompt')} rejected (not run at all)")
    unseen = total - len(prompts)  # rejected before the log starts: no `got prompt` to tie them to
    if unseen:
        parts.append(f"{plural(unseen, 'prompt')} rejected whose `got prompt` is not in the log")
    if ignored:
        parts.append(f"{plural(ignored, 'prompt')} ran with some outputs ignored")
    messages = list(reasons)
    nodes = list(dict.fromkeys(m.group(1) for message in messages if (m := MISSING_NODE_RE.search(message))))
    if causes:
        quoted = listing((f"`{clip(c, 120)}`" + (f" ×{n}" if n > 1 else "") for c, n in causes.most_common(4)),
                         len(causes), "; ")
        said = f"The log says why: {quoted}."
    else:
        said = (f"First: `{clip(messages[0], 160)}`" + (f"; {len(messages)} distinct messages" if len(messages) > 1
                                                        else "") + ("." if nodes else
                                                                    "; the log does not print the causes."))
    advice = []
    if nodes:
        advice.append(ADVICE_MISSING_NODE(nodes=", ".join(f"`{n}`" for n in nodes[:5])))
    if missing:
        advice.append(ADVICE_MISSING_INPUT(inputs=", ".join(f"`{m}`" for m in list(missing)[:5])))
    inputs = list(dict.fromkeys(m.group(2) for c in causes if (m := INVALID_FILE_RE.search(c))))
    if inputs:
        advice.append(ADVICE_INPUT_FILES(files=", ".join(f"`{name}`" for name in inputs[:5])))
    not_in_list = [c for c in causes if "Value not in list" in c]
    windows_names = [c for c in not_in_list if "\\" in c.split("Value not in list", 1)[1]]
    platform = platform_of(facts, facts.run_at(records[0].source, records[0].line)) if records else None
    if windows_names and platform in ("linux", "mac"):
        name = windows_names[0].split("'", 2)[1] if windows_names[0].count("'") >= 2 else "folder\\file"
        advice.append(ADVICE_BACKSLASH(example=name, platform="Linux" if platform == "linux" else "macOS",
                                       fixed=name.replace("\\", "/")))
    if not_in_list and all(c.rstrip().endswith("not in []") for c in not_in_list):
        advice.append(ADVICE_EMPTY_LISTS())
    elif not_in_list:
        advice.append(ADVICE_NOT_IN_LIST())
    if not advice:
        advice.append(ADVICE_CAUSES())
    if not_in_list or (not causes and not nodes):
        advice.append(ADVICE_API())
    evidence = [facts.cite(e.source, e.line, e.message) for e in records[:2]] + cause_lines
    return [finding(
        "validation-failed", "Workflow validation failed: " + ", ".join(parts), "high",
        f"ComfyUI checks each workflow before running it and refused these in whole or in part. {said}",
        advice, evidence,
        {"rejected": len(rejected), "outputs_ignored_in": ignored, "messages": messages[:5],
         "causes": dict(causes.most_common(5))},
        0.0, prompts, total=total + sum(causes.values()))]


def _causes(facts: Facts, record: ErrorRecord) -> list[tuple[str, str, str, Event]]:
    """The ``* Class id:`` / ``- Reason: detail`` lines right after a failure: (cause, reason, detail, event)."""
    details = facts.between(EventKind.VALIDATION_DETAIL, record.source, record.line + 1, record.line + DETAIL_WINDOW)
    found = []
    node: str | None = None
    expected = record.line + 1
    for ev in details:
        if ev.line > expected + 1:  # not next to the failure (or to its previous detail line)
            break
        expected = ev.end_line + 1
        fields = ev.fields
        if fields.get("reason") is None:
            node = f"{fields['class_type']} {fields.get('node_id') or ''}".strip() if fields.get("class_type") \
                else "(prompt)"
            continue
        reason, detail = str(fields["reason"]), str(fields.get("detail") or "")
        text = f"{reason}: {detail}" if detail else reason
        found.append((f"{node}: {text}" if node else text, reason, detail, ev))
    return found
