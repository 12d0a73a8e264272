"""Train the embedded guard's weights (psi.safety.embedded) from the safety JSONL files.

    python bench/train_safety.py --data ../shared/data/safety \
        --data bench/data/safety-everyday.jsonl --data bench/data/safety-plain.jsonl \
        --data bench/data/safety-names.jsonl

Reads every --data file and every *.jsonl in a --data folder (the unified schema of
`psi bench safety`), keeps the rows psi.safety.split leaves for training, fits three
logistic regressions on hashed word and character n-grams, and writes
src/psi/safety/embedded_guard.npz (int8 weights) and embedded_guard.json (sha256, this
command, row counts, thresholds). The data stays where it is: only weights enter the
repository.

Heads and their rows:
- unsafe: label unsafe (positive) against safe; BIPIA contexts count as safe.
- injection: label injection against benign, plus XSTest, MITRE false-refusal prompts,
  psi's everyday requests and plain questions, and JailbreakBench model answers as
  benign (none of them tells psi what to do); benign texts whole and line by line,
  attacked BIPIA contexts by their inserted lines only (see injection_units), as the
  guard takes the best line.
- S-code: unsafe rows whose `category` is an MLCommons code (psi's hand-written rows) or
  maps to one (CATEGORY_TO_CODE).

Thresholds come from out-of-fold scores on the training rows only (a document scores its
best line): the lowest cut-off whose false-positive rate there is at most THRESHOLD_FPR.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

from psi.safety import embedded
from psi.safety.rules import rule_score
from psi.safety.split import group_key, held_out
from psi.safety.types import HAZARDS

OUT = Path(__file__).resolve().parent.parent / "src" / "psi" / "safety"

# JailbreakBench and XSTest categories to the nearest MLCommons hazard (S1-S14).
CATEGORY_TO_CODE = {
    "Harassment/Discrimination": "S10",
    "Government decision-making": "S2",
    "Sexual/Adult content": "S12",
    "Fraud/Deception": "S2",
    "Malware/Hacking": "S2",
    "Economic harm": "S2",
    "Privacy": "S7",
    "Physical harm": "S1",
    "Disinformation": "S5",
    "Expert advice": "S6",
    "contrast_discr": "S10",
    "contrast_privacy": "S7",
}
# Sources of requests a user types, none of them an instruction hidden in data.
USER_REQUESTS = ("xstest", "cyberseceval-frr", "psi-everyday", "psi-plain", "psi-names")
# psi's plain questions are a few hundred among thousands of JailbreakBench rows, yet read
# more like what users type; each counts as this many rows in the hazard and S-code heads.
PLAIN_WEIGHT = 4.0
THRESHOLD_FPR = {"unsafe": 0.02, "injection": 0.015}
C = 8.0


def code_of(row: dict[str, str]) -> str | None:
    """The row's S-code: its category when that is one, else CATEGORY_TO_CODE's."""
    category = row.get("category", "")
    return category if category in HAZARDS else CATEGORY_TO_CODE.get(category)


def plain_weights(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([PLAIN_WEIGHT if r["source"] == "psi-plain" else 1.0 for r in rows])


def load_rows(paths: list[Path]) -> list[dict[str, str]]:
    """Rows of every JSONL file named, or found in a folder named."""
    files = [f for p in paths for f in (sorted(p.glob("*.jsonl")) if p.is_dir() else [p])]
    rows = []
    for path in files:
        with path.open(encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def threshold(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    """The lowest cut-off with at most `fpr` of the negatives at or above it."""
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(fpr * len(negatives)))
    return float(min(0.99, negatives[allowed] + 1e-6)) if len(negatives) > allowed else 0.5


def fit(
    texts: list[str],
    labels: np.ndarray,
    groups: list[str],
    docs: list[str],
    name: str,
    floor: dict[str, float] | None = None,
    weights: np.ndarray | None = None,
) -> tuple[LogisticRegression, float]:
    """One head, and its threshold: out-of-fold scores, folds by group so a clean context is
    never scored by a model that saw it attacked; a document scores its best unit, or its
    `floor` (what the rules give it) where that is higher."""
    x = embedded.vectorize(texts)
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    cv = GroupKFold(n_splits=5)
    params = None if weights is None else {"sample_weight": weights}
    oof = cross_val_predict(
        clf, x, labels, groups=groups, cv=cv, method="predict_proba", params=params
    )[:, 1]
    best: dict[str, tuple[float, int]] = {}
    for doc, score, label in zip(docs, oof, labels, strict=True):
        old = best.get(doc, ((floor or {}).get(doc, 0.0), 0))
        best[doc] = (max(old[0], float(score)), max(old[1], int(label)))
    doc_scores = np.array([v[0] for v in best.values()])
    doc_labels = np.array([v[1] for v in best.values()])
    cut = threshold(doc_scores, doc_labels, THRESHOLD_FPR[name])
    clf.fit(x, labels, sample_weight=weights)
    return clf, cut


def injection_units(rows: list[dict[str, str]]) -> list[tuple[str, int, str, str]]:
    """(text, label, group, document id) for the injection head. Benign texts count whole
    and by line and sentence (psi.safety.embedded.segments), as the guard scores them; an
    attacked BIPIA context gives only the lines its clean version lacks (the attack)."""
    clean = {group_key(r["id"]): r["text"] for r in rows if r["id"].endswith("-clean")}
    # A line any benign text has (a code fence, "import os") is no attack wherever it is.
    ordinary = {t for r in rows if r["label"] != "injection" for t in embedded.segments(r["text"])}
    units = []
    for r in rows:
        group = group_key(r["id"])
        if r["label"] != "injection":
            texts = [r["text"], *embedded.segments(r["text"])]
            units += [(t, 0, group, r["id"]) for t in dict.fromkeys(texts)]
        elif group in clean:
            attack = [
                t
                for t in embedded.segments(r["text"])
                if t not in clean[group] and t not in ordinary
            ]
            units += [(t, 1, group, r["id"]) for t in attack]
        else:
            units.append((r["text"], 1, group, r["id"]))
    return units


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, action="append", required=True, help="a JSONL file or a folder of them"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = [r for r in load_rows(args.data) if not held_out(r["id"])]

    hazard = [
        r for r in rows if r["label"] in ("unsafe", "safe") or r["source"].startswith("bipia")
    ]
    inj = [
        r
        for r in rows
        if r["label"] in ("injection", "benign")
        or r["source"] in USER_REQUESTS
        or (r["source"].startswith("jbb") and r["channel"] == "model")
    ]
    unsafe_clf, unsafe_cut = fit(
        [r["text"] for r in hazard],
        np.array([r["label"] == "unsafe" for r in hazard], int),
        [group_key(r["id"]) for r in hazard],
        [r["id"] for r in hazard],
        "unsafe",
        weights=plain_weights(hazard),
    )
    units = injection_units(inj)
    inj_clf, inj_cut = fit(
        [u[0] for u in units],
        np.array([u[1] for u in units], int),
        [u[2] for u in units],
        [u[3] for u in units],
        "injection",
        floor={r["id"]: rule_score(r["text"]) for r in inj},
    )
    coded = [r for r in rows if r["label"] == "unsafe" and code_of(r) is not None]
    code_clf = LogisticRegression(C=C, max_iter=2000)
    code_clf.fit(
        embedded.vectorize([r["text"] for r in coded]),
        [code_of(r) for r in coded],
        sample_weight=plain_weights(coded),
    )
    codes = [str(c) for c in code_clf.classes_]

    weights = np.vstack([unsafe_clf.coef_, inj_clf.coef_, code_clf.coef_])
    bias = np.concatenate([unsafe_clf.intercept_, inj_clf.intercept_, code_clf.intercept_])
    q, scale = embedded.quantize(weights)
    meta = {"codes": codes, "thresholds": {"unsafe": unsafe_cut, "injection": inj_cut}}
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        weights=q,
        scale=scale,
        bias=bias.astype(np.float32),
        meta=np.array(json.dumps(meta)),
    )
    raw = buffer.getvalue()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / embedded.ARTIFACT).write_bytes(raw)
    manifest = {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        "command": "python bench/train_safety.py --data ../shared/data/safety "
        "--data bench/data/safety-everyday.jsonl --data bench/data/safety-plain.jsonl "
        "--data bench/data/safety-names.jsonl",
        "argv": shlex.join(sys.argv[1:] if argv is None else argv),
        "files": sorted(
            p.name for d in args.data for p in ([d] if d.is_file() else d.glob("*.jsonl"))
        ),
        "split": "psi.safety.split.held_out(id) false (about 70% of id groups)",
        "rows": {"unsafe": len(hazard), "injection": len(inj), "codes": len(coded)},
        "injection_units": len(units),
        "features": {
            k: {**v, "ngram_range": list(v["ngram_range"])} for k, v in embedded.FEATURES.items()
        },
        "C": C,
        "plain_weight": PLAIN_WEIGHT,
        **meta,
    }
    (args.out / embedded.MANIFEST).write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    print(
        f"wrote {args.out / embedded.ARTIFACT}: {len(raw):,} bytes, thresholds {meta['thresholds']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
