"""osc operator: reconciles OpenFnJob resources into running job services.

`kopf run -m osc_operator` imports this package, which registers the handlers.
"""

from osc_operator import flow_watch, handlers, keda_watch  # noqa: F401  (registers handlers)
