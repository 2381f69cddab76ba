"""The console over HTTP on a real Temporal server, worker, SMTP server and records database.

Each test starts at most one case and closes it, so the shared time-skipping server never holds
an orphan case.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.testing import ActivityEnvironment

from activities.access_log import list_access
from activities.db import Case as CaseTable
from activities.records import RecordActivities
from schemas.community_trigger import Application, CaseOutcome, CloseCase
from schemas.records import CaseRecord, DecisionRow, TaskRow
from starter import answer_links
from starter.client import ClientError, Cspflow
from starter.web.app import Console, create_app
from starter.web.forms import as_posted, build_form
from tests.conftest import Inbox
from tests.web.conftest import ADMIN, AUDITOR, NORTH, SOUTH, csrf_of, given_stall
from tests.workflows.directory import COORDINATOR, COORDINATOR_NAME, application
from tests.workflows.helpers import case_result, eventually

APPLICATION = Application.model_json_schema()
ANSWER_LINK = re.compile(r"https?://[^\s\"<>]+/answer/([A-Za-z0-9._-]+)")


def application_pairs(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The start form filled in with `document`, as a browser posts it."""
    return as_posted(build_form(APPLICATION, document, skip=frozenset()))


async def start_through_form(browser: Any, today: date, reference: str) -> tuple[Any, str]:
    coordinator = browser()
    assert (await coordinator.sign_in(NORTH)).status_code == 303
    # The start form refuses a date after the real today (an application cannot be received in
    # the future), and the shared test server's clock may have run ahead of it.
    received = min(today, date.today())
    document = application(received, reference=reference).model_dump(mode="json")
    response = await coordinator.submit("/cases/new/community-trigger", application_pairs(document))
    assert response.status_code == 303, response.text
    case_id = f"ct-north-{reference}"
    assert response.headers["location"] == f"/cases/{case_id}"
    return coordinator, case_id


async def close(cspflow: Cspflow, case_id: str) -> None:
    """Close the case and wait for it to finish, leaving nothing running on the server."""
    await cspflow.step(case_id, "close_case", CloseCase(by=NORTH, reason="test finished"))
    await case_result(cspflow.client, case_id, CaseOutcome)


async def threshold_open(cspflow: Cspflow, case_id: str) -> None:
    """Wait until the case has proposed its threshold decision for the coordinator."""
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: "decide_threshold" in s.allowed_steps,
        what="the threshold step",
    )


async def answer_link_in_mail(inbox: Inbox, agency: str, *, about: str = "") -> str:
    """The answer link in the first mail to `agency` whose subject has `about` (any case)."""

    def links() -> list[str]:
        found = []
        for message in inbox.to(f"requests@{agency}.example.org"):
            if about.lower() not in str(message["Subject"]).lower():
                continue
            body = message.get_body(preferencelist=("plain",))
            found += ANSWER_LINK.findall(body.get_content() if body else "")
        return found

    async def read() -> list[str]:
        return links()

    return (await eventually(read, bool, what=f"an answer link in mail to {agency}"))[0]


@pytest.mark.usefixtures("worker")
async def test_start_a_case_through_the_form_first_with_a_mistake(
    browser: Any, cspflow: Cspflow, console: Console, today: date
) -> None:
    """A mistake shows the error summary and records nothing; the corrected form starts it."""
    coordinator = browser()
    await coordinator.sign_in(NORTH)
    document = application(min(today, date.today()), reference="W-1").model_dump(mode="json")
    document["applicant"]["email"] = "not-an-address"
    refused = await coordinator.submit("/cases/new/community-trigger", application_pairs(document))
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    assert 'href="#f-applicant-email"' in refused.text
    wanted = "Enter the applicant&#39;s email address in the correct format, like name@example.org"
    assert wanted in refused.text and "applicant.email:" not in refused.text
    assert 'value="not-an-address"' in refused.text  # what was typed is kept
    with pytest.raises(ClientError):
        await cspflow.case_status("ct-north-W-1")

    document["applicant"]["email"] = "applicant@example.net"
    started = await coordinator.submit("/cases/new/community-trigger", application_pairs(document))
    assert started.status_code == 303
    case_id = "ct-north-W-1"
    try:
        page = await coordinator.http.get(f"/cases/{case_id}")
        assert page.status_code == 200
        assert "Case W-1" in page.text
        assert "Alex Example" not in page.text  # the applicant's name is not on the case page
        assert "Deadlines" in page.text and "Threshold decision" in page.text
        assert "threshold-decision" not in page.text  # names, not ids (GOV.UK content style)
        access = await list_access(console.sessions, case_id=case_id)
        assert [(a.user, a.view) for a in access] == [(NORTH, "web:case")]
    finally:
        await close(cspflow, case_id)


