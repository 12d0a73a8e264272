"""Start-up: how long short psi commands take as whole processes, beside `python -c pass`.

Each run spawns, in turn, `python -c pass`, `psi --version`, `psi history
list` and `psi ask`, so load from other processes falls on all of them alike;
the figures are medians and p90s over the runs, and each command's excess over
`python -c pass` (the interpreter's own start) is what psi adds.

- `psi history list` runs against a temporary PSI_HOME holding a few stored
  conversations, so it opens, checks and reads a real database.
- `psi ask` is timed from spawn to the first byte of the answer on standard
  output: interpreter, imports, settings, database, loading the embedded
  model, evaluating the prompt and the first token. The process is stopped
  there; the rest of the answer is the generate benchmark's business.
- Imports: `psi --version` and `psi history list` are run once more through a
  wrapper that reports which of HEAVY_MODULES ended up in sys.modules, and
  `psi history list` once under `python -X importtime`, whose self times are
  summed per top-level package to show where start-up goes.

Child processes get a clean environment: PSI_* variables are dropped so a
real config or database is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from psi.benchmarks.stats import p90

HEAVY_MODULES = ("torch", "llama_cpp")
ASK_PROMPT = "Say hello."
SEEDED_CONVERSATIONS = 5
PYTHON = "python -c pass"
VERSION = "psi --version"
HISTORY = "psi history list"
ASK = "psi ask (first byte)"

# Runs psi's entry point in-process and, at exit, names the heavy modules it imported.
_IMPORT_PROBE = """\
import atexit, sys
def _report():
    heavy = [m for m in {heavy!r} if m in sys.modules]
    sys.stderr.write("PSI_BENCH_HEAVY=" + ",".join(heavy) + "\\n")
atexit.register(_report)
sys.argv = ["psi", *sys.argv[1:]]
from psi.cli.main import run
run()
"""
_HEAVY_LINE = re.compile(r"^PSI_BENCH_HEAVY=(.*)$", re.MULTILINE)
_IMPORTTIME_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*\d+\s*\|\s*(\S+)\s*$")


@dataclass(frozen=True)
class Timing:
    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return median(self.samples)

    @property
    def p90_s(self) -> float:
        return p90(self.samples)


@dataclass(frozen=True)
class StartupResult:
    runs: int
    timings: dict[str, Timing]
    heavy_imports: dict[str, list[str]]
    import_costs: list[tuple[str, float]]
    import_total_s: float

    def over_python_s(self, name: str) -> float:
        return self.timings[name].median_s - self.timings[PYTHON].median_s

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "commands": {
                name: {
                    "median_s": round(t.median_s, 4),
                    "p90_s": round(t.p90_s, 4),
                    "over_python_s": round(self.over_python_s(name), 4),
                    "samples_s": [round(s, 4) for s in t.samples],
                }
                for name, t in self.timings.items()
            },
            "heavy_imports": self.heavy_imports,
            "history_list_imports": {
                "total_s": round(self.import_total_s, 4),
                "by_package_s": {name: round(s, 4) for name, s in self.import_costs},
            },
        }


def measure_startup(
    *,
    runs: int = 10,
    python: str = sys.executable,
    psi: str | None = None,
    on_run: Callable[[str], None] | None = None,
) -> StartupResult:
    """Time every command `runs` times, interleaved; `on_run(name)` after each process."""
    psi = psi or psi_executable()
    with tempfile.TemporaryDirectory(prefix="psi-bench-") as home:
        env = _clean_env(Path(home))
        seed_history(Path(home))
        commands: dict[str, list[str]] = {
            PYTHON: [python, "-c", "pass"],
            VERSION: [psi, "--version"],
            HISTORY: [psi, "history", "list"],
        }
        timings = {name: Timing(name) for name in [*commands, ASK]}
        # One untimed pass fills the page cache (and pyc files) before anything counts.
        for argv in commands.values():
            _run(argv, env)
        time_to_first_byte([psi, "ask", ASK_PROMPT], env)
        for _ in range(runs):
            for name, argv in commands.items():
                timings[name].samples.append(_run(argv, env))
                if on_run:
                    on_run(name)
            timings[ASK].samples.append(time_to_first_byte([psi, "ask", ASK_PROMPT], env))
            if on_run:
                on_run(ASK)
        heavy = {
            VERSION: heavy_modules(python, ["--version"], env),
            HISTORY: heavy_modules(python, ["history", "list"], env),
        }
        costs = import_costs(python, ["history", "list"], env)
    return StartupResult(
        runs=runs,
        timings=timings,
        heavy_imports=heavy,
        import_costs=sorted(costs.items(), key=lambda item: item[1], reverse=True),
        import_total_s=sum(costs.values()),
    )


def psi_executable() -> str:
    """The `psi` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("psi")
    if beside.exists():
        return str(beside)
    found = shutil.which("psi")
    if found is None:
        raise FileNotFoundError("no `psi` executable beside the interpreter or on PATH")
    return found


