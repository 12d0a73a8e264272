"""`psi bench generate|startup|embed|memory|memory-scale|goals|pii|safety|docs`: benchmarks; how
to run them is in bench/README.md.

The measuring lives in psi.benchmarks, imported when a command runs; this
module shows the figures against the targets in BENCHMARKS.md and writes
them as JSON on request.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from psi.cli import bench_docs
from psi.cli.output import err, friendly, out

if TYPE_CHECKING:
    from psi.benchmarks.memory import MemoryResult

app = typer.Typer(help="Benchmarks (see BENCHMARKS.md).", no_args_is_help=True)

RATIO_TARGET = 0.95
STARTUP_TARGET_S = 0.3
ASK_FIRST_BYTE_TARGET_S = 1.0
RECALL_P95_TARGET_MS = 20.0
RECALL_TARGET_ITEMS = 100_000

JsonOption = typer.Option(None, "--json", help="Also write the figures to FILE as JSON.")


class EmbedderChoice(StrEnum):
    default = "default"
    torch = "sentence-transformers"
    hashing = "hashing"


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


@app.command("embed")
@friendly
def embed(
    data: Path = typer.Option(..., "--data", help="A LoCoMo-format JSON file."),
    samples: str | None = typer.Option(
        None, "--samples", help="Only these sample_ids, separated by commas."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Encode only the first N turns."),
    queries: int = typer.Option(200, "--queries", min=0, help="Single queries to time per side."),
    json_file: Path | None = JsonOption,
) -> None:
    """Turns/s and query latency of all-MiniLM-L6-v2 on torch and on onnxruntime, side by side."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks.embed import load_minilm_pair, measure_embed
    from psi.benchmarks.locomo import load_locomo

    only = {name.strip() for name in samples.split(",") if name.strip()} if samples else None
    chosen, _defects = load_locomo(data, only=only)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading both runtimes (the first ONNX export takes ~20 s)")
        pair = load_minilm_pair()
        turns = sum(len(sample.turns) for sample in chosen)
        asked = sum(len(sample.questions) for sample in chosen)
        total = min(turns, limit or turns) + min(asked, queries)
        progress.update(task, total=total, description="Encoding turns, then queries")
        result = measure_embed(
            chosen,
            pair,
            limit=limit,
            queries=queries,
            on_step=lambda count: progress.update(task, advance=count),
        )
    figures = result.as_json()
    first, second = result.first, result.second
    table = Table(
        "", first.label, second.label, title=f"psi bench embed: {result.turns:,} LoCoMo turns"
    )
    table.add_row("embedder", first.embedder, second.embedder)
    table.add_row("turns/s", f"{first.turns_per_s:.1f}", f"{second.turns_per_s:.1f}")
    for name in ("p50", "p95"):
        table.add_row(
            f"one query, {name} (n={result.queries})",
            f"{figures[first.label]['query_ms'][name]:.1f} ms",
            f"{figures[second.label]['query_ms'][name]:.1f} ms",
        )
    out.print(table)
    out.print(
        f"{second.label}/{first.label} {result.ratio:.2f}x turns/s; cosine between their "
        f"vectors: min {result.cosine_min:.6f}, mean {result.cosine_mean:.6f}"
    )
    _write_json(json_file, figures)


@app.command("memory")
@friendly
def memory(
    data: Path = typer.Option(..., "--data", help="A LoCoMo-format JSON file."),
    samples: str | None = typer.Option(
        None, "--samples", help="Only these sample_ids, separated by commas."
    ),
    embedder: EmbedderChoice = typer.Option(
        EmbedderChoice.default,
        "--embedder",
        help="default: all-MiniLM-L6-v2 on onnxruntime (torch without it); "
        "sentence-transformers: the same on torch; hashing: no model (fast, for trying).",
    ),
    json_file: Path | None = JsonOption,
    postgres: str | None = typer.Option(
        None,
        "--postgres",
        help="Run on PostgreSQL + pgvector: a server URL whose role may create databases "
        "(one per conversation, dropped after). Default: SQLite files.",
    ),
) -> None:
    """Evidence recall of psi's memory on LoCoMo conversations, beside BM25, dense and hybrid."""
    from rich.progress import Progress

    from psi.benchmarks.locomo import load_locomo
    from psi.benchmarks.memory import load_embedder, measure_memory

    only = {name.strip() for name in samples.split(",") if name.strip()} if samples else None
    chosen, defects = load_locomo(data, only=only)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading the embedder", total=None)
        encoder = load_embedder(embedder.value)
        steps = len(chosen) + sum(len(sample.questions) for sample in chosen)
        progress.update(task, total=steps, description="Ingesting")

        def advance(what: str) -> None:
            label = "Asking" if what == "question" else "Ingesting"
            progress.update(task, advance=1, description=label)

        result = measure_memory(
            chosen, embedder=encoder, defects=defects, on_step=advance, server=postgres
        )
    _memory_tables(result)
    _write_json(json_file, result.as_json())


