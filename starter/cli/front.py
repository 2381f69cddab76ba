"""Which door `cspflow` goes through: the console's API as a token's account, or Temporal directly.

Issue 13: people act through an authenticated front. On a person's own machine `cspflow` signs
in to the console with a personal access token (`cspflow login`, stored 0600 in
`$XDG_CONFIG_HOME/cspflow/token`) and every case command goes through the console's API
(starter/web/api.py), which checks the token's role and areas as its pages do and signs each step
as that account. Without CSPFLOW_CONSOLE_URL, `cspflow` is the operator's tool on the server
(README, "Security model"): it talks to Temporal and the records database itself and signs as
CSPFLOW_USER with the console's key, if it can read it.

Both doors are a `Front`; `starter.cli.common._with_flow` picks one, so no command has a branch
of its own. Nothing here names a process: statuses are read with the registry's models.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from schemas.errors import CspflowError, InputError
from starter import registry
from starter.private_files import private_dir, write_private
from starter.settings import Settings

if TYPE_CHECKING:
    import httpx

    from activities.queries import CaseRow
    from schemas.partner_task import PartnerTaskResult, PartnerTaskStatus
    from starter.client import Cspflow
    from starter.dev import DevState
    from starter.health import Stall


class FrontRefused(CspflowError):
    """The console refused or could not be reached; the message says what to do (exit code 1)."""

    def __init__(self, message: str, code: str = "refused", body: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.body = code, body or {}


class Front(Protocol):
    """What the case commands ask of whichever door they go through."""

    async def acting_as(self) -> str:
        """The identity steps are recorded as: the token's account, or CSPFLOW_USER."""
        ...

    async def start(self, definition: registry.ProcessDefinition, data: BaseModel) -> str: ...

    async def read_case(self, case_id: str) -> tuple[Any | None, list[Stall]]:
        """The case's status (None when it cannot be read) and what of it cannot move on."""
        ...

    async def list_cases(
        self, *, process: str | None, area: str | None, stage: str | None, overdue: bool
    ) -> list[CaseRow]: ...

    async def step(
        self, case_id: str, update: str, payload: BaseModel, result_type: type | None = None
    ) -> Any: ...

    async def task_status(self, task_id: str) -> PartnerTaskStatus: ...

    async def submit(self, task_id: str, response: dict[str, Any]) -> PartnerTaskResult: ...


# --------------------------------------------------------------------------------------------
# The token file
# --------------------------------------------------------------------------------------------


def token_file() -> Path:
    """Where `cspflow login` keeps the token: $XDG_CONFIG_HOME/cspflow/token (~/.config/...).

    The XDG Base Directory spec ignores a relative XDG_CONFIG_HOME, so this does too.
    """
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "cspflow" / "token"


def store_token(token: str) -> Path:
    """Keep the token for later commands, readable by its owner only (0600, folder 0700)."""
    path = token_file()
    private_dir(path.parent)
    write_private(path, token.strip() + "\n")
    return path


def stored_token() -> str | None:
    """The token `cspflow login` kept, if any."""
    try:
        return token_file().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------------------------
# The operator's door: Temporal and the records database, on the server
# --------------------------------------------------------------------------------------------


class TemporalFront:
    """Temporal and the records database directly, as CSPFLOW_USER (an operator on the server).

    It connects to Temporal only when a command first needs it, so `cspflow cases` reads the
    records database alone, as before.
    """

    def __init__(self, settings: Settings, state: DevState | None) -> None:
        self.settings, self.state = settings, state
        self._flow: Cspflow | None = None

    async def flow(self) -> Cspflow:
        from starter.cli.common import _connect

        if self._flow is None:
            self._flow = await _connect(self.settings)
        return self._flow

    async def acting_as(self) -> str:
        return self.settings.user

    async def start(self, definition: registry.ProcessDefinition, data: BaseModel) -> str:
        from starter.cli.common import _directory

        definition.check(data, _directory(self.settings), None)
        return await (await self.flow()).start(definition, data)

    async def read_case(self, case_id: str) -> tuple[Any | None, list[Stall]]:
        from activities.access_log import record_access
        from starter.cli.common import _records
        from starter.client import CaseStalled

        flow = await self.flow()
        try:
            case = await flow.case_status(case_id)
            stalls = await flow.case_stalls(case)
        except CaseStalled as stalled:
            case, stalls = None, stalled.stalls
        user = self.settings.user
        await _records(
            self.settings, lambda sessions: record_access(sessions, user, case_id, "status")
        )
        return case, stalls

    async def list_cases(
        self, *, process: str | None, area: str | None, stage: str | None, overdue: bool
    ) -> list[CaseRow]:
        from activities.queries import list_cases
        from starter.cli.common import _directory, _known_area, _records

        if area is not None:
            area = _known_area(_directory(self.settings), area)
        today = await self._today() if overdue else None
        return await _records(
            self.settings,
            lambda sessions: list_cases(
                sessions, process=process, area=area, stage=stage, overdue_on=today
            ),
        )

    async def _today(self) -> date:
        """The rehearsal clock's day in rehearsal mode, the real UTC day otherwise."""
        if self.state is not None and self.state.mode == "rehearsal":
            from starter.dev import current_time

            return (await current_time((await self.flow()).client)).date()
        return datetime.now(UTC).date()

    async def step(
        self, case_id: str, update: str, payload: BaseModel, result_type: type | None = None
    ) -> Any:
        return await (await self.flow()).step(case_id, update, payload, result_type)

    async def task_status(self, task_id: str) -> PartnerTaskStatus:
        return await (await self.flow()).task_status(task_id)

    async def submit(self, task_id: str, response: dict[str, Any]) -> PartnerTaskResult:
        return await (await self.flow()).submit(task_id, response)


