"""`psi bench memory`: the metrics on hand-computed cases, robust loading of a LoCoMo-format
file written here, and a whole run on the hashing embedder. No timing is asserted."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from psi.benchmarks.locomo import load_locomo, normalise_id
from psi.benchmarks.memory import (
    HEADLINE,
    METHODS,
    hit_at,
    load_embedder,
    measure_memory,
    measure_memory_scale,
    ndcg_at,
    percentile,
    ranked_turns,
    recall_at,
    rrf,
)
from psi.cli.main import app
from support.database import all_rows

# Only the image's `query` field holds this word; the index must never see it.
SECRET = "zanzibarite"
CAPTION = "a photo of a small dog on the grass"
FIGURE_KEYS = {"recall@1", "recall@5", "recall@10", "recall@20", "recall@50", "hit@10", "ndcg@10"}

LOCOMO: list[dict[str, Any]] = [
    {
        "sample_id": "tiny-1",
        "conversation": {
            "speaker_a": "Alice",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Alice", "dia_id": "D1:1", "text": "I adopted a puppy named Biscuit."},
                {"speaker": "Bob", "dia_id": "D1:2", "text": "Lovely! What breed is Biscuit?"},
                {
                    "speaker": "Alice",
                    "dia_id": "D1:3",
                    "text": "A beagle. Look at him!",
                    "img_url": ["https://example.invalid/dog.jpg"],
                    "blip_caption": CAPTION,
                    "query": f"{SECRET} beagle puppy",
                },
            ],
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [
                {"speaker": "Bob", "dia_id": "D2:1", "text": "I started pottery classes."},
                {"speaker": "Alice", "dia_id": "D2:2", "text": "Biscuit chewed my pottery bowl."},
            ],
            # A date with no session beside it.
            "session_3_date_time": "9:00 am on 1 July, 2023",
        },
        "qa": [
            {"question": "What is the puppy called?", "evidence": ["D1:1"], "category": 4},
            # Two ids in one string.
            {"question": "What did Bob start?", "evidence": ["D2:1; D1:2"], "category": 1},
            # A stray colon (repairable) and a bare "D" (not).
            {"question": "What did Biscuit chew?", "evidence": ["D:2:2", "D"], "category": 2},
            # No evidence at all: skipped.
            {"question": "Is Bob kind?", "answer": "yes", "evidence": [], "category": 3},
            # An id naming no turn: dropped, and the question with it.
            {"question": "Where is Bob?", "evidence": ["D9:9"], "category": 4},
            {
                "question": "What breed is Bob's cat?",
                "adversarial_answer": "a beagle",
                "evidence": ["D1:3"],
                "category": 5,
            },
        ],
    }
]


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-locomo.json"
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    return path


# -- metrics -------------------------------------------------------------------


def test_ranked_turns_expands_items_dedupes_in_rank_order_and_cuts_at_depth() -> None:
    items = [["D1:1"], ["D1:2", "D1:3", "D1:4"], ["D1:1", "D2:1"], ["D2:2"]]

    assert ranked_turns(items, depth=4) == ["D1:1", "D1:2", "D1:3", "D1:4"]
    assert ranked_turns(items, depth=50) == ["D1:1", "D1:2", "D1:3", "D1:4", "D2:1", "D2:2"]


def test_recall_counts_the_share_of_evidence_turns_within_k() -> None:
    # A window of three turns counts as three: at k=2 its third turn is already cut off.
    turns = ranked_turns([["a", "b", "c"], ["d"]])

    assert recall_at(turns, ["c", "d"], 1) == 0.0
    assert recall_at(turns, ["c", "d"], 2) == 0.0
    assert recall_at(turns, ["c", "d"], 3) == 0.5
    assert recall_at(turns, ["c", "d"], 10) == 1.0
    assert recall_at([], ["c"], 10) == 0.0


def test_hit_at_10_needs_one_evidence_turn_in_the_first_ten() -> None:
    turns = [f"t{i}" for i in range(12)]

    assert hit_at(turns, ["t9", "x"], 10) == 1.0
    assert hit_at(turns, ["t10", "t11"], 10) == 0.0


def test_ndcg_at_10_by_hand() -> None:
    # Evidence a, b; ranked x, a, y, b: gains at positions 2 and 4 over the ideal 1 and 2.
    gained = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)

    assert ndcg_at(["x", "a", "y", "b"], ["a", "b"], 10) == pytest.approx(gained / ideal)
    assert ndcg_at(["a", "b"], ["a", "b"], 10) == pytest.approx(1.0)
    assert ndcg_at(["x"], ["a"], 10) == 0.0


def test_rrf_and_percentile() -> None:
    # 2: 1/62 + 1/61; 3: 1/63 + 1/62; 1: 1/61.
    assert rrf([[1, 2, 3], [2, 3]]) == [2, 3, 1]
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


# -- loading -------------------------------------------------------------------


def test_normalise_id_repairs_what_is_unambiguous() -> None:
    assert normalise_id("D:11:26") == "D11:26"
    assert normalise_id("D30:05") == "D30:5"
    assert normalise_id(" D8:6 ") == "D8:6"
    assert normalise_id("D") is None
    assert normalise_id("D1:2:3") is None


def test_loading_repairs_drops_and_counts(locomo_file: Path) -> None:
    samples, defects = load_locomo(locomo_file)

    (sample,) = samples
    assert sample.speakers == ("Alice", "Bob")
    assert [len(s.turns) for s in sample.sessions] == [3, 2]
    image = sample.turns[2]
    assert image.text == f"A beagle. Look at him! [shares a photo: {CAPTION}]"
    assert [(q.category, q.evidence) for q in sample.questions] == [
        (4, ("D1:1",)),
        (1, ("D2:1", "D1:2")),
        (2, ("D2:2",)),
        (5, ("D1:3",)),
    ]
    assert defects.dates_without_session == 1
    assert defects.evidence_split == 1
    assert defects.evidence_normalised == 1
    assert defects.evidence_dropped == 2
    assert defects.dropped_ids == ["D", "D9:9"]
    assert defects.questions_skipped == 2


def test_unknown_sample_is_a_user_error(locomo_file: Path) -> None:
    done = CliRunner().invoke(
        app, ["bench", "memory", "--data", str(locomo_file), "--samples", "nope"]
    )

    assert done.exit_code == 2
    assert "No sample nope" in done.output


# -- whole runs ----------------------------------------------------------------


def test_the_image_query_is_in_no_table_of_the_benchmark_store(
    locomo_file: Path, tmp_path: Path
) -> None:
    samples, defects = load_locomo(locomo_file)
    stores = tmp_path / "stores"

    result = measure_memory(
        samples, embedder=load_embedder("hashing"), defects=defects, workdir=stores
    )

    assert len(result.answered) == 4
    (database,) = stores.glob("*.db")
    with sqlite3.connect(database) as conn:
        listed = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [row[0] for row in listed]
        assert "memory_items" in tables and "memory_fts" in tables
    assert SECRET not in all_rows(database).lower()
    with sqlite3.connect(database) as conn:
        # The caption was indexed, as part of the turn.
        (found,) = conn.execute("SELECT text FROM memory_items WHERE text LIKE 'A beagle%'")
        assert found[0].endswith(f"[shares a photo: {CAPTION}]")
    for path in stores.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_memory_command_writes_the_figures(locomo_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "memory.json"

    command = ["bench", "memory", "--data", str(locomo_file), "--embedder", "hashing"]

    done = CliRunner().invoke(app, [*command, "--json", str(target)])

    assert done.exit_code == 0, done.output
    assert "recall@10" in done.output
    figures = json.loads(target.read_text(encoding="utf-8"))
    assert set(figures["methods"]) == set(METHODS)
    for method in METHODS:
        entry = figures["methods"][method]
        assert entry["overall"].keys() == FIGURE_KEYS | {"n"}
        assert entry["overall"]["n"] == 3  # categories 1-4 only
        assert set(entry["by_category"]) == {"1", "2", "4", "5"}
        assert entry["by_category"]["5"]["n"] == 1
        assert entry["by_category"]["4"].keys() == FIGURE_KEYS | {"n"}
        assert entry["latency_ms"].keys() == {"p50", "p95"}
        assert all(0.0 <= entry["overall"][key] <= 1.0 for key in FIGURE_KEYS)
    assert figures["ingest_msgs_per_s"] > 0
    assert figures["overall_categories"] == list(HEADLINE)
    dropped = figures["dropped"]
    assert dropped["evidence_dropped"] == 2
    assert dropped["questions_skipped"] == 2
    assert dropped["dates_without_session"] == 1
    # The single-hop question names the puppy as the turn says it: BM25 must find it first.
    assert figures["methods"]["bm25"]["by_category"]["4"]["recall@1"] == 1.0


def test_memory_scale_runs_small() -> None:
    result = measure_memory_scale(300, embedder=load_embedder("hashing"), queries=5)

    figures = result.as_json()
    assert figures["items"] == 300
    assert figures["queries"] == 5
    assert figures["db_bytes"] > 0
    assert figures["peak_rss_bytes"] > 0
    assert figures["recall_ms"].keys() == {"p50", "p95", "max", "first"}


def test_embed_measures_two_embedders_on_the_same_turns(locomo_file: Path) -> None:
    from psi.benchmarks.embed import measure_embed
    from psi.embed.hashing import HashingEmbedder

    samples, _ = load_locomo(locomo_file)
    steps: list[int] = []

    result = measure_embed(
        samples,
        [("a", HashingEmbedder()), ("b", HashingEmbedder(dim=384, batch_size=2))],
        queries=3,
        on_step=steps.append,
    )

    figures = result.as_json()
    turns = sum(len(sample.turns) for sample in samples)
    assert (result.turns, result.queries) == (turns, 3)
    assert result.first.turns == result.second.turns == turns
    assert len(result.first.query_ms) == len(result.second.query_ms) == 3
    assert sum(steps) == turns + 3
    # The same vectors on both sides: they agree exactly.
    assert result.cosine_min == pytest.approx(1.0, abs=1e-5)
    assert figures["a"]["turns_per_s"] > 0 and figures["ratio"] > 0
    assert figures["b"]["query_ms"].keys() == {"p50", "p95"}


def test_memory_runs_on_postgresql_and_finds_the_same_evidence(
    locomo_file: Path, postgres_server: Any, postgres_url: str
) -> None:
    """`psi bench memory --postgres`: psi's memory on PostgreSQL + pgvector finds the same
    evidence within ten in this small sample as on SQLite (the order may differ: keyword
    scores are ts_rank_cd there, BM25 here), and leaves no database behind."""
    samples, defects = load_locomo(locomo_file)
    embedder = load_embedder("hashing")
    on_sqlite = measure_memory(samples, embedder=embedder, defects=defects)
    on_postgres = measure_memory(
        samples, embedder=embedder, defects=defects, server=postgres_server.admin_url
    )
    assert [a.scores["psi"]["recall@10"] for a in on_postgres.answered] == [
        a.scores["psi"]["recall@10"] for a in on_sqlite.answered
    ]
    engine = create_engine(postgres_server.admin_url)
    with engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
    engine.dispose()
    assert not [n for n in names if n.startswith("psi_bench_")]
