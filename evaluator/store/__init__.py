"""Storage: every table in one metadata, sessions, calls, re-evaluation runs, judgments and
migrations.
"""
