"""The subcommands of `python -m osc_runtime`: one module each (see osc_runtime.__main__)."""