def seed_history(home: Path) -> None:
    """A database with a few short conversations, as `psi history list` usually finds it."""
    from psi.llm.types import Message
    from psi.store.conversations import Conversations
    from psi.store.db import open_store

    store = open_store(f"sqlite:///{home / 'psi.db'}")
    try:
        # "local" is the default user, which the child processes will be.
        conversations = Conversations(store, user_id=store.ensure_user("local"))
        for number in range(SEEDED_CONVERSATIONS):
            conversation = conversations.create(model_profile="local")
            conversations.add(conversation, Message.user(f"Question number {number}?"))
            conversations.add(conversation, Message.assistant(f"Answer number {number}."))
    finally:
        store.dispose()


def time_to_first_byte(argv: Sequence[str], env: dict[str, str]) -> float:
    """Seconds from spawning `argv` to the first byte on its standard output; then stop it."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=env)
        assert process.stdout is not None
        first = os.read(process.stdout.fileno(), 1)
        elapsed = time.perf_counter() - start
        process.terminate()
        process.communicate()
        if not first:
            stderr.seek(0)
            raise RuntimeError(
                f"{' '.join(argv)} wrote nothing to standard output: "
                + stderr.read().decode(errors="replace").strip()
            )
    return elapsed


def heavy_modules(python: str, args: Sequence[str], env: dict[str, str]) -> list[str]:
    """Which of HEAVY_MODULES `psi ARGS` has imported by the time it exits."""
    probe = _IMPORT_PROBE.format(heavy=HEAVY_MODULES)
    done = subprocess.run(
        [python, "-c", probe, *args], env=env, capture_output=True, text=True, check=True
    )
    match = _HEAVY_LINE.search(done.stderr)
    if match is None:
        raise RuntimeError(f"the import probe did not report: {done.stderr.strip()}")
    return [name for name in match.group(1).split(",") if name]


def import_costs(python: str, args: Sequence[str], env: dict[str, str]) -> dict[str, float]:
    """Seconds of import time per top-level package for `psi ARGS` (python -X importtime)."""
    probe = _IMPORT_PROBE.format(heavy=HEAVY_MODULES)
    done = subprocess.run(
        [python, "-X", "importtime", "-c", probe, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_importtime(done.stderr)


def parse_importtime(text: str) -> dict[str, float]:
    """Self time summed per top-level package, in seconds, from `-X importtime` output.

    Self times, not cumulative ones: a cumulative time includes every nested
    import, so summing those would count a package once per importer.
    """
    costs: dict[str, float] = {}
    for line in text.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if match is None:
            continue
        package = match.group(2).split(".")[0]
        costs[package] = costs.get(package, 0.0) + int(match.group(1)) / 1e6
    return costs


def _run(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _clean_env(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PSI_")}
    env["PSI_HOME"] = str(home)
    return env
