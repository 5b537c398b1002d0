"""Test doubles for your own tests: ``ScriptedJudge`` answers like a model (through the same
schema validation) without one. Import it as ``evaluator.testing.ScriptedJudge``."""

from evaluator.judge.scripted import ScriptedJudge

__all__ = ["ScriptedJudge"]
