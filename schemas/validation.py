"""One way to say what is wrong with input, used by the CLI, Update validators and later the web.

Every field at fault is reported at once with its path, as GOV.UK Notify's schema validation does,
and the message ends with what to do next. Input can be hostile (a key holding rich markup, a
multi-megabyte value, text that is not valid Unicode), so every value a message quotes goes
through `shown`: quoted, escaped and cut to a length a person can read, and the number of
problems listed is bounded too, so a refusal always fits in a terminal and in a gRPC message.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from schemas.error_messages import describe_problem, model_of

SHOWN_LIMIT = 60
"""Characters of a value quoted in a message; the rest is replaced by its length."""

PROBLEMS_LIMIT = 25
"""Problems listed in one message; the count of the others follows."""

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,59}$")


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """Quote a value for a message: its repr (control characters and lone surrogates escaped),
    cut after `limit` characters with the full length said, so a hostile value cannot flood a
    message, break a terminal or fail to encode."""
    try:
        text = repr(value)
    except RecursionError:
        return f"(a {type(value).__name__} nested too deeply to show)"
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters"
    return f"{text[:limit]}... ({size})"


def field_path(loc: tuple[int | str, ...], prefix: str | None = None) -> str:
    """Render a pydantic error location as 'complaints[2].reported_on'.

    A key that is not a plain name (empty, with spaces, markup or control characters) is shown
    quoted in brackets, `response['a b']`, so it cannot be mistaken for the path around it; an
    empty location is the whole input, '(the document)' unless a prefix names it.
    """
    path = prefix or ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            path += f".{part}" if path else part
        else:
            path += f"[{shown(part, 40)}]"
    return path or "(the document)"


def validation_problems(error: ValidationError, prefix: str | None = None) -> list[str]:
    """Return one line per field at fault: 'path: sentence', the sentence a person reads.

    The sentence is the one the console shows beside the field ('applicant.name: Enter the
    applicant's name'), so a file and a form are corrected in the same words.
    """
    model = model_of(error)
    lines = []
    for problem in error.errors(include_url=False):
        loc = tuple(problem["loc"])
        sentence = describe_problem(model, problem, with_values=True)
        lines.append(f"{field_path(loc, prefix)}: {sentence}")
    return lines


def describe_problems(problems: list[str], then: str) -> str:
    """Return the problems, one per line (at most PROBLEMS_LIMIT), followed by what to do."""
    noun = "problem" if len(problems) == 1 else "problems"
    listed = problems[:PROBLEMS_LIMIT]
    more = len(problems) - len(listed)
    lines = [f"  - {p}" for p in listed]
    if more:
        lines.append(f"  - and {more} more of the same kinds")
    return f"{len(problems)} {noun}:\n" + "\n".join(lines) + f"\n{then}"


def describe_validation_error(
    error: ValidationError, *, prefix: str | None = None, then: str = "correct it and try again"
) -> str:
    """Return every problem, one per line, followed by what to do."""
    return describe_problems(validation_problems(error, prefix), then)


def utf8_text(raw: bytes) -> str:
    """Decode a file a person saved as UTF-8 (a byte-order mark is allowed).

    Raise ValueError saying what the bytes look like instead, for a message that begins with the
    file's name: editors on Windows often save UTF-16 or Windows-1252, and Python's own
    UnicodeDecodeError names neither the line nor the fix.
    """
    head = raw[:4]
    ascii_as_utf16 = len(head) == 4 and (head[1::2] == b"\x00\x00" or head[0::2] == b"\x00\x00")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or ascii_as_utf16:
        raise ValueError(
            "is UTF-16 text, not UTF-8: save it as UTF-8 (in most editors, 'Save as' with the "
            "encoding 'UTF-8')"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(
            f"is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} is not valid UTF-8 "
            "(the file may be Latin-1 or Windows-1252): save it as UTF-8"
        ) from None


_PYDANTIC_HEADER = re.compile(r"^\d+ validation errors? for \S+$")
_PYDANTIC_DETAIL = re.compile(r" \[type=.*$")
_PYDANTIC_INDEX = re.compile(r"\.(\d+)(?=\.|$)")
_PYDANTIC_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


def problems_from_text(text: str) -> list[str] | None:
    """Recover 'path: message' lines from the text of a pydantic ValidationError.

    A workflow that cannot decode an Update's input reports the ValidationError only as text (a
    failure's message); this turns it back into the lines `validation_problems` gives, without
    pydantic's '[type=...]' details and links. None when the text is not such an error.
    """
    lines = text.splitlines()
    if not lines or not _PYDANTIC_HEADER.match(lines[0]):
        return None
    problems, path = [], "(the document)"
    for line in lines[1:]:
        if line.startswith("    For further information"):
            continue
        if not line.startswith("  "):
            plain = _PYDANTIC_PATH.match(line)
            path = _PYDANTIC_INDEX.sub(r"[\1]", line) if plain else f"[{shown(line, 40)}]"
            continue
        message = _PYDANTIC_DETAIL.sub("", line.strip()).removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return problems
