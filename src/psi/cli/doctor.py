"""`psi doctor`: is everything psi needs here and working? Each check says how to fix it."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import typer
from rich.markup import escape

from psi.cli.output import friendly, out
from psi.errors import PsiError


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@friendly
def doctor() -> None:
    """Check the config, the database and every model profile."""
    from psi import __version__
    from psi.config import Backend, config_path, load_settings

    out.print(
        f"psi {__version__} · Python {platform.python_version()} · "
        f"llama-cpp-python {_version('llama-cpp-python')} · SQLAlchemy {_version('sqlalchemy')} · "
        f"openai {_version('openai')} · anthropic {_version('anthropic')}"
    )
    failures = 0

    def check(label: str, run: Callable[[], str]) -> None:
        nonlocal failures
        try:
            detail = run()
        except PsiError as error:
            failures += 1
            hint = f"\n    [dim]{escape(error.hint)}[/]" if error.hint else ""
            out.print(f"[red]✗[/] {escape(label)}: {escape(error.message)}{hint}")
            return
        out.print(f"[green]✓[/] {escape(label)}: {escape(detail)}")

    settings = None

    def config() -> str:
        nonlocal settings
        settings = load_settings()
        path = config_path()
        return f"{path}" + ("" if path.exists() else " (not created yet; defaults in use)")

    check("config", config)
    if settings is None:
        raise typer.Exit(1)

    def database() -> str:
        from psi.store.db import open_store
        from psi.store.migrations import HEAD

        store = open_store(settings.db_url)
        revision = store.current_revision()
        store.dispose()
        return f"{store.where} (schema {revision}, current {HEAD})"

    check("database", database)
    out.print(f"  offline mode: {'on' if settings.offline else 'off'}")

    for profile in settings.profiles().values():

        def model(profile: object = profile) -> str:
            from psi.config import ModelProfile
            from psi.llm.llamacpp import resolve_model_file

            assert isinstance(profile, ModelProfile)
            if profile.backend is Backend.llamacpp:
                path = resolve_model_file(
                    profile.model, offline=settings.offline, hub_url=profile.base_url
                )
                from psi.llm import get_model

                started = time.perf_counter()
                get_model(profile, settings)
                size = path.stat().st_size / 1e6
                return f"{path} ({size:.0f} MB) loads in {time.perf_counter() - started:.2f} s"
            if profile.backend is Backend.scripted:
                return "scripted replies (tests and demos)"
            profile.api_key()
            key = f", key in ${profile.api_key_env}" if profile.api_key_env else ""
            where = profile.base_url or "the default URL"
            return (
                f"{profile.backend.value} {profile.model} at {where}{key} "
                f"(`psi models test {profile.name}` calls it)"
            )

        check(f"model {profile.name}", model)
    if failures:
        raise typer.Exit(1)
