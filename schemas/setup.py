"""What a case needs to know about its area when it opens: a Community Trigger (ASBCPA 2014
s.104) or a Domestic Homicide Review (DVCVA 2004 s.9).

The setup activity resolves it from the CSP directory; the workflow records it in its history, so
the point of contact, relevant bodies and policy version of a case are those in force when the
application was received, whatever the CSP edits later.
"""

from __future__ import annotations

from pydantic import Field

from schemas.dhr import DhrPolicy
from schemas.directory import Agency, Coordinator, PointOfContact
from schemas.partner_task import TaskContact
from schemas.policy import CommunityTriggerPolicy
from schemas.shared import EmailAddress, Model, Slug


class _NamedCoordinators(Model):
    """The coordinator partners and chairs are told to contact (issue 12, "Words")."""

    point_of_contact: PointOfContact = Field(description="The CSP's published contact.")
    coordinators: tuple[Coordinator, ...] = Field(
        default=(),
        description="The area's coordinators with their names, first the one partners and "
        "chairs are told to contact. Empty in cases opened before it was resolved.",
    )

    @property
    def coordinator(self) -> TaskContact:
        """Whom partners and chairs contact about the case, named in their mail (issue 12)."""
        return TaskContact.for_area(self.coordinators, self.point_of_contact)


class CommunityTriggerSetup(_NamedCoordinators):
    """An area's published procedure, resolved for one case: who, where, which policy."""

    area_id: Slug = Field(description="The local government area of the case, e.g. 'amber-valley'.")
    area_name: str = Field(description="The area's public name, e.g. 'Amber Valley'.")
    point_of_contact: PointOfContact = Field(
        description="Where applications are made and answered (s.104(3))."
    )
    policy: CommunityTriggerPolicy = Field(
        description="The area's review procedure in force when the case opened: threshold, "
        "local rules, timescales and escalation body."
    )
    relevant_bodies: tuple[Agency, ...] = Field(
        min_length=1,
        description="Every relevant body of the area (s.105, Sch 4 para 5), each with the inbox "
        "its requests go to; an application is passed to all of them (s.104(3)(b)).",
    )
    coordinator_emails: tuple[EmailAddress, ...] = Field(
        default=(),
        description="Coordinators of the area, told of overdue steps and escalations.",
    )
    neighbouring_areas: tuple[Slug, ...] = Field(
        default=(),
        description="Areas whose independent chairs may review this area's cases.",
    )


class DhrSetup(_NamedCoordinators):
    """What a Domestic Homicide Review needs of its area when it opens (DVCVA 2004 s.9).

    Resolved from the CSP directory by the `dhr_setup` activity and recorded in the review's
    history, so the agencies asked and the policy followed are those in force at notification.
    """

    area_id: Slug = Field(description="The area whose CSP establishes the review.")
    area_name: str = Field(description="The area's public name, e.g. 'Amber Valley'.")
    point_of_contact: PointOfContact = Field(
        description="The CSP's published contact; letters for the family go there to be sent."
    )
    policy: DhrPolicy = Field(
        description="The area's DHR procedure in force at notification (statutory-default v1 "
        "when the area names none)."
    )
    agencies: tuple[Agency, ...] = Field(
        min_length=1,
        description="The agencies of the area asked at scoping whether they knew the victim or "
        "the perpetrator (s.9(4) bodies and the area's other partners).",
    )
    coordinator_emails: tuple[EmailAddress, ...] = Field(
        default=(), description="The area's coordinators, who run the review for the CSP."
    )
    neighbouring_areas: tuple[Slug, ...] = Field(
        default=(), description="Areas whose independent chairs may chair the review."
    )
