"""Settings in the browser: model profiles (add an Ollama, vLLM, OpenAI-compatible, OpenAI or
Anthropic endpoint, and test one), the default model, timezone, quiet hours and the
scheduler's times, and where notices go.

    GET  /settings
    POST /settings/models               a new profile, written to config.toml
    POST /settings/models/{name}/test   a one-word prompt; its latency or the exact error
    POST /settings/general              default model, timezone, notice times and limits
    POST /settings/notices              desktop notices and the webhook URL

Writes go through psi.config.set_config_value (as `psi config set` does: the whole file is
validated before it is saved, comments kept) and are the owner's or an admin's to make.
API keys are never stored: a profile names the environment variable that holds its key.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
import json
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from psi.errors import InputError
from psi.web.base import Viewer, Web
from psi.web.forms import Fields, fields

# What each kind of endpoint is, in config terms: backend, default URL, key variable,
# and whether it runs on a machine the user controls with open weights.
KINDS: dict[str, dict[str, Any]] = {
    "ollama": {"label": "Ollama", "backend": "openai", "base_url": "http://127.0.0.1:11434/v1",
               "key": None, "own": True},
    "vllm": {"label": "vLLM", "backend": "openai", "base_url": "http://127.0.0.1:8000/v1",
             "key": None, "own": True},
    "openai-compatible": {"label": "Another OpenAI-compatible server (llama.cpp, LM Studio)",
                          "backend": "openai", "base_url": None, "key": None, "own": True},
    "openai": {"label": "OpenAI", "backend": "openai", "base_url": None,
               "key": "OPENAI_API_KEY", "own": False},
    "anthropic": {"label": "Anthropic", "backend": "anthropic", "base_url": None,
                  "key": "ANTHROPIC_API_KEY", "own": False},
}  # fmt: skip
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def profile_toml(kind: str, form: Fields) -> str:
    """The new profile as a TOML inline table; InputError for what is missing or wrong."""
    known = KINDS.get(kind)
    if known is None:
        raise InputError("Pick what kind of endpoint it is.")
    model = form.text("model", limit=300)
    if not model:
        raise InputError("Give the model's name on that server, e.g. qwen2.5:7b-instruct.")
    base_url = form.text("base_url", limit=500) or known["base_url"]
    if kind == "openai-compatible" and not base_url:
        raise InputError("Give the server's URL, e.g. http://127.0.0.1:8080/v1.")
    if base_url and not re.match(r"^https?://[^\s/]+", base_url):
        raise InputError(f"{base_url!r} is not an http(s) URL.")
    fields: dict[str, Any] = {"backend": known["backend"], "model": model}
    if base_url:
        fields["base_url"] = base_url
    key = form.text("api_key_env", limit=100) or known["key"]
    if key:
        fields["api_key_env"] = key
    fields["local"] = form.flag("local") if known["own"] else False
    fields["open_weight"] = form.flag("open_weight") if known["own"] else False
    window = form.number("context_window", what="The context window")
    if window is not None:
        fields["context_window"] = int(window)
    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items()) + "}"


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]
    Form = Annotated[Fields, Depends(fields)]
    checked = [Depends(web.same_origin)]

    @router.get("/settings", response_class=HTMLResponse)
    def settings(request: Request, viewer: Who) -> HTMLResponse:
        from zoneinfo import available_timezones

        from psi.routing import is_remote

        profiles = [
            (p, "remote" if is_remote(p) else "local") for p in web.settings.profiles().values()
        ]
        return web.page(
            request, "settings.html", viewer, profiles=profiles, kinds=KINDS,
            zones=sorted(available_timezones()), days=DAYS, zone=str(web.settings.zone()),
        )  # fmt: skip

    @router.post("/settings/models", dependencies=checked)
    def add_model(request: Request, viewer: Who, form: Form) -> Response:
        def add() -> str:
            from psi.config import set_config_value

            web.configurer(viewer)
            name = form.text("name", limit=40)
            if not NAME.match(name):
                raise InputError(
                    f"{name!r} is no profile name psi takes.",
                    hint="Use letters, digits, dashes or underscores, like ollama or gpt.",
                )
            if name in web.settings.profiles():
                raise InputError(
                    f"There is a profile {name!r} already.",
                    hint="Pick another name, or change it in config.toml.",
                )
            set_config_value(f"models.{name}", profile_toml(form.text("kind"), form))
            web.reload(request)
            return f"Added the model profile {name}. Test it below."

        return web.act(request, "/settings", add)

    @router.post("/settings/models/{name}/test", dependencies=checked)
    def test_model(
        request: Request, viewer: Who, name: Annotated[str, Path(max_length=40)]
    ) -> Response:
        def test() -> str:
            from psi.llm.types import ChatOptions, Message

            profile = web.settings.profile(name)
            started = time.perf_counter()
            model, lock = web.models.get(profile.name)
            lock.acquire()
            try:
                reply = model.chat(
                    [Message.user("Reply with one word: ready")],
                    options=ChatOptions(max_tokens=8, temperature=0),
                )
            finally:
                lock.release()
            answer = " ".join(reply.text.split())[:60]
            return f"{name} answered in {time.perf_counter() - started:.2f} s: {answer!r}"

        return web.act(request, "/settings", test)

    @router.post("/settings/general", dependencies=checked)
    def general(request: Request, viewer: Who, form: Form) -> Response:
        def save() -> str:
            from psi.config import set_config_values
            from psi.goals.store import move_every_zone

            web.configurer(viewer)
            default = form.text("default_model", limit=40)
            if default not in web.settings.profiles():
                raise InputError(f"No model profile named {default!r}.")
            zone = form.text("timezone", limit=60)
            quiet = f"{form.text('quiet_from', limit=5)}-{form.text('quiet_to', limit=5)}"
            day = form.text("review_day", limit=3)
            if day not in DAYS:
                raise InputError("Pick the weekly review's day.")
            most = form.number("max_per_day", what="Notices a day") or 0
            values = {
                "default_model": default,
                "goals.quiet_hours": quiet,
                "goals.morning_agenda": form.text("morning_agenda", limit=5),
                "goals.weekly_review": f"{day} {form.text('review_time', limit=5)}",
                "goals.max_per_day": int(most),
            }
            if zone:
                values["timezone"] = zone
            before = web.settings.zone().key
            set_config_values(values)  # all or nothing: a refused value changes none
            web.reload(request)
            if web.settings.zone().key != before:
                # As `psi config set timezone` does: recurring items keep their wall times.
                move_every_zone(web.store, web.settings.zone().key)
            return "Saved."

        return web.act(request, "/settings", save)

    @router.post("/settings/notices", dependencies=checked)
    def notices(request: Request, viewer: Who, form: Form) -> Response:
        def save() -> str:
            from psi.config import set_config_values

            web.configurer(viewer)
            url = form.text("webhook_url", limit=500)
            if url and not re.match(r"^https?://[^\s/]+", url):
                raise InputError(f"{url!r} is not an http(s) URL.")
            set_config_values({"goals.desktop": form.flag("desktop"),
                               "goals.webhook_url": url or None})  # fmt: skip
            web.reload(request)
            return "Saved where notices go."

        return web.act(request, "/settings", save)

    return router
