"""Renderers: plans, drift and apply reports as text, JSON, Markdown and JUnit XML."""
