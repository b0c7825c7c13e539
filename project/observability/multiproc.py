"""The directory where the processes of one machine keep their metrics (no prometheus import).

prometheus-client's multiprocess mode: each process writes its values to files
named after its pid in ``PROMETHEUS_MULTIPROC_DIR``; a scrape sums them. The
directory must be emptied when the set of processes starts afresh, or a new run
would add to the counters of the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def stack_directory(environ: Mapping[str, str], data_dir: Path) -> str:
    """runstack's directory: the operator's ``PROMETHEUS_MULTIPROC_DIR`` as given, else
    ``<data dir>/metrics``, emptied of the last run's files."""
    given = environ.get(ENV, "").strip()
    if given:
        return given
    directory = data_dir / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return str(directory)
