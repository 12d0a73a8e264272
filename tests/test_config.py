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
    settings_as_toml,
    unset_config_value,
)
from psi.errors import ConfigError, MissingAPIKey, UnknownProfile


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
