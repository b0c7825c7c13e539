"""Reading ``/api/metrics`` in tests: Prometheus text → {(name, labels): value}."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def scrape(rest) -> Samples:
    response = rest.get("/api/metrics", tenant=False)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample with exactly these labels, or ``None``."""
    return samples.get((name, frozenset(labels.items())))


def count(samples: Samples, name: str, **labels: str) -> float:
    """A counter's value, 0 when it has not been counted yet."""
    return value(samples, name, **labels) or 0.0
