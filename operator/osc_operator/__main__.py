"""`osc-operator` / `python -m osc_operator`: run the kopf operator for OpenFnJobs."""

from __future__ import annotations

import sys

from osc_operator.settings import OperatorSettings

def kopf_arguments(settings: OperatorSettings) -> list[str]:
    """The `kopf run` command line: health endpoint, JSON logs and the watched namespaces."""
    namespaces = settings.namespaces()
    scope = [f"--namespace={name}" for name in namespaces] or ["--all-namespaces"]
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz"
    return ["run", "--module=osc_operator", f"--liveness={liveness}",
            "--log-format=json", "--standalone", *scope]


def main() -> None:
    import kopf.cli  # late: importing kopf is slow and `--help` of this module needs none of it

    sys.exit(kopf.cli.main(args=kopf_arguments(OperatorSettings()), prog_name="osc-operator"))


if __name__ == "__main__":
    main()
