"""Regenerate the README's generated tables: the rules (from the diagnoser's catalog) and the
messages (from the message table, parse/messages.toml).

    python scripts/readme_tables.py            # rewrite the sections between their markers
    python scripts/readme_tables.py --check    # exit 1 if the README is out of date

Each table sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; tests fail when either
drifts from ``comfylog.diagnose.RULES`` or ``comfylog.parse.table.PATTERNS``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from comfylog.diagnose import rules_markdown
from comfylog.parse.table import messages_markdown

TABLES: dict[str, Callable[[], str]] = {"rules": rules_markdown, "messages": messages_markdown}


def updated(readme: str) -> str:
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        if start not in readme or end not in readme:
            raise SystemExit(f"README has no {name} markers ({start.strip()} ... {end})")
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        readme = head + start + table() + end + tail
    return readme


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0]) if paths else Path(__file__).resolve().parents[1] / "README.md"
    text = path.read_text(encoding="utf-8")
    new = updated(text)
    if check:
        if new != text:
            sys.stderr.write(f"{path}: generated tables out of date; run python scripts/readme_tables.py\n")
            return 1
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        sys.stderr.write(f"updated {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
