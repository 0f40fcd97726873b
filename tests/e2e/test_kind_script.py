"""`make e2e` needs Docker and kind, which this machine lacks: its script is checked statically."""

from __future__ import annotations

import subprocess

from tests.tools import ROOT, tool

SCRIPT = ROOT / "tests" / "e2e" / "kind.sh"


def test_kind_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kind_script_is_shellcheck_clean() -> None:
    result = subprocess.run([str(tool("shellcheck")), "--severity=style", str(SCRIPT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_kind_script_uses_what_exists() -> None:
    text = SCRIPT.read_text()
    for path in ("Dockerfile.runtime", "Dockerfile.operator", "charts/osc",
                 "examples/k8s/webhook-generated-key.yaml"):
        assert path in text and (ROOT / path).exists(), path
