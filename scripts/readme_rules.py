"""Regenerate the README's rules table from the diagnoser's catalog.

    python scripts/readme_rules.py            # rewrite the section between the rules markers
    python scripts/readme_rules.py --check    # exit 1 if the README is out of date

The table sits between ``<!-- rules:start -->`` and ``<!-- rules:end -->``; a test fails when it
drifts from ``comfylog.diagnose.RULES``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from comfylog.diagnose import rules_markdown

START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"


def updated(readme: str) -> str:
    if START not in readme or END not in readme:
        raise SystemExit("README has no rules markers (<!-- rules:start --> ... <!-- rules:end -->)")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + rules_markdown() + END + tail


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0]) if paths else Path(__file__).resolve().parents[1] / "README.md"
    text = path.read_text(encoding="utf-8")
    new = updated(text)
    if check:
        if new != text:
            sys.stderr.write(f"{path}: rules table out of date; run python scripts/readme_rules.py\n")
            return 1
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        sys.stderr.write(f"updated {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
