"""A missing or invalid setting stops start-up with one line naming the variable, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_server import REPO

GOOD = {"OSC_JOB": "fn(s => s);", "OSC_ADAPTOR": "@openfn/language-common", "OSC_API_KEYS": "k"}
CASES = {
    "no job": ({"OSC_JOB": None}, "OSC_JOB"),
    "two jobs": ({"OSC_JOB_PATH": "examples/hello/job.js"}, "OSC_JOB"),
    "missing job file": ({"OSC_JOB": None, "OSC_JOB_PATH": "/nonexistent/job.js"}, "OSC_JOB_PATH"),
    "no adaptor": ({"OSC_ADAPTOR": None}, "OSC_ADAPTOR"),
    "adaptor not a package name": ({"OSC_ADAPTOR": "../../etc; rm -rf /"}, "OSC_ADAPTOR"),
    "no API key": ({"OSC_API_KEYS": None}, "OSC_API_KEYS"),
    "credential not JSON": ({"OSC_CREDENTIAL": "{not json"}, "OSC_CREDENTIAL"),
    "port not a number": ({"OSC_PORT": "eighty"}, "OSC_PORT"),
    "port out of range": ({"OSC_PORT": "70000"}, "OSC_PORT"),
    "concurrency zero": ({"OSC_CONCURRENCY": "0"}, "OSC_CONCURRENCY"),
    "unknown endpoint style": ({"OSC_ENDPOINT_STYLE": "eventually"}, "OSC_ENDPOINT_STYLE"),
    "negative timeout": ({"OSC_RUN_TIMEOUT_SECONDS": "-1"}, "OSC_RUN_TIMEOUT_SECONDS"),
    "unknown auth mode": ({"OSC_AUTH": "maybe"}, "OSC_AUTH"),
    "data dir is a file": ({"OSC_DATA_DIR": "{file}"}, "OSC_DATA_DIR"),
    # Over-long values: each must end in the same one line, not in a file-name or regex error.
    "adaptor name of 5000 characters": ({"OSC_ADAPTOR": "a" * 5000}, "OSC_ADAPTOR"),
    "adaptor scope of 3000 characters": ({"OSC_ADAPTOR": f"@{'a' * 3000}/b"}, "OSC_ADAPTOR"),
    "adaptor name longer than npm allows": ({"OSC_ADAPTOR": "a" * 215}, "OSC_ADAPTOR"),
    "adaptor version of 5000 characters": ({"OSC_ADAPTOR": "@openfn/language-common@" + "1" * 5000},
                                           "OSC_ADAPTOR"),
    "adaptors dir too long": ({"OSC_ADAPTORS_DIR": "/tmp/" + "d" * 5000}, "OSC_ADAPTORS_DIR"),
    "data dir too long": ({"OSC_DATA_DIR": "/tmp/" + "d" * 5000}, "OSC_DATA_DIR"),
    "job file path too long": ({"OSC_JOB": None, "OSC_JOB_PATH": "/tmp/" + "j" * 5000}, "OSC_JOB_PATH"),
    "credential path too long": ({"OSC_CREDENTIAL_PATH": "/tmp/" + "c" * 5000}, "OSC_CREDENTIAL_PATH"),
    "host of 5000 characters": ({"OSC_HOST": "h" * 5000}, "OSC_HOST"),
    "host not a host name": ({"OSC_HOST": "a b"}, "OSC_HOST"),
}


def run_runtime(env_changes: dict[str, str | None], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    env |= GOOD | {"OSC_DATA_DIR": str(tmp_path / "data"), "OSC_PORT": "1"}
    (tmp_path / "a-file").write_text("")
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.replace("{file}", str(tmp_path / "a-file" / "data"))
    return subprocess.run([sys.executable, "-m", "osc_runtime"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(case: str, tmp_path: Path) -> None:
    changes, variable = CASES[case]
    result = run_runtime(changes, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("osc-runtime: ") and variable in lines[0], lines[0]
    assert len(lines[0]) < 400, lines[0]  # a long value is cut, not repeated in full


def test_an_unknown_command_is_named(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "osc_runtime", "frobnicate"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "frobnicate" in result.stderr and "serve" in result.stderr
