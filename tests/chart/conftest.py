"""Render the chart with the real helm binary (installed by tests/tools.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools import ROOT, tool

CHART = ROOT / "charts" / "osc"
RELEASE, NAMESPACE = "osc", "osc-system"

Render = Callable[..., list[dict[str, Any]]]


def helm(*args: str, values: dict[str, Any] | None = None, tmp: Path | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    command = [str(tool("helm")), *args]
    if values is not None:
        values_file = tmp / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        command += ["-f", str(values_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stderr}")
    return result


@pytest.fixture
def render(tmp_path: Path) -> Render:
    """`helm template` with the given values: the rendered objects."""

    def run(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                      values=values or {}, tmp=tmp_path)
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return run


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]
