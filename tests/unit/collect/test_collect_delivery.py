"""The delivery queue and the script cache against backends that fail, are slow, or are down."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from support.backends import CapturingBackend, closed_port

from gateway.collect.delivery import Delivery, Outgoing
from gateway.collect.scripts import ScriptCache, ScriptUnavailable
from gateway.metrics.registry import Registry

pytestmark = pytest.mark.anyio


def hit(url: str, n: int = 0) -> Outgoing:
    return Outgoing("ga4", "GET", f"{url}/g/collect?v=2&tid=G-TEST1234&n={n}", None, (("User-Agent", "t"),))


def value(registry: Registry, name: str, **labels: str) -> float:
    return registry.metrics[name].value(**labels)


async def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_hits_are_delivered_over_one_pooled_session() -> None:
    registry = Registry()
    with CapturingBackend() as backend:
        delivery = Delivery(registry, queue_size=100, concurrency=4)
        for n in range(50):
            assert delivery.submit(hit(backend.url, n))
        assert await wait_until(lambda: len(backend.hits()) == 50)
        session = delivery.session()
        await delivery.stop()
    assert sorted(int(dict(h.query)["n"]) for h in backend.hits()) == list(range(50))
    assert value(registry, "gateway_collect_forwarded_total", backend="ga4") == 50
    assert session.closed


async def test_5xx_is_retried_with_backoff_then_delivered() -> None:
    registry = Registry()
    with CapturingBackend(fail_first=2) as backend:
        delivery = Delivery(registry, concurrency=1, retries=3, backoff_base=0.05)
        started = time.monotonic()
        delivery.submit(hit(backend.url))
        assert await wait_until(lambda: value(registry, "gateway_collect_forwarded_total", backend="ga4") == 1)
        elapsed = time.monotonic() - started
        await delivery.stop()
    assert backend.attempts == 3 and len(backend.hits()) == 1
    assert value(registry, "gateway_collect_retries_total", backend="ga4") == 2
    assert value(registry, "gateway_collect_failed_total", backend="ga4") == 0
    assert elapsed < 5


async def test_a_backend_that_keeps_failing_counts_as_failed_after_the_retries() -> None:
    registry = Registry()
    with CapturingBackend(fail_first=1000) as backend:
        delivery = Delivery(registry, concurrency=1, retries=2, backoff_base=0.01)
        delivery.submit(hit(backend.url))
        assert await wait_until(lambda: value(registry, "gateway_collect_failed_total", backend="ga4") == 1)
        await delivery.stop()
    assert backend.attempts == 3
    assert value(registry, "gateway_collect_forwarded_total", backend="ga4") == 0


async def test_a_4xx_is_not_retried() -> None:
    registry = Registry()
    with CapturingBackend(status=400) as backend:
        delivery = Delivery(registry, concurrency=1, retries=3, backoff_base=0.01)
        delivery.submit(hit(backend.url))
        assert await wait_until(lambda: value(registry, "gateway_collect_failed_total", backend="ga4") == 1)
        await delivery.stop()
    assert backend.attempts == 1


async def test_with_the_backend_down_the_queue_bound_holds_and_drops_are_counted() -> None:
    registry = Registry()
    down = f"http://127.0.0.1:{closed_port()}"
    delivery = Delivery(registry, queue_size=20, concurrency=2, retries=3, backoff_base=0.2, drain_timeout=0.3)
    accepted = sum(delivery.submit(hit(down, n)) for n in range(5000))
    assert delivery.queue is not None and delivery.queue.qsize() <= 20
    assert accepted <= 22  # the queue, plus what the two workers took off it meanwhile
    assert value(registry, "gateway_collect_dropped_total", backend="ga4", reason="queue_full") == 5000 - accepted
    assert value(registry, "gateway_collect_queue_length") <= 20
    # Memory follows the bound, not the traffic: another 50,000 hits leave no trace.
    gc.collect()
    before = len(gc.get_objects())
    for n in range(50_000):
        delivery.submit(hit(down, n))
    gc.collect()
    assert len(gc.get_objects()) - before < 1000
    started = time.monotonic()
    await delivery.stop()
    assert time.monotonic() - started < 2.0  # the drain deadline holds although nothing can be delivered
    assert value(registry, "gateway_collect_dropped_total", backend="ga4", reason="shutdown") >= 18
    assert not delivery.submit(hit(down))  # stopped for good: the server is going away
    assert value(registry, "gateway_collect_dropped_total", backend="ga4", reason="shutting_down") == 1


async def test_shutdown_drains_the_queue_within_the_deadline() -> None:
    registry = Registry()
    with CapturingBackend(delay=0.02) as backend:
        delivery = Delivery(registry, queue_size=1000, concurrency=4, drain_timeout=10)
        for n in range(200):
            delivery.submit(hit(backend.url, n))
        await delivery.stop()  # returns once everything queued was sent
        assert len(backend.hits()) == 200
    assert value(registry, "gateway_collect_forwarded_total", backend="ga4") == 200
    assert not delivery.running


async def test_hits_arriving_during_shutdown_are_counted_not_lost_silently() -> None:
    registry = Registry()
    with CapturingBackend(delay=0.05) as backend:
        delivery = Delivery(registry, concurrency=1, drain_timeout=5)
        delivery.submit(hit(backend.url))
        stopping = asyncio.create_task(delivery.stop())
        await asyncio.sleep(0)
        assert not delivery.submit(hit(backend.url, 1))
        await stopping
    assert value(registry, "gateway_collect_dropped_total", backend="ga4", reason="shutting_down") == 1
    assert len(backend.hits()) == 1


# ---- the script cache --------------------------------------------------------------------------------


async def test_scripts_are_cached_for_the_ttl_then_fetched_again() -> None:
    registry = Registry()
    with CapturingBackend() as backend:
        delivery = Delivery(registry)
        cache = ScriptCache(delivery, registry, ttl=0.3, timeout=2)
        url = backend.url + "/gtag/js?id=G-TEST1234"
        first = await cache.get(url)
        again = await cache.get(url)
        assert first.body == backend.script and again is first and backend.attempts == 1
        await asyncio.sleep(0.35)
        backend.script = b"/* new version */"
        refreshed = await cache.get(url)
        assert refreshed.body == b"/* new version */" and backend.attempts == 2
        await delivery.stop()


async def test_a_stale_copy_is_served_when_the_vendor_fails() -> None:
    registry = Registry()
    backend = CapturingBackend().start()
    delivery = Delivery(registry)
    cache = ScriptCache(delivery, registry, ttl=0.1, timeout=2)
    url = backend.url + "/gtag/js?id=G-TEST1234"
    first = await cache.get(url)
    await asyncio.sleep(0.15)
    backend.script_status = 500
    assert (await cache.get(url)).body == first.body
    backend.stop()  # down altogether
    await asyncio.sleep(0.15)
    assert (await cache.get(url)).body == first.body
    assert value(registry, "gateway_collect_script_fetches_total", outcome="failed") == 2
    with pytest.raises(ScriptUnavailable):
        await cache.get(f"http://127.0.0.1:{closed_port()}/gtag/js?id=G-OTHER")
    await delivery.stop()


async def test_one_fetch_in_flight_per_script() -> None:
    registry = Registry()
    with CapturingBackend(delay=0.3) as backend:
        delivery = Delivery(registry)
        cache = ScriptCache(delivery, registry, ttl=60, timeout=5)
        url = backend.url + "/gtag/js?id=G-TEST1234"
        results = await asyncio.gather(*(cache.get(url) for _ in range(20)))
        assert {r.body for r in results} == {backend.script}
        assert backend.attempts == 1
        await delivery.stop()
