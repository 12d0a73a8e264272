"""Benchmarks behind `psi bench`: plain measuring functions that return plain results.

- `generate`: tokens/s of psi's `ask` path against raw llama-cpp-python on the
  same loaded model, and psi's time to first token.
- `startup`: wall time of short psi commands beside `python -c pass`, time to
  the first byte of a `psi ask` answer, and which heavy modules they import.

Nothing here prints or asserts targets; the CLI shows the figures and
BENCHMARKS.md records them. Modules that load a model or spawn processes are
imported only by the command that needs them.
"""
