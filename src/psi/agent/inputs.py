"""Checking what a person typed or piped in, before anything is stored."""

from __future__ import annotations

from psi.errors import InputError


def decode_input(data: bytes, *, source: str = "standard input") -> str:
    """UTF-8 text from raw bytes; InputError for binary data or another encoding."""
    if b"\x00" in data:
        raise InputError(
            f"The {source} holds binary data (NUL bytes), not text.",
            hint='Send text, e.g. `psi ask "$(cat notes.txt)"` for a text file.',
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The {source} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
            f"position {exc.start}).",
            hint="Convert it first, e.g. `iconv -f latin1 -t utf-8 FILE | psi chat`.",
        ) from None


def check_message(text: str, *, max_chars: int) -> str:
    """The message to send, stripped; InputError if it is empty, binary or too long."""
    text = text.strip()
    if not text:
        raise InputError("The message is empty.", hint="Type something to ask psi.")
    if "\x00" in text:
        raise InputError("The message holds binary data (NUL characters), not text.")
    if len(text) > max_chars:
        raise InputError(
            f"The message has {len(text):,} characters; psi takes at most {max_chars:,}.",
            hint="Shorten it, or raise the limit with `psi config set max_message_chars N` "
            "(the model's context window still applies).",
        )
    return text
