"""Forget old finished runs so the data dir never grows without bound.

A finished run goes when it is older than OSC_RETENTION_DAYS or is not among the newest
OSC_RETENTION_MAX_RUNS runs; its log goes with it. Queued and running runs are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from osc_runtime.settings import Settings
from osc_runtime.store import RunStore

log = logging.getLogger("osc_runtime.retention")

SWEEP_INTERVAL_SECONDS = 600


def sweep(store: RunStore, logs_dir: Path, settings: Settings) -> int:
    """Delete what is past retention now (by the store's clock); return how many runs went."""
    cutoff = store.clock() - settings.retention_days * 86_400
    gone = store.delete_finished(older_than=cutoff, keep_newest=settings.retention_max_runs)
    for run_id in gone:
        (logs_dir / f"{run_id}.log").unlink(missing_ok=True)
    if gone:
        log.info("retention: deleted %d finished runs", len(gone))
    return len(gone)


async def sweep_forever(store: RunStore, logs_dir: Path, settings: Settings) -> None:
    while True:
        with contextlib.suppress(Exception):  # a failed sweep is retried at the next interval
            sweep(store, logs_dir, settings)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
