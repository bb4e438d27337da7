"""Custom nodes, and ComfyUI's own node files, that failed to import at start-up."""

from __future__ import annotations

import re

from ...dataclass import dataclass
from ...events import Event, EventKind
from ...index import NO_MAPPINGS
from ...lazyre import lazy_re
from ...model import MAX_RUN_IMPORT_TIMES, ErrorRecord, Evidence, Finding
from ...segment.segmenter import MAX_IMPORT_PATH_CHARS, import_message_paths, read_import_message
from ...text import basename, listing, plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts
from ..hints import OWN_WORDS_ADVICE, own_words_advice
from ..node_imports import NodeImportError, node_import_errors
from ..packages import canonical, installed_packages, missing_module, package_of
from ..pytorch import ADVICE_EXTENSION, UNDEFINED_SYMBOL_RE, ExtensionFailure, demangled, extension_failure

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
ADVICE_REQUIREMENTS = Advice("ComfyUI's own node files need ComfyUI's requirements: install them into the Python "
                             "ComfyUI runs with, as its warning says (`python -m pip install -r requirements.txt` in "
                             "ComfyUI's folder; the portable build: `update/update_comfyui.bat`)")
ADVICE_REMOVE_NODE = Advice("Or remove the node if no workflow needs it")
ADVICE_NEWER_PYTHON = Advice("`unsupported operand type(s) for |: 'type' and 'type'` is a `X | Y` type hint, which "
                             "needs Python 3.10 or later: {nodes} {verb} written for a newer Python than this one; "
                             "run ComfyUI with Python 3.10+ or install an older version of the node",
                             {"nodes": "the node", "verb": "was"})
ADVICE_OLD_API = Advice("`{module}` is gone from the installed `{package}` (it moved or was removed in a later "
                        "version): {nodes} {verb} written for an older `{package}`; update {them}, or install the "
                        "older `{package}` the node asks for", {"module": "a.b", "package": "the package",
                                                               "nodes": "the node", "verb": "was", "them": "it"})

ADVICE_NAME_MISSING = Advice(
    "The installed `{package}` has no `{name}`: {nodes} {verb} written for another version of `{package}` (one "
    "that still has it, or already has it); update {them} first, then install the `{package}` version {their} "
    "requirements name", {"package": "the package", "name": "NAME", "nodes": "the node", "verb": "was",
                          "them": "it", "their": "its"})
ADVICE_COMFY_API = Advice("{nodes} {verb} `{name}` from ComfyUI's `{module}`, which this ComfyUI does not have: the "
                          "node and ComfyUI are from different times. Update both (ComfyUI-Manager: Update All), or "
                          "install the version of the node that matches this ComfyUI",
                          {"nodes": "The node", "verb": "imports", "name": "NAME", "module": "comfy.X"})
ADVICE_PART_INSTALL = Advice("Install `{package}` into the Python ComfyUI runs with (`python -m pip install {package}` "
                             "with that Python): the part of `{node}` that needs it did not load",
                             {"package": "the missing module's package", "node": "the node"})
ADVICE_PART_INSTALLED_LATER = Advice(
    "`{package}` was installed after `{node}` failed on it, later in the same start-up ({where}: pip's "
    "`Successfully installed … {package}-{version}`): the part that needs it loads at the next start, so restart "
    "ComfyUI. If every start installs it anew (a container that pip-installs at start-up), install it in the image "
    "instead, before ComfyUI starts",
    {"package": "the package", "node": "the node", "where": "line N", "version": "VERSION"})
ADVICE_NO_MAPPINGS = Advice("{nodes} imported but {verb} no nodes (no `NODE_CLASS_MAPPINGS`). A web-only extension "
                            "needs none and can stay (ComfyUI loads its `WEB_DIRECTORY` before the check); a folder "
                            "that is no node pack at all (a library or a download put in `custom_nodes`) can be "
                            "removed; a node pack gives none when its own code gave up, most often on a missing "
                            "package that its lines just before the `Skip` name: install that, or re-install the pack",
                            {"nodes": "`the node`", "verb": "defines"})
