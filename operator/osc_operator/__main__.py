"""`osc-operator` / `python -m osc_operator`: run the kopf operator for OpenFnJobs.

It needs a Kubernetes API: in a pod, its service account; elsewhere a kubeconfig (KUBECONFIG,
else ~/.kube/config). Without either it says so in one line and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from osc_operator.settings import OperatorSettings
from osc_runtime.cli import command_parser

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
DEFAULT_KUBECONFIG = "~/.kube/config"
NO_CLUSTER = 1


def kopf_arguments(settings: OperatorSettings) -> list[str]:
    """The `kopf run` command line: health endpoint, JSON logs and the watched namespaces."""
    namespaces = settings.namespaces()
    scope = [f"--namespace={name}" for name in namespaces] or ["--all-namespaces"]
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz"
    return ["run", "--module=osc_operator", f"--liveness={liveness}",
            "--log-format=json", "--standalone", *scope]


def missing_cluster_credentials() -> str | None:
    """None when the Kubernetes client will find credentials; else what was looked for.

    The same places, in the same order, as kopf's login through the Kubernetes client: the pod's
    service account, then the kubeconfig files (KUBECONFIG, a path list, else ~/.kube/config).
    Without this check kopf logs a login traceback every minute and never exits.
    """
    if os.environ.get("KUBERNETES_SERVICE_HOST") and SERVICE_ACCOUNT_TOKEN.is_file():
        return None
    variable = os.environ.get("KUBECONFIG", "")
    paths = [path for path in variable.split(os.pathsep) if path] or [DEFAULT_KUBECONFIG]
    if any(Path(path).expanduser().is_file() for path in paths):
        return None
    where = f"KUBECONFIG={variable}" if variable else f"KUBECONFIG (unset), {DEFAULT_KUBECONFIG}"
    return (f"no Kubernetes cluster to connect to: looked for a kubeconfig at {where} and for "
            f"in-cluster credentials (KUBERNETES_SERVICE_HOST and {SERVICE_ACCOUNT_TOKEN}); "
            "found none")


def main(argv: list[str] | None = None) -> None:
    parser = command_parser("osc-operator", __doc__, OperatorSettings)
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    missing = missing_cluster_credentials()
    if missing:
        print(f"osc-operator: {missing}", file=sys.stderr)
        sys.exit(NO_CLUSTER)
    import kopf.cli  # late: importing kopf is slow and --help needs none of it

    sys.exit(kopf.cli.main(args=kopf_arguments(OperatorSettings()), prog_name="osc-operator"))


if __name__ == "__main__":
    main()
