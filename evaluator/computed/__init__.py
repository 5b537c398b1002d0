"""Computed metrics: exact values from the transcript's timestamps and tool turns, no LLM."""