ADVICE_PART_NODE = Advice("`{node}` failed on a part of itself (`{error}`): update it or re-install it "
                          "(ComfyUI-Manager: Update, Try fix) so that its files are complete and of one version",
                          {"node": "the node", "error": "the exception"})
# setuptools' pkg_resources ran `register_finder(pkgutil.ImpImporter, find_on_path)` on import until 66.1.0
# (pypa/setuptools#3685, "Fix improper usage of deprecated/removed pkgutil APIs in Python 3.12+"; the guarded
# `if hasattr(pkgutil, "ImpImporter"):` form is in pkg_resources/__init__.py since), and Python 3.12 removed
# pkgutil.ImpImporter; setuptools 82.0.0 removed pkg_resources itself (its changelog, #3085).
#: ComfyUI tries every folder in custom_nodes as a node pack (nodes.py, init_external_custom_nodes: only files that
#: are not ``.py`` and names ending in ``.disabled`` are passed over), hidden folders too: a ``.git`` there (the
#: folder a git checkout's root, sharosoo/comfyui's ``comfyui.log``) "fails to import" for want of ``__init__.py``.
ADVICE_HIDDEN_FOLDER = Advice("Nothing to fix: {folders} {verb} no node pack, and no workflow needs {it}; ComfyUI "
                              "tries every folder in `custom_nodes`. Do not delete a `.git` folder to quiet the line: "
                              "it holds that checkout's history", {"folders": "`.git`", "verb": "is", "it": "it"})
ADVICE_OLD_SETUPTOOLS = Advice(
    "{nodes} failed on `module 'pkgutil' has no attribute 'ImpImporter'`: an old setuptools' `pkg_resources` (before "
    "66.1) imported under Python 3.12 or later, which removed `pkgutil.ImpImporter`. Install a setuptools that has "
    "the fix and still ships `pkg_resources` into the Python ComfyUI runs with (`python -m pip install "
    "\"setuptools>=66.1,<82\"`), or update {them} if {it} pins an older one",
    {"nodes": "`the node`", "them": "it", "it": "it"})

#: A failure's reason is shown cut to this many characters; the nodes' own instructions are quoted whole.
MAX_REASON_CHARS = 160
MAX_OWN_WORDS = 3
#: Distinct reasons the finding quotes, and nodes named for each.
MAX_REASONS_SHOWN = 3
MAX_NODES_NAMED = 4
#: Failed nodes the figures list by name (``nodes``); ``failed`` counts them all, ``nodes_not_listed`` the others.
MAX_NODES_LISTED = 1000
#: ``[Errno 2] No such file or directory: 'PATH'``.
MISSING_FILE_RE = lazy_re(r"No such file or directory: '([^']+)'")
#: A node's git submodules live under ``repositories/`` (ComfyUI_UltimateSDUpscale's README: clone with them).
SUBMODULE_PATH_RE = lazy_re(r"[/\\]repositories[/\\]")
#: ``cannot import name 'SVD_img2vid' from 'comfy.model_base'``: the node asks ComfyUI for what it does not have.
COMFY_NAME_RE = lazy_re(r"cannot import name '(\w+)' from '(comfy(?:_extras|_api)?(?:\.\w+)*)'")
#: ``cannot import name 'cached_download' from 'huggingface_hub' (PATH)``: a name the installed package lacks.
PACKAGE_NAME_RE = lazy_re(r"cannot import name '(\w+)' from '([A-Za-z_]\w*)(?:\.[\w.]+)?'")
#: Python's words when the name exists but its module was still being imported: not a version mismatch.
CIRCULAR = ("partially initialized module", "circular import")
#: ``cannot import name 'x' from 'pkg' (C:\...\pkg\__init__.py)``: the file in parentheses, left out when grouping.
FROM_FILE_RE = lazy_re(r" \([^()]*[/\\][^()]*\)\s*$")
#: Python 3.12's word for an old setuptools' pkg_resources (ADVICE_OLD_SETUPTOOLS).
IMP_IMPORTER = "module 'pkgutil' has no attribute 'ImpImporter'"
#: ``No module named 'torchvision.transforms.functional_tensor'``: a part of a package, not a package.
SUBMODULE_RE = lazy_re(r"No module named '([A-Za-z_]\w*\.[\w.]+)'")


