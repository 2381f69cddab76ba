"""What every `cspflow` command shares: the app, output, errors, settings and connections.

Exit codes: 0 done; 1 refused or failed (the message says what to do); 2 the input is wrong
(a file or an option), nothing was recorded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from schemas.directory import Directory
from schemas.errors import CspflowError, InputError
from schemas.validation import shown, utf8_text
from starter import strict_json
from starter.settings import Settings

if TYPE_CHECKING:
    from starter.cli.front import Front
    from starter.client import Cspflow
    from starter.dev import DevState


_IMPORTED_AT = time.monotonic()
"""When the command started, near enough: `cspflow dev` reports its start-up time from here."""

P = ParamSpec("P")
T = TypeVar("T")

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

APP_HELP = (
    "Durable, auditable workflows for the statutory processes of Community Safety Partnerships."
)


class _Cspflow(typer.Typer):
    """The `cspflow` command, whose help lists the processes registered when it is read."""

    @property
    def info(self) -> Any:
        from starter import registry

        listed = "; ".join(f"{p.name}: {p.title}" for p in registry.processes())
        self._info.help = f"{APP_HELP} Processes: {listed}."
        return self._info

    @info.setter
    def info(self, value: Any) -> None:
        self._info = value


app = _Cspflow(
    name="cspflow",
    help=APP_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
task_app = typer.Typer(
    help="Partner tasks: what is asked, extend the due date, cancel.", no_args_is_help=True
)
policy_app = typer.Typer(
    help="The local review procedure in force in an area.", no_args_is_help=True
)
clock_app = typer.Typer(
    help="The rehearsal clock (only with `cspflow dev --rehearsal`).", no_args_is_help=True
)
mail_app = typer.Typer(help="Mail caught by the local mail catcher of `cspflow dev`.")
app.add_typer(task_app, name="task")
app.add_typer(policy_app, name="policy")
app.add_typer(clock_app, name="clock")
audit_app = typer.Typer(
    help="For auditors: replay histories, timelines, deadline summaries, bundles, access log.",
    no_args_is_help=True,
)
app.add_typer(mail_app, name="mail")
app.add_typer(audit_app, name="audit")


# --------------------------------------------------------------------------------------------
# Plumbing: output, errors, settings, connections
# --------------------------------------------------------------------------------------------


# Values a user supplied (a field path, a reason, an id) are printed as given: no rich markup
# ("[bold]"), no emoji codes (":smile:") and no highlighting may change what they say.
def _out() -> Console:
    return Console(markup=False, emoji=False, highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _Refused(CspflowError):
    """A request the system refused (a ClientError, an unreachable server): exit code 1."""


def handled(command: Callable[P, T]) -> Callable[P, T]:
    """Turn the errors a person can fix into a message on stderr and an exit code, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            if kwargs.get("as_json"):
                # Machine callers read the error from standard output: a stable code and the
                # fields at fault beside the sentence (house style §9).
                _print_json(error.as_json())
            _err().print(f"error: {error}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except Exception as error:
            # starter.client (and the workflows behind it) is imported only by commands that
            # talk to Temporal, so `example` or `policy` work whatever state those are in.
            client = sys.modules.get("starter.client")
            refused = isinstance(error, CspflowError) or (
                client is not None and isinstance(error, client.ClientError)
            )
            if not refused and _temporal_error(error):
                error = _Refused(f"Temporal could not answer: {error}")
                refused = True
            if not refused:
                raise
            _err().print(f"error: {error}")
            raise typer.Exit(EXIT_REFUSED) from None

    return wrapper


def _temporal_error(error: Exception) -> bool:
    """A failure Temporal reported (a query that failed, an RPC refused): no traceback."""
    if "temporalio.client" not in sys.modules:
        return False
    from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
    from temporalio.service import RPCError

    return isinstance(error, WorkflowQueryFailedError | WorkflowQueryRejectedError | RPCError)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _settings() -> tuple[Settings, DevState | None]:
    """The settings, pointed at the running `cspflow dev` system when there is one."""
    from starter.dev import resolve_settings

    return resolve_settings(Settings())


async def _connect(settings: Settings) -> Cspflow:
    from starter.client import Cspflow
    from starter.runtime import connect

    try:
        client = await connect(settings, identity=settings.user)
    except CspflowError:  # e.g. a malformed payload key ring: its message says what to do
        raise
    except Exception as error:  # the SDK raises RuntimeError for any failed connect
        raise _Refused(
            f"cannot reach Temporal at {settings.temporal_address} ({error}): start the system "
            "with `cspflow dev` (or `make dev`), or set CSPFLOW_TEMPORAL_ADDRESS"
        ) from None
    from starter.step_signing import StepSigner

    # An operator on the server, who can read the console's step-signing key, signs as
    # CSPFLOW_USER; anyone else's steps are refused by cases started since issue 13.
    return Cspflow(
        client=client,
        task_queue=settings.task_queue,
        user=settings.user,
        signer=StepSigner.optional(settings),
        role="operator",
    )


def _with_flow(action: Callable[[Front], Awaitable[T]]) -> T:
    """Run a case command through its door: the console's API as the stored token's account
    when CSPFLOW_CONSOLE_URL is set and `cspflow login` stored a token, else Temporal and the
    records database directly, as CSPFLOW_USER (the operator's tool on the server)."""
    from starter.cli.front import TemporalFront, api_front

    settings, state = _settings()

    async def go() -> T:
        front = api_front(settings)
        if front is None:
            return await action(TemporalFront(settings, state))
        try:
            return await action(front)
        finally:
            await front.aclose()

    return _run(go())


def _with_temporal(action: Callable[[Cspflow], Awaitable[T]]) -> T:
    """Run an operator's command on Temporal directly (stalled workflows, the rehearsal clock)."""
    settings, _ = _settings()

    async def go() -> T:
        return await action(await _connect(settings))

    return _run(go())


INPUT_LIMIT_BYTES = 1024 * 1024
"""The largest input file a command reads. An application is a few kilobytes (its longest field,
the description, is 10,000 characters); a bigger file is a mistake or an attack, and refusing it
before parsing keeps the command quick and its messages short."""


def _read_json(path: Path) -> Any:
    """Read a JSON input file ('-' is stdin); a missing, broken or hostile file is bad input.

    Every way a file can fail to become data (too big, not UTF-8, nested too deeply, a number too
    long for Python to convert, NaN, a key written twice) is a message naming the file and what
    to do, never a traceback: the person running the command can fix each of them.
    """
    stdin = str(path) == "-"
    source = "standard input" if stdin else str(path)
    try:
        if stdin:
            stream = getattr(sys.stdin, "buffer", None)
            raw = stream.read(INPUT_LIMIT_BYTES + 1) if stream else sys.stdin.read().encode()
        else:
            with path.open("rb") as file:
                raw = file.read(INPUT_LIMIT_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read {source}: {error.strerror or error}") from None
    except UnicodeError:
        raise InputError(
            f"{source} is not UTF-8 text: save it as UTF-8 and run the command again"
        ) from None
    if len(raw) > INPUT_LIMIT_BYTES:
        raise InputError(
            f"{source} is larger than {INPUT_LIMIT_BYTES // 1024} KiB, far more than any input "
            "file needs: check that it is the right file"
        )
    try:
        text = utf8_text(raw)
    except ValueError as error:
        raise InputError(f"{source} {error}, and run the command again") from None
    try:
        # A key written twice is refused with its line: json would keep the last silently.
        return strict_json.loads(text, parse_constant=_not_a_json_number)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}; correct the file and run the command again"
        ) from None
    except RecursionError:
        raise InputError(
            f"{source} nests objects or lists too deeply to read: an input file needs a few "
            "levels only; correct the file and run the command again"
        ) from None
    except ValueError as error:
        if "integer string conversion" in str(error):  # Python's int_max_str_digits guard
            error = ValueError(
                f"a number has more than {sys.get_int_max_str_digits()} digits, far more than "
                "any field needs"
            )
        raise InputError(
            f"{source} is not usable JSON: {error}; correct the file and run the command again"
        ) from None


