"""Faults the end-to-end tests inject into the processes they start (never in production).

``OUTBOX_RELAY_FAULT=crash-after-publish`` in a relay's environment: the relay exits
(code 3) once the broker acknowledged a batch, before the rows are marked sent, so
the test can see them published again by the next relay. Installed by the echo app,
which only the tests' settings load, on the relay's ``acknowledged`` signal.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

RELAY_FAULT_ENV = "OUTBOX_RELAY_FAULT"


def crash_after_publish(sender: object, ids: list[int], **kwargs: object) -> None:
    if os.environ.get(RELAY_FAULT_ENV) == "crash-after-publish":
        logger.error("fault injection: exiting after publishing %s, before marking", ids)
        os._exit(3)


def install() -> None:
    from project.messaging import relay

    relay.acknowledged.connect(crash_after_publish, dispatch_uid="tests.echo.faults")