def _reasons(facts: Facts, failed: list[str]) -> dict[str, str]:
    """The reason the first import-failure record about each failed node gives, by the node's path. A record
    is about the first node (in ``failed``'s order) with a reason that it names: looked up by the paths its
    message can name, not tried against every node (a log listing thousands of failed imports would cost
    their square)."""
    by_cut: dict[str, list[int]] = {}
    for i, path in enumerate(failed):
        by_cut.setdefault(path[:MAX_IMPORT_PATH_CHARS], []).append(i)
    reasons: dict[str, str] = {}
    for e in facts.errors_in("import_failed"):
        named = sorted(i for cut in import_message_paths(e.message) for i in by_cut.get(cut, ()))
        for i in named:
            read = read_import_message(e.message, failed[i])
            if read is not None and read.reason is not None:
                reasons.setdefault(failed[i], read.reason)
                break
    return reasons


def _hidden_folders(facts: Facts, hidden: dict[str, tuple[int, int, str, bool]]) -> Finding:
    """Only hidden folders (``.git``) failed: ComfyUI tried them as node packs; nothing that exists is missing."""
    names = [f"`{basename(path)}`" for path in hidden]
    one = len(names) == 1
    named = listing(names[:MAX_NODES_NAMED], len(names))
    return finding(
        "import-failed", f"ComfyUI tried {named} in `custom_nodes` as {'a node pack' if one else 'node packs'}: "
        f"{'it is' if one else 'they are'} none", "high",
        f"ComfyUI lists {named} as IMPORT FAILED: it tries every folder in `custom_nodes`, hidden ones too, "
        f"and {'this one has' if one else 'these have'} no `__init__.py`"
        + (" (a `.git` there makes `custom_nodes` itself a git checkout: it holds that repository's history)"
           if any(basename(path) == ".git" for path in hidden) else "")
        + ". No node pack failed, and no workflow misses a node.",
        [ADVICE_HIDDEN_FOLDER(folders=named, verb="is" if one else "are", it="it" if one else "them")],
        [facts.cite(source, line, text) for source, line, text, _ in hidden.values()], {"hidden_folders": len(names)},
        severity="info", total=len(names))


def _some(names: list[str], more: int = 0) -> str:
    """The first five names, `` …`` after them if there are more (``more``: others not among ``names``)."""
    return f"{', '.join(names[:5])}{' …' if len(names) > 5 or more else ''}"


def _failures_not_kept(facts: Facts) -> int:
    """IMPORT FAILED rows a run did not keep (MAX_RUN_IMPORT_TIMES: a hostile log), counted: the most of any run
    (a restart lists the same nodes again, and the kept rows are told apart by path only)."""
    return max((run.import_failures_not_kept for run in facts.report.runs), default=0)


def _failed_nodes(facts: Facts) -> dict[str, tuple[int, int, str, bool]]:
    """The custom nodes that failed to import, by path: (source, line, the line's text for evidence, whether the
    import times list it). Those the import times list as IMPORT FAILED, then those a ``Cannot import`` or ``Skip``
    line names whose row of the import times is not in the log (a paste cut inside the list; the index's
    ``unlisted_import_failures``, which the reports' "N failed" counts too)."""
    failed: dict[str, tuple[int, int, str, bool]] = {}
    for run in facts.report.runs:
        for seconds, path, did_fail, line in run.import_times:
            if did_fail and path not in failed:
                failed[path] = (run.source, line, f"{seconds:.1f} seconds (IMPORT FAILED): {path}", True)
    for path, e in facts.unlisted_import_failures().items():
        read = read_import_message(e.message, path)
        if path not in failed:
            failed[path] = (e.source, e.end_line or e.line,
                            f"Cannot import {path}: {read.reason if read is not None and read.reason else ''}", False)
    return failed


