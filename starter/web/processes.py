"""The processes the console knows: each one's input model, start, human steps and figures.

One entry per process and no page code: the console's pages and forms are generated from these
models (starter.web.forms), so a process added later appears by adding its entry here, beside
its entries in the CLI's registries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from activities.db import SessionFactory
from activities.queries import community_trigger_figures
from schemas.community_trigger import Application
from schemas.shared import Process
from starter.client import COMMUNITY_TRIGGER_STEPS, Cspflow


@dataclass(frozen=True)
class StepSpec:
    """A human step: its Update, its input model, and the words on its button."""

    update: str
    model: type[BaseModel]
    title: str


@dataclass(frozen=True)
class ProcessSpec:
    """What the console needs of one statutory process."""

    process: Process
    title: str
    statute: str
    input_model: type[BaseModel]
    start: Callable[[Cspflow, Any], Awaitable[str]]
    steps: dict[str, StepSpec]
    figures: Callable[[SessionFactory, str, int], Awaitable[dict[str, int]]]
    figure_labels: dict[str, str]
    case_prefix: str

    def step(self, update: str) -> StepSpec | None:
        """The step an Update name stands for, if the process has it."""
        return self.steps.get(update)


def _sentence(update: str) -> str:
    words = update.replace("_", " ")
    return words[:1].upper() + words[1:]


async def _start_community_trigger(flow: Cspflow, application: Any) -> str:
    return await flow.start_community_trigger(application)


COMMUNITY_TRIGGER = ProcessSpec(
    process=Process.COMMUNITY_TRIGGER,
    title="Community Trigger (ASB case review)",
    statute="Anti-social Behaviour, Crime and Policing Act 2014, section 104",
    input_model=Application,
    start=_start_community_trigger,
    steps={
        update: StepSpec(update, model, _sentence(update))
        for update, model in COMMUNITY_TRIGGER_STEPS.values()
    },
    figures=community_trigger_figures,
    figure_labels={
        "applications": "Applications for a case review received",
        "threshold_not_met": "Applications where the threshold was not met",
        "reviews_carried_out": "Case reviews carried out",
        "reviews_with_recommendations": "Case reviews that resulted in recommendations",
    },
    case_prefix="ct-",
)

PROCESSES: dict[str, ProcessSpec] = {spec.process.value: spec for spec in (COMMUNITY_TRIGGER,)}


def process_of_case(case_id: str) -> ProcessSpec | None:
    """The process a case id belongs to, from its prefix (ids carry no personal data)."""
    for spec in PROCESSES.values():
        if case_id.startswith(spec.case_prefix):
            return spec
    return None
