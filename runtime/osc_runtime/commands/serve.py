"""Serve the job: the inbox, the runs API and the workers (configured by OSC_* variables)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from types import FrameType

import uvicorn

from osc_runtime.adaptors import check_at_startup
from osc_runtime.app import create_app
from osc_runtime.cli import command_parser
from osc_runtime.connections import guarded_protocol
from osc_runtime.engines import processes
from osc_runtime.logs import configure_logging
from osc_runtime.settings import Settings, SettingsError, load, shown
from osc_runtime.triggers import TriggerSettings


DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Python's cyclic garbage collector runs when container allocations outnumber deallocations by
# its first threshold (700). The objects of the requests in progress alone pass that many, so
# under load it ran every few requests, walking objects that reference counting frees anyway.
YOUNG_GC_THRESHOLD = 10_000


def main(argv: list[str]) -> int:
    parser("osc-runtime serve").parse_args(argv)
    settings = load()
    check_data_dir(settings)
    check_at_startup(settings)  # a bad OSC_ADAPTOR stops here; installing happens in the background
    hidden = frozenset({settings.api_key_query_param}) if settings.api_key_query_param else frozenset()
    configure_logging(settings.job_name, hidden_query_params=hidden)
    processes.become_subreaper()  # orphans of the jobs' children come back here to be ended
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None,
        timeout_graceful_shutdown=5, server_header=False, http=guarded_protocol(settings),
    )
    DrainingServer(config, settings).run()
    runtime = getattr(app.state, "runtime", None)
    return runtime.exit_code if runtime is not None else 0  # e.g. 3: the job is invalid


def parser(prog: str, doc: str | None = __doc__):
    """The serve command line (also `python -m osc_runtime.dev`'s settings)."""
    return command_parser(prog, doc, Settings, TriggerSettings)


def check_data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(f"OSC_DATA_DIR: cannot create {shown(str(settings.data_dir))}: {error.strerror}")
    if not os.access(settings.data_dir, os.W_OK | os.X_OK):
        raise SettingsError(f"OSC_DATA_DIR: {settings.data_dir} is not writable")


class DrainingServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT, drain before stopping; a second signal stops at once.

    Draining: the inbox answers 503 + Retry-After, running runs get OSC_SHUTDOWN_GRACE_SECONDS to
    finish, queued runs stay in the store for the next start.
    """

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task | None = None
        self._signalled = False

    async def serve(self, sockets: list | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        settle_memory()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = getattr(self.config.app.state, "runtime", None)
        if self._signalled or sig not in DRAIN_SIGNALS or runtime is None or self._loop is None:
            return super().handle_exit(sig, frame)
        self._signalled = True
        self._loop.call_soon_threadsafe(self._start_drain, runtime)

    def _start_drain(self, runtime) -> None:
        async def drain() -> None:
            runtime.draining = True
            await runtime.dispatcher.drain(self.settings.shutdown_grace_seconds)
            self.should_exit = True

        self._drain = asyncio.create_task(drain())


def settle_memory() -> None:
    """Once started: what exists now (modules, the app, its settings) lives as long as the
    process, so the collector's full passes leave it out (`gc.freeze`); they took ~50 ms each,
    every request in progress waiting, and the young generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