@rule(
    "import-failed", "warning", None,
    trigger="`(IMPORT FAILED)` in the custom-node import times, or ComfyUI's `IMPORT FAILED: FILE` list of its own "
    "node files (comfy_extras/): nodes that did not load, with the reasons the log gives (a compiled extension built "
    "against another PyTorch is named). Also a custom node that printed a traceback while the nodes loaded "
    "and is in the import times without it: it loaded only in part.",
    advice=(*OWN_WORDS_ADVICE, ADVICE_EXTENSION, ADVICE_INSTALL_MISSING, ADVICE_OLD_API, ADVICE_NEWER_PYTHON,
            ADVICE_NAME_MISSING, ADVICE_COMFY_API, ADVICE_NOT_A_NODE, ADVICE_SUBMODULE, ADVICE_MISSING_FILE,
            ADVICE_SYNTAX, ADVICE_REQUIREMENTS, ADVICE_REMOVE_NODE, ADVICE_PART_INSTALL, ADVICE_PART_INSTALLED_LATER,
            ADVICE_PART_NODE, ADVICE_NO_MAPPINGS, ADVICE_OLD_SETUPTOOLS, ADVICE_HIDDEN_FOLDER),
)
def _import_failed(facts: Facts) -> list[Finding]:
    failed = _failed_nodes(facts)
    hidden = {path: at for path, at in failed.items() if basename(path).startswith(".")}
    failed = {path: at for path, at in failed.items() if path not in hidden}
    builtin = _builtin_failures(facts)
    not_kept = _failures_not_kept(facts)
    cut_more = facts.unlisted_imports_not_kept()  # only a line names them, past those the index keeps
    count = len(failed) + not_kept + cut_more  # the custom nodes that failed, named or not
    if hidden and not count and not builtin:
        return [_hidden_folders(facts, hidden)]
    partial: dict[str, NodeImportError] = {}  # a node that loaded without a part of itself, by name
    for error in node_import_errors(facts).values():
        if error.loaded:
            partial.setdefault(error.node, error)
    if not count and not builtin:
        return [_loaded_in_part(facts, list(partial.values()))] if partial else []
    reasons = _reasons(facts, list(failed))
    names = [basename(p) for p in failed]
    # What a node's own error says to do comes first (``Please download ... to models/svd``).
    advice = [own for own in (own_words_advice(reason, f"`{basename(path)}`") for path, reason in reasons.items())
              if own is not None][:MAX_OWN_WORDS]
    extensions, told = _extensions(facts, {**reasons, **{b.name: b.reason for b in builtin if b.reason}},
                                   [*((source, line) for source, line, _, _ in failed.values()),
                                    *((b.source, b.line) for b in builtin)])
    advice += [item for _, item, _ in extensions]
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
    old_setuptools = [basename(p) for p, reason in reasons.items() if IMP_IMPORTER in reason]
    if old_setuptools:
        one = len(old_setuptools) == 1
        advice.append(ADVICE_OLD_SETUPTOOLS(nodes=", ".join(f"`{n}`" for n in old_setuptools),
                                            them="it" if one else "them", it="it" if one else "one"))
    skipped = [basename(p) for p, reason in reasons.items() if reason.startswith(NO_MAPPINGS)]
    if skipped:
        advice.append(ADVICE_NO_MAPPINGS(nodes=", ".join(f"`{n}`" for n in skipped),
                                         verb="defines" if len(skipped) == 1 else "define"))
    for module, nodes in moved.items():
        one = len(nodes) == 1
        advice.append(ADVICE_OLD_API(module=module, package=module.split(".")[0],
                                     nodes=", ".join(f"`{n}`" for n in nodes), verb="was" if one else "were",
                                     them="it" if one else "them"))
    lacking: dict[tuple[str, str], list[str]] = {}  # (name, package) -> the nodes importing it
    for path, reason in reasons.items():
        m = PACKAGE_NAME_RE.search(reason)
        if m and not m.group(2).startswith("comfy") and not any(c in reason for c in CIRCULAR):
            lacking.setdefault((m.group(1), m.group(2)), []).append(basename(path))
    for (name, package), nodes in lacking.items():
        one = len(nodes) == 1
        advice.append(ADVICE_NAME_MISSING(package=package, name=name, nodes=", ".join(f"`{n}`" for n in nodes),
                                          verb="was" if one else "were", them="it" if one else "them",
                                          their="its" if one else "their"))
    comfy_names: dict[tuple[str, str], list[str]] = {}  # (name, comfy module) -> the nodes importing it
    for path, reason in reasons.items():
        for m in COMFY_NAME_RE.finditer(reason):
            comfy_names.setdefault((m.group(1), m.group(2)), []).append(basename(path))
    for (name, module), nodes in comfy_names.items():
        one = len(set(nodes)) == 1
        advice.append(ADVICE_COMFY_API(nodes=", ".join(f"`{n}`" for n in dict.fromkeys(nodes)),
                                       verb="imports" if one else "import", name=name, module=module))
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
    if any(b.name not in told for b in builtin):  # ComfyUI's own files: its requirements, as its warning says
        advice.append(ADVICE_REQUIREMENTS())
    if count:
        advice.append(ADVICE_REMOVE_NODE())
    why = []
    if count:
        shown = _reasons_shown(reasons)
        in_times = [basename(p) for p, (_, _, _, listed) in failed.items() if listed]
        cut_paths = [p for p, (_, _, _, listed) in failed.items() if not listed]
        cut = [basename(p) for p in cut_paths]
        sayers = [f"ComfyUI lists {_some(in_times, not_kept)} as IMPORT FAILED"] if in_times else []
        if not_kept:
            sayers.append(f"{not_kept} more" if in_times else f"ComfyUI lists {not_kept} as IMPORT FAILED")
            sayers[-1] += (" among the rows of its import times between the first and last "
                           f"{MAX_RUN_IMPORT_TIMES // 2} (counted, not kept: a hostile or generated log)")
        if cut:
            whose, one = ("its" if in_times else "ComfyUI's"), len(cut) + cut_more == 1
            kinds = " and ".join(sorted({"`Skip`" if reasons.get(p, "").startswith(NO_MAPPINGS) else "`Cannot import`"
                                         for p in cut_paths}))
            sayers.append(f"{whose} {kinds} {'line names' if one else 'lines name'} {_some(cut, cut_more)}"
                          + (f" ({len(cut) + cut_more} nodes)" if cut_more else "") + ", whose "
                        f"{'row' if one else 'rows'} of the import times {'is' if one else 'are'} not in the log")
        why.append(f"{' and '.join(sayers)}: {'its' if count == 1 else 'their'} nodes do not exist in this "
                   "process, and workflows using them fail validation."
                   + (f" The reasons the log gives, commonest first: {shown}." if shown else ""))
    if builtin:
        listed = ", ".join(f"`{b.name}`" for b in builtin[:5]) + (" …" if len(builtin) > 5 else "")
        why.append(f"ComfyUI's own node files {listed} did not import (IMPORT FAILED): the built-in nodes they "
                   "define are missing from this process, and workflows using them fail validation.")
        unexplained = [b for b in builtin if b.name not in told and b.reason][:3]
        if unexplained:
            why.append("; ".join(f"{b.name} ({clip(b.reason or '', MAX_REASON_CHARS)})" for b in unexplained) + ".")
    why += [what for what, _, _ in extensions]
    # the failed nodes' first lines only (a hostile log fails thousands): evidence is cut to the first few anyway
    evidence, failed_lines = _failed_evidence(facts, failed)
    if not evidence and not_kept:  # every failure is past the rows kept: the lines that tell them
        evidence = _not_kept_evidence(facts)
    rest = [facts.cite(b.source, b.line, f"IMPORT FAILED: {basename(b.name)}") for b in builtin]
    said = next((b for b in builtin if b.said_at is not None and b.said_at != b.line), None)
    if said is not None and said.said_at is not None:  # the line that says why (``Cannot import ...: REASON``)
        rest.append(facts.cite(said.source, said.said_at, f"Cannot import {said.name}: {said.reason}"))
    title = (f"{plural(count, 'custom node')} and {plural(len(builtin), 'built-in node file')} failed to import"
             if count and builtin else f"{plural(count, 'custom node')} failed to import" if count
             else f"{plural(len(builtin), 'built-in node file')} failed to import")
    if builtin and not count and extensions:
        title += f": {extensions[0][2]}"
    figures: dict[str, object] = {"failed": count + len(builtin), "nodes": names[:MAX_NODES_LISTED],
                                  "builtin": [b.name for b in builtin]}
    if count > min(len(names), MAX_NODES_LISTED):  # a hostile log: the others are counted
        figures["nodes_not_listed"] = count - min(len(names), MAX_NODES_LISTED)
    if partial:
        part = _loaded_in_part(facts, list(partial.values()))
        title += f"; {plural(len(partial), 'more')} loaded only in part"
        why.append(part.why)
        advice = [*advice[:-1], *part.advice, advice[-1]] if count else [*advice, *part.advice]
        rest += part.evidence
        figures["partial"] = list(partial)
    total = len(failed_lines | {(e.source, e.line) for e in rest}) + not_kept + cut_more
    return [finding("import-failed", title, "high", " ".join(why), advice, evidence + rest, figures, total=total)]