@pytest.mark.usefixtures("worker")
async def test_a_step_form_records_the_decision_with_who_took_it(
    browser: Any, cspflow: Cspflow, today: date
) -> None:
    """Confirming the threshold through its form moves the case on, recorded as the coordinator."""
    coordinator, case_id = await start_through_form(browser, today, "W-2")
    try:
        await threshold_open(cspflow, case_id)
        page = await coordinator.http.get(f"/cases/{case_id}")
        assert f"/cases/{case_id}/steps/decide_threshold" in page.text
        path = f"/cases/{case_id}/steps/decide_threshold"
        refused = await coordinator.submit(path, [("decision", "override")])
        assert refused.status_code == 400
        assert "An override needs both" in refused.text
        assess = f"/cases/{case_id}/steps/assess_threshold"
        refused_by_case = await coordinator.submit(
            assess,
            [
                ("assessment.impact_significant", "false"),
                ("assessment.vulnerability_override.officer", "A Person"),
                ("assessment.vulnerability_override.role", "caretaker"),
            ],
        )
        assert refused_by_case.status_code == 400  # the Update's validator said no, and why
        assert "The vulnerability override cannot be recorded" in refused_by_case.text
        done = await coordinator.submit(path, [("decision", "confirm")])
        assert done.status_code == 303
        # The status is read from the memo, which follows the step within its workflow task.
        status = await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: any(d.step == "threshold" for d in s.decisions),
            what="the threshold decision",
        )
        decision = next(d for d in status.decisions if d.step == "threshold")
        assert decision.decided_by == NORTH
        after = await coordinator.http.get(f"/cases/{case_id}")
        assert "Decide the threshold: recorded." in after.text
        # The page reads the memo, the case as its last workflow task left it: the stage moves
        # on once the decision's notice is sent, a moment after the step was recorded.
        await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: "decide_threshold" not in s.allowed_steps,
            what="the stage after the decision",
        )
        again = await coordinator.http.get(path)
        assert again.status_code == 409  # no longer allowed at this stage
    finally:
        await close(cspflow, case_id)


@pytest.mark.usefixtures("worker")
async def test_a_partner_answers_through_the_link_in_its_mail(
    browser: Any, cspflow: Cspflow, console: Console, inbox: Inbox, today: date
) -> None:
    """The link opens that task alone; a mistake is shown; the answer becomes the task's Update."""
    _, case_id = await start_through_form(browser, today, "W-3")
    try:
        token = await answer_link_in_mail(inbox, "north-council")
        partner = browser()
        page = await partner.http.get(f"/answer/{token}")
        assert page.status_code == 200
        assert "Case reference W-3" in page.text
        # The partnership that asks and the coordinator to contact, by name (issue 12, "Words").
        assert "Answer a request from North Community Safety Partnership" in page.text
        assert f"Coordinator: {COORDINATOR_NAME}, {COORDINATOR}." in page.text
        assert "Alex Example" not in page.text and "Sam Victim" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        refused = await partner.submit(f"/answer/{token}", [("holds_information", "true")])
        assert refused.status_code == 400
        assert 'href="#f-summary"' in refused.text
        answered = await partner.submit(
            f"/answer/{token}",
            [("holds_information", "true"), ("summary", "Two visits, warning letter sent."),
             ("incident_references", "NC-1\nNC-2")],
        )  # fmt: skip
        assert answered.status_code == 200 and "Answer received" in answered.text
        task_id = f"{case_id}.task.information.north-council"
        task = await cspflow.task_status(task_id)
        assert task.state.value == "answered"
        assert any(e.by == "north-council (answer link)" for e in task.history)
        used = await partner.http.get(f"/answer/{token}")
        assert used.status_code == 403 and "This request is closed" in used.text
        access = await list_access(console.sessions, case_id=case_id)
        assert ("north-council (answer link)", "web:answer") in [(a.user, a.view) for a in access]
    finally:
        await close(cspflow, case_id)


class LongAgoSigner(TimestampSigner):
    """Signs as if 200 days ago: an answer link past any configured limit."""

    def get_timestamp(self) -> int:
        return super().get_timestamp() - 200 * 86400


