"""The `onnx` embedder: the packaged all-MiniLM-L6-v2 on onnxruntime, with no torch at run time.

The graph is psi's own export of the sha256-verified weights, made on first
use by psi.embed.onnx_export (which needs torch, once) and cached as

    $PSI_HOME/models/minilm-l6-v2-<weights sha256[:12]>.onnx   the graph
    $PSI_HOME/models/minilm-l6-v2-<weights sha256[:12]>.json   its sidecar
    $PSI_HOME/models/minilm-l6-v2-int8-<...>.onnx and .json    with embedder.int8

Every load checks the package's weights against the official sha256 (as the
sentence-transformers backend does) and the graph against the sha256 in its
sidecar; a graph that is missing, changed or from an older export format is
exported again, under a file lock so two processes never race. The export is
refused unless the graph reproduces sentence-transformers' vectors.

Encoding matches sentence-transformers step by step: the model folder's own
tokenizer.json through `tokenizers`, truncated at the model's max_seq_length
(256 tokens) with [CLS]/[SEP], texts sorted by token count so each batch
pads little (batches of 16 unless embedder.batch_size says otherwise), mean
pooling over the attention mask inside the graph, then L2-normalised float32
rows of 384. The vectors agree with sentence-transformers'
to a cosine of at least 0.9999 on every probe text (the sidecar records the
lowest), which is why they share its name, `minilm-l6-v2`: stored vectors
stay valid when the backend changes either way, and no reindex is needed.
onnxruntime runs on every available core.

`embedder.int8 = true` runs an int8 graph instead, quantised by psi from its
own verified export (onnxruntime's dynamic quantisation of the MatMul weights,
per channel), about 1.7 times as fast here. Its vectors are close (cosine
0.98 or more with fp32's on LoCoMo turns, above 0.95 on any probe text; recall
unchanged) but not the same,
so they are named `minilm-l6-v2-int8`, and switching re-embeds the memory.

Left out: other models (the sentence-transformers backend serves them), GPUs,
and static (calibrated) quantisation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from psi.config import Settings
from psi.embed.base import Embedder, Vectors, normalise
from psi.embed.sentence import (
    MINILM_NAME,
    MINILM_SHA256,
    WEIGHTS_FILE,
    file_sha256,
    packaged_model_dir,
    verify_weights,
)
from psi.errors import ConfigError, ModelNotFound

if TYPE_CHECKING:
    from tokenizers import Encoding

CACHE_FOLDER = "models"
# Measured on LoCoMo turns on 2 cores (BENCHMARKS.md): smaller batches were as fast or
# faster, 16 a little ahead of 32 and well ahead of 64 and 128 (cache, not padding).
DEFAULT_BATCH_SIZE = 16
# Bumped whenever the exported graph changes shape or meaning: older graphs are exported again.
GRAPH_FORMAT = 1


class OnnxEmbedder(Embedder):
    backend = "onnx"
    is_local = True

    def __init__(
        self,
        graph: Path,
        tokenizer_folder: Path,
        *,
        name: str,
        max_tokens: int,
        dim: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        from psi import cores

        tokenizer = Tokenizer.from_file(str(tokenizer_folder / "tokenizer.json"))
        # The file pads and truncates at 128; sentence-transformers truncates at the
        # model's max_seq_length and pads each batch to its longest text, as _run does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer = tokenizer
        # Loaded and started unpinned (psi.cores): its thread pool is to use every core.
        with cores.unpinned():
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or cores.available()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        self._output = self._session.get_outputs()[0].name
        native = int(self._session.get_outputs()[0].shape[-1])
        if dim is not None and dim > native:
            raise ConfigError(
                f"embedder.dim is {dim}, but this model's vectors have {native} dimensions.",
                hint=f"Set embedder.dim to {native} or less, or unset it.",
            )
        self.dim = native if dim is None else dim
        # Fewer dimensions are the first `dim` of the pooled vector, renormalised: what
        # sentence-transformers' truncate_dim gives, under the same name.
        self.name = name if self.dim == native else f"{name}@{self.dim}"
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # onnxruntime's run() and the tokenizer (never reconfigured after this) are
        # safe to share; the lock only keeps two batches from fighting for the cores.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        config = settings.embedder
        if config.model is not None:
            raise ConfigError(
                "The onnx embedder runs only the packaged all-MiniLM-L6-v2, "
                f"not embedder.model = {config.model!r}.",
                hint="Use `psi config set embedder.backend sentence-transformers` for another "
                "model, or `psi config unset embedder.model` for MiniLM.",
            )
        folder = packaged_model_dir()
        verify_weights(folder / WEIGHTS_FILE, MINILM_SHA256)
        graph, sidecar = exported_graph(folder, settings.home / CACHE_FOLDER, int8=config.int8)
        return cls(
            graph,
            folder,
            name=vectors_name(int8=config.int8),
            max_tokens=int(sidecar["max_seq_length"]),
            dim=config.dim,
            batch_size=(
                config.batch_size if "batch_size" in config.model_fields_set else DEFAULT_BATCH_SIZE
            ),
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        """As Embedder.embed, but batched by token count over the whole call, not in order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts; use embed_query() for one")
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(encoding.ids) for encoding in encodings], dtype=np.int64)
        # Longest first, as sentence-transformers does: similar lengths share a batch.
        order = np.argsort(-lengths, kind="stable")
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            batch = [encodings[index] for index in chosen]
            rows[chosen] = self._checked(self._run(batch), len(batch))
        return normalise(rows)

    def _embed_batch(self, texts: list[str]) -> Vectors:
        return self._run(self._tokenizer.encode_batch(texts))

    def _run(self, encodings: list[Encoding]) -> Vectors:
        """Unnormalised mean-pooled vectors for one batch, padded to its longest text."""
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        # One segment: BERT's token type ids are all zero, padding included.
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            (pooled,) = self._session.run([self._output], feeds)
        vectors: Vectors = np.asarray(pooled[:, : self.dim], dtype=np.float32)
        return vectors


