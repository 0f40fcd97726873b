"""`osc-operator --help/--version`, and what it does without a cluster to talk to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from osc_operator.settings import OperatorSettings


def operator(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("OSC_", "KUBE"))}
    return subprocess.run([sys.executable, "-m", "osc_operator", *args], env=clean | env,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_settings() -> None:
    answer = operator("--help")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("usage: osc-operator")
    for name, field in OperatorSettings.model_fields.items():
        assert f"OSC_OPERATOR_{name.upper()}" in answer.stdout
        assert field.description in answer.stdout


def test_version() -> None:
    answer = operator("--version")
    assert (answer.returncode, answer.stdout.strip()) == (0, "osc-operator 0.1.0")


def test_without_a_cluster_it_says_what_it_looked_for_and_exits(tmp_path: Path) -> None:
    answer = operator(HOME=str(tmp_path))  # no ~/.kube/config there, no KUBECONFIG, not a pod
    assert answer.returncode == 1
    lines = answer.stderr.splitlines()
    assert len(lines) == 1, answer.stderr
    for looked_for in ("KUBECONFIG", "~/.kube/config", "serviceaccount/token"):
        assert looked_for in lines[0]
    assert "Traceback" not in answer.stderr + answer.stdout


def test_a_kubeconfig_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    answer = operator(HOME=str(tmp_path), KUBECONFIG=str(missing))
    assert answer.returncode == 1
    assert f"KUBECONFIG={missing}" in answer.stderr
