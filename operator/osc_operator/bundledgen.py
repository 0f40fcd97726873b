"""Write or verify `bundled_adaptors.py`: the runtime image's packages, from package.json.

    python -m osc_operator.bundledgen write    # make generate
    python -m osc_operator.bundledgen verify   # make verify: exit 1 when the file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PACKAGE_JSON = Path(__file__).resolve().parents[2] / "package.json"
GENERATED = Path(__file__).resolve().parent / "bundled_adaptors.py"


def render_bundled(package_json: Path = PACKAGE_JSON) -> str:
    dependencies = json.loads(package_json.read_text())["dependencies"]
    entries = "".join(f"    {json.dumps(name)}: {json.dumps(version)},\n"
                      for name, version in sorted(dependencies.items()))
    return (
        '"""The packages the runtime image bundles: package.json\'s dependencies.\n\n'
        "Generated from package.json by `make generate`; `make verify` fails when it is stale.\n"
        '"""\n\nBUNDLED = {\n' + entries + "}\n"
    )


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "write":
        GENERATED.write_text(render_bundled())
        return 0
    if command == "verify":
        if GENERATED.read_text() == render_bundled():
            return 0
        print(f"{GENERATED.name} is stale: run `make generate`", file=sys.stderr)
        return 1
    print("usage: python -m osc_operator.bundledgen write|verify", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