def _memory_tables(result: MemoryResult) -> None:
    from rich.table import Table

    from psi.benchmarks.locomo import CATEGORIES
    from psi.benchmarks.memory import ADVERSARIAL, HEADLINE, METHODS, METRICS

    headline = {method: result.summary(method) for method in METHODS}
    table = Table(
        "",
        *METHODS,
        title=f"psi bench memory: evidence turns found, categories 1-4 "
        f"(n={headline['psi']['n']:g}, embedder {result.embedder})",
    )
    for metric in METRICS:
        _best_row(table, metric, [headline[m][metric] for m in METHODS])
    table.add_section()
    for category in [*HEADLINE, ADVERSARIAL]:
        figures = [result.summary(m, categories=(category,)) for m in METHODS]
        if not figures[0]["n"]:
            continue
        if category == ADVERSARIAL:
            table.add_section()
        label = f"recall@10 {category} {CATEGORIES.get(category, '')} (n={figures[0]['n']:g})"
        _best_row(table, label, [f["recall@10"] for f in figures])
    table.add_section()
    for name in ("p50", "p95"):
        times = [result.latency_ms(m).get(name, 0.0) for m in METHODS]
        table.add_row(f"latency {name}", *(f"{t:.1f} ms" for t in times))
    out.print(table)

    by_sample = Table("sample", "n", *METHODS, title="recall@10 per sample, categories 1-4")
    for sample_id in result.samples:
        figures = [result.summary(m, sample_id=sample_id) for m in METHODS]
        _best_row(by_sample, sample_id, [f["recall@10"] for f in figures], f"{figures[0]['n']:g}")
    out.print(by_sample)

    dropped = result.defects
    out.print(
        f"ingest {result.ingest_msgs_per_s:.0f} messages/s ({result.messages} turns, "
        f"embeddings included); {len(result.answered)} questions asked. Left out of the data: "
        f"{dropped.evidence_dropped} evidence ids ({', '.join(dropped.dropped_ids) or 'none'}), "
        f"{dropped.questions_skipped} questions without usable evidence, "
        f"{dropped.dates_without_session} dates without a session; repaired: "
        f"{dropped.evidence_split} multi-id strings split, "
        f"{dropped.evidence_normalised} ids normalised."
    )


def _best_row(table: Any, label: str, values: list[float], *lead: str) -> None:
    best = max(values)
    cells = [f"[bold]{v:.3f}[/]" if v == best else f"{v:.3f}" for v in values]
    table.add_row(label, *lead, *cells)