@pytest.mark.usefixtures("worker")
async def test_tampered_expired_and_revoked_links_are_refused_and_record_nothing(
    browser: Any, cspflow: Cspflow, console: Console, inbox: Inbox, today: date
) -> None:
    """Each bad link gets its own page saying what to do; a new link works after a revocation."""
    coordinator, case_id = await start_through_form(browser, today, "W-4")
    task_id = f"{case_id}.task.information.test-police"
    try:
        token = await answer_link_in_mail(inbox, "test-police")
        partner = browser()
        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        page = await partner.http.get(f"/answer/{tampered}")
        assert page.status_code == 403 and "This link does not work" in page.text
        old = URLSafeTimedSerializer(
            console.secret, salt=answer_links._SALT, signer=LongAgoSigner
        ).dumps({"task": task_id})
        page = await partner.http.get(f"/answer/{old}")
        assert page.status_code == 403 and "This link has expired" in page.text

        case_page = await coordinator.http.get(f"/cases/{case_id}")
        asked = await coordinator.http.post(
            f"/tasks/{task_id}/new-link", data={"csrf_token": csrf_of(case_page.text)}
        )
        # Withdrawing links cannot be undone: a page of its own asks first, and nothing changes.
        assert asked.status_code == 200
        assert "Withdraw the answer links and issue a new one?" in asked.text
        assert (await partner.http.get(f"/answer/{token}")).status_code == 200
        revoked = await coordinator.http.post(
            f"/tasks/{task_id}/new-link",
            data={"csrf_token": csrf_of(asked.text), "confirm": "yes"},
        )
        assert revoked.status_code == 303
        shown = await coordinator.http.get(f"/cases/{case_id}")
        new_token = ANSWER_LINK.findall(shown.text)[0]
        page = await partner.http.get(f"/answer/{token}")
        assert page.status_code == 403 and "This link has been withdrawn" in page.text
        posted = await partner.http.post(
            f"/answer/{token}", data={"holds_information": "false", "summary": "x"}
        )
        assert posted.status_code == 403
        assert (await cspflow.task_status(task_id)).state.value in ("open", "overdue")
        assert (await partner.http.get(f"/answer/{new_token}")).status_code == 200
    finally:
        await close(cspflow, case_id)


@pytest.mark.usefixtures("worker")
async def test_roles_and_areas_are_checked_on_every_page(
    browser: Any, cspflow: Cspflow, today: date
) -> None:
    """Another area's coordinator is refused by URL; an auditor reads but cannot change."""
    _, case_id = await start_through_form(browser, today, "W-5")
    try:
        await threshold_open(cspflow, case_id)
        south = browser()
        await south.sign_in(SOUTH)
        assert (await south.http.get(f"/cases/{case_id}")).status_code == 403
        assert (await south.http.get("/cases?area=north")).status_code == 403
        assert case_id not in (await south.http.get("/cases")).text
        step = f"/cases/{case_id}/steps/decide_threshold"
        assert (await south.http.get(step)).status_code == 403
        page = await south.http.get("/cases")
        forged = await south.http.post(
            step, data={"decision": "confirm", "csrf_token": csrf_of(page.text)}
        )
        assert forged.status_code == 403

        auditor = browser()
        await auditor.sign_in(AUDITOR)
        page = await auditor.http.get(f"/cases/{case_id}")
        assert page.status_code == 200
        assert "/steps/" not in page.text and "new-link" not in page.text
        assert (await auditor.http.get(step)).status_code == 403
        assert (await auditor.http.get("/cases/new/community-trigger")).status_code == 403
        assert (await auditor.http.post(
            step, data={"decision": "confirm", "csrf_token": csrf_of(page.text)}
        )).status_code == 403  # fmt: skip

        admin = browser()
        await admin.sign_in(ADMIN)
        assert (await admin.http.get(step)).status_code == 200
        status = await cspflow.case_status(case_id)
        assert not [d for d in status.decisions if d.step == "threshold"]
    finally:
        await close(cspflow, case_id)


