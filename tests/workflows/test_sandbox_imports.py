"""Workflow modules pass their helper modules through the sandbox instead of re-importing them.

The sandbox imports a workflow's own module afresh for every run, with a fresh `workflows`
package. `from workflows import effects` in that module then loads another copy of effects.py
into each run (Python's fromlist import bypasses the sandbox's pass-through); `import
workflows.effects as effects` passes the worker's copy through. The extra copy cost CPU on every
case (bench.whole_case, issue 5).
"""

from __future__ import annotations

import ast
import inspect
import sys

import workflows
from starter.runtime import workflows as registered_workflows


def test_no_workflow_module_imports_a_workflows_submodule_by_fromlist() -> None:
    for workflow in registered_workflows():
        module = sys.modules[workflow.__module__]
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == workflows.__name__:
                names = ", ".join(alias.name for alias in node.names)
                raise AssertionError(
                    f"{module.__name__} line {node.lineno}: `from workflows import {names}` "
                    f"re-imports it in every sandbox; write `import workflows.{names} as {names}`"
                )
