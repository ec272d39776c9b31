"""Prometheus metrics (SPEC §4 operations; issue 10): counters kept by every process, and the
delivery queue read from the database when /metrics is scraped. Series are prefixed ``marketmsg_``.

Processes count into files under ``MARKETMSG_METRICS_DIR`` (prometheus_client's multiprocess
mode: the environment variable is set in settings, before this module imports the client), so the
web's /metrics adds up the gateway's, the worker's and its own counts on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

SMTP_REPLIES = Counter("marketmsg_smtp_replies", "SMTP replies the gateway gave, by code", ["code"])
MESSAGES = Counter("marketmsg_messages_stored", "Messages stored, by author and state", ["author", "state"])
DELIVERY_ATTEMPTS = Counter(
    "marketmsg_delivery_attempts",
    "Delivery attempts, by outcome (delivered, temporary, permanent)",
    ["outcome"],
)
RETRIES = Counter("marketmsg_delivery_retries", "Deliveries deferred for another attempt")
BOUNCES = Counter("marketmsg_bounces", "Delivery reports (bounces) received for our deliveries")
GUIDELINE_BLOCKS = Counter(
    "marketmsg_guideline_blocks", "Seller messages blocked, by guideline rule", ["rule"]
)
DELIVERY_LATENCY = Histogram(
    "marketmsg_delivery_latency_seconds",
    "From the message being stored to its delivery being accepted by the next server",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400),
)


class DeliveryQueue:
    """The delivery queue as the database has it now: depth by state and the oldest waiting."""

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "marketmsg_delivery_queue_depth", "Deliveries not finished, by state", labels=["state"]
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state, COUNT(*), MIN(created_at) FROM delivery_delivery "
                "WHERE state IN ('pending', 'deferred', 'held') GROUP BY state"
            )
            found = {state: (count, oldest) for state, count, oldest in cursor.fetchall()}
        oldest_open = None
        for state in ("pending", "deferred", "held"):
            count, oldest = found.get(state, (0, None))
            depth.add_metric([state], count)
            if state != "held" and oldest is not None:
                oldest = _aware(oldest)
                oldest_open = oldest if oldest_open is None else min(oldest_open, oldest)
        yield depth
        age = GaugeMetricFamily(
            "marketmsg_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery still pending or deferred (0 when none)",
        )
        age.add_metric([], (timezone.now() - oldest_open).total_seconds() if oldest_open else 0.0)
        yield age


def _aware(value: datetime | str) -> datetime:
    """MIN() of a timestamp as the driver returns it: SQLite gives the stored UTC text."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def exposition() -> bytes:
    """The text every scrape gets: this machine's process counters and the queue."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DeliveryQueue())  # type: ignore[arg-type]
    return generate_latest(registry)
