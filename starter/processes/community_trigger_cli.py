"""The Community Trigger's convenience commands: `decide`, `meeting`, `consent`, `close`.

Each is a thin alias of `cspflow step CASE VERB`: it builds the step's input from options and
takes the step through the same path, so the workflow's validator judges it the same way. A date
option is passed to the step's model as given, so `--on 2025-02-31` is told the date does not
exist (schemas/error_messages.py), not that its format is wrong.
"""

from __future__ import annotations

from typing import Any

import typer

from schemas.errors import InputError


def register_commands(app: typer.Typer) -> None:
    """Add the aliases to the `cspflow` command."""
    from starter.cli.cases import take_step
    from starter.cli.common import handled

    @app.command()
    @handled
    def decide(
        case_id: str = typer.Argument(..., help="The case id."),
        confirm: bool = typer.Option(False, "--confirm", help="Confirm the proposed decision."),
        override: bool = typer.Option(False, "--override", help="Decide otherwise, with a reason."),
        met: bool | None = typer.Option(
            None, "--met/--not-met", help="For --override: the decision."
        ),
        reason: str | None = typer.Option(None, help="For --override: why."),
    ) -> None:
        """Confirm the proposed threshold decision, or override it with a reason."""
        if confirm == override:
            raise InputError(
                "give exactly one of --confirm or --override (with --met/--not-met and --reason)"
            )
        data: dict[str, Any] = {"decision": "confirm" if confirm else "override"}
        if met is not None:
            data["met"] = met
        if reason is not None:
            data["reason"] = reason
        take_step(case_id, "decide", data, "the decide options")

    @app.command()
    @handled
    def meeting(
        case_id: str = typer.Argument(..., help="The case id."),
        on: str = typer.Option(..., "--on", help="Meeting date, year-month-day: 2026-12-07."),
        no_invite: bool = typer.Option(False, "--no-invite", help="Do not invite the applicant."),
        reason: str | None = typer.Option(None, help="Why the applicant is not invited."),
    ) -> None:
        """Record the review meeting's date; the applicant is invited unless you say why not."""
        data: dict[str, Any] = {
            "meeting_on": on,
            "invite_applicant": not no_invite,
        }
        if reason is not None:
            data["reason_not_invited"] = reason
        take_step(case_id, "meeting", data, "the meeting options")

    @app.command()
    @handled
    def consent(
        case_id: str = typer.Argument(..., help="The case id."),
        on: str = typer.Option(
            ..., "--on", help="Day consent was given, year-month-day: 2026-12-07."
        ),
        evidence: str = typer.Option(..., help="How consent was recorded."),
    ) -> None:
        """Record the victim's consent to a third-party application."""
        take_step(
            case_id,
            "consent",
            {"consent_given_on": on, "evidence": evidence},
            "the consent options",
        )

    @app.command()
    @handled
    def close(
        case_id: str = typer.Argument(..., help="The case id."),
        reason: str = typer.Option(..., help="Why the case closes; the applicant is told."),
    ) -> None:
        """Close a case early (for example, the application was withdrawn)."""
        take_step(case_id, "close", {"reason": reason}, "the close options")