def _failed_evidence(facts: Facts, failed: dict[str, tuple[int, int, str, bool]]) -> tuple[list[Evidence],
                                                                                          set[tuple[int, int]]]:
    """The first MAX_EVIDENCE lines of the failed nodes, cited (the finding keeps no more), and all their lines."""
    lines: set[tuple[int, int]] = set()
    cited: list[Evidence] = []
    for source, line, text, _ in failed.values():
        if (source, line) not in lines:
            lines.add((source, line))
            if len(cited) < MAX_EVIDENCE:
                cited.append(facts.cite(source, line, text))
    return cited, lines


def _not_kept_evidence(facts: Facts) -> list[Evidence]:
    """The first lines that name a custom node's failure in a run whose import times were not all kept: its row is
    among those not kept (each failed row past them still makes its record, segmenter.py)."""
    capped = {run.index for run in facts.report.runs if run.imports_not_kept}
    cited: list[Evidence] = []
    for e in facts.errors_in("import_failed"):
        run = facts.run_at(e.source, e.line)
        read = read_import_message(e.message)
        if run is not None and run.index in capped and read is not None and not read.builtin:
            cited.append(facts.cite(e.source, e.end_line or e.line, e.message))
            if len(cited) == MAX_EVIDENCE:
                break
    return cited


