"""The one place transport reads the time: the system's UTC wall clock, full precision.

Everything time-driven (the tick, REST evaluation, START, schedule computation)
calls ``now()``; tests replace the clock with ``use(fn)`` (or ``frozen(instant)``)
so that an injected clock, an operator's clock and ours agree. Microsecond
precision matters: a clock truncated to whole seconds would evaluate exactly on
departure instants.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator


def _system() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Callable[[], dt.datetime] = _system


def now() -> dt.datetime:
    """The current UTC instant (aware)."""
    return _source()


@contextlib.contextmanager
def use(source: Callable[[], dt.datetime]) -> Iterator[None]:
    """Read time from ``source`` inside the block (tests)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


def frozen(instant: dt.datetime) -> contextlib.AbstractContextManager[None]:
    """A clock standing still at ``instant``."""
    return use(lambda: instant)
