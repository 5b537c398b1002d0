"""Judge prompts under regression tests: golden sets, recorded answers, agreement statistics and
reports.
"""
