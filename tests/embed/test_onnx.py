"""The onnx embedder: psi's own export of the packaged MiniLM, its cache and sidecar,
and vectors that are sentence-transformers' own. The export runs once per session
(the `onnx_cache` fixture); tests that need another one fake the slow parts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from psi import config as config_module
from psi.config import EmbedderSettings, Settings
from psi.embed import get_embedder, onnx_export
from psi.embed import onnx as onnx_module
from psi.embed.onnx import (
    DEFAULT_BATCH_SIZE,
    GRAPH_FORMAT,
    OnnxEmbedder,
    cached_sidecar,
    exported_graph,
    graph_path,
    sidecar_path,
)
from psi.embed.sentence import (
    MINILM_NAME,
    MINILM_SHA256,
    SentenceEmbedder,
    file_sha256,
    packaged_model_dir,
)
from psi.errors import BadModelOutput, ConfigError

pytestmark = pytest.mark.slow

LONG = " ".join(f"word{i} and a few more words after it" for i in range(80))
SAMPLES = [
    "How do I reset my password?",
    "7 May 2023: Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    LONG,
    "Wir treffen uns morgen um acht Uhr am Bahnhof.",
    "東京で一番おいしいラーメン屋はどこですか？",
    "ok",
    "",
]


@pytest.fixture(scope="module")
def onnx_minilm(onnx_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(
        graph_path(onnx_cache), packaged_model_dir(), name=MINILM_NAME, max_tokens=256
    )


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_vectors_are_sentence_transformers_own(
    onnx_minilm: OnnxEmbedder, sentence_minilm: SentenceEmbedder
) -> None:
    expected = sentence_minilm.embed(SAMPLES)
    got = onnx_minilm.embed(SAMPLES)
    assert got.dtype == np.float32
    assert got.shape == (len(SAMPLES), 384)
    assert np.all(np.sum(expected * got, axis=1) >= 0.9999)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    # Same vectors, same name: switching backends needs no reindex.
    assert (onnx_minilm.name, onnx_minilm.dim) == (sentence_minilm.name, sentence_minilm.dim)
    query = onnx_minilm.embed_query(SAMPLES[0])
    assert float(query @ sentence_minilm.embed_query(SAMPLES[0])) >= 0.9999


def test_tokens_are_sentence_transformers_own(
    onnx_minilm: OnnxEmbedder, sentence_minilm: SentenceEmbedder
) -> None:
    theirs = sentence_minilm._model.tokenize(SAMPLES)
    for row, text in enumerate(SAMPLES):
        ids = onnx_minilm._tokenizer.encode(text).ids
        width = int(theirs["attention_mask"][row].sum())
        assert ids == theirs["input_ids"][row][:width].tolist()
    assert len(onnx_minilm._tokenizer.encode(LONG).ids) == 256


def test_order_batches_and_threads_do_not_change_the_vectors(onnx_minilm: OnnxEmbedder) -> None:
    texts = [f"{i}: {SAMPLES[i % len(SAMPLES)]}" for i in range(9)]
    whole = onnx_minilm.embed(texts)
    one_by_one = np.vstack([onnx_minilm.embed([text]) for text in texts])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    with ThreadPoolExecutor(max_workers=3) as pool:
        parts = list(pool.map(lambda i: onnx_minilm.embed(texts[i : i + 3]), range(0, 9, 3)))
    np.testing.assert_allclose(np.vstack(parts), whole, atol=1e-5)
    assert onnx_minilm.embed([]).shape == (0, 384)


def test_dim_keeps_the_first_dimensions_and_renames(onnx_cache: Path) -> None:
    short = OnnxEmbedder(
        graph_path(onnx_cache), packaged_model_dir(), name=MINILM_NAME, max_tokens=256, dim=64
    )
    full = OnnxEmbedder(
        graph_path(onnx_cache), packaged_model_dir(), name=MINILM_NAME, max_tokens=256
    )
    assert (short.name, short.dim) == ("minilm-l6-v2@64", 64)
    head = full.embed(SAMPLES[:2])[:, :64]
    np.testing.assert_allclose(
        short.embed(SAMPLES[:2]), head / np.linalg.norm(head, axis=1, keepdims=True), atol=1e-5
    )
    with pytest.raises(ConfigError, match="384 dimensions"):
        OnnxEmbedder(
            graph_path(onnx_cache), packaged_model_dir(), name=MINILM_NAME, max_tokens=256, dim=385
        )


def test_the_sidecar_vouches_for_the_graph(onnx_cache: Path) -> None:
    graph = graph_path(onnx_cache)
    assert graph.name == f"minilm-l6-v2-{MINILM_SHA256[:12]}.onnx"
    sidecar = json.loads(sidecar_path(graph).read_text())
    assert sidecar["onnx_sha256"] == file_sha256(graph)
    assert sidecar["weights_sha256"] == MINILM_SHA256
    assert (sidecar["format"], sidecar["max_seq_length"]) == (GRAPH_FORMAT, 256)
    assert sidecar["min_cosine"] >= onnx_export.MIN_COSINE
    assert {"torch", "onnxruntime", "onnxscript"} <= set(sidecar["versions"])
    # Nothing but the graph, its sidecar and the lock is left behind.
    assert files_in(onnx_cache) == sorted(
        [graph.name, sidecar_path(graph).name, graph.with_suffix(".lock").name]
    )


def fake_export(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Exports replaced by a copy of the session's verified graph; the paths asked for."""
    asked: list[Path] = []

    def export(folder: Path, graph: Path, *, int8_from: Path | None = None) -> dict[str, Any]:
        asked.append(graph)
        shutil.copy2(graph_path(onnx_cache), graph)
        shutil.copy2(sidecar_path(graph_path(onnx_cache)), sidecar_path(graph))
        sidecar: dict[str, Any] = json.loads(sidecar_path(graph).read_text())
        return sidecar

    monkeypatch.setattr(onnx_module, "_export", export)
    return asked


