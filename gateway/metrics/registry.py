"""Counters and histograms in the Prometheus text format, without a dependency.

Each gateway process keeps its own figures (a scrape sees the worker that
answered it, as with any per-process exporter); the ``process`` is not a
label because Prometheus sums per target anyway.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence

LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


class Metric:
    """A named family of samples, one per combination of label values."""

    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)

    def key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> Iterable[str]:
        raise NotImplementedError


class Counter(Metric):
    """A value that only goes up, such as hits forwarded."""

    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self.values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter cannot go down")
        key = self.key(labels)
        self.values[key] = self.values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(self.key(labels), 0)

    def incrementer(self, **labels: str) -> Callable[[], None]:
        """``inc()`` for one fixed set of label values, checked once: for hot paths. The sample starts at 0."""
        key = self.key(labels)
        values = self.values
        values.setdefault(key, 0)

        def increment() -> None:
            values[key] += 1

        return increment

    def lines(self) -> Iterable[str]:
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


class Gauge(Counter):
    """A value that goes up and down, such as the length of a queue."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self.values[self.key(labels)] = value

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = self.key(labels)
        self.values[key] = self.values.get(key, 0) + amount


class Histogram(Metric):
    """Observations counted into cumulative buckets, such as request latency in seconds."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help, labelnames)
        self.bounds = tuple(sorted(buckets))
        self.series: dict[LabelValues, list[float]] = {}  # per-bucket counts, then +Inf count, then sum

    def observe(self, value: float, **labels: str) -> None:
        key = self.key(labels)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = [0.0] * (len(self.bounds) + 2)
        series[bisect.bisect_left(self.bounds, value)] += 1
        series[-1] += value

    def count(self, **labels: str) -> int:
        series = self.series.get(self.key(labels))
        return 0 if series is None else int(sum(series[:-1]))

    def observer(self, **labels: str) -> Callable[[float], None]:
        """``observe(value)`` for one fixed set of label values, checked once: for hot paths."""
        series = self.series.setdefault(self.key(labels), [0.0] * (len(self.bounds) + 2))
        bounds = self.bounds

        def observe(value: float) -> None:
            series[bisect.bisect_left(bounds, value)] += 1
            series[-1] += value

        return observe

    def pending(self, registry: Registry, **labels: str) -> PendingObservations:
        """A list to append observations to, folded into the buckets before each rendering: for the
        hottest paths, where even the call to an ``observer`` shows."""
        series = self.series.setdefault(self.key(labels), [0.0] * (len(self.bounds) + 2))
        pending = PendingObservations(series, self.bounds)
        registry.before_render(pending.fold)
        return pending

    def lines(self) -> Iterable[str]:
        names = (*self.labelnames, "le")
        for key, series in sorted(self.series.items()):
            cumulative = 0.0
            for bound, count in zip((*self.bounds, math.inf), series[:-1], strict=True):
                cumulative += count
                yield f"{self.name}_bucket{_labels(names, (*key, _number(bound)))} {_number(cumulative)}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {_number(series[-1])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {_number(cumulative)}"


class PendingObservations(list[float]):
    """Observations of one histogram series not yet in its buckets, folded in bulk: sorted, then
    counted per bucket with one bisection per bound, instead of a call per observation. Whoever
    appends also calls ``fold`` once there are ``FOLD_AT``, which bounds the memory when nobody scrapes."""

    def __init__(self, series: list[float], bounds: tuple[float, ...]) -> None:
        super().__init__()
        self.series = series
        self.bounds = bounds

    def fold(self) -> None:
        if not self:
            return
        values = sorted(self)
        self.clear()
        below = 0
        for index, bound in enumerate(self.bounds):
            upto = bisect.bisect_right(values, bound)  # the bucket "le bound" holds bound itself
            self.series[index] += upto - below
            below = upto
        self.series[-2] += len(values) - below
        self.series[-1] += math.fsum(values)


FOLD_AT = 1024


class Registry:
    """The metrics of one gateway process, rendered for ``/_consent/metrics``."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.flushes: list[Callable[[], None]] = []

    def before_render(self, flush: Callable[[], None]) -> None:
        """Have ``flush`` called before each rendering: for figures tallied cheaply and turned into samples late."""
        self.flushes.append(flush)

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._register(Counter(name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._register(Gauge(name, help, labelnames))

    def histogram(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return self._register(Histogram(name, help, labelnames, buckets))

    def _register(self, metric: Metric) -> Metric:
        existing = self.metrics.get(metric.name)
        if existing is not None:
            if type(existing) is not type(metric) or existing.labelnames != metric.labelnames:
                raise ValueError(f"{metric.name}: registered twice with different shapes")
            return existing  # the same metric asked for by two components
        self.metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        for flush in self.flushes:
            flush()
        lines: list[str] = []
        for name in sorted(self.metrics):
            metric = self.metrics[name]
            lines.extend(metric.header())
            lines.extend(metric.lines())
        return "\n".join(lines) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{name}="{_escape_label(value)}"' for name, value in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
