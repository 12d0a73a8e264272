"""`psi bench pii` on a tiny presidio-research file: both methods scored, JSON written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from psi.cli.main import app

FIGURES = {"recall", "precision", "leak_rate", "n"}


def _record(text: str, *spans: tuple[str, str]) -> dict[str, object]:
    out = []
    for entity_type, value in spans:
        start = text.index(value)
        out.append(
            {
                "entity_type": entity_type,
                "entity_value": value,
                "start_position": start,
                "end_position": start + len(value),
            }
        )
    return {"full_text": text, "spans": out}


def test_bench_pii_writes_figures_for_psi_and_the_baseline(tmp_path: Path) -> None:
    data = tmp_path / "pii.json"
    data.write_text(
        json.dumps(
            [
                _record(
                    "Hi, I'm Catherine Holloway, mail me at cath@example.org.",
                    ("PERSON", "Catherine Holloway"),
                    ("EMAIL_ADDRESS", "cath@example.org"),
                ),
                _record("Ship it to 216 Menzies Street.", ("STREET_ADDRESS", "216 Menzies Street")),
                _record("Nothing personal in here."),
            ]
        ),
        encoding="utf-8",
    )
    target = tmp_path / "out.json"

    done = CliRunner().invoke(app, ["bench", "pii", "--data", str(data), "--json", str(target)])

    assert done.exit_code == 0, done.output
    methods = json.loads(target.read_text(encoding="utf-8"))["methods"]
    assert set(methods) == {"psi", "presidio-blank"}
    for figures in methods.values():
        assert set(figures["overall"]) == FIGURES
        assert figures["overall"]["n"] == 3
        assert all(set(row) == FIGURES for row in figures["by_entity"].values())
        assert set(figures["latency_ms_per_1k_chars"]) == {"p50", "p95"}
    psi = methods["psi"]["by_entity"]
    assert psi["PERSON"]["leak_rate"] == 0.0 and psi["STREET_ADDRESS"]["leak_rate"] == 0.0
    assert methods["presidio-blank"]["by_entity"]["PERSON"]["leak_rate"] == 1.0
    assert "EMAIL_ADDRESS" in done.output


def test_bench_pii_refuses_a_file_that_is_not_a_list(tmp_path: Path) -> None:
    data = tmp_path / "pii.json"
    data.write_text('{"full_text": "x"}', encoding="utf-8")

    done = CliRunner().invoke(app, ["bench", "pii", "--data", str(data)])

    assert done.exit_code == 2
    assert "not a JSON list" in done.output