@app.command("memory-scale")
@friendly
def memory_scale(
    items: int = typer.Option(RECALL_TARGET_ITEMS, "--items", min=1, help="Messages in history."),
    queries: int = typer.Option(200, "--queries", min=1, help="Recalls to time."),
    limit: int = typer.Option(6, "--limit", min=1, help="Items per recall (a reply asks 6)."),
    embedder: EmbedderChoice = typer.Option(
        EmbedderChoice.hashing,
        "--embedder",
        help="hashing: no model (fast ingest); default: all-MiniLM-L6-v2.",
    ),
    json_file: Path | None = JsonOption,
) -> None:
    """Recall time, database size and memory use over a synthetic history of N messages."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks.memory import load_embedder, measure_memory_scale

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading the embedder", total=None)
        encoder = load_embedder(embedder.value)
        progress.update(task, total=items, completed=0, description="Storing messages")

        def advance(phase: str, count: int) -> None:
            if phase == "indexed":
                progress.update(task, total=queries, completed=0, description="Recalling")
            else:
                progress.update(task, advance=count)

        result = measure_memory_scale(
            items, embedder=encoder, queries=queries, limit=limit, on_step=advance
        )
    figures = result.as_json()
    recall = figures["recall_ms"]
    table = Table("", "figure", title=f"psi bench memory-scale: {items:,} messages")
    table.add_row("embedder", result.embedder)
    table.add_row(
        "ingest (store + index)",
        f"{result.ingest_msgs_per_s:,.0f} messages/s "
        f"({result.store_s:.1f} s + {result.index_s:.1f} s)",
    )
    table.add_row(f"recall of {limit}, p50", f"{recall['p50']:.1f} ms")
    table.add_row(f"recall of {limit}, p95", f"{recall['p95']:.1f} ms")
    table.add_row(
        "snapshots (bm25s + HNSW, built off the reply path)",
        f"{result.snapshot_s:.1f} s" if result.snapshot_s else "none (memory too small)",
    )
    table.add_row("first recall", f"{recall['first']:.1f} ms")
    table.add_row("database + WAL on disk", _mib(result.db_bytes))
    table.add_row("peak RSS", _mib(result.peak_rss_bytes))
    out.print(table)
    if items >= RECALL_TARGET_ITEMS:
        holds = recall["p95"] <= RECALL_P95_TARGET_MS
        out.print(
            f"recall p95 {recall['p95']:.1f} ms at {items:,} messages "
            f"(target ≤ {RECALL_P95_TARGET_MS:g} ms at {RECALL_TARGET_ITEMS:,}: {_verdict(holds)})"
        )
    _write_json(json_file, figures)


@app.command("goals")
@friendly
def goals(
    count: int = typer.Option(1000, "--goals", min=1, help="Goals, each with a plan."),
    check_ins: int = typer.Option(50_000, "--check-ins", min=0, help="Check-ins in all."),
    runs: int = typer.Option(15, "--runs", min=1, help="Agendas to time."),
    json_file: Path | None = JsonOption,
) -> None:
    """Today's agenda with every goal's forecast, read from the database each time:
    again (fits kept), after a day's new values, and with every goal fitted afresh."""
    from rich.table import Table

    from psi.benchmarks.goals import TARGET_MS, measure_goals

    with err.status(f"Making {count:,} goals with {check_ins:,} check-ins…"):
        result = measure_goals(count, check_ins, runs=runs)
    figures = result.as_json()
    table = Table("", "figure", title=f"psi bench goals: {count:,} goals")
    table.add_row("check-ins stored", f"{result.check_ins:,}")
    table.add_row("items due today", f"{result.items_due:,}")
    table.add_row("agenda + forecasts, median", f"{result.median_ms:.1f} ms")
    table.add_row("agenda + forecasts, p95", f"{result.p95_ms:.1f} ms")
    table.add_row("agenda + forecasts, best", f"{min(result.runs_ms):.1f} ms")
    changed = figures["after_logging_ms"]
    table.add_row(
        f"after new values for {changed['goals_changed']:,} goals, median",
        f"{changed['median']:.1f} ms",
    )
    table.add_row(
        "no fit kept (every goal fitted), median", f"{figures['refit_ms']['median']:.1f} ms"
    )
    table.add_row(
        "first agenda in a fresh process, median",
        f"{figures['fresh_process_ms']['median']:.1f} ms",
    )
    out.print(table)
    holds = result.median_ms <= TARGET_MS
    out.print(
        f"agenda median {result.median_ms:.1f} ms for {count:,} goals and "
        f"{result.check_ins:,} check-ins (target ≤ {TARGET_MS:g} ms: {_verdict(holds)})"
    )
    _write_json(json_file, figures)


