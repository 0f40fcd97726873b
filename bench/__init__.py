"""osc benchmarks (`make bench`): every figure is a ratio against a baseline measured in the same
run on the same machine. Results go to bench/results/<name>.json; docs/benchmarks.md explains."""
