"""osc operator: reconciles OpenFnJob resources (kopf run -m osc_operator)."""
