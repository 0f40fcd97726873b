"""The two things the runtime asks of npm: install one package, and compare semver versions.

npm and node are run directly (no shell) with arguments as a list, so nothing in OSC_ADAPTOR is
ever interpreted by a shell. Installs run without lifecycle scripts (`--ignore-scripts`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

from osc_runtime.settings import Settings

TIMEOUT_SECONDS = 600  # a slow mirror; a hung registry must not keep the service waiting forever
SEMVER_TIMEOUT_SECONDS = 60

# Reads {"range", "versions"} on stdin; prints the highest version satisfying the range ("" if
# none); exits 2 when the range is not valid semver. Uses the semver module passed as argv[1].
_SEMVER_SCRIPT = """
const semver = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { range, versions } = JSON.parse(input);
  if (semver.validRange(range) === null) process.exit(2);
  process.stdout.write(semver.maxSatisfying(versions, range) || "");
});
"""


# npm's error codes that no retry can change: the package or version does not exist, or the
# name cannot be one. Anything else (ECONNREFUSED, ETIMEDOUT, EAI_AGAIN, 5xx …) may pass.
PERMANENT_CODES = re.compile(r"^npm (?:error|ERR!) code (E404|ETARGET|EINVALIDTAGNAME|"
                             r"EINVALIDPACKAGENAME|E403|E401)$", re.MULTILINE)


class NpmError(RuntimeError):
    """npm or node failed; the message is npm's own, on one line, without credentials.

    `permanent`: npm said the package or version does not exist (or may not be had), so trying
    again cannot help; otherwise the failure may be passing (the registry unreachable)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


async def install(settings: Settings, prefix: Path, spec: str, home: Path) -> None:
    """`npm install` exactly `spec` (name@version-or-range) into `prefix`/node_modules."""
    executable = shutil.which("npm")
    if executable is None:
        raise NpmError("npm is not installed in this image (install adaptors beforehand)")
    command = [
        executable, "install", spec, "--prefix", str(prefix),
        "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error",
    ]  # fmt: skip
    if settings.npm_registry:
        command += ["--registry", settings.npm_registry]
    if settings.npmrc_path:
        command += ["--userconfig", str(settings.npmrc_path)]
    code, _, stderr = await _run(command, _environment(home), b"", TIMEOUT_SECONDS)
    if code != 0:
        raise NpmError(describe_failure(stderr) or f"npm exited with code {code}",
                       permanent=PERMANENT_CODES.search(stderr) is not None)


def _environment(home: Path) -> dict[str, str]:
    # The root filesystem may be read-only: npm's home and cache live in a writable folder.
    # The runtime's own settings (API keys, credential) are not npm's business.
    home.mkdir(parents=True, exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    environment["HOME"] = str(home)
    if not any(key.lower() == "npm_config_cache" for key in environment):  # a chosen cache stays
        environment["npm_config_cache"] = str(home / "cache")
    environment["npm_config_update_notifier"] = "false"
    return environment


def describe_failure(stderr: str) -> str:
    """npm's error in one line: its code and the first lines that say what went wrong."""
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = re.sub(r"^npm (error|ERR!) ?", "", raw.rstrip())
        if line.startswith((" ", "}")) or _NOISE.match(line) or line in lines:
            continue  # stack traces, error objects, the debug log's path
        lines.append(line.removesuffix(" {"))
    return scrub("; ".join(lines[:3]))[:600]


_NOISE = re.compile(r"^$|^(syscall|errno) |^404$|^A complete log of this run")


def scrub(text: str) -> str:
    """Remove credentials npm may echo: `//user:password@host` and `_authToken=…`."""
    text = re.sub(r"//[^/\s:@]+:[^/\s@]+@", "//***@", text)
    return re.sub(r"(_auth(Token)?\s*=\s*)\S+", r"\1***", text)


async def max_satisfying(settings: Settings, versions: list[str], wanted: str) -> str | None:
    """The highest of `versions` that satisfies the semver range `wanted` (None if none does)."""
    if not versions:
        return None
    code, out, _ = await _semver(settings, versions, wanted)
    best = out.strip() if code == 0 else ""
    return best or None


async def valid_range(settings: Settings, wanted: str) -> bool:
    code, _, _ = await _semver(settings, [], wanted)
    return code == 0


async def _semver(settings: Settings, versions: list[str], wanted: str) -> tuple[int, str, str]:
    module = semver_module(settings)
    if module is None:
        raise NpmError("cannot compare versions: neither npm nor node_modules/semver is present")
    stdin = json.dumps({"range": wanted, "versions": versions}).encode()
    command = [settings.node_binary, "-e", _SEMVER_SCRIPT, str(module)]
    code, out, err = await _run(command, None, stdin, SEMVER_TIMEOUT_SECONDS)
    if code not in (0, 2):
        raise NpmError(f"node could not compare versions: {err.strip()[:300]}")
    return code, out, err


def semver_module(settings: Settings) -> Path | None:
    """npm's own semver (present whenever npm is), else the one in the bundled node_modules."""
    candidates = [settings.node_modules / "semver"]
    executable = shutil.which("npm")
    if executable is not None:  # …/npm/bin/npm-cli.js -> …/npm/node_modules/semver
        candidates.insert(0, Path(executable).resolve().parents[1] / "node_modules" / "semver")
    return next((path for path in candidates if (path / "package.json").is_file()), None)


async def _run(
    command: list[str], environment: dict[str, str] | None, stdin: bytes, timeout: float
) -> tuple[int, str, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            *command, env=environment, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as error:
        raise NpmError(f"cannot run {Path(command[0]).name}: {error}") from None
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        raise NpmError(f"{Path(command[0]).name} did not finish within {timeout:.0f} s") from None
    finally:
        if process.returncode is None:  # timed out or cancelled (the service is stopping)
            process.kill()
            await process.wait()
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")