def _loaded_in_part(facts: Facts, partial: list[NodeImportError]) -> Finding:
    """Custom nodes that printed a traceback while they loaded and loaded anyway: what is missing, and the fix."""
    told = "; ".join(f"`{p.node}` (`{clip(p.record.message, MAX_REASON_CHARS)}`)" for p in partial[:3])
    one = len(partial) == 1
    why = (f"{told}{' and more' if len(partial) > 3 else ''}: {'it' if one else 'each'} loaded, but a part of "
           f"{'it' if one else 'them'} raised while loading, so the nodes that part defines do not exist in this "
           "process and workflows using them fail validation. The rest of the node works.")
    advice = []
    evidence = [facts.cite_event(p.traceback) for p in partial]
    for p in partial[:3]:
        module = missing_module(p.record.message)
        if module and "." not in module:
            package = package_of(module)
            later = _installed_later(facts, p, package)
            if later is None:
                advice.append(ADVICE_PART_INSTALL(package=package, node=p.node))
                continue
            ev, version = later
            advice.append(ADVICE_PART_INSTALLED_LATER(package=package, node=p.node, version=version,
                                                      where=facts.lines_ref(ev.source, ev.line)))
            evidence.append(facts.cite_event(ev))
        else:
            advice.append(ADVICE_PART_NODE(node=p.node, error=clip(p.record.message, 100)))
    title = (f"Custom node `{partial[0].node}` loaded only in part" if one
             else f"{plural(len(partial), 'custom node')} loaded only in part")
    return finding("import-failed", title, "high", why, list(dict.fromkeys(advice)), evidence,
                   {"failed": 0, "nodes": [], "builtin": [], "partial": [p.node for p in partial]})


