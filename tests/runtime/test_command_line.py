"""Every runtime command answers --help (usage and the OSC_* settings it reads) and --version."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from osc_runtime.commands.install_adaptor import ADAPTOR_SETTINGS
from osc_runtime.commands.trigger import TriggerCommandSettings
from osc_runtime.settings import Settings
from osc_runtime.triggers import TriggerSettings
from runtime_server import REPO


def run(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OSC_")}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def variables(model, only=None) -> dict[str, str]:
    prefix = model.model_config["env_prefix"]
    return {(prefix + name).upper(): field.description for name, field in model.model_fields.items()
            if only is None or name in only}


SERVE = variables(Settings) | variables(TriggerSettings)
COMMANDS = {
    "serve": (["-m", "osc_runtime", "serve"], SERVE),
    "dev": (["-m", "osc_runtime.dev"], SERVE),
    "trigger": (["-m", "osc_runtime", "trigger"], variables(TriggerCommandSettings)),
    "install-adaptor": (["-m", "osc_runtime", "install-adaptor"],
                        variables(Settings, ADAPTOR_SETTINGS)),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lists_every_setting_with_its_meaning(command: str) -> None:
    args, expected = COMMANDS[command]
    answer = run(*args, "--help")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("usage: ")
    lines = answer.stdout.splitlines()
    for variable, meaning in expected.items():
        line = next((line for line in lines if line.split()[:1] == [variable]), None)
        assert line is not None, f"{variable} missing from {command} --help"
        assert meaning in line


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_version(command: str) -> None:
    answer = run(*COMMANDS[command][0], "--version")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip().endswith(" 0.1.0")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_lists_the_commands(flag: str) -> None:
    answer = run("-m", "osc_runtime", flag)
    assert answer.returncode == 0
    for command in ("serve", "trigger", "install-adaptor"):
        assert f"\n  {command} " in answer.stdout


def test_console_script_answers_help_and_version() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "osc-runtime")
    assert subprocess.run([script, "--help"], capture_output=True, timeout=60).returncode == 0
    answer = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert answer.stdout.strip() == "osc-runtime 0.1.0"


def test_an_unknown_argument_is_refused_with_usage() -> None:
    answer = run("-m", "osc_runtime", "serve", "--bogus")
    assert answer.returncode == 2
    assert "usage: osc-runtime serve" in answer.stderr
    assert "unrecognized arguments: --bogus" in answer.stderr


def test_every_setting_has_a_description() -> None:
    for model in (Settings, TriggerSettings, TriggerCommandSettings):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
