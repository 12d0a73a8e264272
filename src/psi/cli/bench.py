"""`psi bench generate|startup`: benchmarks; how to run them is in bench/README.md.

The measuring lives in psi.benchmarks, imported when a command runs; this
module shows the figures against the targets in BENCHMARKS.md and writes
them as JSON on request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from psi.cli.output import err, friendly, out

app = typer.Typer(help="Benchmarks (see BENCHMARKS.md).", no_args_is_help=True)

RATIO_TARGET = 0.95
STARTUP_TARGET_S = 0.3
ASK_FIRST_BYTE_TARGET_S = 1.0

JsonOption = typer.Option(None, "--json", help="Also write the figures to FILE as JSON.")


@app.command("generate")
@friendly
def generate(
    model: str = typer.Option("local", "--model", "-m", help="A llamacpp model profile."),
    rounds: int = typer.Option(5, "--rounds", min=1, help="Timed rounds per side."),
    max_tokens: int = typer.Option(128, "--max-tokens", min=2, help="Tokens per reply."),
    prompt: str | None = typer.Option(
        None, "--prompt", help="The question both sides answer (default: a story to tell)."
    ),
    json_file: Path | None = JsonOption,
) -> None:
    """Tokens/s of psi's `ask` path against raw llama-cpp-python on the same model."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks.generate import DEFAULT_PROMPT, measure_generate
    from psi.config import load_settings

    settings = load_settings()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading model", total=2 * rounds)

        def advance(side: str) -> None:
            progress.update(task, advance=1, description=f"Generating ({side} done)")

        result = measure_generate(
            settings,
            profile=model,
            rounds=rounds,
            max_tokens=max_tokens,
            prompt=prompt or DEFAULT_PROMPT,
            on_round=advance,
        )
    figures = result.as_json()
    table = Table("", "raw llama-cpp-python", "psi ask path", title="psi bench generate")
    table.add_row(
        "tokens/s (median)", f"{result.raw_tokens_per_s:.1f}", f"{result.psi_tokens_per_s:.1f}"
    )
    table.add_row("first token (median)", f"{result.raw_ttft_s:.3f} s", f"{result.ttft_s:.3f} s")
    table.add_row(
        "whole reply (median)", f"{figures['raw_total_s']:.3f} s", f"{figures['psi_total_s']:.3f} s"
    )
    out.print(table)
    out.print(
        f"ratio psi/raw {result.ratio:.3f} "
        f"(target ≥ {RATIO_TARGET}: {_verdict(result.ratio >= RATIO_TARGET)}); "
        f"{rounds} rounds of {figures['completion_tokens']:g} tokens on {result.profile} "
        f"({Path(result.model_file).name}, {result.n_threads} threads)"
    )
    if not result.same_output:
        err.print("[yellow]The two sides produced different text; the comparison is unfair.[/]")
    _write_json(json_file, figures)


@app.command("startup")
@friendly
def startup(
    runs: int = typer.Option(10, "--runs", min=1, help="Runs of each command."),
    json_file: Path | None = JsonOption,
) -> None:
    """Wall time of `psi --version`, `psi history list` and `psi ask` beside `python -c pass`."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks import startup as bench

    targets = {
        bench.VERSION: STARTUP_TARGET_S,
        bench.HISTORY: STARTUP_TARGET_S,
        bench.ASK: ASK_FIRST_BYTE_TARGET_S,
    }
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Starting processes", total=4 * runs)
        result = bench.measure_startup(
            runs=runs, on_run=lambda _name: progress.update(task, advance=1)
        )
    table = Table("command", "median", "p90", "over python", "target", title="psi bench startup")
    for name, timing in result.timings.items():
        target = targets.get(name)
        verdict = (
            f"≤ {target:g} s: {_verdict(timing.median_s <= target)}" if target is not None else ""
        )
        over = "" if name == bench.PYTHON else f"{result.over_python_s(name):+.3f} s"
        table.add_row(name, f"{timing.median_s:.3f} s", f"{timing.p90_s:.3f} s", over, verdict)
    out.print(table)
    for name, heavy in result.heavy_imports.items():
        loaded = ", ".join(heavy) if heavy else "none"
        out.print(
            f"{name} imports {'/'.join(bench.HEAVY_MODULES)}: {loaded} ({_verdict(not heavy)})"
        )
    costs = Table(
        "package",
        "self import time",
        title=f"`psi history list` imports: {result.import_total_s:.3f} s in all",
    )
    for package, seconds in result.import_costs[:12]:
        costs.add_row(package, f"{seconds * 1000:.0f} ms")
    out.print(costs)
    _write_json(json_file, result.as_json())


def _verdict(holds: bool) -> str:
    return "[green]holds[/]" if holds else "[red]missed[/]"


def _write_json(path: Path | None, figures: dict[str, Any]) -> None:
    if path is None:
        return
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    err.print(f"[dim]Wrote {path}[/]")
