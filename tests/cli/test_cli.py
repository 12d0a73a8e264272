"""The command line through Typer's runner, with the scripted model configured as a profile."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psi.cli.main import app

runner = CliRunner()

SCRIPTED = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
replies = ["Hello from psi.", "Second answer.", "Third answer."]
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def scripted(write_config: Callable[[str], Path]) -> Path:
    return write_config(SCRIPTED)


def psi(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = psi("--version")
    assert code == 0 and out.startswith("psi ")


def test_ask_streams_the_answer_and_stores_it(scripted: Path) -> None:
    code, out, _ = psi("ask", "Say hello")
    assert code == 0
    assert out == "Hello from psi.\n"
    code, out, _ = psi("history", "show")
    assert "Say hello" in out and "Hello from psi." in out and "(demo)" in out


def test_ask_json_and_stdin(scripted: Path) -> None:
    code, out, _ = psi("ask", "--json", input="question from a pipe\n")
    assert code == 0
    payload = json.loads(out)
    assert payload["reply"] == "Hello from psi."
    assert payload["model"] == "demo"
    assert payload["interrupted"] is False
    assert payload["usage"]["completion_tokens"] == 3
    _, shown, _ = psi("history", "show", str(payload["conversation_id"]))
    assert "question from a pipe" in shown


def test_piped_chat_answers_each_line_then_exits(scripted: Path) -> None:
    code, out, _ = psi("chat", input="hello\n\n/new\nagain\n")
    assert code == 0
    assert out.splitlines() == ["Hello from psi.", "New conversation.", "Second answer."]
    _, listing, _ = psi("history", "list")
    assert "hello" in listing and "again" in listing


def test_chat_continue_survives_a_restart(scripted: Path) -> None:
    psi("chat", input="first message\n")
    code, out, _ = psi("chat", "--continue", input="/history\n")
    assert code == 0
    assert "first message" in out and "Hello from psi." in out


def test_model_switch_in_chat(write_config: Callable[[str], Path]) -> None:
    write_config(
        SCRIPTED + '[models.other]\nbackend = "scripted"\nmodel = "o"\nreplies = ["From other."]\n'
    )
    code, out, _ = psi("chat", input="/model other\nhi\n/model\n")
    assert code == 0
    assert "Now using other" in out
    assert "From other." in out
    assert "* other" in out


def test_unknown_slash_command_is_explained(scripted: Path) -> None:
    code, _, err = psi("chat", input="/frobnicate\n")
    assert code == 2
    assert "Unknown command /frobnicate" in err


def test_invalid_utf8_on_stdin_is_refused_and_nothing_is_lost(scripted: Path) -> None:
    psi("ask", "keep me")
    code, out, err = psi("chat", input=b"caf\xe9 au lait\n")
    assert code == 2
    assert "not valid UTF-8" in err and "iconv" in err
    assert "Traceback" not in out + err
    _, listing, _ = psi("history", "list")
    assert "keep me" in listing


def test_binary_stdin_is_refused(scripted: Path) -> None:
    code, _, err = psi("ask", input=b"\x7fELF\x00\x01\x02")
    assert code == 2
    assert "binary data" in err


def test_a_one_megabyte_message_is_refused_clearly(scripted: Path) -> None:
    psi("ask", "keep me")
    code, _, err = psi("ask", input="a" * 1_048_576)
    assert code == 2
    assert "1,048,576 characters" in err and "max_message_chars" in err
    _, listing, _ = psi("history", "list")
    assert "keep me" in listing and "1 " in listing


def test_bad_config_names_file_and_line(write_config: Callable[[str], Path]) -> None:
    path = write_config('default_model = "demo"\n[models.demo]\nbackend = scripted\n')
    code, _, err = psi("ask", "hi")
    assert code == 2
    assert str(path) in err.replace("\n", "")
    assert "line 3" in err


def test_unreachable_endpoint_keeps_the_message(write_config: Callable[[str], Path]) -> None:
    port = closed_port()
    write_config(
        f'default_model = "far"\n[models.far]\nbackend = "openai"\nmodel = "m"\n'
        f'base_url = "http://127.0.0.1:{port}/v1"\ntimeout = 5\n'
    )
    code, _, err = psi("ask", "is anyone there?")
    assert code == 3
    assert f"127.0.0.1:{port}" in err
    assert "Traceback" not in err
    _, shown, _ = psi("history", "show")
    assert "is anyone there?" in shown


def test_missing_api_key_names_the_variable(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PSI_TEST_ANTHROPIC_KEY", raising=False)
    write_config(
        'default_model = "claude"\n[models.claude]\nbackend = "anthropic"\n'
        'model = "claude-sonnet-4-5"\napi_key_env = "PSI_TEST_ANTHROPIC_KEY"\n'
    )
    code, _, err = psi("ask", "hi")
    assert code == 2
    assert "$PSI_TEST_ANTHROPIC_KEY" in err


def test_models_list_and_test_report_each_profile(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(
        SCRIPTED + f'[models.broken]\nbackend = "llamacpp"\nmodel = "{tmp_path}/gone.gguf"\n'
    )
    code, out, _ = psi("models", "list")
    assert code == 0
    assert "demo" in out and "broken" in out and "local" in out
    code, out, _ = psi("models", "test", "demo", "broken")
    assert code == 1
    assert "✓ demo" in out
    assert "✗ broken: Model file not found" in out and "gone.gguf" in out


def test_doctor_reports_a_broken_profile(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(f'[models.broken]\nbackend = "llamacpp"\nmodel = "{tmp_path}/gone.gguf"\n')
    code, out, _ = psi("doctor")
    assert code == 1
    assert "✓ config" in out and "✓ database" in out
    assert "✓ model local" in out
    assert "✗ model broken" in out


def test_history_show_of_a_missing_conversation(scripted: Path) -> None:
    code, _, err = psi("history", "show", "42")
    assert code == 2
    assert "No conversation 42" in err


def test_config_commands(psi_home: Path) -> None:
    code, out, _ = psi("config", "path")
    assert out.strip() == str(psi_home / "config.toml")
    code, out, _ = psi("config", "set", "offline", "true")
    assert code == 0
    _, shown, _ = psi("config", "show")
    assert "offline = true" in shown
    code, _, err = psi("config", "set", "max_message_chars", "zero")
    assert code == 2 and "Not saved" in err


class _Failing(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that is up but broken."""

    def do_POST(self) -> None:
        body = b'{"error": {"message": "model crashed while loading"}}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("retry-after-ms", "1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_failing_endpoint_reports_host_and_status_and_keeps_the_message(
    write_config: Callable[[str], Path],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    write_config(
        f'default_model = "broken"\n[models.broken]\nbackend = "openai"\nmodel = "m"\n'
        f'base_url = "http://{host}/v1"\n'
    )
    try:
        code, _, err = psi("ask", "please keep this question")
    finally:
        server.shutdown()
    assert code == 3
    assert "HTTP 500" in err and "model crashed while loading" in err
    assert f"{host} answered HTTP 500" in err
    _, shown, _ = psi("history", "show")
    assert "please keep this question" in shown


def test_missing_default_model_file_says_where_and_how_to_fix(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(f'[models.local]\nbackend = "llamacpp"\nmodel = "{tmp_path}/moved.gguf"\n')
    code, _, err = psi("ask", "hello")
    assert code == 2
    assert "moved.gguf" in err and "psi config set models.NAME.model" in err
    assert "Traceback" not in err
