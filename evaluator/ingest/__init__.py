"""Intake of a call: the request validated, the agent and metrics resolved, the transcript
normalized.
"""
