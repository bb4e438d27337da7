"""Redaction: secrets and personal names taken out of log text before anything else reads it.

Pasted logs carry API keys, tokens in download URLs, e-mail addresses and user names in home
paths. ``Redactor.redact`` replaces each with ``[redacted:KIND]`` (a home path keeps its shape:
``/home/[redacted:user]/ComfyUI``). It is applied once, where text enters the pipeline
(``read.lines.read_lines(..., redactor=...)``), so every event, error, evidence line, report field
and source name downstream is clean; ``comfylog redact`` applies it to a copy of the log, byte for
byte otherwise (copy.py). IP addresses only with ``ips=True``. A leaf: it imports nothing of comfylog.

Each rule has literal needles: a line without any of them costs a few substring tests, and every
regex is bounded (no nested or lazy repetition that could backtrack on a hostile line).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable

from ..dataclass import dataclass

MARK = "[redacted:"

#: Labels whose value is a secret: ``RUNPOD_API_KEY=...``, ``"api_key": "..."``, ``HF_TOKEN: ...``.
#: The label must end with the keyword (``tokenizer:`` and ``max_tokens=`` are not labels).
LABELLED_RE = re.compile(
    r"(?i)(?<![\w.-])(?P<label>[\w.-]{0,40}?(?:api[_-]?key|access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key"
    r"|secret[_-]?key|client[_-]?secret|secret|token|password|passwd|pwd))\b"
    r"(?P<sep>[\"']?[ \t]{0,4}[=:][ \t]{0,4}[\"']?)(?P<value>[^\s\x00-\x1f\"'&,;<>()\[\]{}]{8,512})"
)
#: Secrets in URLs: ``?token=...``, ``&api_key=...``, pre-signed S3 / GCS signatures.
URL_PARAM_RE = re.compile(
    r"(?i)(?P<key>[?&;](?:token|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|id[_-]?token"
    r"|key|sig|signature|client[_-]?secret|password|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|x-goog-signature|x-goog-credential)=)(?P<value>[^&#\s\x00-\x1f\"'<>]{1,2048})"
)
#: ``scheme://user:password@host``: the password.
URL_PASSWORD_RE = re.compile(r"(?i)(?P<head>\b[a-z][a-z0-9+.-]{0,20}://[^/\s\x00-\x1f:@\[\]]{1,128}:)(?P<value>[^/\s\x00-\x1f@]{1,256})(?=@)")
BEARER_RE = re.compile(r"(?P<head>\b(?:Bearer|bearer|BEARER)[ \t]{1,4})(?P<value>[A-Za-z0-9._~+/=-]{8,2048})")
AUTHORIZATION_RE = re.compile(
    r"(?i)(?P<head>\bauthorization[\"']?[ \t]{0,4}[:=][ \t]{0,4}[\"']?(?:basic|token|digest)[ \t]{1,4})"
    r"(?P<value>[A-Za-z0-9._~+/=-]{8,2048})"
)
RUNPOD_KEY_RE = re.compile(r"\brpa_[A-Za-z0-9]{16,128}\b")
HF_TOKEN_RE = re.compile(r"\bhf_[A-Za-z0-9]{20,128}\b")
OPENAI_KEY_RE = re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,256}")
AWS_KEY_ID_RE = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
GITHUB_TOKEN_RE = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})\b")
JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}")
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])(?P<local>[A-Za-z0-9._%+-]{1,64})@(?P<domain>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24})\b"
)
#: ``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME`` (also ``\\\\`` as Python reprs print it, and
#: ``C:/Users/NAME``), wherever they occur (``/mnt/home/NAME``, after an ANSI code). A name runs to
#: the next separator (names may hold spaces) or, without one, to the next space.
HOME_RE = re.compile(
    r"(?P<head>/home/|/Users/|(?i:[a-z]:(?:\\{1,2}|/)users(?:\\{1,2}|/)))"
    r"(?P<name>[^\\/\x00-\x1f\"'<>|:*?]{1,64}?(?=\\|/)|[^\\/\s\x00-\x1f\"'<>|:*?]{1,64})"
)
OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(rf"(?<![\w.]){OCTET}(?:\.{OCTET}){{3}}(?![\w.])")
IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]{2,39}(?![\w:.])")

#: What every LABELLED_RE match holds: a label's last word, its word's end, then the separator (LABELLED_RE
#: tries its lazy label at every position, ~13 us a line; most lines with ``token`` or ``key`` hold no label).
LABEL_END_RE = re.compile(r"(?i)(?:key|id|secret|token|passw(?:or)?d|pwd)\b[\"']?[ \t]{0,4}[=:]")

#: What every URL_PARAM_RE key ends with, lower-cased: its needles (``=`` alone sent 112k of bench-100mb's lines,
#: ``lowvram: loaded module regularly ... memory=...`` among them, through the redactor for nothing).
URL_KEY_ENDS = ("token=", "key=", "sig=", "signature=", "secret=", "password=", "credential=")
#: The letters ``(?i)`` matches to an ASCII letter whose lower case is not that letter alone (``ſ`` is an ``s``,
#: ``ı`` and ``İ`` an ``i``): a line holding one may match a rule its lower-cased needles miss.
ODD_LETTERS = ("\u0130", "\u0131", "\u017f")

#: What every LABELLED_RE match holds, lower-cased: a label's last word and how its separator starts (a quote,
#: ``=`` or ``:``, or a space or tab and then more of them, ``=`` or ``:``); ``key`` alone sent 39k of
#: bench-100mb's lines (``lora key not loaded ...``) through the redactor for nothing.
LABEL_ENDS = tuple(word + start for word in ("key", "keyid", "key_id", "key-id", "secret", "token", "password",
                                             "passwd", "pwd")
                   for start in ("=", ":", '"', "'", "\t", "  ", " \t", " =", " :"))

#: Labels of the older RunPod keys and of AWS secret keys, for the kind they report.
AWS_SECRET_LABEL_RE = re.compile(r"(?i)secret[_-]?access[_-]?key")
#: Home folders that name nobody.
SHARED_HOMES = frozenset({"Shared", "Public", "Default", "All Users", "[redacted:user]"})
#: Local parts that name a service, not a person (``git@github.com``).
SERVICE_MAILBOXES = frozenset({"git"})


def _mark(kind: str) -> str:
    return f"{MARK}{kind}]"


Replace = Callable[["re.Match[str]"], str | None]


@dataclass(frozen=True)
class Rule:
    """One kind of secret: literal needles (any of them must occur), the regex, the replacement.

    ``replace`` returns the text for a match, or None to keep it as it is (not a secret after all).
    ``folded`` needles are looked for in the lower-cased text.
    """

    kind: str
    needles: tuple[str, ...]
    regex: re.Pattern[str]
    replace: Replace
    folded: bool = False
    #: A cheaper regex that matches wherever ``regex`` does (a necessary condition), or None.
    hint: re.Pattern[str] | None = None
    #: Needles looked for in the text as it is, besides ``folded`` ones (ODD_LETTERS).
    also: tuple[str, ...] = ()


def _whole(kind: str) -> Replace:
    return lambda m: _mark(kind)


def _labelled(m: re.Match[str]) -> str | None:
    value = m.group("value")
    if value.startswith(MARK) or not _looks_secret(value):
        return None
    label = m.group("label")
    lowered = label.lower()
    kind = "runpod-key" if "runpod" in lowered else "aws-secret" if AWS_SECRET_LABEL_RE.search(label) else "secret"
    return f"{label}{m.group('sep')}{_mark(kind)}"


def _looks_secret(value: str) -> bool:
    """Not an obvious non-secret: a boolean, a placeholder, a path, an environment reference."""
    lowered = value.lower()
    if lowered in ("true", "false", "none", "null", "undefined", "required", "optional"):
        return False
    return not (value.startswith(("$", "%", "/", "<", "*")) or set(value) <= set("*xX.-_"))


def _after(head: str, kind: str) -> Replace:
    def replace(m: re.Match[str]) -> str | None:
        if m.group("value").startswith(MARK):
            return None
        return m.group(head) + _mark(kind)

    return replace


def _openai(m: re.Match[str]) -> str | None:
    key = m.group(0)
    return _mark("openai-key") if any(c.isdigit() for c in key) and any(c.isalpha() for c in key[3:]) else None


def _bearer(m: re.Match[str]) -> str | None:
    value = m.group("value")
    if value.startswith(MARK) or not (any(c.isdigit() for c in value) or len(value) >= 20):
        return None  # "Bearer authentication" is prose, not a token
    return m.group("head") + _mark("bearer-token")


def _email(m: re.Match[str]) -> str | None:
    return None if m.group("local") in SERVICE_MAILBOXES else _mark("email")


def _home(m: re.Match[str]) -> str | None:
    name = m.group("name")
    if name in SHARED_HOMES or name.startswith(MARK[:4]) or not name.strip():
        return None
    return m.group("head") + _mark("user")


def _ipv4(m: re.Match[str]) -> str | None:
    address = ipaddress.IPv4Address(m.group(0))
    return None if address.is_loopback or address.is_unspecified else _mark("ip")


def _ipv6(m: re.Match[str]) -> str | None:
    text = m.group(0)
    if text.count(":") < 2:
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or not ("::" in text or text.count(":") == 7):
        return None
    return _mark("ip")


#: In order: specific token shapes first (their kind is the most telling), then URLs and labels
#: (which skip values already redacted), then e-mail addresses and home paths.
RULES: tuple[Rule, ...] = (
    Rule("runpod-key", ("rpa_",), RUNPOD_KEY_RE, _whole("runpod-key")),
    Rule("hf-token", ("hf_",), HF_TOKEN_RE, _whole("hf-token")),
    Rule("openai-key", ("sk-",), OPENAI_KEY_RE, _openai),
    Rule("aws-key-id", ("AKIA", "ASIA"), AWS_KEY_ID_RE, _whole("aws-key-id")),
    Rule("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), GITHUB_TOKEN_RE,
         _whole("github-token")),
    Rule("jwt", ("eyJ",), JWT_RE, _whole("jwt")),
    Rule("url-password", ("://",), URL_PASSWORD_RE, _after("head", "password")),
    Rule("url-secret", URL_KEY_ENDS, URL_PARAM_RE, _after("key", "url-secret"), folded=True, also=ODD_LETTERS),
    Rule("bearer-token", ("earer", "EARER"), BEARER_RE, _bearer),
    Rule("authorization", ("authorization",), AUTHORIZATION_RE, _after("head", "authorization"), folded=True),
    Rule("secret", LABEL_ENDS, LABELLED_RE, _labelled, folded=True, hint=LABEL_END_RE, also=ODD_LETTERS),
    Rule("email", ("@",), EMAIL_RE, _email),
    Rule("user", ("/home/", "/Users/", "sers\\", "sers/", "SERS\\", "SERS/"), HOME_RE, _home),
)
IP_RULES: tuple[Rule, ...] = (
    Rule("ip", (".",), IPV4_RE, _ipv4),
    Rule("ip", ("::", ":"), IPV6_RE, _ipv6),
)
ALL_RULES = RULES + IP_RULES


@dataclass(frozen=True)
class Redactor:
    """What to redact. Picklable (worker processes get a copy); counts go to the caller's Counter."""

    ips: bool = False

    @property
    def rules(self) -> tuple[Rule, ...]:
        return ALL_RULES if self.ips else RULES

    def redact(self, text: str, counts: Counter[str] | None = None) -> str:
        """``text`` with every secret replaced by ``[redacted:KIND]``; ``counts`` gets one per replacement."""
        lower: str | None = None
        for rule in ALL_RULES if self.ips else RULES:  # hot: every line of a redacted log holding a needle
            if rule.folded:
                if lower is None:
                    lower = text.lower()
                haystack = lower
            else:
                haystack = text
            for needle in rule.needles:
                if needle in haystack:
                    break
            else:
                if not rule.also or not any(odd in text for odd in rule.also):
                    continue
            if rule.hint is not None and rule.hint.search(text) is None:
                continue
            text = rule.regex.sub(_counting(rule, counts), text)
            lower = None
        return text


def _counting(rule: Rule, counts: Counter[str] | None) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        new = rule.replace(m)
        if new is None:
            return m.group(0)
        if counts is not None:
            counts[MARK_KIND_RE.findall(new)[-1] if MARK in new else rule.kind] += 1
        return new

    return replace


MARK_KIND_RE = re.compile(r"\[redacted:([\w-]+)\]")


def describe(counts: Counter[str]) -> str:
    """``3 user, 1 hf-token`` (most first), or ``nothing`` when nothing was redacted."""
    if not counts:
        return "nothing"
    return ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
