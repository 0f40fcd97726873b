"""python -m osc_runtime [COMMAND] — `serve` (the default) or any module in osc_runtime.commands.

A command is one module `osc_runtime/commands/<name>.py` (underscores become dashes) with a
`main(argv) -> int` and a one-line docstring.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from osc_runtime import commands
from osc_runtime.cli import version
from osc_runtime.settings import SettingsError

DEFAULT_COMMAND = "serve"


def available() -> dict[str, str]:
    return {
        module.name.replace("_", "-"): f"{commands.__name__}.{module.name}"
        for module in pkgutil.iter_modules(commands.__path__)
        if not module.name.startswith("_")
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    table = available()
    if args and args[0] in ("-h", "--help", "help"):
        print(usage(table))
        return 0
    if args and args[0] == "--version":
        print(f"osc-runtime {version()}")
        return 0
    name = args.pop(0) if args and not args[0].startswith("-") else DEFAULT_COMMAND
    if name not in table:
        return fail(f"unknown command {name!r}; commands: {', '.join(sorted(table))}")
    try:
        return importlib.import_module(table[name]).main(args) or 0
    except SettingsError as error:
        return fail(str(error))


def fail(message: str) -> int:
    print(f"osc-runtime: {' '.join(message.split())}", file=sys.stderr)
    return 2


def usage(table: dict[str, str]) -> str:
    lines = ["usage: osc-runtime [COMMAND] [--help] (or python -m osc_runtime; default: serve)",
             "", "commands:"]
    for name, module_name in sorted(table.items()):
        doc = (importlib.import_module(module_name).__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<18} {doc[0] if doc else ''}")
    lines += ["", "options:", "  -h, --help         this list; COMMAND --help: its settings",
              "  --version          the version"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
