"""Diagnosis: the rules catalog that turns a Report into findings with evidence, cost and advice."""

from .engine import MAX_EVIDENCE, RULES, SEVERITY_RANK, Rule, diagnose, prompt_seconds, rule_phase, rules_markdown

__all__ = [
    "MAX_EVIDENCE", "RULES", "SEVERITY_RANK", "Rule", "diagnose", "prompt_seconds", "rule_phase", "rules_markdown",
]
