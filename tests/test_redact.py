"""Redaction: secrets and user names leave every text of a report, numbers stay, copies stay faithful.

The secrets here are made up and built by concatenation, so no scanner mistakes this file for a
leak. The user names checked on the corpus are found by a plain string split, not by redact.py's
regexes, so a gap in those regexes cannot hide itself.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfylog.api import analyze, analyze_text
from comfylog.read.copy import copy_redacted, open_log_bytes
from comfylog.read.redact import MARK, Redactor
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, corpus_or_skip

KEY = "Ab3d" * 8  # 32 characters of a made-up key
RUNPOD_OLD = "Q7W2E9R4T6Y1U3I8O5P0A2S4D6F8G1H3"[:32]
CASES = [
    # (line, what the line becomes)
    (f"RUNPOD_API_KEY=rpa_{KEY}", "RUNPOD_API_KEY=[redacted:runpod-key]"),
    (f"export RUNPOD_API_KEY={RUNPOD_OLD}", "export RUNPOD_API_KEY=[redacted:runpod-key]"),
    (f"hf_hub: using token hf_{KEY}xy", "hf_hub: using token [redacted:hf-token]"),
    (f"HF_TOKEN: hf_{KEY}", "HF_TOKEN: [redacted:hf-token]"),
    (f"openai.api_key = 'sk-{KEY}0123'", "openai.api_key = '[redacted:openai-key]'"),
    (f"key sk-proj-{KEY}-_{KEY}", "key [redacted:openai-key]"),
    ("aws: AKIA" + "ABCDEFGH23456789" + " used", "aws: [redacted:aws-key-id] used"),
    ("AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
     "AWS_SECRET_ACCESS_KEY=[redacted:aws-secret]"),
    (f"Authorization: Bearer {KEY}.x", "Authorization: Bearer [redacted:bearer-token]"),
    (f"Authorization: Basic {KEY}==", "Authorization: Basic [redacted:authorization]"),
    (f"Downloading https://civitai.com/api/download/models/1234?type=Model&token={KEY[:24]} to x",
     "Downloading https://civitai.com/api/download/models/1234?type=Model&token=[redacted:url-secret] to x"),
    (f"GET /view?filename=a.png&api_key={KEY}&x=1", "GET /view?filename=a.png&api_key=[redacted:url-secret]&x=1"),
    (f"https://h/cb#x?access_token={KEY}", "https://h/cb#x?access_token=[redacted:url-secret]"),
    (f"git clone https://ghp_{KEY}abcd@github.com/a/b", "git clone https://[redacted:github-token]@github.com/a/b"),
    (f"token github_pat_{KEY}_{KEY}", "token [redacted:github-token]"),
    ("https://alice:" + "s3cretPass" + "@example.org/repo", "https://alice:[redacted:password]@example.org/repo"),
    ("contact me: jane.doe+comfy@example.co.uk.", "contact me: [redacted:email]."),
    ("/home/alice/ComfyUI/main.py", "/home/[redacted:user]/ComfyUI/main.py"),
    ("/Users/bob.smith/Library/x", "/Users/[redacted:user]/Library/x"),
    ("C:\\Users\\Hugo JL\\ComfyUI\\main.py", "C:\\Users\\[redacted:user]\\ComfyUI\\main.py"),
    ("'C:\\\\Users\\\\Lightmapper\\\\AppData'", "'C:\\\\Users\\\\[redacted:user]\\\\AppData'"),
    ("c:/users/kacpe/x", "c:/users/[redacted:user]/x"),
    ("cwd /mnt/home/kostafun", "cwd /mnt/home/[redacted:user]"),
    ("\x1b[0mC:\\Users\\10760\\ComfyUI", "\x1b[0mC:\\Users\\[redacted:user]\\ComfyUI"),
    # not secrets: left as they are
    ("Loading tokenizer: openai/clip-vit-large-patch14", None),
    ("max_tokens=77 pad_token: <pad> eos_token_id=2", None),
    ("git@github.com:comfyanonymous/ComfyUI.git", None),
    ("To see the GUI go to: http://127.0.0.1:8188", None),
    ("scikit-learn 1.5 and task-scheduler ok", None),
    ("Bearer authentication is configured", None),
    ("use_auth_token: True", None),
    ("password: ********", None),
    ("/Users/Shared/models", None),
    ("Set vram state to: NORMAL_VRAM", None),
    ("2025-10-23T16:28:02.618719777Z [20:46:09] c10::cuda::CUDAError 2.5.1+cu124", None),
    ("loaded completely 12651.1 10835.12353515625 True", None),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_each_kind_of_secret_is_redacted_and_nothing_else(line: str, expected: str | None) -> None:
    counts: Counter[str] = Counter()
    assert Redactor().redact(line, counts) == (line if expected is None else expected)
    assert sum(counts.values()) == (0 if expected is None else expected.count(MARK))


def test_ip_addresses_only_when_asked() -> None:
    line = "worker 10.0.3.17 and fe80::1ff:fe23:4567:890a reached 127.0.0.1:8188, not 2.5.1.0.x or 12:34:56"
    assert Redactor().redact(line) == line
    assert Redactor(ips=True).redact(line) == (
        "worker [redacted:ip] and [redacted:ip] reached 127.0.0.1:8188, not 2.5.1.0.x or 12:34:56")


SECRETS = st.one_of(
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=20, max_size=40).map(lambda s: "rpa_" + s),
    st.text("abcdefghijkmnpqrstuvwxyzABCDEF0123456789", min_size=30, max_size=40).map(lambda s: "hf_" + s),
    st.text("abcdefghijkmnopqrstuvwxyz0123456789", min_size=30, max_size=48).map(lambda s: "sk-proj-" + s + "9"),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16).map(lambda s: "AKIA" + s),
    st.text("abcdefghijkmnpqrstuvwxyzABCDEF0123456789", min_size=36, max_size=40).map(lambda s: "ghp_" + s),
    st.from_regex(r"[a-z]{2,10}\.[a-z]{2,8}@[a-z]{3,10}\.(com|org|io)", fullmatch=True),
)
FILLER = st.lists(st.sampled_from(list("abc XYZ 019 :=/\\._-\t\"'[]()@?&") + ["token=", "/home/", " Bearer "]),
                  max_size=20).map("".join)


@settings(max_examples=300, deadline=None)
@given(FILLER, SECRETS, FILLER)
def test_a_secret_anywhere_in_a_line_never_survives(before: str, secret: str, after: str) -> None:
    line = f"{before} {secret} {after}"
    redacted = Redactor(ips=True).redact(line)
    assert secret not in redacted
    assert Redactor(ips=True).redact(redacted) == redacted  # idempotent: a redacted log redacts to itself


def home_user_names(text: str) -> set[str]:
    """User names after /home/, /Users/ and C:\\Users\\ found by splitting strings (independent of redact.py)."""
    names: set[str] = set()
    for marker, seps in (("/home/", "/"), ("/Users/", "/"), ("\\Users\\", "\\"), ("\\\\Users\\\\", "\\")):
        for tail in text.split(marker)[1:]:
            name = tail.split(seps)[0].split("\n")[0].split("'")[0].split('"')[0].strip()
            if name and not name.startswith("[redacted") and name != "Shared" and len(name) < 40:
                names.add(name)
    return {n for n in names if len(n) >= 3}


#: How home folders start in the logs (and in JSON, with its backslashes unescaped).
HOMES = ("/home/", "/Users/", "\\Users\\")


def compare_text_only(plain: Any, redacted: Any, where: str, changed: Counter[str]) -> None:
    """Assert ``redacted`` is ``plain`` with only strings changed, each by a redaction."""
    if isinstance(plain, dict):
        assert isinstance(redacted, dict) and len(plain) == len(redacted), where
        for (k, v), (k2, v2) in zip(plain.items(), redacted.items(), strict=True):
            compare_text_only(k, k2, f"{where}.<key>", changed)
            compare_text_only(v, v2, f"{where}.{k}", changed)
    elif isinstance(plain, list):
        assert isinstance(redacted, list) and len(plain) == len(redacted), where
        for i, (x, y) in enumerate(zip(plain, redacted, strict=True)):
            compare_text_only(x, y, f"{where}[{i}]", changed)
    elif isinstance(plain, str) and plain != redacted:
        assert isinstance(redacted, str) and MARK in redacted, (where, plain[:100], redacted)
        changed[re.sub(r"\[\d+\]", "", where)] += 1
    else:
        assert plain == redacted, (where, plain, redacted)


def corpus_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))


def test_redaction_changes_text_fields_only_on_the_corpus() -> None:
    """The JSON with and without --redact: same keys, rows, numbers and flags; strings differ only by redactions."""
    corpus_or_skip()
    changed: Counter[str] = Counter()
    leaked = {}
    for path in corpus_logs():
        plain = report_to_dict(analyze(path))
        redacted = report_to_dict(analyze(path, redact=True))
        compare_text_only(plain, redacted, path.name, changed)
        names = home_user_names(path.read_text(encoding="utf-8", errors="replace"))
        text = json.dumps(redacted, ensure_ascii=False).replace(path.name, "").replace("\\\\", "\\")
        # a name as a home folder, not as a word anywhere ("work" is in "workflow")
        leaked[path.name] = sorted(n for n in names if any(f"{home}{n}" in text for home in HOMES))
    assert sum(changed.values()) >= 30, changed  # error messages, findings' evidence and figures
    assert not any(leaked.values()), leaked


def test_corpus_user_names_leave_terminal_json_and_html(tmp_path: Path) -> None:
    corpus_or_skip()
    log = CORPUS / "logs" / "025-ghost09a1-intel-arc-xpu.log"
    names = home_user_names(log.read_text(encoding="utf-8", errors="replace"))
    assert names >= {"Ghost"}
    from rich.console import Console

    from comfylog.render.html import render_html
    from comfylog.render.terminal import render_terminal

    report = analyze(log, redact=True)
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    render_terminal(report, console, 400)
    for output in (console.export_text(), json.dumps(report_to_dict(report)), render_html(report)):
        assert not [n for n in names if n in output.replace(log.name, "")]
    assert "Ghost" in json.dumps(report_to_dict(analyze(log)))  # and without redaction they were there


def test_evidence_read_back_from_the_file_is_redacted_too(tmp_path: Path) -> None:
    """Import-failure evidence is read back from the file (diagnose.read_back), not kept in memory."""
    log = tmp_path / "imports.log"
    log.write_text(
        "Import times for custom nodes:\n"
        "   0.0 seconds (IMPORT FAILED): /home/alice/ComfyUI/custom_nodes/NodeGPT\n"
        "Cannot import /home/alice/ComfyUI/custom_nodes/NodeGPT module for custom nodes: "
        f"No module named 'x' (token hf_{KEY})\n"
        "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n",
        encoding="utf-8",
    )
    plain, redacted = analyze(log), analyze(log, redact=True)
    assert [f.id for f in plain.findings] == [f.id for f in redacted.findings]
    assert any("alice" in ev.text for f in plain.findings for ev in f.evidence)
    text = json.dumps(report_to_dict(redacted))
    assert "alice" not in text and KEY not in text and "[redacted:user]" in text
    assert "/home/[redacted:user]/ComfyUI/custom_nodes/NodeGPT" in text


def test_source_names_and_error_report_fields_are_redacted(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "alice"
    folder.mkdir(parents=True)
    log = folder / "report.md"
    log.write_text("# ComfyUI Error Report\n- **Exception Type:** RuntimeError\n"
                   "- **Exception Message:** cannot open /home/alice/in.png, mail alice@example.org\n"
                   "## Logs\n```\ngot prompt\n```\n", encoding="utf-8")
    report = analyze(str(log), redact=True)
    assert report.sources[0].name == str(log).replace("/home/alice/", "/home/[redacted:user]/")
    assert report.sources[0].report_fields["exception_message"] == (
        "cannot open /home/[redacted:user]/in.png, mail [redacted:email]")
    assert "alice" not in json.dumps(report_to_dict(report))


def test_analyze_text_redacts() -> None:
    report = analyze_text(f"got prompt\n!!! Exception during processing !!! bad key rpa_{KEY}\n", redact=True)
    assert report.errors[0].message == "bad key [redacted:runpod-key]"


# ---- the byte-faithful copy: comfylog redact -----------------------------------------------------


def assert_faithful(original: bytes, copy: bytes) -> None:
    """``copy`` is ``original`` with some spans replaced by [redacted:KIND], nothing else changed."""
    pieces = re.split(rb"\[redacted:[\w-]+\]", copy)
    pattern = b"(.+?)".join(re.escape(p) for p in pieces)
    assert re.fullmatch(pattern, original, re.DOTALL), "the copy differs outside its redactions"


def test_redacted_copies_of_the_corpus_are_byte_faithful() -> None:
    corpus_or_skip()
    total: Counter[str] = Counter()
    for path in corpus_logs():
        stream, first, _ = open_log_bytes(str(path))
        out = _Buffer()
        copy_redacted(stream, first, out, Redactor(), total)  # type: ignore[arg-type]
        stream.close()
        original = path.read_bytes()
        assert_faithful(original, out.data)
        names = home_user_names(original.decode("utf-8", errors="replace"))
        assert not [n for n in names if n.encode() in out.data], path.name
    assert total["user"] > 800  # the corpus is full of home paths: 18 of its logs have some


class _Buffer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def test_redact_command_files_directories_stdin_and_gz(tmp_path: Path) -> None:
    raw = (b"\x1b[32m[INFO]\x1b[0m got prompt\r\n" + f"token=hf_{KEY} at C:\\Users\\bob\\x\r\n".encode()
           + b"bad \xff\xfe bytes \x00 kept\n" + b"100%|\xe2\x96\x88| 2/2 [00:02<00:00]\rno end")
    log = tmp_path / "a.log"
    log.write_bytes(raw)
    expected = raw.replace(f"hf_{KEY}".encode(), b"[redacted:hf-token]").replace(b"\\bob\\", b"\\[redacted:user]\\")
    result = run_cli("redact", str(log), "-o", str(tmp_path / "out.log"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.log").read_bytes() == expected
    assert b"redacted 1 hf-token, 1 user" in result.stderr
    piped = run_cli("redact", stdin=raw)
    assert piped.returncode == 0 and piped.stdout == expected
    (tmp_path / "b.log.gz").write_bytes(gzip.compress(raw))
    both = run_cli("redact", str(log), str(tmp_path / "b.log.gz"), "-o", str(tmp_path / "clean"))
    assert both.returncode == 0, both.stderr
    assert (tmp_path / "clean" / "a.log").read_bytes() == expected == (tmp_path / "clean" / "b.log").read_bytes()
    same = run_cli("redact", str(log), "-o", str(log))
    assert same.returncode == 2 and b"is also an input" in same.stderr and log.read_bytes() == raw


def test_shared_outputs_redact_by_default_and_the_terminal_does_not(tmp_path: Path) -> None:
    log = tmp_path / "alice.log"
    failure = b"!!! Exception during processing !!! cannot read /home/alice/in.png\nPrompt executed in 1.0 seconds\n"
    log.write_bytes((EXAMPLES / "runpod-oom-restart.log").read_bytes() + failure)
    html = tmp_path / "r.html"
    assert run_cli("report", str(log), "-o", str(html)).returncode == 0
    assert "/home/[redacted:user]/in.png" in html.read_text(encoding="utf-8")
    assert run_cli("report", str(log), "-o", str(html), "--no-redact").returncode == 0
    assert "/home/alice/in.png" in html.read_text(encoding="utf-8")
    terminal = run_cli("analyze", str(log))
    assert b"/home/alice/in.png" in terminal.stdout
    assert b"/home/[redacted:user]/in.png" in run_cli("analyze", str(log), "--redact").stdout
    github = run_cli("check", str(log), "--format", "github", "--fail-on", "exception")
    assert github.returncode == 1 and b"/home/[redacted:user]/in.png" in github.stdout
    assert b"alice" not in github.stdout.replace(str(log).encode(), b"")  # the path given stays: annotations need it
    plain = run_cli("check", str(log), "--format", "github", "--fail-on", "exception", "--no-redact")
    assert b"/home/alice/in.png" in plain.stdout
    contradiction = run_cli("analyze", str(log), "--no-redact", "--redact-ips")
    assert contradiction.returncode == 2 and contradiction.stderr.count(b"\n") == 1


def test_fleet_and_export_redact_paths_and_text(tmp_path: Path) -> None:
    """``analyze DIR --redact`` and ``export --redact``: each log's path and text, every row."""
    folder = tmp_path / "home" / "alice" / "logs"
    folder.mkdir(parents=True)
    failure = b"!!! Exception during processing !!! cannot read /home/alice/in.png\nPrompt executed in 1.0 seconds\n"
    (folder / "w1.log").write_bytes((EXAMPLES / "local-baseline.log").read_bytes() + failure)
    (folder / "w2.log").write_bytes((EXAMPLES / "runpod-oom-restart.log").read_bytes())
    fleet = run_cli("analyze", str(folder), "--format", "json", "--redact")
    assert fleet.returncode == 0, fleet.stderr
    data = json.loads(fleet.stdout)
    assert [log["path"] for log in data["logs"]] == [
        str(folder / name).replace("/home/alice/", "/home/[redacted:user]/") for name in ("w1.log", "w2.log")]
    assert b"alice" not in fleet.stdout.replace(str(tmp_path).encode(), b"")
    tables = tmp_path / "tables"
    exported = run_cli("export", str(folder), "-o", str(tables), "-f", "jsonl", "--redact")
    assert exported.returncode == 0, exported.stderr
    errors = [json.loads(line) for line in (tables / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("/home/[redacted:user]/in.png" in row["message"] for row in errors)
    for table in tables.iterdir():
        assert "alice" not in table.read_text(encoding="utf-8").replace(str(tmp_path), ""), table.name


def _plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    """redact.py's rules run the plain way: no hints, the URL rule wherever there is an ``=``, the label
    rule wherever there is a word a label ends with."""
    from dataclasses import replace

    from comfylog.read import redact

    def plainly(rule: redact.Rule) -> redact.Rule:
        if rule.kind == "url-secret":
            return replace(rule, needles=("=",), folded=False, also=(), hint=None)
        if rule.kind == "secret":  # the odd letters: a label spelt with them was missed before they were needles
            return replace(rule, needles=("key", "token", "secret", "passw", "pwd"), hint=None)
        return replace(rule, hint=None)

    monkeypatch.setattr(redact, "RULES", tuple(plainly(rule) for rule in redact.RULES))
    monkeypatch.setattr(redact, "ALL_RULES", tuple(plainly(rule) for rule in redact.ALL_RULES))


def test_needles_and_hints_never_change_what_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    # The labelled-secret rule skips lines its cheap hint (a label's last word and a separator) does not
    # match, the URL rule lines without a key's end and ``=``: every corpus line holding a needle of
    # theirs, labelled secrets and URL keys of every shape (with the letters (?i) reads as ASCII ones:
    # ``ſig=``), come out the same as with the rules run plainly.
    corpus = corpus_or_skip()
    redactor = Redactor(ips=True)
    needles = ("key", "token", "secret", "passw", "pwd", "=")
    lines = [f"{label}{sep}{KEY}" for label in ("api_key", "AWS_SECRET_ACCESS_KEY", "aws_access_key_id", "HF_TOKEN",
                                                 "db.password", "user-passwd", "PWD", "client_secret", "X-Api-Key",
                                                 "AccessKeyId", "paſſword", "Secret_Acceſs_Key")
             for sep in ("=", ": ", '": "', "' = '", "\t:\t", "    =", " \t:", '"\t\t=\t"')]
    lines += [f"GET https://h.example/f?{key}={KEY}&x=1" for key in (
        "token", "API-KEY", "apikey", "Access_Token", "id-token", "Sig", "signature", "client_secret", "PASSWORD",
        "X-Amz-Signature", "x-amz-credential", "X-Amz-Security-Token", "x-goog-credential", "key",
        "\u017fig", "client_\u017fecret", "\u0130d_token", "s\u0131gnature", "ap\u0131key")]
    for path in sorted((corpus / "logs").glob("*.log")):
        lines += [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                  if any(n in line.lower() for n in needles)]
    fast: Counter[str] = Counter()
    quick = [redactor.redact(line, fast) for line in lines]
    _plainly(monkeypatch)
    slow: Counter[str] = Counter()
    assert [redactor.redact(line, slow) for line in lines] == quick
    assert slow == fast
    assert sum(MARK in line for line in quick[:115]) == 115  # the made-up secrets are redacted
