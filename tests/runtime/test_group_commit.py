"""Batch isolation: a submission that fails at commit time fails alone, its batch is stored.

The inbox now refuses every body it knows SQLite cannot take (see test_bad_input.py), so no HTTP
request reaches the store with one any more; these tests hand the real store (SQLite on disk)
and the real group commit such submissions directly, as a future bug in validation would; and
the same on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import pytest

from osc_runtime.group_commit import GroupCommit
from osc_runtime.store import Status, Submission, SubmissionRefused

VALID = 40
LONE_SURROGATE = json.dumps({"a": "\ud800"}, ensure_ascii=False)  # SQLite cannot encode it


def submissions() -> list[Submission]:
    """40 valid submissions with bad ones between them, all in one batch."""
    mixed = []
    for number in range(VALID):
        mixed.append(Submission(json.dumps({"n": number})))
        if number % 8 == 3:
            mixed.append(Submission(LONE_SURROGATE))
            mixed.append(Submission('{"ok": true}', trigger="bad\udfff"))
    return mixed


def test_concurrent_valid_submissions_are_all_stored_beside_failing_ones(backend) -> None:
    store = backend.runs()
    writer = GroupCommit(store, max_queued=1000)

    async def submit_all() -> list:
        return await asyncio.gather(*(writer.add(item) for item in submissions()),
                                    return_exceptions=True)

    results = asyncio.run(submit_all())
    stored = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, BaseException)]
    assert len(stored) == VALID and all(created for _, created in stored)
    assert len(refused) == 10 and all(isinstance(error, SubmissionRefused) for error in refused)
    assert "cannot be stored" in str(refused[0])
    reopened = backend.runs()  # what is on disk, not what the writer said
    runs = reopened.list(limit=500)
    assert sorted(json.loads(reopened.get(run.run_id).input)["n"] for run in runs) == list(range(VALID))
    assert reopened.queued == VALID and store.queued == VALID  # the refused ones did not count
    assert {run.status for run in runs} == {Status.QUEUED}


def test_a_refused_submission_leaves_nothing_and_the_next_batch_is_stored(backend) -> None:
    store = backend.runs()
    results = store.add_many([Submission(LONE_SURROGATE), Submission("{}")])
    assert isinstance(results[0], SubmissionRefused) and results[1][1] is True
    assert [run.input for run in store.list(bodies=True)] == ["{}"]
    with pytest.raises(SubmissionRefused):
        raise store.add_many([Submission(LONE_SURROGATE)])[0]
    assert store.add("[]")[1] is True and store.queued == 2


def test_a_new_run_is_answered_as_it_is_stored(backend) -> None:
    """The store builds a new run from what it inserted instead of reading the row back: the
    two must be the same, column for column."""
    store = backend.runs()
    answered = store.add_many([Submission('{"a": 1}', "cron", "d" * 64, "key-1"),
                               Submission("[]")], max_queued=10)
    for run, created in answered:
        assert created and run == store.get(run.run_id)
    [(again, created)] = store.add_many([Submission('{"a": 1}', "cron", "d" * 64, "key-1")])
    assert not created and again == answered[0][0]
