"""Workflows: several steps, each with its own adaptor, expression and credential, run as one
run. `plan.py` builds the plan (a pure value) from OSC_WORKFLOW_PATH and validates it once;
`outcome.py` holds the rules both engines share: which edges are followed, what a run's status
is, and its final state."""
