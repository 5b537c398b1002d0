"""The observe service: the FastAPI app, its routes, request bodies, limits, background worker and
webhook.
"""