@pytest.mark.parametrize("damage", ["graph", "sidecar", "format", "missing sidecar"])
def test_a_changed_graph_is_seen_and_exported_again(
    damage: str, onnx_cache: Path, onnx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = onnx_home
    asked = fake_export(onnx_cache, monkeypatch)
    assert exported_graph(packaged_model_dir(), graph.parent)[0] == graph
    assert asked == []
    sidecar = sidecar_path(graph)
    if damage == "graph":
        with graph.open("r+b") as handle:
            handle.seek(graph.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0x01]))
    elif damage == "missing sidecar":
        sidecar.unlink()
    else:
        fields = json.loads(sidecar.read_text())
        fields["onnx_sha256" if damage == "sidecar" else "format"] = 0
        sidecar.write_text(json.dumps(fields))
    assert cached_sidecar(graph) is None
    assert exported_graph(packaged_model_dir(), graph.parent)[0] == graph
    assert asked == [graph]
    assert cached_sidecar(graph) is not None


def test_a_refused_export_leaves_nothing_in_the_cache(
    onnx_cache: Path,
    sentence_minilm: SentenceEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real verification, on the session's graph, held to a bar no graph can clear.
    monkeypatch.setattr(onnx_export, "load_model", lambda folder: sentence_minilm._model)
    monkeypatch.setattr(
        onnx_export, "_export", lambda model, path: shutil.copy2(graph_path(onnx_cache), path)
    )
    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.01)
    cache = tmp_path / "models"
    with pytest.raises(BadModelOutput, match="does not reproduce") as error:
        exported_graph(packaged_model_dir(), cache)
    assert error.value.hint is not None and "sentence-transformers" in error.value.hint
    assert files_in(cache) == [graph_path(cache).with_suffix(".lock").name]


# -- choosing the backend -------------------------------------------------------------


def test_the_default_backend_is_onnx_when_onnxruntime_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().embedder.backend == "onnx"
    # Another model, or a backend the user named, is left alone.
    assert EmbedderSettings(model="some/model").backend == "sentence-transformers"
    assert EmbedderSettings(backend="sentence-transformers").backend == "sentence-transformers"
    monkeypatch.setenv("PSI_EMBEDDER__BACKEND", "sentence-transformers")
    assert Settings().embedder.backend == "sentence-transformers"
    monkeypatch.delenv("PSI_EMBEDDER__BACKEND")
    monkeypatch.setattr(config_module, "onnx_runtime_found", lambda: False)
    assert Settings().embedder.backend == "sentence-transformers"


def test_config_toml_picks_the_backend(write_config: Any) -> None:
    write_config('[embedder]\nbackend = "sentence-transformers"\n')
    assert config_module.load_settings().embedder.backend == "sentence-transformers"
    write_config('[embedder]\nbackend = "onnx"\n')
    assert config_module.load_settings().embedder.backend == "onnx"


@pytest.mark.usefixtures("onnx_home")
def test_default_settings_build_the_onnx_embedder_from_the_cache() -> None:
    embedder = get_embedder(Settings())
    assert isinstance(embedder, OnnxEmbedder)
    assert (embedder.name, embedder.dim, embedder.max_tokens) == (MINILM_NAME, 384, 256)
    assert embedder.batch_size == DEFAULT_BATCH_SIZE
    assert get_embedder(Settings()) is embedder
    chosen = get_embedder(Settings(embedder=EmbedderSettings(batch_size=64)))
    assert isinstance(chosen, OnnxEmbedder) and chosen.batch_size == 64


def test_onnx_serves_only_the_packaged_model() -> None:
    with pytest.raises(ConfigError, match="only the packaged") as error:
        get_embedder(Settings(embedder=EmbedderSettings(backend="onnx", model="some/model")))
    assert error.value.hint is not None and "sentence-transformers" in error.value.hint


@pytest.mark.usefixtures("onnx_home")
def test_embedding_after_export_imports_no_torch() -> None:
    script = (
        "import sys\n"
        "from psi.config import Settings\n"
        "from psi.embed import get_embedder\n"
        "embedder = get_embedder(Settings())\n"
        "assert embedder.embed(['a test']).shape == (1, 384)\n"
        "print(type(embedder).__name__, sorted(m for m in ('torch', 'sentence_transformers', "
        "'transformers') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "OnnxEmbedder []"


def test_int8_is_quantised_from_the_verified_graph_under_its_own_name(
    onnx_home: Path,
    onnx_minilm: OnnxEmbedder,
    sentence_minilm: SentenceEmbedder,
    psi_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(onnx_export, "load_model", lambda folder: sentence_minilm._model)
    embedder = get_embedder(Settings(embedder=EmbedderSettings(int8=True)))
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name == "minilm-l6-v2-int8" != onnx_minilm.name
    graph = graph_path(onnx_home.parent, int8=True)
    sidecar = cached_sidecar(graph)
    assert sidecar is not None and sidecar["quantized"] == onnx_export.QUANTIZATION
    assert sidecar["min_cosine"] >= onnx_export.MIN_COSINE_INT8
    # The MatMul weights shrink to a quarter; the embedding tables stay float32.
    assert graph.stat().st_size < onnx_home.stat().st_size * 0.7
    cosines = np.sum(embedder.embed(SAMPLES) * onnx_minilm.embed(SAMPLES), axis=1)
    assert np.all(cosines >= onnx_export.MIN_COSINE_INT8)
