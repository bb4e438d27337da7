"""Custom nodes that failed to import at start-up."""

from __future__ import annotations

import re

from ...model import Finding, Run
from ...text import basename, plural
from ..engine import Advice, finding, rule
from ..evidence import clip
from ..facts import Facts
from ..hints import OWN_WORDS_ADVICE, own_words_advice

ADVICE_INSTALL_MISSING = Advice("Install the missing Python packages the reasons name into the Python ComfyUI runs "
                                "with (ComfyUI-Manager: Try fix)")
ADVICE_NOT_A_NODE = Advice("A folder without `__init__.py` is no custom node (a leftover or a broken clone): "
                           "re-install it or remove it")
ADVICE_MISSING_FILE = Advice("A file the node needs is missing ({files}): re-install the node",
                             {"files": "its path"})
ADVICE_SUBMODULE = Advice("`{node}` misses a file under `repositories/`, a git submodule that a plain clone "
                          "leaves empty: run `git submodule update --init --recursive` in its folder (or clone "
                          "it with `--recursive`)", {"node": "the node"})
ADVICE_SYNTAX = Advice("A syntax error means the node does not fit this Python or ComfyUI: update the node")
ADVICE_REMOVE_NODE = Advice("Or remove the node if no workflow needs it")
ADVICE_NEWER_PYTHON = Advice("`unsupported operand type(s) for |: 'type' and 'type'` is a `X | Y` type hint, which "
                             "needs Python 3.10 or later: {nodes} {verb} written for a newer Python than this one; "
                             "run ComfyUI with Python 3.10+ or install an older version of the node",
                             {"nodes": "the node", "verb": "was"})
ADVICE_OLD_API = Advice("`{module}` is gone from the installed `{package}` (it moved or was removed in a later "
                        "version): {nodes} {verb} written for an older `{package}`; update {them}, or install the "
                        "older `{package}` the node asks for", {"module": "a.b", "package": "the package",
                                                               "nodes": "the node", "verb": "was", "them": "it"})


#: A failure's reason is shown cut to this many characters; the nodes' own instructions are quoted whole.
MAX_REASON_CHARS = 160
MAX_OWN_WORDS = 3
#: ``[Errno 2] No such file or directory: 'PATH'``.
MISSING_FILE_RE = re.compile(r"No such file or directory: '([^']+)'")
#: A node's git submodules live under ``repositories/`` (ComfyUI_UltimateSDUpscale's README: clone with them).
SUBMODULE_PATH_RE = re.compile(r"[/\\]repositories[/\\]")
#: ``No module named 'torchvision.transforms.functional_tensor'``: a part of a package, not a package.
SUBMODULE_RE = re.compile(r"No module named '([A-Za-z_]\w*\.[\w.]+)'")


@rule(
    "import-failed", "warning", None,
    trigger="`(IMPORT FAILED)` in the custom-node import times: nodes that did not load.",
    advice=(*OWN_WORDS_ADVICE, ADVICE_INSTALL_MISSING, ADVICE_OLD_API, ADVICE_NEWER_PYTHON, ADVICE_NOT_A_NODE,
            ADVICE_SUBMODULE, ADVICE_MISSING_FILE, ADVICE_SYNTAX, ADVICE_REMOVE_NODE),
)
def _import_failed(facts: Facts) -> list[Finding]:
    failed: dict[str, tuple[Run, float, int]] = {}
    for run in facts.report.runs:
        for seconds, path, did_fail, line in run.import_times:
            if did_fail and path not in failed:
                failed[path] = (run, seconds, line)
    if not failed:
        return []
    reasons: dict[str, str] = {}
    for e in facts.report.errors:
        if e.kind == "import_failed":
            for path in failed:
                if path in e.message and "(" in e.message:
                    reasons.setdefault(path, e.message.split(path, 1)[1].strip(" ()"))
    names = [basename(p) for p in failed]
    # What a node's own error says to do comes first (``Please download ... to models/svd``).
    advice = [own for own in (own_words_advice(reason, f"`{basename(path)}`") for path, reason in reasons.items())
              if own is not None][:MAX_OWN_WORDS]
    texts = " ".join(reasons.values())
    moved: dict[str, list[str]] = {}  # a submodule an installed package no longer has -> the nodes needing it
    for path, reason in reasons.items():
        m = SUBMODULE_RE.search(reason)
        if m:
            moved.setdefault(m.group(1), []).append(basename(path))
    missing = [p for p in failed if p not in reasons or ("No module named" in reasons[p]
                                                          and not SUBMODULE_RE.search(reasons[p]))]
    if missing:
        advice.append(ADVICE_INSTALL_MISSING())
    for module, nodes in moved.items():
        one = len(nodes) == 1
        advice.append(ADVICE_OLD_API(module=module, package=module.split(".")[0],
                                     nodes=", ".join(f"`{n}`" for n in nodes), verb="was" if one else "were",
                                     them="it" if one else "them"))
    newer = [basename(p) for p, reason in reasons.items() if "unsupported operand type(s) for |: 'type'" in reason]
    if newer:
        advice.append(ADVICE_NEWER_PYTHON(nodes=", ".join(f"`{n}`" for n in newer),
                                          verb="was" if len(newer) == 1 else "were"))
    missing_files = [(path, m.group(1)) for path, reason in reasons.items() for m in MISSING_FILE_RE.finditer(reason)]
    if any(basename(f) == "__init__.py" for _, f in missing_files):
        advice.append(ADVICE_NOT_A_NODE())
    others = [(path, f) for path, f in missing_files if basename(f) != "__init__.py"]
    submodules = [path for path, f in others if SUBMODULE_PATH_RE.search(f)]
    advice += [ADVICE_SUBMODULE(node=basename(path)) for path in dict.fromkeys(submodules)]
    plain = [f for path, f in others if path not in submodules]
    if plain:
        advice.append(ADVICE_MISSING_FILE(files=", ".join(f"`{basename(f)}`" for f in plain[:3])))
    if "syntax" in texts.lower():
        advice.append(ADVICE_SYNTAX())
    advice.append(ADVICE_REMOVE_NODE())
    shown = "; ".join(f"{basename(p)} ({clip(reasons[p], MAX_REASON_CHARS)})" if p in reasons else basename(p)
                      for p in list(failed)[:3])
    return [finding(
        "import-failed", f"{plural(len(failed), 'custom node')} failed to import", "high",
        f"ComfyUI lists {', '.join(names[:5])}{' …' if len(names) > 5 else ''} as IMPORT FAILED: their nodes "
        f"do not exist in this process, and workflows using them fail validation. {shown}.",
        advice,
        [facts.cite(run.source, line, f"{seconds:.1f} seconds (IMPORT FAILED): {path}")
         for path, (run, seconds, line) in failed.items()],
        {"failed": len(failed), "nodes": names})]