def _installed_later(facts: Facts, failed: NodeImportError, package: str) -> tuple[Event, str] | None:
    """pip's `Successfully installed` line that put ``package`` in after the node failed on it, in the same run (a
    node's own install at import, field5 02's Cog container), and the version: what the next start imports."""
    run = facts.run_at(failed.traceback.source, failed.traceback.line)
    if run is None:
        return None
    wanted = canonical(package)
    for ev in facts.between(EventKind.PACKAGE_INSTALLED, run.source, failed.traceback.line + 1, run.last_line):
        version = installed_packages(str(ev.fields.get("packages", ""))).get(wanted)
        if version is not None:
            return ev, version
    return None


def _reasons_shown(reasons: dict[str, str]) -> str:
    """The commonest reasons first, each with the nodes it stopped: ``No module named 'skimage' (ComfyUI-Impact-Pack,
    ComfyUI_LayerStyle)``; the file a ``cannot import name`` names is left out, so one cause is one group."""
    groups: dict[str, list[str]] = {}
    for path, reason in reasons.items():
        groups.setdefault(clip(FROM_FILE_RE.sub("", reason), MAX_REASON_CHARS), []).append(basename(path))
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))[:MAX_REASONS_SHOWN]
    return "; ".join(f"{reason} ({listing(nodes[:MAX_NODES_NAMED], len(nodes))})" for reason, nodes in ranked)


@dataclass(frozen=True)
class BuiltinFailure:
    """One of ComfyUI's own node files that did not import: ``comfy_extras/nodes_latent.py``, where the log says
    so (the ``IMPORT FAILED`` line, else the ``Cannot import`` line), and why (the ``Cannot import`` reason)."""

    name: str
    source: int
    line: int
    reason: str | None
    #: The ``Cannot import`` line that gives the reason.
    said_at: int | None = None


def _builtin_failures(facts: Facts) -> list[BuiltinFailure]:
    """ComfyUI's own node files that failed, from its ``IMPORT FAILED: FILE`` list and its ``Cannot import`` lines."""
    reasons: dict[str, tuple[str, ErrorRecord]] = {}
    for e in facts.errors_in("import_failed"):
        read = read_import_message(e.message)
        if read is not None and read.builtin:
            name = "/".join(re.split(r"[/\\]", read.path)[-2:])
            reasons.setdefault(name, (read.reason or "", e))
    listed: dict[str, BuiltinFailure] = {}
    folder = ""
    for ev in facts.events[EventKind.BUILTIN_IMPORT_FAILED]:
        if ev.fields.get("folder"):
            folder = str(ev.fields["folder"])
        elif ev.fields.get("file"):
            name = f"{folder}/{ev.fields['file']}" if folder else str(ev.fields["file"])
            said = reasons.get(name)
            listed.setdefault(name, BuiltinFailure(name, ev.source, ev.line, said[0] if said else None,
                                                   said[1].end_line if said else None))
    for name, (reason, record) in reasons.items():  # a log cut before ComfyUI's list
        at = record.end_line or record.line
        listed.setdefault(name, BuiltinFailure(name, record.source, at, reason, at))
    return list(listed.values())


def _site_dir(path: str, package: str) -> str | None:
    """The site-packages folder ``path`` is in, as far as ``package``'s folder (``/usr/.../dist-packages``)."""
    parts = re.split(r"([/\\])", path)
    for i in range(len(parts) - 1, 1, -1):
        if parts[i] == package and parts[i - 2] in ("site-packages", "dist-packages"):
            return "".join(parts[: i - 1])
    return None


