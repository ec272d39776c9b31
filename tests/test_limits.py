"""The one rate limiter (ADR 23): the same token-bucket arithmetic in memory (the SMTP gateway) and
in the database (sign-in, the APIs), driven by a clock the test moves."""

from __future__ import annotations

import pytest

from marketmsg.limits import memory, shared
from marketmsg.limits.models import Bucket
from marketmsg.limits.rate import Rate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _memory(rate: Rate, clock: Clock) -> memory.Buckets:
    return memory.Buckets(rate, clock)


def _shared(rate: Rate, clock: Clock) -> shared.Buckets:
    return shared.Buckets("test", rate, clock)


KINDS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_shared, id="database", marks=[pytest.mark.db, pytest.mark.django_db]),
]


@pytest.mark.parametrize("buckets", KINDS)
def test_a_burst_passes_then_one_per_share_of_the_window(buckets):
    clock = Clock()
    bucket = buckets(Rate(3, 60.0), clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(20.0)  # nothing taken: a third of the window to go
    assert bucket.wait("a") == pytest.approx(20.0) and bucket.wait("b") == 0.0  # keys are apart
    clock.now += 19.0
    assert bucket.wait("a") == pytest.approx(1.0)
    clock.now += 1.5  # 20 s is one third of the window: one token back
    assert bucket.take("a") == 0.0
    assert bucket.wait("a") > 0
    bucket.forget("a")
    assert bucket.wait("a") == 0.0
    clock.now += 3600.0  # a bucket never holds more than its limit
    assert [bucket.take("b") for _ in range(4)][-1] > 0


@pytest.mark.parametrize("buckets", KINDS)
def test_an_unlimited_rate_never_waits(buckets):
    bucket = buckets(Rate.parse("off"), Clock())
    assert all(bucket.take("x") == 0.0 for _ in range(100)) and bucket.wait("x") == 0.0


def test_rates_are_read_from_settings_text():
    assert Rate.parse("300/1h") == Rate(300, 3600.0)
    assert Rate.parse("5/30s") == Rate(5, 30.0)
    assert Rate.parse("off").limit == 0
    with pytest.raises(ValueError):
        Rate.parse("lots/1h")


@pytest.mark.db
@pytest.mark.django_db
def test_database_buckets_are_one_row_per_key_shared_by_every_limiter_of_the_scope():
    clock = Clock()
    one, other = shared.Buckets("api", Rate(2, 60.0), clock), shared.Buckets("api", Rate(2, 60.0), clock)
    assert one.take("7") == 0.0 and other.take("7") == 0.0  # two processes, one count
    assert one.take("7") > 0 and other.wait("7") > 0
    assert list(Bucket.objects.values_list("key", flat=True)) == ["api:7"]
    clock.now += 86_401
    assert shared.Buckets.sweep(86_400, clock) == 1 and not Bucket.objects.exists()
