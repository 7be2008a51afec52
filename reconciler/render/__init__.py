"""Renderers: plans and drift reports to text, JSON and Markdown, written to a text stream.

Renderers see only plain data (Plan, DriftReport); they never import deepdiff or httpx.
"""
