"""The `cspflow` command: what a coordinator, a partner agency or an operator types.

Every command is a thin layer over `starter.client` (Temporal), `activities.queries` (records),
`starter.procedure` (published procedures) and `starter.mailcatcher` (caught mail), so the web
console can say the same things the same way. Every human step is recorded as the configured
identity (CSPFLOW_USER), which is also the Temporal client identity.

Exit codes: 0 done; 1 refused or failed (the message says what to do); 2 the input is wrong
(a file or an option), nothing was recorded.
"""

from __future__ import annotations

import os
import sys
import traceback

import starter.cli.audit_archive  # registers audit archive
import starter.cli.audit_bundle  # registers audit bundle, verify, keygen
import starter.cli.audit_replay  # registers audit replay, export
import starter.cli.audit_views  # noqa: F401  (registers audit timeline, deadlines, access)
from starter.cli import cases, processes, reports, system, tasks
from starter.cli import stalled as stalled  # registers stalled
from starter.cli import tokens as tokens  # registers login, token create/list/revoke, user token
from starter.cli import users as users  # registers user add, reset, disable, enable, list
from starter.cli import web as web  # registers web
from starter.cli.common import app
from starter.registry import processes as _processes

# A process's convenience commands (thin aliases of `cspflow step`), declared by its definition.
for _definition in _processes():
    if _definition.cli is not None:
        _definition.cli(app)

__all__ = [
    "app",
    "cases",
    "main",
    "processes",
    "reports",
    "system",
    "tasks",
]


def main() -> None:
    """The `cspflow` entry point.

    Once the Temporal client has been used, the process leaves with `os._exit` after flushing
    its output: the SDK's Rust threads can otherwise abort interpreter shutdown with "Fatal
    Python error: PyGILState_Release" (temporalio/sdk-python#300), turning a command that
    succeeded into exit code 134.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        os._exit(code)
    sys.exit(code)
