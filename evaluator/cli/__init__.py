"""The command line: one module per command group (evaluate, metrics, serve, reevaluate,
regress)."""
