"""A credential full of awkward values never shows through, in whatever form the job gives it.

The job (jobs/leak_every_way.js) prints and returns every value raw, JSON-escaped (once and
twice), as console.log quotes it, URL-encoded and cut by the 64 KiB boundary of a read; on
both engines nothing of any value may reach the log, the final state, stdout or the data dir,
while the job's other output arrives whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime_server import JOBS, RuntimeProcess, post_run, wait_run

CREDENTIAL = {
    "password": 'pa"ss\\wo\nrd\t\x01é', "quote": "it's \"both\" `three`", "pin": 987654,
    "rate": 31.4159, "key": "schlüssel-\U0001f511", "token": "split-token-" + "T" * 20,
    "port": 443,  # shorter than 4 characters: left alone, as documented
}
# A piece of each value in each spelling; none may survive anywhere.
PIECES = ['pa"ss', 'pa\\"ss', 'pa\\\\\\"ss', "pa%22ss", "wo\nrd", "wo\\nrd", "rd\t", "rd\\t",
          "rd%09", "both", "three", "987654", "31.4159", "schlüssel", "schl\\u00fcssel",
          "schl%C3%BCssel", "split-token", "TTTTTTTTTT"]


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory, engine: str) -> RuntimeProcess:
    runtime = RuntimeProcess(tmp_path_factory.mktemp("leaky") / "data", {
        "OSC_ENGINE": engine, "OSC_JOB_PATH": str(JOBS / "leak_every_way.js"),
        "OSC_ADAPTOR": "@openfn/language-common", "OSC_CREDENTIAL": json.dumps(CREDENTIAL),
        "OSC_LOG_JOB_OUTPUT": "true", "OSC_MAX_LOG_BYTES": "4194304",
    }).start()
    yield runtime
    runtime.stop()


def test_no_form_of_any_credential_value_survives(leaky: RuntimeProcess) -> None:
    with leaky.client() as client:
        run_id = post_run(client, {"go": True}).json()["run_id"]
        run = wait_run(client, run_id, timeout=120)
        log = client.get(f"/runs/{run_id}/log").text
        listing = client.get("/runs").text
    assert run["status"] == "success", run
    data = run["final_state"]["data"]
    assert data["pin"] == "***" and data["pinText"] == "***" and data["rate"] == "***"
    assert data["copy"]["password"] == "***" and data["port"] == 443 and data["***"] == "as a key"
    # The output around the secrets arrives whole: nothing lost at a read boundary.
    assert "BEFORE-LONG\n" + "x" * 200_000 + "END-OF-LONG ***\n" + "AFTER-LONG" in log
    assert log.count("y" * 65_000) == 8 and log.count("***\n") >= 9
    leaky.stop()  # so stdout and the store are complete
    places = {"log": log, "run": json.dumps(run, ensure_ascii=False), "list": listing,
              "stdout": leaky.log_text()}
    places |= {str(path): path.read_bytes().decode("utf-8", "replace")
               for path in leaky.data_dir.rglob("*") if path.is_file()}
    assert "BEFORE-LONG" in places["stdout"]  # OSC_LOG_JOB_OUTPUT echoed the job's output
    for place, text in places.items():
        for piece in PIECES:
            assert piece not in text, (piece, place)