# --------------------------------------------------------------------------------------------
# A person's door: the console's API with a personal access token
# --------------------------------------------------------------------------------------------


class ApiFront:
    """The console's API (starter/web/api.py) as the account of a personal access token."""

    def __init__(self, console_url: str, token: str | None, *, timeout: float = 60.0) -> None:
        import httpx

        self.console_url = console_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http: httpx.AsyncClient = httpx.AsyncClient(
            base_url=f"{self.console_url}/api/v1", headers=headers, timeout=timeout
        )
        self._user: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, *, body: Any = None, **params: Any) -> Any:
        """One request; the console's refusal becomes an InputError (400) or FrontRefused."""
        import httpx

        query = {k: v for k, v in params.items() if v not in (None, False)}
        try:
            response = await self.http.request(method, path, json=body, params=query)
        except httpx.HTTPError as error:
            raise FrontRefused(
                f"cannot reach the console at {self.console_url} ({error or type(error).__name__}):"
                " check CSPFLOW_CONSOLE_URL, or ask whoever runs cspflow whether it is up"
            ) from None
        if response.status_code < 300:
            return response.json()
        try:
            body = response.json()
            refusal = body["error"]
            code, message = str(refusal["code"]), str(refusal["message"])
            fields = tuple(str(f) for f in refusal.get("fields", ()))
        except (ValueError, KeyError, TypeError):
            body, code, fields = {}, "unexpected", ()
            message = f"the console answered {response.status_code}: try again later"
        if response.status_code == 400:
            raise InputError(message, code=code, fields=fields)
        raise FrontRefused(message, code, body)

    async def acting_as(self) -> str:
        if self._user is None:
            self._user = str((await self.call("GET", "/whoami"))["email"])
        return self._user

    async def start(self, definition: registry.ProcessDefinition, data: BaseModel) -> str:
        body = data.model_dump(mode="json", exclude_none=True)
        return str((await self.call("POST", f"/cases/{definition.name}", body=body))["case_id"])

    async def read_case(self, case_id: str) -> tuple[Any | None, list[Stall]]:
        from starter.health import Stall

        definition = registry.process_of_case(case_id)
        if definition is None or definition.status_model is None:
            raise FrontRefused(f"no case {case_id!r}: check the id with `cspflow cases`")
        try:
            found = await self.call("GET", f"/cases/{case_id}")
        except FrontRefused as refused:
            if refused.code != "case_stalled":
                raise
            stalls = refused.body.get("stalls", [])
            return None, [Stall.model_validate(stall) for stall in stalls]
        status = definition.status_model.model_validate(found["status"])
        return status, [Stall.model_validate(stall) for stall in found["stalls"]]

    async def list_cases(
        self, *, process: str | None, area: str | None, stage: str | None, overdue: bool
    ) -> list[CaseRow]:
        from activities.queries import CaseRow

        rows = await self.call(
            "GET",
            "/cases",
            process=process,
            area=area,
            stage=stage,
            overdue="1" if overdue else None,
        )
        return [CaseRow.model_validate(row) for row in rows]

    async def step(
        self, case_id: str, update: str, payload: BaseModel, result_type: type | None = None
    ) -> Any:
        from starter.client import is_task_id

        body = payload.model_dump(mode="json", exclude={"signed"})
        path = (
            f"/tasks/{case_id}/{update}"
            if is_task_id(case_id)
            else f"/cases/{case_id}/steps/{update}"
        )
        return (await self.call("POST", path, body=body))["result"]

    async def task_status(self, task_id: str) -> PartnerTaskStatus:
        from schemas.partner_task import PartnerTaskStatus

        return PartnerTaskStatus.model_validate(await self.call("GET", f"/tasks/{task_id}"))

    async def submit(self, task_id: str, response: dict[str, Any]) -> PartnerTaskResult:
        raise FrontRefused(
            "a partner agency answers through the link in its request email, not through an "
            "account: open that link (the coordinator can issue a new one from the case's page)"
        )


def api_front(settings: Settings) -> ApiFront | None:
    """The console's API when CSPFLOW_CONSOLE_URL is set and a token is stored, else None."""
    token = stored_token()
    if not settings.console_url or token is None:
        return None
    return ApiFront(settings.console_url, token)
