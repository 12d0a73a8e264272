"""Exporting the packaged all-MiniLM-L6-v2 to ONNX, once, and proving the graph is the model.

`export_verified(folder, path)` loads the sha256-verified weights with
sentence-transformers (torch), exports BERT plus mean pooling as one graph
with torch's dynamo exporter (which needs onnxscript), and then runs the
graph through psi's own onnx embedder, tokenizer included, on PROBES: short
and long texts (past the 256-token limit, so truncation is compared too),
other languages and scripts, an empty one. Every probe's vector must have a
cosine of at least MIN_COSINE with sentence-transformers' normalised vector,
or the export is refused (BadModelOutput) and nothing is left in the cache.

A graph that passes is written atomically: the graph and a sidecar JSON go
to temporary names in the cache folder first and are renamed into place, the
graph first; the sidecar holds the graph's own sha256, the source weights'
sha256, the token limit, the agreement measured and the versions used, so a
graph changed after export, or a half-finished export, is seen at load
(psi.embed.onnx) and exported again. Callers hold a file lock around this, so
two processes never export into the same place at once.

With `int8_from`, the graph is instead psi's verified fp32 graph after
onnxruntime's dynamic int8 quantisation, verified the same way against a
lower bar (MIN_COSINE_INT8): it is another set of vectors, with its own name.

This module is the only part of the onnx backend that imports torch, and
only when an export is needed.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from psi.embed.onnx import GRAPH_FORMAT, OnnxEmbedder, sidecar_path
from psi.embed.sentence import (
    MINILM_SHA256,
    WEIGHTS_FILE,
    file_sha256,
    load_model,
    verify_weights,
)
from psi.errors import BadModelOutput

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "mean_pooled"
OPSET = 18
MIN_COSINE = 0.9999
# The int8 graph's vectors are not the same ones (hence their own name): on LoCoMo turns
# they kept a cosine of 0.98 or more with fp32's, and recall did not drop (BENCHMARKS.md);
# a text of one short word can fall to about 0.967.
MIN_COSINE_INT8 = 0.95
QUANTIZATION = "onnxruntime dynamic int8, MatMul weights per channel"

_LONG = (
    "Memory that lasts is built from small habits: writing down what happened, "
    "reading it again a week later, and noticing which plans held and which did not. "
) * 12
PROBES = (
    "Hi!",
    "What did I say about Rome last summer?",
    "7 May 2023: Caroline: I went to the LGBTQ support group yesterday and it was so powerful.",
    _LONG,
    "Ich habe am Dienstag einen Termin beim Zahnarzt und muss vorher noch einkaufen.",
    "Je voudrais réserver une table pour deux personnes ce soir, s'il vous plaît.",
    "今天天气很好，我们去公园散步吧。",
    "Мы встретимся в кафе после работы в пятницу.",
    "naïve café résumé — emoji 🎉🚀 and numbers 3.14159, 2024-05-07",
    "",
)
PACKAGES = (
    "torch",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "transformers",
    "sentence-transformers",
    "tokenizers",
)


def export_verified(
    folder: Path, graph: Path, *, name: str, int8_from: Path | None = None
) -> dict[str, Any]:
    """Export the MiniLM in `folder` to `graph`, verified against sentence-transformers;
    returns the sidecar written beside it. BadModelOutput, and no file, if they disagree.

    With `int8_from` (psi's verified fp32 graph) the graph is that one with dynamic
    int8 quantisation instead, held to MIN_COSINE_INT8."""
    weights = folder / WEIGHTS_FILE
    verify_weights(weights, MINILM_SHA256)
    model = load_model(folder)
    max_tokens = int(model.max_seq_length)
    graph.parent.mkdir(parents=True, exist_ok=True)
    temp_graph = graph.with_name(f".{graph.name}.{os.getpid()}.tmp")
    temp_sidecar = graph.with_name(f".{sidecar_path(graph).name}.{os.getpid()}.tmp")
    bar = MIN_COSINE if int8_from is None else MIN_COSINE_INT8
    try:
        if int8_from is None:
            _export(model, temp_graph)
        else:
            _quantize(int8_from, temp_graph)
        cosines = _agreement(model, temp_graph, folder, max_tokens=max_tokens, name=name)
        worst = float(cosines.min())
        if worst < bar:
            raise BadModelOutput(
                f"The ONNX export of {name} does not reproduce sentence-transformers' "
                f"vectors (lowest cosine {worst:.6f} over {len(PROBES)} probe texts, "
                f"psi needs {bar}), so psi will not use it.",
                hint="Use torch instead: `psi config set embedder.backend sentence-transformers`.",
            )
        sidecar = {
            "format": GRAPH_FORMAT,
            "model": name,
            "onnx_sha256": file_sha256(temp_graph),
            "weights_sha256": MINILM_SHA256,
            "max_seq_length": max_tokens,
            "output": OUTPUT_NAME,
            "quantized": None if int8_from is None else QUANTIZATION,
            "probes": len(PROBES),
            "min_cosine": worst,
            "versions": _versions(),
        }
        temp_sidecar.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        # The graph first: a crash between the two renames leaves a sidecar that does
        # not match the graph, which the next load sees and exports again.
        os.replace(temp_graph, graph)
        os.replace(temp_sidecar, sidecar_path(graph))
        return sidecar
    finally:
        temp_graph.unlink(missing_ok=True)
        temp_sidecar.unlink(missing_ok=True)


def _quantize(source: Path, path: Path) -> None:
    """`source` with its MatMul weights in int8, one scale per output channel; activations
    are quantised at run time (VNNI does the int8 products). Per-tensor scales, or
    quantising the embedding tables too, lost far more (cosine 0.90 with fp32, not 0.98)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            source,
            path,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
        )


def _export(model: Any, path: Path) -> None:
    """BERT and mean pooling as one graph: token ids in, (batch, 384) unnormalised out."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            # sentence-transformers' mean pooling: padding neither counts nor divides.
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed: torch.Tensor = (hidden * mask).sum(dim=1)
            return summed / mask.sum(dim=1).clamp(min=1e-9)

    wrapper = MeanPooled(model[0].auto_model).eval()
    # Two rows of eight tokens: neither axis is 1, so neither gets specialised away.
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in INPUT_NAMES)
    batch = torch.export.Dim("batch")
    tokens = torch.export.Dim("tokens", max=int(model[0].auto_model.config.max_position_embeddings))
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=tuple({0: batch, 1: tokens} for _ in INPUT_NAMES),
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's warnings (deprecations inside torch, torchvision's missing
    operators, which BERT does not use) silenced: psi's output is its own."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    # The quantiser logs advice through logging.warning(), which would also give the
    # root logger a handler for good if it has none: a silent one, for the while.
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.ERROR)
    silent = logging.NullHandler()
    root.addHandler(silent)
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        registration.setLevel(level)
        root.removeHandler(silent)
        root.setLevel(root_level)


def _agreement(
    model: Any, graph: Path, folder: Path, *, max_tokens: int, name: str
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Per probe, the cosine between sentence-transformers' vector and the graph's."""
    expected = np.asarray(
        model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True),
        dtype=np.float32,
    )
    # Batches of three put texts of different lengths together, so padding is tested too.
    embedder = OnnxEmbedder(graph, folder, name=name, max_tokens=max_tokens, batch_size=3)
    got = embedder.embed(PROBES)
    cosines: np.ndarray[Any, np.dtype[np.float32]] = np.sum(expected * got, axis=1)
    return cosines


def _versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
