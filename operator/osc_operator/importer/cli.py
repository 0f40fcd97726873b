"""`osc import PATH [-o DIR] [--namespace NS] [--check]`: an OpenFn project → manifests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from osc_operator.importer import lightning, microservice
from osc_operator.importer.manifests import write
from osc_operator.importer.report import Report

PROJECT_FILES = ("project.yaml", "project.yml", "spec.yaml")
DESCRIPTION = """\
Read an OpenFn project and write kubectl-apply-able manifests: OpenFnJobs, credential
Secrets (from a microservice project.yaml, which holds the values) or Secret stubs to fill
in (from a Lightning project spec, as `openfn pull` writes it). Prints every file written
and every construct that could not be translated; no credential value is ever printed."""


class ImportFailed(Exception):
    """The project cannot be read at all."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="osc", description="osc: OpenFn jobs on Kubernetes.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = commands.add_parser("import", help="OpenFn project → OpenFnJob manifests",
                                  description=DESCRIPTION)
    command.add_argument("path", metavar="PATH", type=Path,
                         help="project.yaml (microservice) or a Lightning project spec, or a "
                              "folder holding one")
    command.add_argument("-o", "--output", metavar="DIR", type=Path, default=Path("osc-manifests"),
                         help="where to write the manifests (default: ./osc-manifests)")
    command.add_argument("--namespace", metavar="NS", help="metadata.namespace of every manifest")
    command.add_argument("--check", action="store_true",
                         help="exit 1 when anything could not be translated")
    return top


def read_project(path: Path) -> tuple[dict[str, Any], Path]:
    if path.is_dir():
        found = next((path / name for name in PROJECT_FILES if (path / name).is_file()), None)
        if found is None:
            raise ImportFailed(f"{path}: no {' or '.join(PROJECT_FILES)} in this folder")
        path = found
    try:
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ImportFailed(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ImportFailed(f"{path}: not YAML ({_where(error)})") from None
    if not isinstance(project, dict):
        raise ImportFailed(f"{path}: not an OpenFn project (expected a YAML mapping)")
    return project, path.parent


def _where(error: yaml.YAMLError) -> str:
    """The problem and its place, not PyYAML's own text: that quotes the line, which may hold
    a credential's value."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "cannot be parsed"
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def translate(project: dict[str, Any], folder: Path, namespace: str | None,
              report: Report) -> list[Any]:
    if "workflows" in project:
        return lightning.translate(project, folder, namespace, report)
    if "jobs" in project:
        return microservice.translate(project, namespace, report)
    raise ImportFailed("not an OpenFn project: no `workflows` (Lightning) and no `jobs` "
                       "(microservice project.yaml)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    report = Report()
    try:
        project, folder = read_project(args.path)
        outputs = translate(project, folder, args.namespace, report)
    except ImportFailed as error:
        print(f"osc import: {error}", file=sys.stderr)
        return 2
    report.written = write(args.output, outputs)
    for line in report.lines():
        print(line)
    return 1 if args.check and report.untranslated else 0


if __name__ == "__main__":
    sys.exit(main())
