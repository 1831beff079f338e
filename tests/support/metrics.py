"""Reading a Prometheus exposition in tests, with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["metric"]


def metric(exposition: str, name: str, **labels: str) -> float | None:
    """The sum of the samples `name` whose labels include `labels` in a Prometheus text
    exposition (read with prometheus_client's parser, so a malformed one fails); None if none."""
    values = [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return sum(values) if values else None
