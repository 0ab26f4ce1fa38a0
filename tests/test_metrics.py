import pytest

from gateway.metrics import Registry


def test_counter_renders_per_label_combination():
    registry = Registry()
    hits = registry.counter("gateway_hits_total", "Hits by outcome.", ["backend", "outcome"])
    hits.inc(backend="ga4", outcome="forwarded")
    hits.inc(2, backend="ga4", outcome="forwarded")
    hits.inc(backend="matomo", outcome="dropped")
    text = registry.render()
    assert "# TYPE gateway_hits_total counter" in text
    assert 'gateway_hits_total{backend="ga4",outcome="forwarded"} 3' in text
    assert 'gateway_hits_total{backend="matomo",outcome="dropped"} 1' in text
    assert hits.value(backend="ga4", outcome="forwarded") == 3


def test_histogram_buckets_are_cumulative():
    registry = Registry()
    latency = registry.histogram("gateway_request_seconds", "Latency.", ["kind"], buckets=(0.01, 0.1))
    for value in (0.005, 0.05, 0.05, 3.0):
        latency.observe(value, kind="page")
    lines = registry.render().splitlines()
    assert 'gateway_request_seconds_bucket{kind="page",le="0.01"} 1' in lines
    assert 'gateway_request_seconds_bucket{kind="page",le="0.1"} 3' in lines
    assert 'gateway_request_seconds_bucket{kind="page",le="+Inf"} 4' in lines
    assert 'gateway_request_seconds_count{kind="page"} 4' in lines
    assert any(line.startswith('gateway_request_seconds_sum{kind="page"} 3.10') for line in lines)


def test_labels_are_escaped_and_checked():
    registry = Registry()
    counter = registry.counter("c_total", "Help with a \\ backslash.", ["path"])
    counter.inc(path='a"b\nc')
    assert 'c_total{path="a\\"b\\nc"} 1' in registry.render()
    with pytest.raises(ValueError):
        counter.inc(other="x")
    with pytest.raises(ValueError):
        counter.inc(-1, path="x")


def test_same_name_returns_the_same_metric_and_shape_conflicts_fail():
    registry = Registry()
    first = registry.counter("x_total", "X.", ["a"])
    assert registry.counter("x_total", "X.", ["a"]) is first
    with pytest.raises(ValueError):
        registry.gauge("x_total", "X.", ["a"])


def test_gauge_goes_both_ways():
    registry = Registry()
    queue = registry.gauge("queue_length", "Waiting hits.")
    queue.set(5)
    queue.inc(-2)
    assert "queue_length 3" in registry.render()


def test_hot_path_helpers_count_like_the_checked_calls():
    registry = Registry()
    latency = registry.histogram("gateway_request_seconds", "Latency.", ["kind"], buckets=(0.01, 0.1))
    observe_page = latency.observer(kind="page")
    pages = registry.counter("pages_total", "Pages.", ["outcome"])
    count_clean = pages.incrementer(outcome="clean")
    assert 'pages_total{outcome="clean"} 0' in registry.render()  # the series exists from the start
    for seconds in (0.005, 0.05):
        observe_page(seconds)
    latency.observe(0.05, kind="page")
    count_clean()
    count_clean()
    pages.inc(outcome="clean")
    lines = registry.render().splitlines()
    assert 'gateway_request_seconds_bucket{kind="page",le="0.1"} 3' in lines
    assert 'gateway_request_seconds_count{kind="page"} 3' in lines
    assert pages.value(outcome="clean") == 3
    with pytest.raises(ValueError):
        latency.observer(other="x")
