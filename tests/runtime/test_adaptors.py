"""Adaptor resolution and installation, with real npm against the registry and real OpenFn core.

npm's download cache is shared by the whole test session (a folder under pytest's base temp);
nothing installed on this machine beforehand is used: npm's HOME is the data dir's own folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from osc_runtime.adaptors import (
    INSTALL_MARKER,
    AdaptorConfigError,
    AdaptorError,
    ensure_adaptor,
    parse_adaptor,
)
from osc_runtime.settings import DEFAULT_NODE_MODULES, load

HTTP = "@openfn/language-http"
OLD = "6.4.3"  # a release older than the bundled 7.2.10 (this registry has 3.1.5 … 6.4.3, 7.2.10)
OTHER = "6.4.0"
UNREACHABLE = "http://127.0.0.1:9/"  # nothing listens on the discard port: npm fails at once
MALICIOUS = ["../x", "git+https://example.com/x.git", "a; rm -rf /", "file:/etc", "x@latest"]


def npm_cache(factory: pytest.TempPathFactory) -> Path:
    return factory.getbasetemp() / "npm-cache"  # one per session, shared by the test modules


def settings_for(adaptor: str, data_dir: Path, **extra):
    return load(job="fn(state => state)", auth="none", adaptor=adaptor, data_dir=data_dir, **extra)


@pytest.fixture(autouse=True)
def _npm_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("npm_config_cache", str(npm_cache(tmp_path_factory)))
    monkeypatch.setenv("npm_config_fetch_retries", "0")  # unreachable registries fail fast


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A data dir into which the runtime installed HTTP@OLD with npm, and what it returned."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("npm_config_cache", str(npm_cache(tmp_path_factory)))
        resolved = asyncio.run(ensure_adaptor(settings_for(f"{HTTP}@{OLD}", data)))
    return data, resolved


def version_folders(data: Path, name: str = HTTP) -> set[str]:
    root = data / "adaptors" / name
    return {path.name for path in root.iterdir()} if root.exists() else set()


@pytest.mark.parametrize("spec", [HTTP, f"{HTTP}@7.2.10", f"{HTTP}@^7", f"{HTTP}@>=7.0.0 <8"])
async def test_a_bundled_adaptor_is_used_as_is(spec, tmp_path):
    resolved = await ensure_adaptor(settings_for(spec, tmp_path))
    assert (resolved.source, resolved.version) == ("bundled", "7.2.10")
    assert resolved.load_arg == str(DEFAULT_NODE_MODULES / HTTP)
    assert resolved.node_path == (DEFAULT_NODE_MODULES,)
    assert not (tmp_path / "adaptors").exists()  # npm never ran


def test_a_missing_version_is_installed_into_its_own_folder(installed):
    data, resolved = installed
    folder = data / "adaptors" / HTTP / OLD
    assert (resolved.name, resolved.version, resolved.source) == (HTTP, OLD, "downloaded")
    assert resolved.load_arg == str(folder / "node_modules" / HTTP)
    assert resolved.node_path == (folder / "node_modules", DEFAULT_NODE_MODULES)
    assert json.loads((folder / INSTALL_MARKER).read_text())["version"] == OLD
    assert version_folders(data) == {OLD}  # no staging folder left behind


def test_core_runs_the_version_asked_for(installed, tmp_path):
    _, resolved = installed
    (tmp_path / "job.js").write_text("fn(state => ({ ...state, data: { ok: true } }))")
    (tmp_path / "state.json").write_text('{"data": {}}')
    core = DEFAULT_NODE_MODULES / "@openfn/core/bin/core"
    command = ["node", str(core), "execute", "-l", resolved.load_arg, "-e", "job.js"]
    command += ["-s", "state.json", "-o", "out.json"]
    env = {**os.environ, "NODE_PATH": os.pathsep.join(map(str, resolved.node_path))}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{HTTP}@{OLD}" in run.stdout  # core's banner names the version it loaded
    assert json.loads((tmp_path / "out.json").read_text())["data"] == {"ok": True}


def test_the_adaptor_uses_its_own_dependencies(installed):
    # language-http 6.4.3 needs language-common 2.0.1, not the bundled 3.3.4.
    _, resolved = installed
    script = "const p = require.resolve('@openfn/language-common/package.json', "
    script += "{paths: [process.argv[1]]}); console.log(require(p).version)"
    env = {**os.environ, "NODE_PATH": os.pathsep.join(map(str, resolved.node_path))}
    run = subprocess.run(["node", "-e", script, resolved.load_arg], env=env,
                         capture_output=True, text=True)
    assert run.stdout.strip() == "2.0.1", run.stderr


@pytest.mark.parametrize("wanted", [OLD, "~6.4.0", ">=6 <7", "6"])
async def test_a_restart_installs_nothing(installed, wanted):
    data, _ = installed
    marker = data / "adaptors" / HTTP / OLD / INSTALL_MARKER
    before = (marker.stat().st_mtime_ns, version_folders(data))
    # An unreachable registry: had npm run, the adaptor could not be ready.
    settings = settings_for(f"{HTTP}@{wanted}", data, npm_registry=UNREACHABLE)
    resolved = await ensure_adaptor(settings)
    assert (resolved.version, resolved.source) == (OLD, "installed")
    assert (marker.stat().st_mtime_ns, version_folders(data)) == before


async def test_two_versions_sit_side_by_side(installed):
    data, first = installed
    second = await ensure_adaptor(settings_for(f"{HTTP}@{OTHER}", data))
    assert (second.version, second.source) == (OTHER, "downloaded")
    assert {OLD, OTHER} <= version_folders(data)
    assert Path(first.load_arg, "package.json").is_file()  # the first one is untouched
    highest = await ensure_adaptor(settings_for(f"{HTTP}@^6", data, npm_registry=UNREACHABLE))
    assert highest.version == OLD  # the highest installed version satisfying the range


async def test_never_install_with_a_missing_adaptor_is_a_startup_error(tmp_path):
    settings = settings_for(f"{HTTP}@{OLD}", tmp_path, adaptor_install="never")
    with pytest.raises(AdaptorConfigError) as caught:
        await ensure_adaptor(settings)
    message = str(caught.value)
    assert message.startswith("OSC_ADAPTOR:") and f"{HTTP}@{OLD}" in message
    assert "OSC_ADAPTOR_INSTALL=never" in message and "\n" not in message
    assert not (tmp_path / "adaptors").exists()


async def test_never_install_uses_what_is_installed(installed):
    data, _ = installed
    resolved = await ensure_adaptor(settings_for(f"{HTTP}@{OLD}", data, adaptor_install="never"))
    assert (resolved.version, resolved.source) == (OLD, "installed")


async def test_a_half_installed_folder_is_not_used(installed, tmp_path):
    # What a crash mid-install could leave: a staging folder, a folder without the marker.
    data, resolved = installed
    for leftover in (".installing-x", OLD):
        target = tmp_path / "adaptors" / HTTP / leftover / "node_modules" / HTTP
        target.parent.mkdir(parents=True)
        target.symlink_to(resolved.load_arg)
    with pytest.raises(AdaptorConfigError, match="is not installed"):
        await ensure_adaptor(settings_for(f"{HTTP}@{OLD}", tmp_path, adaptor_install="never"))


@pytest.mark.parametrize(
    ("spec", "npm_says"),
    [
        (f"{HTTP}@6.4.9", "No matching version found for @openfn/language-http@6.4.9"),
        ("@openfn/language-does-not-exist-osc", "E404"),
    ],
)
async def test_an_unknown_version_or_package_says_why(spec, npm_says, tmp_path):
    with pytest.raises(AdaptorError) as caught:
        await ensure_adaptor(settings_for(spec, tmp_path))
    assert npm_says in str(caught.value) and "\n" not in str(caught.value)
    name, _ = parse_adaptor(spec)
    assert version_folders(tmp_path, name) == set()  # nothing that looks installed


async def test_the_registry_and_npmrc_settings_reach_npm(tmp_path):
    registry = "http://me:s3cret@127.0.0.1:9/"
    settings = settings_for(f"{HTTP}@{OTHER}", tmp_path, npm_registry=registry)
    with pytest.raises(AdaptorError) as caught:
        await ensure_adaptor(settings)
    assert "127.0.0.1:9" in str(caught.value) and "s3cret" not in str(caught.value)
    npmrc = tmp_path / "npmrc"
    npmrc.write_text("registry=http://127.0.0.1:9/\n")
    with pytest.raises(AdaptorError, match="127.0.0.1:9"):
        await ensure_adaptor(settings_for(f"{HTTP}@{OTHER}", tmp_path, npmrc_path=npmrc))


@pytest.mark.parametrize("spec", MALICIOUS + ["a@1\n", "a@1 --ignore-scripts=false", "a@1.2.3.4"])
async def test_a_spec_that_is_not_a_package_is_refused_before_npm(spec, tmp_path):
    with pytest.raises(AdaptorConfigError, match="^OSC_ADAPTOR: "):
        settings = settings_for("a", tmp_path).model_copy(update={"adaptor": spec})
        await ensure_adaptor(settings)
    assert not (tmp_path / "adaptors").exists()
