"""Prometheus metrics: ``registry`` (counters, gauges, histograms, cheap to
update from the hot path) and ``endpoint`` (``/metrics`` behind its token)."""
