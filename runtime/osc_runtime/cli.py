"""The command line every osc command shares: `--help` with the settings it reads, `--version`.

The settings part of `--help` is generated from the pydantic settings models (each field's
`description`), so the help cannot drift from what a command actually reads.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Collection
from importlib import metadata
from pathlib import Path

from pydantic_settings import BaseSettings

DISTRIBUTION = "osc"
SOURCE_TREE = Path(__file__).resolve().parents[2]


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a source tree on the path (`make run`'s venv)
        pyproject = SOURCE_TREE / "pyproject.toml"
        if pyproject.is_file():
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        return "unknown"


def settings_help(*models: type[BaseSettings], only: Collection[str] | None = None) -> str:
    """One line per environment variable (the fields named in `only`, if given): name,
    meaning, default."""
    rows = []
    for model in models:
        prefix = model.model_config.get("env_prefix", "")
        for name, field in model.model_fields.items():
            if only is not None and name not in only:
                continue
            default = "required" if field.is_required() else _default_text(field.get_default())
            rows.append(((prefix + name).upper(), f"{field.description} [{default}]"))
    width = max(len(variable) for variable, _ in rows) + 2
    return "\n".join(f"  {variable:<{width}}{meaning}" for variable, meaning in rows)


def _default_text(value: object) -> str:
    if value is None or value == "":
        return "default: none"
    return f"default: {getattr(value, 'value', value)}"


def command_parser(prog: str, doc: str | None, *models: type[BaseSettings],
                   only: Collection[str] | None = None, epilog: str = "") -> argparse.ArgumentParser:
    """An argparse parser whose --help shows the module doc and the OSC_* settings it reads."""
    parts = [epilog] if epilog else []
    if models:
        parts.append("settings (environment variables):\n" + settings_help(*models, only=only))
    parser = argparse.ArgumentParser(
        prog=prog, description=(doc or "").strip(), epilog="\n\n".join(parts),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{prog} {version()}")
    return parser

