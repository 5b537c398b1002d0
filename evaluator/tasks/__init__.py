"""Running evaluations outside a web request: the one job function (``job``), shared by the
in-process worker and Celery's tasks (``app``, ``worker``), completion webhooks (``delivery``),
the sweeper (``sweep``) and re-evaluation chunks (``chunks``)."""