def _not_a_json_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number (write a number, or null)")


def _parse(model: type[BaseModel], data: Any, source: str) -> Any:
    """Validate input against its schema; every field at fault is named (exit code 2).

    The error's code is `schema_error` and its fields the paths at fault, for `--json` callers.
    """
    from pydantic import ValidationError

    from schemas.validation import describe_validation_error, field_path

    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = tuple(dict.fromkeys(field_path(e["loc"]) for e in error.errors()))
        raise InputError(
            f"{source} is not valid: "
            + describe_validation_error(error, then=f"correct {source} and run the command again"),
            code="schema_error",
            fields=fields,
        ) from None


def _directory(settings: Settings) -> Directory:
    from activities.configuration import load_directory

    return load_directory(settings.directory_file)


def _known_area(directory: Directory, area: str) -> str:
    try:
        return directory.area(area).id
    except KeyError:
        known = ", ".join(a.id for a in directory.areas)
        raise InputError(
            f"no area {shown(area)} in the CSP directory; known areas: {known}",
            code="unknown_area",
            fields=("area",),
        ) from None


async def _records(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run a read against the records database, migrated to the newest schema first."""
    from activities.db import make_engine, make_session_factory, migrate

    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    try:
        return await action(make_session_factory(engine))
    finally:
        await engine.dispose()


def _when(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _table(title: str, *columns: str) -> Table:
    """A table whose cells wrap rather than cut: ids and dates must be read whole."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


# --------------------------------------------------------------------------------------------
# Processes: every process gets `example`, `schema`, `start` and `check` from this registry


def _acting(data: Any, user: str, source: str) -> dict[str, Any]:
    """Fill in `by` from CSPFLOW_USER; refuse a file that names someone else."""
    if not isinstance(data, dict):
        raise InputError(f"{source} must hold a JSON object (a {{...}} mapping)")
    given = data.get("by")
    if given is not None and given != user:
        raise InputError(
            f"{source} says by={shown(given)} but you are acting as {user!r} (CSPFLOW_USER): every "
            "step is recorded as the person who takes it; remove 'by' from the file"
        )
    return {**data, "by": user}
