"""`psi bench`: the measuring code runs and reports sane figures. No timing is asserted here;
the figures and their targets are in BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from psi.benchmarks.generate import measure_generate
from psi.benchmarks.startup import heavy_modules, parse_importtime, seed_history
from psi.benchmarks.stats import p90
from psi.cli.main import app
from psi.config import load_settings

GENERATE_KEYS = {"psi_tokens_per_s", "raw_tokens_per_s", "ratio", "ttft_s"}


@pytest.mark.slow
def test_generate_measures_both_sides_on_the_embedded_model() -> None:
    result = measure_generate(load_settings(), rounds=1, max_tokens=8, prompt="Say hello.")

    figures = result.as_json()
    assert figures.keys() >= GENERATE_KEYS
    assert all(figures[key] > 0 for key in GENERATE_KEYS)
    assert len(result.raw) == len(result.psi) == 1
    # Greedy decoding on one Llama object: both sides must have produced the same reply.
    assert result.same_output
    assert 2 <= result.psi[0].tokens <= 8


@pytest.mark.slow
def test_generate_writes_json(tmp_path: Path) -> None:
    target = tmp_path / "generate.json"

    done = CliRunner().invoke(
        app,
        ["bench", "generate", "--rounds", "1", "--max-tokens", "8", "--json", str(target)],
    )

    assert done.exit_code == 0, done.output
    figures = json.loads(target.read_text(encoding="utf-8"))
    assert figures.keys() >= GENERATE_KEYS
    assert all(figures[key] > 0 for key in GENERATE_KEYS)


def test_generate_refuses_a_profile_that_is_not_llamacpp(
    write_config: Callable[[str], Path],
) -> None:
    write_config('[models.fake]\nbackend = "scripted"\nmodel = "fake"\n')

    done = CliRunner().invoke(app, ["bench", "generate", "--model", "fake"])

    assert done.exit_code == 2
    assert "needs a llamacpp profile" in done.output


def test_short_commands_import_neither_torch_nor_llama(psi_home: Path) -> None:
    seed_history(psi_home)
    env = dict(os.environ)  # the autouse fixture has pointed PSI_HOME at psi_home

    assert heavy_modules(sys.executable, ["--version"], env) == []
    assert heavy_modules(sys.executable, ["history", "list"], env) == []


def test_importtime_is_summed_per_top_level_package() -> None:
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     sqlalchemy.sql\n"
        "import time:       400 |        500 |   sqlalchemy\n"
        "import time:      2000 |       2000 | psi.config\n"
        "unrelated line\n"
    )

    assert parse_importtime(text) == {"sqlalchemy": 0.0005, "psi": 0.002}


def test_p90_is_one_of_the_samples() -> None:
    assert p90([0.3, 0.1, 0.2]) == 0.3
    assert p90([float(n) for n in range(1, 21)]) == 18.0


def test_bench_goals_reports_the_agenda_time(tmp_path: Path) -> None:
    target = tmp_path / "goals.json"
    result = CliRunner().invoke(
        app, ["bench", "goals", "--goals", "6", "--check-ins", "60", "--runs", "2",
              "--json", str(target)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "agenda + forecasts, median" in result.output
    figures = json.loads(target.read_text())
    assert figures["goals"] == 6 and figures["check_ins"] == 60
    assert figures["items_due_today"] >= 6  # each goal's habit or task falls due
    assert figures["after_logging_ms"]["goals_changed"] == 1
    assert "no fit kept" in result.output and figures["refit_ms"]["median"] > 0
    assert figures["fresh_process_ms"]["median"] > 0


def run_bench(script: str, *args: str, out: Path, timeout: float) -> Any:
    """Run bench/`script` with `args` and `--json` into `out`; its figures."""
    import subprocess

    path = Path(__file__).resolve().parents[1] / "bench" / script
    done = subprocess.run(
        [sys.executable, str(path), *args, "--json", str(out)],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PSI_HOME": str(out.parent)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_index_pass_bench_times_a_pass_at_each_history_size(tmp_path: Path) -> None:
    figures = run_bench(
        "index_pass.py", "--sizes", "40,400", "--batch", "5", "--passes", "2",
        out=tmp_path / "index.json", timeout=120,
    )  # fmt: skip
    assert [r["history_messages"] for r in figures["results"]] == [40, 400]
    assert all(r["pass_median_ms"] > 0 for r in figures["results"])
    assert figures["results"][0]["ratio_to_smallest"] == 1.0


def test_load_bench_drives_psi_serve_and_the_bare_floor_without_errors(tmp_path: Path) -> None:
    results = run_bench(
        "load.py", "--clients", "3", "--seconds", "1", "--warmup", "0.5",
        out=tmp_path / "load.json", timeout=180,
    )["results"]  # fmt: skip
    psi = results["sqlite"]
    for figures in (results["bare"], psi["chat"], psi["memories_search"]):
        assert figures["requests"] > 0
        assert figures["errors"] == 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["client_cpu_ms"] > 0
    # psi's chat turn does more than the bare endpoint, so its median is slower.
    assert psi["chat"]["overhead_p50_ratio"] > 1


@pytest.mark.parametrize("bad", [["--clients", "0"], ["--seconds", "0"], ["--workers", "0"]])
def test_load_bench_refuses_bad_arguments_without_a_traceback(bad: list[str]) -> None:
    import subprocess

    script = Path(__file__).resolve().parents[1] / "bench" / "load.py"
    done = subprocess.run([sys.executable, str(script), *bad], capture_output=True, text=True)
    assert done.returncode == 2
    assert "--clients and --workers take 1 or more" in done.stderr
    assert "Traceback" not in done.stderr
