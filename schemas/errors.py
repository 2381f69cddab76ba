"""The errors cspflow raises for a person to act on, as opposed to bugs.

Every one of them carries a message written for the coordinator or operator who reads it: what
is wrong, with the value and where it is, and what to do next (house style §9). The CLI prints
the message of any `CspflowError` without a traceback; anything else is a bug.

Our exception hierarchy:

* CspflowError
  * ConfigurationError - a file or setting the CSP maintains is wrong
    * DirectoryError - the CSP directory (areas, agencies, chairs, policies): raised by the
      loader in `activities.configuration` and by `Directory.policy_for`
  * InputError - a file or argument a user passes to a command is wrong (an application file,
    an unknown area)

Errors raised inside activities reach a workflow as `temporalio.exceptions.ApplicationError`,
whose `type` is the class name; an activity decides there whether the error is worth retrying.
"""

from __future__ import annotations

from pathlib import Path


class CspflowError(Exception):
    """Base of every error a person can fix: the message says what to do."""


class ConfigurationError(CspflowError):
    """A file or setting the CSP maintains (directory, policies, CSPFLOW_* settings) is wrong."""


DIRECTORY_NEXT_STEP = (
    "Correct the directory file and try again; each field is described in schemas/directory.py "
    "and schemas/policy.py."
)


class DirectoryError(ConfigurationError):
    """The CSP directory file is missing, is not YAML, or does not validate.

    `problems` holds one line per fault, each naming the entry and field; the message lists them
    all at once, after the file's path (or "file" when the caller does not know the path: a
    policy read from an already loaded directory).
    """

    def __init__(
        self,
        path: Path | None,
        problems: list[str],
        *,
        next_step: str = DIRECTORY_NEXT_STEP,
    ) -> None:
        self.path = path
        self.problems = tuple(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        where = f"The CSP directory {path}" if path is not None else "The CSP directory file"
        lines = [f"{where} has {len(problems)} {noun}:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append(next_step)
        super().__init__("\n".join(lines))


class InputError(CspflowError):
    """A file or argument given to a command is wrong; correct it and run the command again.

    `code` is stable for machine callers (`--json` prints it with `fields`, the paths of the
    fields at fault); the message is for a person and may be reworded.
    """

    def __init__(
        self, message: str, *, code: str = "invalid_input", fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields

    def as_json(self) -> dict[str, object]:
        """The error as machine callers get it: {"error": {"code", "fields", "message"}}."""
        return {"error": {"code": self.code, "fields": list(self.fields), "message": str(self)}}
