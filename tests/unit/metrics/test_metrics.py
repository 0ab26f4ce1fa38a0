import pytest

from gateway.metrics.registry import Registry


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


def test_pending_observations_fold_into_the_same_buckets_as_single_observations():
    """Values on a bound, between bounds and past the last one: bulk folding counts them as ``observe`` does."""
    bounds = (0.001, 0.01, 0.1)
    values = [0.0005, 0.001, 0.002, 0.01, 0.0100001, 0.05, 0.1, 0.2, 3.0, 0.001]
    one_by_one, bulk = Registry(), Registry()
    single = one_by_one.histogram("latency_seconds", "Latency.", ["kind"], buckets=bounds)
    for value in values:
        single.observe(value, kind="page")
    pending = bulk.histogram("latency_seconds", "Latency.", ["kind"], buckets=bounds).pending(bulk, kind="page")
    pending.extend(values[:4])
    pending.fold()  # as the middleware does once FOLD_AT are waiting
    assert pending == []
    pending.extend(values[4:])  # the rest is folded when the metrics are rendered
    assert bulk.render() == one_by_one.render()
    assert 'latency_seconds_bucket{kind="page",le="0.001"} 3' in bulk.render().splitlines()
    assert 'latency_seconds_count{kind="page"} 10' in bulk.render().splitlines()
