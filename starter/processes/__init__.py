"""The statutory processes cspflow runs: one line each registers a process's definition.

A process's own files are `schemas/<p>.py`, `workflows/rules/<p>.py`, `workflows/<p>*.py`,
`activities/templates/<p>/` and its definition `starter/processes/<p>.py`; registering it here is
the only edit outside them (README, "How a process is built").
"""

from starter.processes import community_trigger, dhr, modern_slavery
from starter.registry import register

register(community_trigger.DEFINITION)
register(dhr.DEFINITION)
register(modern_slavery.DEFINITION)
