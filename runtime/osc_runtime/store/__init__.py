"""The run store: every accepted run, durably (see sqlite.py)."""

from osc_runtime.store.sqlite import *  # noqa: F403
from osc_runtime.store.sqlite import _iso, _run_with_key, _to_run  # noqa: F401