@pytest.mark.usefixtures("worker")
async def test_a_form_without_its_token_records_nothing(
    browser: Any, cspflow: Cspflow, today: date
) -> None:
    """Cross-site request forgery: a post without the session's token is refused."""
    coordinator, case_id = await start_through_form(browser, today, "W-6")
    try:
        await threshold_open(cspflow, case_id)
        step = f"/cases/{case_id}/steps/decide_threshold"
        forged = await coordinator.http.post(step, data={"decision": "confirm"})
        assert forged.status_code == 403 and "This form has expired" in forged.text
        wrong = await coordinator.http.post(step, data={"decision": "confirm", "csrf_token": "x"})
        assert wrong.status_code == 403
        status = await cspflow.case_status(case_id)
        assert not [d for d in status.decisions if d.step == "threshold"]
    finally:
        await close(cspflow, case_id)


async def test_sign_in_is_required_and_a_wrong_password_refused(browser: Any) -> None:
    """Pages redirect to sign-in; a wrong password says so without saying which part."""
    visitor = browser()
    response = await visitor.http.get("/cases")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
    refused = await visitor.sign_in(NORTH, "wrong password here")
    assert refused.status_code == 400
    assert "Enter a correct email address and password" in refused.text
    unknown = await visitor.sign_in("nobody@test.example.org")
    assert unknown.status_code == 400
    assert (await visitor.sign_in(NORTH)).status_code == 303
    assert (await visitor.http.get("/cases")).status_code == 200


async def test_every_response_carries_the_security_headers(browser: Any) -> None:
    """A strict CSP with a nonce, no referrer, no framing, no caching; the cookie is HttpOnly."""
    visitor = browser()
    response = await visitor.http.get("/sign-in")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in response.text


async def test_figures_page_and_csv(browser: Any) -> None:
    """The four s.104(10) figures for an area the account reads, with a CSV download."""
    coordinator = browser()
    await coordinator.sign_in(NORTH)
    page = await coordinator.http.get("/reports?area=north&year=2025")
    assert page.status_code == 200
    assert "Applications where the threshold was not met" in page.text
    csv_file = await coordinator.http.get(
        "/reports.csv?process=community-trigger&area=north&year=2025"
    )
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert csv_file.text.splitlines()[0] == "process,area,period_start,period_end,figure,number"
    assert "2025-04-01,2026-03-31" in csv_file.text
    assert (await coordinator.http.get("/reports?area=south")).status_code == 403
    assert (await coordinator.http.get("/reports?area=north&year=-5")).status_code == 400


def test_links_carry_no_personal_data() -> None:
    """A token names the task id only (ids carry no personal data)."""
    token = answer_links.issue_answer_token(b"k" * 32, "ct-north-R-1.task.information.x")
    payload = URLSafeTimedSerializer(b"k" * 32, salt=answer_links._SALT).loads(token)
    assert payload == {"task": "ct-north-R-1.task.information.x"}