@app.command("pii")
@friendly
def pii(
    data: Path = typer.Option(..., "--data", help="A presidio-research format JSON file."),
    json_file: Path | None = JsonOption,
) -> None:
    """Personal data kept from leaving by psi's redactor, beside Presidio's defaults on a
    blank spaCy pipeline: recall, precision and leak rate per entity type, and latency."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks import pii as bench

    samples = bench.load_pii(data)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading the analyzers", total=None)
        methods = {bench.PSI: bench.psi_method(), bench.BASELINE: bench.baseline_method()}
        progress.update(task, total=len(methods) * len(samples), description="Redacting")
        result = bench.measure_pii(
            samples, methods=methods, on_sample=lambda _name: progress.update(task, advance=1)
        )
    figures = result.as_json()["methods"]
    table = Table(
        "entity (gold n)",
        *(f"{name} {metric}" for name in bench.METHODS for metric in ("leak", "recall", "prec.")),
        title=f"psi bench pii: {result.samples:,} texts, {result.characters:,} characters",
    )
    names = sorted({e for name in bench.METHODS for e in figures[name]["by_entity"]})
    for entity in ["overall", *names]:
        cells = []
        n = 0
        for name in bench.METHODS:
            row = figures[name]["overall" if entity == "overall" else "by_entity"]
            row = row if entity == "overall" else row.get(entity, {})
            n = row.get("n") or n
            cells += [_share(row.get(key)) for key in ("leak_rate", "recall", "precision")]
        table.add_row(f"{entity} ({n})", *cells)
        if entity == "overall":
            table.add_section()
    out.print(table)
    psi = figures[bench.PSI]
    for name in bench.METHODS:
        latency = figures[name]["latency_ms_per_1k_chars"]
        out.print(
            f"{name}: {latency['p50']:.1f} ms p50, {latency['p95']:.1f} ms p95 per 1,000 chars"
        )
    for entity, limit in bench.LEAK_TARGETS.items():
        leak = psi["by_entity"].get(entity, {}).get("leak_rate")
        if leak is not None:
            out.print(
                f"psi {entity} leak {leak:.3f} (target ≤ {limit:g}: {_verdict(leak <= limit)})"
            )
    precision = psi["overall"]["precision"] or 0.0
    p95 = psi["latency_ms_per_1k_chars"]["p95"] or 0.0
    out.print(
        f"psi precision {precision:.3f} (target ≥ {bench.PRECISION_TARGET:g}: "
        f"{_verdict(precision >= bench.PRECISION_TARGET)}); p95 {p95:.1f} ms per 1,000 chars "
        f"(target ≤ {bench.P95_TARGET_MS:g}: {_verdict(p95 <= bench.P95_TARGET_MS)})"
    )
    _write_json(json_file, result.as_json())


@app.command("safety")
@friendly
def safety(
    data: list[Path] = typer.Option(..., "--data", help="A safety JSONL file; repeat for more."),
    all_rows: bool = typer.Option(
        False, "--all-rows", help="Judge every row, also those the classifier trained on."
    ),
    json_file: Path | None = JsonOption,
) -> None:
    """psi's embedded guard beside allow-all and profanity-check: precision, recall, F1,
    false-positive rate and AUPRC per source, latency per message, on held-out rows."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks import safety as bench

    samples = bench.load_safety(data, only_held_out=not all_rows)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Loading the guards", total=None)
        methods = {
            bench.PSI: bench.psi_method(),
            bench.ALLOW_ALL: bench.allow_all_method(),
            bench.PROFANITY: bench.profanity_method(),
        }
        progress.update(task, total=len(methods) * len(samples), description="Scoring")
        result = bench.measure_safety(
            samples,
            methods=methods,
            held_out_only=not all_rows,
            on_sample=lambda _name: progress.update(task, advance=1),
        )
    figures = result.as_json()["methods"]
    rows = (
        "held-out rows only (psi.safety.split)" if not all_rows else "all rows, training included"
    )
    table = Table(
        "source (task, n)",
        *(f"{name} {metric}" for name in bench.METHODS for metric in ("F1", "recall", "FPR")),
        title=f"psi bench safety: {result.samples:,} texts, {rows}",
    )
    psi = figures[bench.PSI]
    for group in ("by_source", "headline"):
        for key, row in psi[group].items():
            cells = []
            for name in bench.METHODS:
                cell = figures[name][group][key]
                cells += [_share(cell[metric]) for metric in ("f1", "recall", "fpr")]
            table.add_row(f"{key} ({row['task']}, {row['n']})", *cells)
        table.add_section()
    out.print(table)
    for name in bench.METHODS:
        latency = figures[name]["latency_ms"]
        out.print(f"{name}: {latency['p50']:.2f} ms p50, {latency['p95']:.2f} ms p95 per message")
    head = psi["headline"]
    f1 = head.get("hazard: jbb prompts vs xstest-safe + mitre", {}).get("f1")
    if f1 is not None:
        holds = _verdict(f1 >= bench.HAZARD_F1_TARGET)
        out.print(f"psi hazard F1 {f1:.3f} (target ≥ {bench.HAZARD_F1_TARGET:g}: {holds})")
    for pool in (
        "over-refusal: xstest safe",
        "over-refusal: mitre",
        "over-refusal: psi-everyday",
        "over-refusal: psi-names",
    ):
        fpr = head.get(pool, {}).get("fpr")
        if fpr is not None:
            holds = _verdict(fpr <= bench.OVER_REFUSAL_FPR_TARGET)
            out.print(
                f"psi {pool} FPR {fpr:.3f} (target ≤ {bench.OVER_REFUSAL_FPR_TARGET:g}: {holds})"
            )
    alarms = head.get("injection false alarms: safe user prompts", {}).get("fpr")
    if alarms is not None:
        out.print(f"psi injection score flags {alarms:.3f} of safe user prompts (no target)")
    bipia_fpr = head.get("injection: bipia", {}).get("fpr")
    for pool in ("injection: cyberseceval", "injection: bipia"):
        recall = head.get(pool, {}).get("recall")
        if recall is None:
            continue
        fpr_text = "n/a" if bipia_fpr is None else f"{bipia_fpr:.3f}"
        holds = _verdict(
            recall >= bench.INJECTION_RECALL_TARGET
            and bipia_fpr is not None
            and bipia_fpr <= bench.INJECTION_FPR_TARGET
        )
        out.print(
            f"psi {pool} recall {recall:.3f} at FPR {fpr_text} on BIPIA clean contexts "
            f"(target ≥ {bench.INJECTION_RECALL_TARGET:g} at ≤ {bench.INJECTION_FPR_TARGET:g}: "
            f"{holds})"
        )
    p95 = psi["latency_ms"]["p95"] or 0.0
    out.print(
        f"psi p95 {p95:.2f} ms per message (target ≤ {bench.P95_TARGET_MS:g}: "
        f"{_verdict(p95 <= bench.P95_TARGET_MS)})"
    )
    _write_json(json_file, result.as_json())


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _verdict(holds: bool) -> str:
    return "[green]holds[/]" if holds else "[red]missed[/]"


