"""Intake of a call: requests, provider transcripts and recordings, read into canonical shapes."""
