from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from psi.config import (
    Backend,
    config_path,
    load_settings,
    locate_key,
    set_config_value,
    set_config_values,
    settings_as_toml,
    settings_data,
    unset_config_value,
)
from psi.errors import ConfigError, InvalidSetting, MissingAPIKey, UnknownProfile


def test_defaults_give_the_embedded_local_profile(psi_home: Path) -> None:
    settings = load_settings()
    assert settings.home == psi_home
    assert settings.db_url == f"sqlite:///{psi_home / 'psi.db'}"
    local = settings.profile()
    assert local.name == "local"
    assert local.backend is Backend.llamacpp
    assert local.local and local.open_weight
    assert "SmolLM2-135M-Instruct" in local.model


def test_profiles_come_from_config_toml_and_env_overrides_file(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        """
default_model = "gpt"
[models.gpt]
backend = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
context_window = 128000
"""
    )
    settings = load_settings()
    assert settings.profile().model == "gpt-4o-mini"
    assert settings.profile().context_window == 128000
    assert set(settings.profiles()) == {"local", "gpt"}
    monkeypatch.setenv("PSI_DEFAULT_MODEL", "local")
    assert load_settings().profile().name == "local"


def test_toml_syntax_error_names_file_and_line(write_config: Callable[[str], Path]) -> None:
    path = write_config('default_model = "local"\noffline = yes please\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(path) in caught.value.message
    assert "line 2" in caught.value.message


def test_invalid_value_names_file_line_and_problem(write_config: Callable[[str], Path]) -> None:
    path = write_config(
        """# my models
[models.big]
backend = "openai"
model = "x"
context_window = "lots"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert f"{path}, line 5" in message
    assert "models.big.context_window" in message
    assert "integer" in message


def test_unknown_backend_and_unknown_key_are_reported(write_config: Callable[[str], Path]) -> None:
    write_config('colour = "blue"\n[models.x]\nbackend = "ollamaa"\nmodel = "m"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert "line 1: colour" in message
    assert "line 3: models.x.backend" in message


def test_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSI_MAX_MESSAGE_CHARS", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "environment variable PSI_MAX_MESSAGE_CHARS" in caught.value.message


def test_api_key_env_must_be_a_name_not_a_key(write_config: Callable[[str], Path]) -> None:
    write_config(
        '[models.gpt]\nbackend = "openai"\nmodel = "m"\napi_key_env = "sk-abc123-secret"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "NAME of an environment variable" in caught.value.message


def test_missing_api_key_names_the_variable(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config('[models.gpt]\nbackend = "openai"\nmodel = "m"\napi_key_env = "PSI_TEST_KEY"\n')
    monkeypatch.delenv("PSI_TEST_KEY", raising=False)
    profile = load_settings().profile("gpt")
    with pytest.raises(MissingAPIKey) as caught:
        profile.api_key()
    assert "$PSI_TEST_KEY" in caught.value.message
    monkeypatch.setenv("PSI_TEST_KEY", "k")
    assert profile.api_key() == "k"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfile) as caught:
        load_settings().profile("nope")
    assert "local" in caught.value.message


def test_set_keeps_comments_and_validates(write_config: Callable[[str], Path]) -> None:
    path = write_config("# keep me\noffline = false\n")
    with pytest.raises(ConfigError) as caught:
        set_config_value("models.gpt.backend", "openai")
    assert "models.gpt.model: Field required" in caught.value.message
    assert "[models" not in path.read_text()
    set_config_value("models.gpt", '{backend = "openai", model = "gpt-4o-mini"}')
    set_config_value("models.gpt.context_window", "128000")
    assert load_settings().profile("gpt").context_window == 128000
    set_config_value("default_model", "local")
    set_config_value("offline", "true")
    text = path.read_text()
    assert "# keep me" in text
    assert load_settings().offline is True
    unset_config_value("offline")
    assert load_settings().offline is False


def test_set_refuses_invalid_values_and_leaves_the_file(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config("offline = true\n")
    with pytest.raises(ConfigError) as caught:
        set_config_value("max_message_chars", "-5")
    assert "max_message_chars" in caught.value.message
    assert path.read_text() == "offline = true\n"
    with pytest.raises(ConfigError):
        set_config_value("no_such_setting", "1")
    assert path.read_text() == "offline = true\n"


def test_several_values_are_set_together_or_not_at_all(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config("# mine\noffline = true\n[goals]\nmax_per_day = 4\n")
    before = path.read_text()
    with pytest.raises(InvalidSetting) as caught:
        set_config_values({"timezone": "Europe/Berlin", "server.port": 0, "goals.nope": 1})
    assert {tuple(loc) for loc, _ in caught.value.problems} == {
        ("server", "port"),
        ("goals", "nope"),
    }
    assert path.read_text() == before
    with pytest.raises(InvalidSetting) as caught:
        set_config_values({"offline.deeper": 1})
    assert caught.value.problems == [(["offline"], "is a value, not a table")]
    set_config_values({"timezone": "Europe/Berlin", "goals.max_per_day": None, "server.port": 9})
    settings = load_settings()
    assert (settings.timezone, settings.goals.max_per_day, settings.server.port) == (
        "Europe/Berlin",
        6,
        9,
    )
    assert path.read_text().startswith("# mine")
    set_config_values({"no.such.table": None})  # removing what is not there: nothing to do


def test_shown_settings_mask_passwords_in_urls(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        '[goals]\nwebhook_url = "https://ntfy.example/t?token=abc123&x=1"\n'
        '[models.gpt]\nbackend = "openai"\nmodel = "m"\n'
        'base_url = "https://user:pa55word@llm.example/v1"\n'
    )
    monkeypatch.setenv("PSI_DATABASE_URL", "postgresql+psycopg://psi:hunter2@db/psi")
    data = settings_data(load_settings())
    assert data["database_url"] == "postgresql+psycopg://psi:********@db/psi"
    assert data["goals"]["webhook_url"] == "https://ntfy.example/t?token=********&x=1"
    assert data["models"]["gpt"]["base_url"] == "https://user:********@llm.example/v1"
    shown = settings_as_toml(load_settings())
    assert not any(secret in shown for secret in ("abc123", "pa55word", "hunter2"))
    assert (
        "sqlite:////"
        in settings_data(load_settings(database_url="sqlite:////x/p.db"))["database_url"]
    )


def test_show_lists_builtin_profiles_without_secrets(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-very-secret")
    write_config('[models.gpt]\nbackend = "openai"\nmodel = "m"\napi_key_env = "MY_KEY"\n')
    shown = settings_as_toml(load_settings())
    assert "[models.local]" in shown
    assert "MY_KEY" in shown
    assert "sk-very-secret" not in shown


def test_locate_key_follows_tables_and_dotted_keys() -> None:
    text = 'a = 1\n[models.x]\nbackend = "b"\n[models.y]\nmodel = "m"\nmodels.z.model = 1\n'
    assert locate_key(text, ["a"]) == 1
    assert locate_key(text, ["models", "x", "backend"]) == 3
    assert locate_key(text, ["models", "y", "backend"]) == 4
    assert config_path().name == "config.toml"


def test_profiles_carry_routing_facts_with_defaults() -> None:
    from psi.config import ModelProfile

    local = load_settings().profile("local")
    assert (local.tier, local.price_in, local.price_out, local.provider) == (1, 0.0, 0.0, None)
    priced = ModelProfile(
        backend="openai", model="m", provider="openai", tier=4, price_in=2.5, price_out=10
    )
    assert priced.tier == 4 and priced.price_out == 10.0
    assert priced.native_tools and not ModelProfile(backend="llamacpp", model="m").native_tools
    assert not ModelProfile(backend="openai", model="m", supports_tools=False).native_tools


@pytest.mark.parametrize("backend", list(Backend))
def test_backend_capabilities_match_the_backend_classes(backend: Backend) -> None:
    from psi.config import BACKEND_SCHEMA, BACKEND_TOOLS
    from psi.llm.registry import backend_class

    cls = backend_class(backend.value)
    assert (BACKEND_TOOLS[backend], BACKEND_SCHEMA[backend]) == (
        cls.supports_tools,
        cls.supports_schema,
    )


def test_routing_defaults_keep_everything_home() -> None:
    routing = load_settings().routing
    assert routing.privacy == "local-only"
    assert routing.monthly_budget_usd == 0
    assert routing.providers == [] and routing.tasks == {} and routing.default is None


def test_routing_reads_levels_tasks_and_rule_tables(write_config: Callable[[str], Path]) -> None:
    from psi.sensitivity import Level

    write_config(
        """
[models.big]
backend = "openai"
model = "m"
[routing]
privacy = "redact"
levels = {sensitive = "local-only", public = "allow"}
providers = ["openai"]
monthly_budget_usd = 5
default = "big"
tasks = {planning = "strongest", small_talk = "local", review = {use = "big", min_tier = 3}}
"""
    )
    routing = load_settings().routing
    assert routing.privacy_for(Level.sensitive) == "local-only"
    assert routing.privacy_for(Level.personal) == "redact"
    assert routing.privacy_for(Level.public) == "allow"
    assert routing.tasks["planning"].use == "strongest"
    assert (routing.tasks["review"].use, routing.tasks["review"].min_tier) == ("big", 3)


@pytest.mark.parametrize(
    ("text", "line", "key", "says"),
    [
        ('[routing]\nprivacy = "open"\n', 2, "routing.privacy", "'local-only', 'redact'"),
        ("[routing]\nmonthly_budget_usd = -1\n", 2, "routing.monthly_budget_usd", "or equal to 0"),
        ('[routing]\n\nlevels = {secret = "allow"}\n', 3, "routing.levels", "no sensitivity"),
        ('[routing]\nlevels = {personal = "yes"}\n', 2, "routing.levels", "'local-only'"),
        ('[routing]\ndefault = "gpt"\n', 2, "routing.default", "no model profile 'gpt'"),
        (
            '[routing]\ntasks = {planning = "gpt"}\n',
            2,
            "routing.tasks.planning",
            "'gpt' is neither local, strongest",
        ),
        (
            '[routing.tasks]\nsmall_talk = "local"\nplanning = "gpt"\n',
            3,
            "routing.tasks.planning",
            "known: local",
        ),
        (
            "[routing.tasks]\nplanning = {use = 'strongest', min_tier = 9}\n",
            2,
            "routing.tasks.planning.min_tier",
            "less than or equal to 5",
        ),
    ],
)
def test_bad_routing_names_file_line_and_problem(
    write_config: Callable[[str], Path], text: str, line: int, key: str, says: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert f"{path}, line {line}: {key}" in message
    assert says in message


def test_routing_is_set_through_nested_keys_and_refused_when_wrong(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config("# mine\n")
    set_config_value("routing.privacy", "redact")
    set_config_value("routing.levels.sensitive", "local-only")
    set_config_value("routing.tasks.planning", "strongest")
    set_config_value("routing.monthly_budget_usd", "12.5")
    routing = load_settings().routing
    assert routing.privacy == "redact" and routing.levels == {"sensitive": "local-only"}
    assert routing.tasks["planning"].use == "strongest" and routing.monthly_budget_usd == 12.5
    saved = path.read_text()
    for key, value in [
        ("routing.privacy", "everything"),
        ("routing.levels.secret", "allow"),
        ("routing.tasks.planning", "gpt"),
        ("routing.default", "gpt"),
        ("routing.monthly_budget_usd", "-3"),
    ]:
        with pytest.raises(ConfigError) as caught:
            set_config_value(key, value)
        assert caught.value.message.startswith(f"Not saved: {key}")
    assert path.read_text() == saved
    assert "# mine" in saved
