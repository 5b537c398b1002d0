"""The catalogue: metric and agent definitions loaded from YAML, validated once, with "did you
mean" hints.
"""
