"""A list of runs reads only what a list shows (memory is measured in bench/p5_list_memory.py),
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from osc_runtime.store import LIST_ERROR_CHARS, Status


def test_a_list_carries_no_bodies_and_a_cut_error_while_get_has_everything(backend) -> None:
    store = backend.runs()
    big = json.dumps({"pad": "x" * 100_000})
    first, _ = store.add(big)
    store.claim_next()
    store.finish(first.run_id, Status.SUCCESS, outcome="success", exit_code=0,
                 error="e" * 50_000, final_state=big)
    [listed] = store.list()
    assert listed.input is None and listed.final_state is None
    assert listed.error == "e" * LIST_ERROR_CHARS and listed.status is Status.SUCCESS
    assert listed.to_json(with_state=False)["run_id"] == first.run_id
    full = store.get(first.run_id)
    assert full.input == big and full.final_state == big and len(full.error) == 50_000
    assert store.list(bodies=True)[0] == full
