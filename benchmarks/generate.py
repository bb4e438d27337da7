"""Build large benchmark logs from the real ones: deterministic, seeded, written to benchmarks/data/.

A long-lived worker's log is many start-ups, prompts and failures one after the other. This script
makes one by concatenating copies of the real logs of ../shared/corpus/logs and the three scenarios,
each copy's timestamps moved forward (by whole minutes, so every prefix style, minute-only ones
included, keeps its exact text shape) so that time runs forward across the whole file. Two kinds of
copy stress what real long logs are full of:

* ``debug``: the RunPod ``--verbose DEBUG`` scenario with its ``lowvram: loaded module regularly``
  block repeated (hundreds of thousands of such lines per GB);
* ``cr``: the local Windows scenario (ComfyUI-Manager prefixes, CRLF) with its sampling bar redrawn
  for 100-1000 steps, every tqdm state on one CR-separated line, as tqdm writes them.

A third kind of file is the corpus as it is: ``--concat`` writes the real logs and scenarios one
after the other, unchanged, repeated until the size is reached (data/corpus-20mb.log): many runs,
every prefix style, and times that jump back at each copy, as a folder of logs read as one.

A fourth is one ComfyUI process kept up for days: ``--one-run`` writes a real log's start-up once,
then its prompts again and again, times moving forward (data/onerun-150mb.log): a single run of
tens of thousands of prompts, where the generated benches have thousands of short runs.

Usage::

    python benchmarks/generate.py                  # data/bench-100mb.log and data/bench-1gb.log
    python benchmarks/generate.py --concat         # data/corpus-20mb.log
    python benchmarks/generate.py --size 4MB --out /tmp/x.log --seed 7
    python benchmarks/generate.py --one-run --size 150MB  # data/onerun-150mb.log

The same seed and size always give the same bytes (the script prints a SHA-256 prefix to check).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
DATA = HERE / "data"
DEFAULT_SEED = 20251022

#: Every dated timestamp the corpus uses: Manager ``2024-03-23 21:53[:05[.118]]``, error-report and
#: docker ``2025-10-22T20:45:31[.168208123Z]``. Fractions are left untouched (shifts are whole minutes).
DATED_RE = re.compile(r"(\d{4}-\d{2}-\d{2})([T ])(\d{2}:\d{2})(:\d{2})?")
#: One tqdm state: `` 50%|█████     | 1/2 [00:38<00:38, 38.40s/it]``.
STATE_RE = re.compile(r"\s*\d{1,3}%\|[^|\r]*\|\s*\d+/(?P<total>\d+) \[(?P<elapsed>[\d:]+)<[^\]]*\]")


@dataclass
class Template:
    """One real log, ready to be copied: its text and the span of its dated timestamps."""

    name: str
    text: str
    first: datetime | None
    last: datetime | None


def _parse(m: re.Match[str]) -> datetime:
    return datetime.fromisoformat(f"{m.group(1)} {m.group(3)}{m.group(4) or ':00'}")


def load_template(path: Path, text: str | None = None) -> Template:
    if text is None:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    stamps = [_parse(m) for m in DATED_RE.finditer(text)]
    return Template(path.name, text, min(stamps, default=None), max(stamps, default=None))


def shifted(template: Template, offset: timedelta) -> str:
    """The template's text with every dated timestamp moved by ``offset`` (a whole number of minutes)."""

    def move(m: re.Match[str]) -> str:
        ts = _parse(m) + offset
        out = f"{ts:%Y-%m-%d}{m.group(2)}{ts:%H:%M}"
        return out + (f":{ts:%S}" if m.group(4) else "")

    return DATED_RE.sub(move, template.text)


def debug_heavy(text: str, repeat: int) -> str:
    """Repeat each ``lowvram: loaded module regularly`` line ``repeat`` times (DEBUG-level bursts)."""
    out = []
    for line in text.split("\n"):
        line += "\n"
        out.append(line * repeat if "lowvram: loaded module regularly" in line else line)
    return "".join(out)[:-1]


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def tqdm_states(steps: int, elapsed_s: float, width: int = 10) -> str:
    """A whole tqdm bar of ``steps`` steps lasting ``elapsed_s``, every redraw joined by CR."""
    per = elapsed_s / steps
    states = []
    for n in range(steps + 1):
        frac = n / steps
        full = int(frac * width)
        bar = "█" * full + ("▌" if frac * width - full >= 0.5 and full < width else "")
        bar = bar.ljust(width)
        t = n * per
        rate = "?it/s" if n == 0 else (f"{per:5.2f}s/it" if per >= 1 else f"{1 / per:5.2f}it/s")
        remaining = "?" if n == 0 else _clock((steps - n) * per)
        states.append(f"{int(frac * 100):3d}%|{bar}| {n}/{steps} [{_clock(t)}<{remaining}, {rate}]")
    states.append(states[-1])  # tqdm's close() redraw
    return "\r".join(states)


def cr_heavy(text: str, steps: int) -> str:
    """Redraw every CR-joined bar of ``text`` as a bar of ``steps`` steps with the same elapsed time."""
    out = []
    for line in text.split("\n"):  # not splitlines(): that would split at the CRs too
        line += "\n"
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        states = list(STATE_RE.finditer(body))
        if body.count("\r") >= 2 and states:
            last = states[-1]
            elapsed = sum(int(p) * 60**i for i, p in enumerate(reversed(last.group("elapsed").split(":"))))
            line = body[: states[0].start()] + tqdm_states(steps, max(elapsed, 1)) + ending
        out.append(line)
    return "".join(out)[:-1]