async def test_answer_pages_are_rate_limited(console: Console) -> None:
    """An address that tries too many links in a minute is told to wait; nothing is recorded."""
    settings = console.settings.model_copy(update={"web_rate_limit": 3})
    limited = create_app(dataclasses.replace(console, settings=settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="http://testserver"
    ) as http:
        codes = [(await http.get(f"/answer/guess-{n}")).status_code for n in range(4)]
    assert codes == [403, 403, 403, 429]


async def test_a_trusted_sign_on_header_names_the_account(console: Console) -> None:
    """Behind a council's single sign-on the header signs in; no header, no access."""
    settings = console.settings.model_copy(update={"web_trusted_header": "X-Remote-User"})
    proxied = create_app(dataclasses.replace(console, settings=settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=proxied), base_url="http://testserver"
    ) as http:
        assert (await http.get("/cases")).status_code == 303
        page = await http.get("/cases", headers={"X-Remote-User": NORTH.upper()})
        assert page.status_code == 200 and "coord.north" in page.text
        unknown = await http.get("/cases", headers={"X-Remote-User": "stranger@example.org"})
        assert unknown.status_code == 303
        assert "Sign in through your council" in (await http.get("/sign-in")).text


async def test_cases_sort_by_deadline_or_received_either_way(
    browser: Any, console: Console
) -> None:
    """Soonest deadline first by default; a column header orders by it, and again reverses it."""
    now = datetime(2026, 1, 5, tzinfo=UTC)
    async with console.sessions() as session, session.begin():
        for reference, received, deadline in (
            ("S-1", date(2025, 12, 1), date(2026, 2, 1)),
            ("S-2", date(2025, 11, 1), date(2026, 1, 10)),
            ("S-3", date(2025, 12, 20), None),
        ):
            session.add(
                CaseTable(
                    case_id=f"ct-north-{reference}", process="community-trigger", area="north",
                    reference=reference, received_on=received, policy="test-ct v1",
                    opened_at=now, opened_by=NORTH, stage="threshold", next_deadline=deadline,
                    updated_at=now,
                )
            )  # fmt: skip
    coordinator = browser()
    await coordinator.sign_in(NORTH)

    async def order(query: str) -> list[str]:
        page = (await coordinator.http.get(f"/cases{query}")).text
        return re.findall(r">(S-\d)</a>", page)

    assert await order("") == ["S-2", "S-1", "S-3"]
    assert await order("?sort=-deadline") == ["S-1", "S-2", "S-3"]
    assert await order("?sort=received") == ["S-2", "S-1", "S-3"]
    assert await order("?sort=-received") == ["S-3", "S-1", "S-2"]
    page = (await coordinator.http.get("/cases?sort=deadline")).text
    assert 'href="/cases?sort=-deadline"' in page  # the header reverses the current order
    # A check-only process (modern slavery) has no cases: neither the filter nor the footer's
    # list of the duties the console runs names it; the processes that run are named.
    assert "Modern slavery duty to notify" not in page
    assert "Modern Slavery Act 2015" not in page
    assert "Domestic Homicide Review" in page and "Anti-social Behaviour" in page


@pytest.mark.usefixtures("worker")
async def test_a_case_that_cannot_move_on_says_so_without_the_error_text(
    browser: Any, cspflow: Cspflow, today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case page leads with the stall banner; the failure's text (it may name a person)
    stays out of the page. Detection itself runs on a real server in tests/test_stalled.py;
    here only what the page says is checked, so the stall is given."""
    coordinator, case_id = await start_through_form(browser, today, "W-STALL")
    try:
        await threshold_open(cspflow, case_id)
        task_id = f"{case_id}.task.information.police"
        given_stall(
            monkeypatch,
            case_id,
            workflow_id=task_id,
            kind="task",
            workflow_type="PartnerTask",
            attempts=7,
            since=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            reason="[TMPRL1100] Nondeterminism error: secret detail of Jo Bloggs",
        )
        page = await coordinator.http.get(f"/cases/{case_id}")
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        assert "This case cannot move on." in text
        said = f"The partner task {task_id} has failed 7 times in a row since 1 December 2026"
        assert said in text
        assert "Jo Bloggs" not in text and "TMPRL1100" not in text
    finally:
        await close(cspflow, case_id)


async def test_dhr_figures_page_lists_open_reviews_with_late_agencies(
    browser: Any, session_factory: Any
) -> None:
    """/reports?process=dhr shows the year's DHR counts and a table of open reviews."""
    records, today = RecordActivities(session_factory), datetime.now(UTC).date()
    case_id, notified = "dhr-north-N-DHR-1", today - timedelta(days=40)
    opened = datetime.combine(notified, datetime.min.time(), UTC)
    writes: list[tuple[Any, Any]] = [
        (
            records.record_case,
            CaseRecord(
                case_id=case_id, process="dhr", area="north", reference="N-DHR-1",
                received_on=notified, policy="north-dhr-v1", opened_at=opened,
                opened_by=NORTH, stage="agency-reports",
            ),
        ),
        (
            records.record_decision,
            DecisionRow(
                idempotency_key=f"{case_id}:decision-proposal:1", case_id=case_id,
                step="proposal", outcome="dhr", decided_by="cspflow", decided_at=opened,
            ),
        ),
        (
            records.record_task,
            TaskRow(
                task_id=f"{case_id}.task.imr.test-police", case_id=case_id, agency="test-police",
                kind="imr", requested_on=notified, due=today - timedelta(days=5), state="overdue",
            ),
        ),
    ]  # fmt: skip
    for activity_fn, arg in writes:
        await ActivityEnvironment().run(activity_fn, arg)
    coordinator = browser()
    await coordinator.sign_in(NORTH)
    year = today.year if today.month >= 4 else today.year - 1

    page = await coordinator.http.get(f"/reports?process=dhr&area=north&year={year}")

    assert page.status_code == 200
    assert "Reports copied to the Domestic Abuse Commissioner" in page.text
    table = page.text[page.text.index('id="open-cases"') :]
    assert "N-DHR-1" in table and "Waiting for chronologies and IMRs" in table
    assert "Test Police (IMR, due" in table and "5 days late" in table
    assert "test-police" not in table
