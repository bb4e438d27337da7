"""Renderers: each takes a Report (and options) and produces one output format."""
