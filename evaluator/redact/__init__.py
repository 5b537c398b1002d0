"""PII redaction: detection (Presidio's validated recognizers, phrase rules) and masking of the
call.
"""