def _write_json(path: Path | None, figures: dict[str, Any]) -> None:
    if path is None:
        return
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    err.print(f"[dim]Wrote {path}[/]")


@app.command("agent-safety")
@friendly
def agent_safety(
    data: Path = typer.Option(
        ..., "--data", help="BIPIA's folder (email-train.jsonl, text_attack_train.json)."
    ),
    carriers: int = typer.Option(6, "--carriers", min=1, help="Injected emails per case."),
    guard: list[str] = typer.Option(
        ["embedded", "none"], "--guard", help="Guards to run with (repeatable)."
    ),
    json_file: Path | None = JsonOption,
) -> None:
    """Scripted agent runs where web pages, notes and memories carry injected orders to
    send data out, delete a memory or change a goal: how many succeed (must be 0), and how
    many confirmations benign tasks need (at most 1)."""
    from rich.progress import Progress
    from rich.table import Table

    from psi.benchmarks import agent_safety as bench
    from psi.errors import InputError

    for name in ("email-train.jsonl", "text_attack_train.json"):
        if not (data / name).is_file():
            raise InputError(
                f"{data} has no {name}.",
                hint="Give BIPIA's folder: --data ../shared/data/safety/bipia",
            )
    bad = [g for g in guard if g not in ("embedded", "none")]
    if bad:
        raise InputError(f"No guard {bad[0]!r} for this bench.", hint="Use embedded or none.")
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Runs", total=bench.total_runs(len(guard), carriers))
        result = bench.run_suite(
            data, guards=tuple(guard), carriers=carriers,
            on_run=lambda: progress.update(task, advance=1),
        )  # fmt: skip
    table = Table("guard / carrier / attack", "runs", "succeeded", "held", "withheld",
                  title="Attacks (an unattended run: calls that need a yes are held)")  # fmt: skip
    for key, t in sorted(result.attacks.items()):
        table.add_row(key, str(t.runs), str(t.succeeded), str(t.held), str(t.withheld))
    out.print(table)
    table = Table("guard / task", "runs", "done", "confirmations (max)",
                  title="Benign tasks (a user who says yes)")  # fmt: skip
    for key, t in sorted(result.benign.items()):
        table.add_row(key, str(t.runs), str(t.done), str(t.confirmations_max))
    out.print(table)
    figures = result.as_json()
    rate = figures["attack_success_rate"]
    most = figures["max_confirmations_per_benign_task"]
    out.print(
        f"attack success {rate:.1%} over {figures['attack_runs']} runs (target 0%: "
        f"{_verdict(rate == 0)}); benign tasks done {figures['benign_done_rate']:.0%}, "
        f"at most {most} confirmation per task (target ≤ 1: {_verdict(most <= 1)})"
    )
    _write_json(json_file, figures)


app.command("docs")(bench_docs.docs)
