"""Engines run one job (or one workflow plan) on one state. `make_engine` picks the one
OSC_ENGINE names."""

from __future__ import annotations

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines.base import Engine, Outcome, RunResult
from osc_runtime.settings import EngineKind, Settings

__all__ = ["Engine", "Outcome", "RunResult", "make_engine"]


def make_engine(settings: Settings, adaptor: ResolvedAdaptor | dict[str, ResolvedAdaptor]
                ) -> Engine:
    """`adaptor`: the job's; for a workflow (settings.workflow) every step's, by spec."""
    if settings.workflow is not None:
        return _workflow_engine(settings, adaptor)
    if settings.engine is EngineKind.CORE:
        from osc_runtime.engines.core import CoreRunner

        return CoreRunner(settings, adaptor)
    if settings.engine is EngineKind.WARM:
        from osc_runtime.engines.warm import WarmEngine

        return WarmEngine(settings, adaptor)
    raise NotImplementedError(f"OSC_ENGINE={settings.engine} is not available yet")


def _workflow_engine(settings: Settings, adaptors: dict[str, ResolvedAdaptor]) -> Engine:
    if settings.engine is EngineKind.CORE:
        from osc_runtime.engines.core_workflow import CoreWorkflowRunner

        return CoreWorkflowRunner(settings, settings.workflow, adaptors)
    if settings.engine is EngineKind.WARM:
        from osc_runtime.engines.warm import WarmEngine

        return WarmEngine(settings, None, plan=settings.workflow, adaptors=adaptors)
    raise NotImplementedError(f"OSC_ENGINE={settings.engine} is not available yet")
