"""Engines run one job on one state. `make_engine` picks the one OSC_ENGINE names."""

from __future__ import annotations

from osc_runtime.adaptors import ResolvedAdaptor
from osc_runtime.engines.base import Engine, Outcome, RunResult
from osc_runtime.settings import EngineKind, Settings

__all__ = ["Engine", "Outcome", "RunResult", "make_engine"]


def make_engine(settings: Settings, adaptor: ResolvedAdaptor) -> Engine:
    if settings.engine is EngineKind.CORE:
        from osc_runtime.engines.core import CoreRunner

        return CoreRunner(settings, adaptor)
    if settings.engine is EngineKind.WARM:
        from osc_runtime.engines.warm import WarmEngine

        return WarmEngine(settings, adaptor)
    raise NotImplementedError(f"OSC_ENGINE={settings.engine} is not available yet")
