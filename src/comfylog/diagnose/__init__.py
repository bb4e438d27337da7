"""Diagnosis: the rules catalog that turns a Report into findings with evidence, cost and advice.

engine.py holds the catalog and ``diagnose``; facts.py what rules share (the report index and
more); evidence.py the lines findings quote; rules/ one module per rule.
"""

from . import rules  # noqa: F401  (registers every rule in RULES)
from .engine import MAX_EVIDENCE, RULES, SEVERITY_RANK, Rule, diagnose, rule_phase, rules_markdown
from .facts import prompt_seconds

__all__ = [
    "MAX_EVIDENCE", "RULES", "SEVERITY_RANK", "Rule", "diagnose", "prompt_seconds", "rule_phase", "rules_markdown",
]