def _other_python(facts: Facts, cause: str, package: str) -> str:
    """A sentence when the extension's package and PyTorch sit in different site-packages (a venv that sees the
    system's packages and lacks its own copy), else ``""``."""
    m = UNDEFINED_SYMBOL_RE.search(cause)
    theirs = _site_dir(m["path"], package) if m is not None else None
    for ev in facts.events[EventKind.TRACEBACK]:
        first = ev.fields.get("first_file")
        ours = _site_dir(first, "torch") if isinstance(first, str) else None
        if theirs and ours and theirs != ours:
            return (f" `{package}` was loaded from `{theirs}`, PyTorch from `{ours}`: the Python ComfyUI runs also "
                    f"sees another Python's packages, and has no `{package}` of its own.")
    return ""


def _extension_causes(facts: Facts) -> dict[str, str]:
    """The chained cause that names a compiled extension, by the exception it caused (a traceback's last one).
    torch.ops.load_library raises ``OSError: Could not load this library: PATH`` from the loader's own
    ``OSError: PATH: undefined symbol: SYMBOL`` (torch/_ops.py, ``raise OSError(...) from e``), and ComfyUI's
    ``Cannot import ... module for custom nodes:`` gives only the first (field4 16: torchaudio of the system's
    dist-packages under a venv's PyTorch 2.11)."""
    found: dict[str, str] = {}
    for ev in facts.events[EventKind.TRACEBACK]:
        message, causes = ev.fields.get("message"), ev.fields.get("causes")
        if not isinstance(message, str) or not isinstance(causes, list) or message.strip() in found:
            continue
        cause = next((str(c) for c in causes if extension_failure(str(c)) is not None), None)
        if cause is not None:
            found[message.strip()] = cause
    return found


def _extensions(facts: Facts, reasons: dict[str, str],
                where: list[tuple[int, int]]) -> tuple[list[tuple[str, str, str]], set[str]]:
    """Compiled extensions the failures name: (what the finding says, the advice, a short title) per package,
    and the failures they explain."""
    by_package: dict[str, list[tuple[str, ExtensionFailure]]] = {}
    causes = _extension_causes(facts)
    cause_of: dict[str, str] = {}  # the text that named each package's extension
    for name, reason in reasons.items():
        ext, text = extension_failure(reason), reason
        if ext is None and reason.strip() in causes:
            text = causes[reason.strip()]
            ext = extension_failure(text)
        if ext is not None and ext.package:
            cause_of.setdefault(ext.package, text)
            by_package.setdefault(ext.package, []).append((name, ext))
    if not by_package:
        return [], set()
    runs = [facts.run_at(source, line) for source, line in where]
    have = next((run.pytorch_version for run in runs if run is not None and run.pytorch_version), None)
    said: list[tuple[str, str, str]] = []
    for package, failures in by_package.items():
        ext = failures[0][1]
        what = f"All {len(failures)}" if len(failures) == len(reasons) and len(failures) > 1 else \
            f"{len(failures)} of them" if len(failures) > 1 else f"`{failures[0][0]}`"
        readable = demangled(ext.torch_symbol) if ext.torch_symbol else None
        lacks = (f"it lacks `{ext.torch_symbol}`" + (f" (`{readable}`)" if readable else "")
                 + ", a function of PyTorch's own C++ library, so it was built against another PyTorch than the "
                 f"installed {have or 'one'}") if ext.torch_symbol else "it does not load"
        elsewhere = _other_python(facts, cause_of.get(package, ""), package)
        said.append((f"{what} failed on the compiled extension `{ext.module}` of `{package}`: {lacks}.{elsewhere}",
                     ADVICE_EXTENSION(package=package, have=f" {have}" if have else ""),
                     f"`{package}` does not fit PyTorch {have}" if ext.torch_symbol and have
                     else f"`{package}` does not load"))
    return said, {name for failures in by_package.values() for name, _ in failures}