def templates() -> tuple[list[Template], Template, Template]:
    """The real logs, the DEBUG-heavy base (RunPod lowvram) and the CR-heavy base (local Windows)."""
    if not CORPUS.is_dir():
        sys.exit(f"generate.py: the corpus is not at {CORPUS}")
    logs = sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))
    real = [load_template(p) for p in logs]
    by_name = {t.name: t for t in real}
    return real, by_name["runpod-wan-lowvram-gguf.log"], by_name["local-wan-rtx4090-baseline.log"]


def generate(size: int, out: Path, seed: int = DEFAULT_SEED) -> str:
    """Write at least ``size`` bytes of log to ``out``; return the SHA-256 of what was written."""
    rng = random.Random(seed)
    real, debug_base, cr_base = templates()
    cursor = datetime(2025, 1, 6, 8, 0)
    digest = hashlib.sha256()
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        while written < size:
            roll = rng.random()
            if roll < 0.10:
                text = debug_heavy(debug_base.text, rng.randint(2, 20))
                template = Template("debug", text, debug_base.first, debug_base.last)
            elif roll < 0.30:
                template = Template("cr", cr_heavy(cr_base.text, rng.randint(100, 1000)), cr_base.first, cr_base.last)
            else:
                template = rng.choice(real)
            if template.first is not None and template.last is not None:
                minutes = -(-(cursor - template.first) // timedelta(minutes=1))  # ceil: never back in time
                offset = timedelta(minutes=minutes)
                text = shifted(template, offset)
                cursor = template.last + offset + timedelta(seconds=rng.randint(5, 1800))
            else:
                text = template.text  # logs without dated prefixes keep their (absent) times
            if not text.endswith("\n"):
                text += "\n"
            data = text.encode("utf-8", errors="surrogateescape")
            fh.write(data)
            digest.update(data)
            written += len(data)
    return digest.hexdigest()


def concatenate(size: int, out: Path) -> str:
    """The corpus logs and scenarios, byte for byte, one after the other until ``size`` bytes."""
    files = sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))
    if not files:
        sys.exit(f"generate.py: no logs under {CORPUS}")
    digest = hashlib.sha256()
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        while written < size:
            for path in files:
                data = path.read_bytes()
                if not data.endswith(b"\n"):
                    data += b"\n"
                fh.write(data)
                digest.update(data)
                written += len(data)
    return digest.hexdigest()


#: The log whose prompts --one-run repeats: a laptop GPU's session with millisecond stamps, partial loads and
#: unloads, 85 prompts in one run.
ONE_RUN_LOG = "036-krohaard-rtx5070ti-laptop-unloaded-partially.log"


def one_run(size: int, out: Path) -> str:
    """ONE_RUN_LOG's start-up (up to its first ``got prompt``), then its prompts repeated, each copy's
    timestamps moved past the last, until ``size`` bytes: one run. Returns the SHA-256 written."""
    text = (CORPUS / "logs" / ONE_RUN_LOG).read_bytes().decode("utf-8", errors="surrogateescape")
    cut = text.rfind("\n", 0, text.index("got prompt")) + 1
    head, body = text[:cut], text[cut:]
    if not body.endswith("\n"):
        body += "\n"
    prompts = load_template(Path(ONE_RUN_LOG), body)
    assert prompts.first is not None and prompts.last is not None
    span = prompts.last - prompts.first + timedelta(minutes=2)
    digest = hashlib.sha256()
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        copy = 0
        while written < size:
            text = head if not written else shifted(prompts, timedelta(minutes=-(-span * copy // timedelta(minutes=1))))
            copy += bool(written)
            data = text.encode("utf-8", errors="surrogateescape")
            fh.write(data)
            digest.update(data)
            written += len(data)
    return digest.hexdigest()


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kMG]?)B?", text.strip(), re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 100MB, 1GB, 512kB)")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def _write_once(args: argparse.Namespace, default: str, name: str, write: Callable[[int, Path], str]) -> None:
    """One file of ``--size`` (else ``default``) made by ``write`` at ``--out`` (else data/NAME-SIZE.log), unless
    one at least that big is there already (``--force`` rewrites it)."""
    size = (args.size or [parse_size(default)])[0]
    out = args.out or DATA / f"{name}-{_label(size)}.log"
    if out.exists() and out.stat().st_size >= size and not args.force:
        print(f"{out}: exists ({out.stat().st_size / 1e6:.1f} MB), --force to rewrite")
        return
    sha = write(size, out)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, sha256 {sha[:16]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, action="append", help="bytes to write (100MB, 1GB; repeatable)")
    parser.add_argument("--out", type=Path, help="output file (only with one --size)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="rewrite files that already exist")
    parser.add_argument("--concat", action="store_true",
                        help="the corpus logs as they are, repeated (default size 20MB: data/corpus-20mb.log)")
    parser.add_argument("--one-run", action="store_true",
                        help="one run: a log's start-up, then its prompts again and again (default 150MB: "
                        "data/onerun-150mb.log)")
    args = parser.parse_args()
    if args.one_run:
        _write_once(args, "150MB", "onerun", one_run)
        return
    if args.concat:
        _write_once(args, "20MB", "corpus", concatenate)
        return
    sizes = args.size or [parse_size("100MB"), parse_size("1GB")]
    if args.out and len(sizes) != 1:
        parser.error("--out needs exactly one --size")
    for size in sizes:
        out = args.out or DATA / f"bench-{_label(size)}.log"
        if out.exists() and out.stat().st_size >= size and not args.force:
            print(f"{out}: exists ({out.stat().st_size / 1e6:.1f} MB), --force to rewrite")
            continue
        sha = generate(size, out, args.seed)
        print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, seed {args.seed}, sha256 {sha[:16]}")


def _label(size: int) -> str:
    return f"{size // 10**9}gb" if size % 10**9 == 0 else f"{size // 10**6}mb"


if __name__ == "__main__":
    main()
