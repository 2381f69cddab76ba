"""The errors cspflow raises for a person to act on, as opposed to bugs.

Every one of them carries a message written for the coordinator or operator who reads it: what
is wrong, with the value and where it is, and what to do next (house style §9). The CLI prints
the message of any `CspflowError` without a traceback; anything else is a bug.

Our exception hierarchy:

* CspflowError
  * ConfigurationError - a file or setting the CSP maintains is wrong
    * DirectoryError - the CSP directory (areas, agencies, chairs, policies); defined in
      `activities.configuration`, next to the loader that raises it
  * InputError - a file or argument a user passes to a command is wrong (an application file,
    an unknown area)

Errors raised inside activities reach a workflow as `temporalio.exceptions.ApplicationError`,
whose `type` is the class name; an activity decides there whether the error is worth retrying.
"""

from __future__ import annotations


class CspflowError(Exception):
    """Base of every error a person can fix: the message says what to do."""


class ConfigurationError(CspflowError):
    """A file or setting the CSP maintains (directory, policies, CSPFLOW_* settings) is wrong."""


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
