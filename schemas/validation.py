"""One way to say what is wrong with input, used by the CLI, Update validators and later the web.

Every field at fault is reported at once with its path, as GOV.UK Notify's schema validation does,
and the message ends with what to do next.
"""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple[int | str, ...], prefix: str | None = None) -> str:
    """Render a pydantic error location as 'complaints[2].reported_on'."""
    path = prefix or ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(the document)"


def validation_problems(error: ValidationError, prefix: str | None = None) -> list[str]:
    """Return one line per field at fault: 'path: message'."""
    lines = []
    for problem in error.errors(include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{field_path(tuple(problem['loc']), prefix)}: {message}")
    return lines


def describe_validation_error(
    error: ValidationError, *, prefix: str | None = None, then: str = "correct it and try again"
) -> str:
    """Return every problem, one per line, followed by what to do."""
    problems = validation_problems(error, prefix)
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{len(problems)} {noun}:\n" + "\n".join(f"  - {p}" for p in problems) + f"\n{then}"
