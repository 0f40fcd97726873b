"""Test-session wiring shared by every folder.

`make test` runs the suite on two pytest-xdist workers: most tests wait on real processes
(node, uvicorn, helm, the control plane), so two workers keep two cores busy where one would
leave them idle. Each test file stays on one worker, in its order (its module fixtures start
once; some tests build on the one before), and every test of tests/cluster goes to the same
worker, in its order, so one control plane serves them all.
"""

from __future__ import annotations

from typing import Any


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/cluster" if path.startswith("tests/cluster/") else path

    return ByFile(config, log)
