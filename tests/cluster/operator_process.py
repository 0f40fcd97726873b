"""The operator as a local process (`python -m osc_operator`, as the console script runs it),
talking to the cluster through a kubeconfig of the chart's ServiceAccount."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cluster.controlplane import free_port
from tests.cluster.kubectl import wait_for
from tests.tools import ROOT

# Never pulled under kwok; on kind, tests/e2e/kind.sh loads the image it builds under this name.
RUNTIME_IMAGE = os.environ.get("OSC_TEST_RUNTIME_IMAGE", "osc-runtime:0.1.0")


class OperatorProcess:
    def __init__(self, kubeconfig: Path, workdir: Path, watch_namespaces: str) -> None:
        self.kubeconfig, self.workdir = kubeconfig, workdir
        self.watch_namespaces = watch_namespaces
        self.log = workdir / "operator.log"
        self.process: subprocess.Popen | None = None
        self.health_port = 0

    def start(self) -> None:
        self.health_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
               "OSC_OPERATOR_WATCH_NAMESPACES": self.watch_namespaces,
               "OSC_OPERATOR_RUNTIME_IMAGE": RUNTIME_IMAGE,
               "OSC_OPERATOR_HEALTH_PORT": str(self.health_port),
               "OSC_OPERATOR_METRICS_PORT": str(free_port()),
               # test_cluster_autoscaling.py installs KEDA's CRDs: switch within seconds
               "OSC_OPERATOR_KEDA_CHECK_SECONDS": "2"}
        env.pop("KUBERNETES_SERVICE_HOST", None)  # never the in-cluster config of a CI pod
        with self.log.open("a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "osc_operator"], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(self._healthy, f"the operator's /healthz (log: {self.log})", timeout=60)

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the operator exited {self.process.returncode}:\n"
                                 f"{self.log.read_text()[-3000:]}")
        try:
            url = f"http://127.0.0.1:{self.health_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
