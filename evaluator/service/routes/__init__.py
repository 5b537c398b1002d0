"""The service's routes, one module per resource: health, observe, call logs, evaluation runs."""
