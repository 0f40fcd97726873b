"""`make run`: serve an example job locally, with its store under .osc-data/<example>.

    python -m osc_runtime.dev examples/hello

Reads the example's osc.env (your own OSC_* variables win), keeps one API key per example in
.osc-data/<example>/api-key, prints how to call the service, then serves it.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path

from osc_runtime.__main__ import fail
from osc_runtime.commands import serve
from osc_runtime.settings import SettingsError

DATA_ROOT = Path(".osc-data")


def main(argv: list[str]) -> int:
    parser = serve.parser("python -m osc_runtime.dev", __doc__)
    parser.add_argument("example", nargs="?", default="examples/hello",
                        help="the folder of an example, with its osc.env (default: examples/hello)")
    example = Path(parser.parse_args(argv).example)
    env_file = example / "osc.env"
    if not env_file.is_file():
        return fail(f"{env_file} not found: give the folder of an example (e.g. examples/hello)")
    data_dir = DATA_ROOT / example.name
    for name, value in read_env_file(env_file).items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("OSC_DATA_DIR", str(data_dir))
    os.environ.setdefault("OSC_HOST", "127.0.0.1")
    os.environ.setdefault("OSC_PORT", "8080")
    if "OSC_API_KEYS" not in os.environ and "OSC_API_KEYS_PATH" not in os.environ:
        os.environ["OSC_API_KEYS"] = local_key(data_dir / "api-key")
    print_welcome(example)
    try:
        return serve.main([])
    except SettingsError as error:
        return fail(str(error))


def read_env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def local_key(path: Path) -> str:
    """The example's key: made once, kept private, reused on every `make run`."""
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def print_welcome(example: Path) -> None:
    host, port = os.environ["OSC_HOST"], os.environ["OSC_PORT"]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    key = os.environ.get("OSC_API_KEYS", "").split(",")[0].strip() or "<a key from OSC_API_KEYS_PATH>"
    payload = example / "payload.json"
    body = f"@{payload}" if payload.is_file() else "'{\"hello\": \"world\"}'"
    print(f"""
osc runtime: serving {example} at {url}   (API docs: {url}/docs)
API key:     {key}

Send it a payload (answers 202 with a run id):
  curl -i -X POST {url}/inbox -H {shlex.quote('Authorization: Bearer ' + key)} \\
       -H 'Content-Type: application/json' -d {body}
Then look at the run (use the run_id from the answer):
  curl -H {shlex.quote('Authorization: Bearer ' + key)} {url}/runs/<run_id>
""", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
