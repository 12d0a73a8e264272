"""`psi chat` (a streaming REPL, or line-by-line answers when stdin is a pipe) and `psi ask`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from psi.cli.output import err, friendly, out, report

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings
    from rich.console import Console

    from psi.agent.chat import ChatService, Turn
    from psi.safety.approval import Request

HELP = """\
Type a message and press Enter. For several lines, end a line with \\ or press
Esc then Enter. Ctrl-C stops a reply (what arrived is kept); Ctrl-D leaves.
  /new          start a new conversation
  /history      show this conversation
  /model        list models;  /model NAME  switch to NAME
  /why          which model answered the last reply, and what routing decides
  /privacy      show it;  /privacy local-only|redact|allow  set it (saved)
  /help         this help
  /exit         leave (also /quit)"""

# Notices shown at the start of a chat; older ones are counted, not shown.
CHAT_NOTICES = 5

ModelOption = typer.Option(None, "--model", "-m", help="Model profile to use (`psi models list`).")
ContinueOption = typer.Option(False, "--continue", "-c", help="Continue the latest conversation.")


@friendly
def chat(
    model: str | None = ModelOption,
    continue_: bool = ContinueOption,
    conversation: int | None = typer.Option(
        None, "--conversation", help="Continue conversation ID (`psi history list`)."
    ),
) -> None:
    """Chat with psi. Reads one message per line when standard input is not a terminal."""
    interactive = sys.stdin.isatty()
    service = _open(model, conversation=conversation, resume=continue_, interactive=interactive)
    try:
        if interactive:
            _repl(service)
        else:
            # Standard output carries only the answers when stdin is a pipe.
            _show_notices(service, err)
            _answer_lines(service)
    finally:
        service.close()


@friendly
def ask(
    message: list[str] | None = typer.Argument(
        None, help="The question. Omit it (or give -) to read standard input."
    ),
    model: str | None = ModelOption,
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON object with the reply, model and usage."
    ),
    continue_: bool = ContinueOption,
    docs: bool = typer.Option(
        False, "--docs", "-d", help="Answer from your documents (`psi docs add`), citing them."
    ),
) -> None:
    """Ask one question and stream the answer to standard output."""
    from psi.agent.inputs import decode_input
    from psi.errors import InputError

    if message and message != ["-"]:
        text = " ".join(message)
    elif not sys.stdin.isatty():
        text = decode_input(sys.stdin.buffer.read())
    else:
        raise InputError("No question given.", hint='Run `psi ask "your question"`.')
    service = _open(model, resume=continue_, documents=docs)
    if docs and not service.has_documents():
        service.close()
        raise InputError(
            "You have no documents for psi to answer from.",
            hint="Add some with `psi docs add PATH` (a notes folder, PDFs, ...).",
        )
    try:
        turn = service.send(text)
        _notice(turn)
        if json_output:
            _collect(turn)
            _print_json(turn)
        else:
            _stream(turn)
        if turn.reply.finish_reason == "interrupted":
            raise typer.Exit(130)
    finally:
        service.close()


def _open(
    model: str | None,
    *,
    conversation: int | None = None,
    resume: bool = False,
    interactive: bool = False,
    documents: bool | None = None,
) -> ChatService:
    from psi.agent.chat import ChatService
    from psi.config import load_settings

    settings = load_settings()
    with err.status("Loading model…", spinner="dots"):
        # Only a session that lives on loads the embedding model (after its first reply);
        # one-shot commands index for keyword recall and leave vectors for later.
        service = ChatService.open(
            settings,
            model=model,
            conversation_id=conversation,
            resume=resume,
            embed=interactive,
            documents=documents,
        )
    if sys.stdin.isatty() and settings.safety.confirm == "ask":
        # Someone is at the keyboard to say yes or no; otherwise calls are held.
        from psi.safety.approval import AskUser

        service.approver = AskUser(_confirm)
    return service


def _confirm(request: Request) -> bool:
    """Show the exact action and why it needs a yes; no unless the user types y."""
    from rich.markup import escape
    from rich.prompt import Confirm

    sys.stdout.write("\n")
    err.print(f"[bold yellow]psi wants to run[/] {escape(request.action)}")
    err.print(f"  [dim]It needs your yes because {escape(request.reason)}.[/]")
    return Confirm.ask("  Allow it?", default=False, console=err)


def _show_notices(service: ChatService, console: Console) -> None:
    """What psi reached out with since the last chat, the latest CHAT_NOTICES of it, once."""
    from rich.markup import escape

    notices = service.take_notices()
    if not notices:
        return
    console.print("[bold]While you were away[/]")
    older = len(notices) - CHAT_NOTICES
    if older > 0:
        console.print(f"[dim]({older} older notice{'s' if older != 1 else ''} not shown)[/]")
    zone = service.settings.zone()
    for notice in notices[-CHAT_NOTICES:]:
        when = f"{notice.created_at.astimezone(zone):%a %d %b %H:%M}"
        text = escape(notice.text).replace("\n", "\n    ")
        console.print(f"[dim]{when}[/]\n    {text}")


def _notice(turn: Turn) -> None:
    if turn.notice:
        err.print(f"[dim]({turn.notice})[/]")


def _stream(turn: Turn) -> None:
    """Write the reply as it arrives; Ctrl-C keeps the partial reply (marked interrupted)."""
    try:
        for piece in turn:
            sys.stdout.write(piece)
            sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        err.print("[yellow](interrupted: the partial reply is kept)[/]")
        return
    sys.stdout.write("\n")
    sys.stdout.flush()
    _sources(turn)
    _notes(turn)


def _sources(turn: Turn) -> None:
    """The documents the reply cites, under it; if it cites none of the passages it was
    given, which they were (on standard error: they are not part of the answer)."""
    from rich.markup import escape

    cited = turn.cited
    if cited:
        out.print("Sources:")
        for source in cited:
            out.print(f"  [{source.number}] {source.where}", markup=False)
    elif turn.sources:
        given = "; ".join(f"[{s.number}] {s.where}" for s in turn.sources)
        err.print(f"[dim](psi gave the model passages it did not cite: {escape(given)})[/]")


def _collect(turn: Turn) -> None:
    try:
        for _ in turn:
            pass
    except KeyboardInterrupt:
        pass
    _notes(turn)


def _notes(turn: Turn) -> None:
    """What happened on the way (a model that failed and the one that answered instead)."""
    from rich.markup import escape

    for note in turn.notes:
        err.print(f"[yellow]({escape(note)})[/]")


def _print_json(turn: Turn) -> None:
    reply = turn.reply
    payload = {
        "conversation_id": turn.conversation_id,
        "message_id": turn.message_id,
        "model": reply.model,
        "reply": reply.text,
        "finish_reason": reply.finish_reason,
        "interrupted": reply.finish_reason == "interrupted",
        "usage": reply.usage.model_dump(),
        "sources": [source.as_dict() for source in turn.cited],
        "passages": [source.as_dict() for source in turn.sources],
    }
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


def _answer_lines(service: ChatService) -> None:
    """One reply per input line, until end of input. Errors end the run with their exit code."""
    from psi.agent.inputs import decode_input

    for number, raw in enumerate(sys.stdin.buffer, start=1):
        line = decode_input(raw, source=f"input line {number}").strip()
        if not line:
            continue
        if line.startswith("/"):
            if _command(service, line) == "exit":
                return
            continue
        turn = service.send(line)
        _notice(turn)
        _stream(turn)
        if turn.reply.finish_reason == "interrupted":
            raise typer.Exit(130)


def _repl(service: ChatService) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    from psi.errors import PsiError

    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(service.settings.home / "input_history")),
        key_bindings=_key_bindings(),
        multiline=True,
        prompt_continuation="... ",
    )
    out.print(
        f"[bold]psi[/] on [cyan]{service.model.name}[/] ({service.model.model_id}). "
        "/help for commands, Ctrl-D to leave."
    )
    _show_notices(service, out)
    while True:
        try:
            text = session.prompt("you> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        text = text.strip()
        if not text:
            continue
        try:
            if text.startswith("/"):
                if _command(service, text) == "exit":
                    return
                continue
            turn = service.send(text)
            _notice(turn)
            out.print("[bold green]psi>[/] ", end="")
            _stream(turn)
        except PsiError as error:
            # The message is stored before the model runs, so nothing is lost; say so.
            report(error)


def _key_bindings() -> KeyBindings:
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.key_binding.key_processor import KeyPressEvent

    bindings = KeyBindings()

    @bindings.add("enter")
    def _submit(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.text.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def _command(service: ChatService, line: str) -> str | None:
    """Run a /command; returns "exit" to leave the chat."""
    from psi.cli.render import print_messages
    from psi.errors import InputError

    name, _, argument = line.partition(" ")
    argument = argument.strip()
    if name in ("/exit", "/quit"):
        return "exit"
    if name == "/help":
        out.print(HELP, markup=False)
    elif name == "/new":
        service.new_conversation()
        out.print("New conversation.", markup=False)
    elif name == "/history":
        messages = service.history()
        if messages:
            print_messages(messages)
        else:
            out.print("Nothing in this conversation yet.", markup=False)
    elif name == "/model":
        if argument:
            with err.status(f"Loading {argument}…", spinner="dots"):
                service.use_model(argument)
            out.print(f"Now using {service.model.name} ({service.model.model_id}).", markup=False)
        else:
            for profile in service.settings.profiles().values():
                mark = "*" if profile.name == service.model.name else " "
                out.print(
                    f"{mark} {profile.name}  ({profile.backend}: {profile.model})", markup=False
                )
    elif name == "/why":
        _why(service)
    elif name == "/privacy":
        if argument:
            if argument not in ("local-only", "redact", "allow"):
                raise InputError(
                    f"No privacy setting {argument!r}.", hint="Use local-only, redact or allow."
                )
            service.set_privacy(argument)
            out.print(f"Privacy is now {argument} (routing.privacy, saved).", markup=False)
        else:
            out.print(f"Privacy is {service.settings.routing.privacy}.", markup=False)
    else:
        raise InputError(f"Unknown command {name}.", hint="/help lists the commands.")
    return None


def _why(service: ChatService) -> None:
    from psi.cli.route_cmd import print_route

    turn = service.last_turn
    if turn is None:
        out.print("Nothing answered yet in this session.", markup=False)
        return
    route = turn.route()
    if route is None:
        out.print("psi answered that itself (no model saw it).", markup=False)
        return
    out.print(
        f"{turn.model_name} answered ({turn.reply.model}), as chosen by --model or /model; "
        "routing does not pick the model yet. For that message it decides:",
        markup=False,
    )
    out.print(f"level: {route.level}", markup=False)
    print_route(route)
