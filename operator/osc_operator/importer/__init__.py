"""`osc import`: an existing OpenFn project → OpenFnJob, Secret manifests for `kubectl apply`.

Two project shapes are read: the OpenFn microservice's `project.yaml` (`microservice.py`) and
a Lightning project spec as `openfn pull` writes it (`lightning.py`). Both produce `Output`s
(`manifests.py`) and a `Report` of what was written and what could not be translated
(`report.py`); `cli.py` is the command. Nothing here talks to a cluster.
"""
