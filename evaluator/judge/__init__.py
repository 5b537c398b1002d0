"""The one LLM boundary: templates, messages, response schema, the litellm judge, its cache, rate
limit, offline model and scripted test double.
"""
