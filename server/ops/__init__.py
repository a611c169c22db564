"""Operations: what an operator watches the running server by (``/metrics`` for Prometheus, one JSON log line per
request, a request id on every answer and error page). A domain in the layout's sense: it serves one route
(``router.py``), so the routing rules of the architecture test apply to it; it owns no tables and no shapes."""
