"""The bridge's linger follows the arrival rate: it holds a batch back only when
records come fast enough for some to arrive within it (the broker side is in
tests/e2e/test_fetch_wait.py)."""

from __future__ import annotations

from project.messaging import bridge


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _feed(linger: bridge.Linger, clock: Clock, records: int, every: float, seconds: float) -> None:
    batch = {"tp": list(range(records))}
    for _ in range(round(seconds / every)):
        clock.now += every
        assert linger.gather(None, batch if records else {}) is not None


def test_the_rate_follows_the_records_and_decays_when_they_stop(settings, monkeypatch):
    settings.KAFKA_BRIDGE_LINGER_MS = 0  # measure only; nothing is held back
    clock = Clock()
    monkeypatch.setattr(bridge.time, "monotonic", clock)
    linger = bridge.Linger()
    _feed(linger, clock, records=2, every=0.01, seconds=5)  # 200 records/s
    assert 180 < linger.rate < 220  # a 20 ms linger expects four records behind
    _feed(linger, clock, records=0, every=0.1, seconds=2)  # quiet for two seconds
    assert linger.rate * 0.020 < 1  # the next record is stored at once
    _feed(linger, clock, records=1, every=0.5, seconds=5)  # a trickle: 2 records/s
    assert 1 < linger.rate < 3
