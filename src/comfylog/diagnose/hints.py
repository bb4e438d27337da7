"""What an error message itself says to do: ``Please ensure ... transformers>=4.51.3 is installed``.

A node's author often writes the fix into the exception (``requires transformers>=X``, ``pip install X``,
``Please upgrade X``): that beats any general advice, so rules quote it first. Only the sentence that
instructs is quoted, as the log has it; a version requirement in it gets the pip command that meets it.
"""

from __future__ import annotations

import re

from ..lazyre import lazy_re
from ..text import clip
from .engine import Advice
from .packages import package_of

ADVICE_OWN_WORDS = Advice("{who} says what to do: “{hint}”",
                          {"who": "The error", "hint": "the sentence of the message that says it"})
ADVICE_OWN_WORDS_PIP = Advice("{who} says what to do: “{hint}”: `python -m pip install \"{requirement}\"` with the "
                              "Python ComfyUI runs", {"who": "The error", "hint": "the sentence that says it",
                                                      "requirement": "package>=version"})
#: Both forms, for a rule's advice list.
OWN_WORDS_ADVICE = (ADVICE_OWN_WORDS, ADVICE_OWN_WORDS_PIP)

#: Sentences end at ``.``, ``!`` or ``?`` followed by a space (``4.51.3`` and ``svd.pt`` stay whole).
SENTENCE_END_RE = lazy_re(r"(?<=[.!?])\s+")
#: A sentence that instructs: it starts with a verb of fixing, or says please, or names an install.
INSTRUCTS_RE = lazy_re(
    r"^(?:please|kindly|try|run|install|reinstall|upgrade|update|downgrade|use|make sure|ensure|download|place|put|"
    r"you (?:need|must|should|have) to|you may need to|consider)\b"
    r"|\bplease\b|\bpip install\b|\bto be installed\b"
    r"|\b(?:requires?|needs?) [A-Za-z][\w.-]*\s*(?:>=|==|~=|>)"
    # a name starts only where no name character precedes it: one try per word, not per character (linear)
    r"|(?<![\w.-])[A-Za-z][\w.-]*\s*(?:>=|==|~=)\s*\d[\w.]*\s+(?:is|are) (?:required|needed)",
    re.IGNORECASE)
#: Sentences that ask for a bug report, not a fix.
REPORT_RE = lazy_re(r"\breport\b|\bgithub\b|\bopen an issue\b", re.IGNORECASE)
#: A version requirement: ``transformers>=4.51.3``.
#: (Starts only where no name character precedes it: one try per name, linear on hostile text.)
REQUIREMENT_RE = lazy_re(r"(?<![\w.-])([A-Za-z][\w.-]*)\s*(>=|==|~=)\s*(\d+(?:\.\d+)*\w*)")
#: The package a ``pip install`` in the sentence names (``pip install -U "diffusers>=0.30"``: ``diffusers``).
PIP_NAME_RE = lazy_re(r"\bpip3? install\s+(?:(?:-U|--upgrade|--user)\s+)*[\"']?([A-Za-z][\w.-]*)")
#: Words that point back at the sentence before (``No checkpoints found. Please download them``).
PRONOUN_RE = lazy_re(r"\b(?:them|it|this|these|those)\b", re.IGNORECASE)
#: An exception's type before its message (``ValueError: ``): not part of what the message says.
EXCEPTION_PREFIX_RE = lazy_re(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Warning)|ERROR|Error): ")
#: The longest hint quoted, in characters.
MAX_HINT_CHARS = 300


#: An instruction is looked for in the first this many characters of a message (log text is untrusted: bounded).
MAX_MESSAGE_CHARS = 4000


def own_hint(message: str) -> str | None:
    """The first sentence of ``message`` that says what to do (after the one before it, when it says
    "them" or "it" of that one's subject), or None."""
    before = ""
    for sentence in SENTENCE_END_RE.split(message[:MAX_MESSAGE_CHARS].strip()):
        sentence = EXCEPTION_PREFIX_RE.sub("", sentence.strip())
        if sentence and INSTRUCTS_RE.search(sentence) and not REPORT_RE.search(sentence):
            if before and PRONOUN_RE.search(sentence):
                sentence = f"{before} {sentence}"
            return clip(sentence, MAX_HINT_CHARS)
        before = sentence
    return None


def own_words_advice(message: str, who: str = "The error", root_module: str | None = None) -> str | None:
    """The advice that quotes ``message``'s own instruction, with the pip command a requirement in it needs.

    ``root_module``: the module whose absence the chain of exceptions began with. A node's generic words
    (047: "ensure ... transformers>=4.51.3 is installed" over `No module named 'diffusers'`) that name other
    packages and not that one would have the user install the wrong thing: they are not quoted.
    """
    hint = own_hint(message)
    if hint is None:
        return None
    if root_module is not None:
        named = packages_named(hint)
        if named and not named & {_normal(root_module.split(".")[0]), _normal(package_of(root_module))}:
            return None
    requirement = REQUIREMENT_RE.search(hint)
    if requirement and "pip install" not in hint:
        return ADVICE_OWN_WORDS_PIP(who=who, hint=hint, requirement="".join(requirement.groups()))
    return ADVICE_OWN_WORDS(who=who, hint=hint)


def packages_named(hint: str) -> set[str]:
    """The packages an instruction names, in a requirement (``transformers>=4.51.3``) or a ``pip install``."""
    found = [m.group(1) for m in REQUIREMENT_RE.finditer(hint)] + [m.group(1) for m in PIP_NAME_RE.finditer(hint)]
    return {_normal(name) for name in found}


def _normal(name: str) -> str:
    """A package name as pip compares them (case, ``_`` and ``.`` are ``-``)."""
    return re.sub(r"[-_.]+", "-", name.rstrip("-_.")).lower()  # a sentence's full stop is no part of it
