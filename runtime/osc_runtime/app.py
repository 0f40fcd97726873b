"""create_app(settings): the service's parts, wired together.

The server answers at once; the adaptor is resolved in the background (installing it may take a
minute), /readyz says 503 until then, and the inbox already accepts and queues runs meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI

from osc_runtime.adaptors import AdaptorError, ResolvedAdaptor, ensure_adaptor
from osc_runtime.api import console, docs, health, inbox, runs
from osc_runtime.api.deps import Readiness, Runtime
from osc_runtime.api.errors import install_error_handlers
from osc_runtime.api.inbox_fast import RuntimeApp
from osc_runtime.api.paths import TrailingSlashes
from osc_runtime.auth import build_authenticator
from osc_runtime.dispatcher import Dispatcher
from osc_runtime.engines import Engine, make_engine, processes
from osc_runtime.engines.base import JobInvalid
from osc_runtime.group_commit import GroupCommit
from osc_runtime.invalid_job import EXIT_CODE as INVALID_JOB_EXIT_CODE
from osc_runtime.invalid_job import stop_for_invalid_job
from osc_runtime.metrics import InboxRequestCounter, RuntimeMetrics
from osc_runtime.metrics import router as metrics_router
from osc_runtime.retention import sweep_forever
from osc_runtime.settings import Settings
from osc_runtime.store import BaseRunStore, Clock, RunStore
from osc_runtime.triggers import load_trigger_settings
from osc_runtime.wiring import connect_triggers

log = logging.getLogger("osc_runtime")

# Between attempts to get an adaptor whose install failed in a way that may pass.
ADAPTOR_RETRY_DELAYS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def create_app(settings: Settings, *, clock: Clock = time.time) -> FastAPI:
    trigger_settings = load_trigger_settings()  # a bad OSC_FILTER/OSC_FLOW_TARGETS stops here
    metrics = RuntimeMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = open_runtime(settings, clock)
        app.state.runtime = runtime
        triggers = connect_triggers(runtime, trigger_settings, metrics)
        runtime.dispatcher.recover()  # after the run events are wired: a run that dies here hands off
        engines: list[Engine] = []
        background = [
            asyncio.create_task(prepare_engine(runtime, engines)),
            asyncio.create_task(sweep_forever(runtime.store, runtime.dispatcher.logs_dir, settings)),
            *(asyncio.create_task(job) for job in triggers.background()),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            runtime.draining = True
            await runtime.dispatcher.drain(settings.shutdown_grace_seconds)
            for engine in engines:
                await engine.close()
            processes.end_all()  # whatever a job started and left, however detached
            runtime.store.close()
            triggers.close()

    # RuntimeApp: FastAPI, with a short stack for plain POST /inbox requests (api/inbox_fast.py).
    app = RuntimeApp(title="osc runtime", version="0.1.0", lifespan=lifespan, redirect_slashes=False,
                  description=f"The service of the OpenFn job `{settings.job_name}`.",
                  docs_url=None, redoc_url=None)  # /docs is served offline by api.docs
    install_error_handlers(app)
    app.state.metrics = metrics
    app.state.message_filter = trigger_settings.message_filter()
    app.add_middleware(InboxRequestCounter, metrics=metrics)
    app.add_middleware(TrailingSlashes)  # outermost: the counter and the routes see `/inbox`
    for router in (inbox.router, runs.router, health.router, console.router, docs.router,
                   metrics_router):
        app.include_router(router)
    return app


def open_runtime(settings: Settings, clock: Clock) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings, clock)
    dispatcher = Dispatcher(settings, store)
    return Runtime(settings=settings, store=store, dispatcher=dispatcher,
                   auth=build_authenticator(settings, clock),
                   inbox_writer=GroupCommit(store, settings.max_queued))


def open_store(settings: Settings, clock: Clock) -> BaseRunStore:
    """The data dir's SQLite file, or PostgreSQL when a database URL is set."""
    url = settings.database_url_value()
    if url is None:
        return RunStore(settings.data_dir / "runs.db", clock)
    from osc_runtime.store.postgres import PostgresRunStore  # psycopg only when it is used

    return PostgresRunStore(url, clock, lease_seconds=settings.lease_seconds)


async def prepare_engine(runtime: Runtime, engines: list[Engine]) -> None:
    """Resolve (maybe install) the adaptor, start the engine, then let the workers go."""
    resolved = {}
    for spec in runtime.settings.adaptor_specs():  # a workflow's steps: each its own
        adaptor = await resolve_adaptor(runtime, spec)
        if adaptor is None:
            return
        resolved[spec] = adaptor
    runtime.adaptor.version = ", ".join(adaptor.version for adaptor in resolved.values())
    try:
        engine = make_engine(runtime.settings, resolved if runtime.settings.workflow else adaptor)
        await engine.start()
    except JobInvalid as error:  # no run could succeed: say so, and take no runs
        runtime.adaptor.state, runtime.adaptor.reason = Readiness.READY, None
        runtime.job_error = str(error)
        log.error("the job is invalid: %s", error, extra={"event": "job_invalid"})
        if stop_for_invalid_job(runtime.settings, str(error)):
            runtime.exit_code = INVALID_JOB_EXIT_CODE
        return
    except (NotImplementedError, RuntimeError, OSError) as error:
        runtime.adaptor.state, runtime.adaptor.reason = Readiness.FAILED, str(error)
        log.error("cannot run jobs: %s", error)
        return
    engines.append(engine)
    runtime.adaptor.state, runtime.adaptor.reason = Readiness.READY, None
    runtime.dispatcher.start(engine)
    log.info("ready: adaptor %s", ", ".join(adaptor.spec for adaptor in resolved.values()))


async def resolve_adaptor(runtime: Runtime, spec: str) -> ResolvedAdaptor | None:
    """The adaptor, retrying a failure that may pass (registry unreachable) with backoff while
    the inbox keeps queueing runs; None when it can never be had (no such package or version),
    and the inbox then refuses runs."""
    for delay in itertools.chain(ADAPTOR_RETRY_DELAYS, itertools.repeat(ADAPTOR_RETRY_DELAYS[-1])):
        try:
            return await ensure_adaptor(runtime.settings, spec)
        except AdaptorError as error:
            failed = runtime.adaptor
            failed.state, failed.permanent = Readiness.FAILED, error.permanent
            if error.permanent:
                failed.reason = str(error)
                log.error("cannot run jobs: %s", error, extra={"event": "adaptor_failed"})
                return None
            failed.reason = f"{error} (retrying in {delay:g} s)"
            log.warning("cannot get the adaptor yet: %s; retrying in %g s", error, delay)
        await asyncio.sleep(delay)
    return None