# -- the cached graph ----------------------------------------------------------------


def vectors_name(*, int8: bool) -> str:
    """The name of the vectors: sentence-transformers' own for fp32, another for int8."""
    return f"{MINILM_NAME}-int8" if int8 else MINILM_NAME


def graph_path(cache: Path, *, int8: bool = False) -> Path:
    """Where the graph of the packaged MiniLM lives in `cache`: named by its weights."""
    return cache / f"{vectors_name(int8=int8)}-{MINILM_SHA256[:12]}.onnx"


def sidecar_path(graph: Path) -> Path:
    return graph.with_suffix(".json")


def exported_graph(folder: Path, cache: Path, *, int8: bool = False) -> tuple[Path, dict[str, Any]]:
    """The verified graph of the MiniLM in `folder` and its sidecar, exported if need be
    (the int8 graph is quantised from the fp32 one, which is exported first)."""
    graph = graph_path(cache, int8=int8)
    sidecar = cached_sidecar(graph)
    if sidecar is not None:
        return graph, sidecar
    source = exported_graph(folder, cache)[0] if int8 else None
    from filelock import FileLock

    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(graph.with_suffix(".lock")):
        # Another process may have exported it while this one waited for the lock.
        sidecar = cached_sidecar(graph)
        if sidecar is None:
            sidecar = _export(folder, graph, int8_from=source)
    return graph, sidecar


def cached_sidecar(graph: Path) -> dict[str, Any] | None:
    """The sidecar of `graph` if the graph is there, of this format, from the official
    weights, and hashes to what the sidecar says; otherwise None (export it again)."""
    try:
        sidecar: dict[str, Any] = json.loads(sidecar_path(graph).read_text(encoding="utf-8"))
        if (
            sidecar.get("format") != GRAPH_FORMAT
            or sidecar.get("weights_sha256") != MINILM_SHA256
            or not isinstance(sidecar.get("max_seq_length"), int)
        ):
            return None
        return sidecar if file_sha256(graph) == sidecar.get("onnx_sha256") else None
    except (OSError, ValueError):
        return None


def _export(folder: Path, graph: Path, *, int8_from: Path | None = None) -> dict[str, Any]:
    try:
        from psi.embed.onnx_export import export_verified

        name = vectors_name(int8=int8_from is not None)
        return export_verified(folder, graph, name=name, int8_from=int8_from)
    except ImportError as exc:
        raise ModelNotFound(
            f"psi has no ONNX graph of {MINILM_NAME} yet, and cannot export one: "
            f"{exc.name or exc} is not installed.",
            hint="Reinstall psi with its dependencies (`make install`), or use torch: "
            "`psi config set embedder.backend sentence-transformers`.",
        ) from None
