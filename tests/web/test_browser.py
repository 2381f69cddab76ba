"""The console in a real browser: Debian's Chromium driven by Playwright, axe-core on every page.

Issue 6 "Tests": sign in, start a Community Trigger case through the form (first with a mistake,
seeing the error summary), open the partner link from the mail caught by the local SMTP server
and answer, see the case advance; role and area isolation; a tampered link refused; axe-core
(from npm) run on every page, failing on any serious or critical violation; and no Content
Security Policy violation, so GOV.UK Frontend's script runs under the strict policy.

Chromium comes from Debian (`/usr/bin/chromium`, installed by scripts/ensure-postgres.sh) and is
launched through `executable_path`: no browser is downloaded. Screenshots of the main pages are
saved in test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from activities.configuration import load_directory
from schemas.dhr import DhrNotification
from starter import answer_links
from starter.client import ClientError, Cspflow
from starter.settings import PROJECT_ROOT, Settings
from starter.web.app import Console
from starter.web.forms import as_posted, build_form
from starter.web.server import WebServer, start_web
from tests.conftest import Inbox, free_port, start_time_skipping_server
from tests.internal_codes import internal_codes
from tests.web.conftest import AUDITOR, NORTH, PASSWORD, SOUTH, given_stall
from tests.web.test_console import LongAgoSigner, answer_link_in_mail, application_pairs, close
from tests.workflows.dhr_cases import close_and_finish, to_agency_reports
from tests.workflows.dhr_cases import notification as dhr_notification
from tests.workflows.directory import application
from tests.workflows.helpers import eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Checked:
    """What the pages did wrong: accessibility violations and CSP refusals, by page."""

    violations: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)


async def audit(page: Page, checked: Checked, name: str) -> None:
    """Run axe-core on the page; keep every serious or critical violation; screenshot it."""
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    for violation in result["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"]][:3]
            checked.violations.append(f"{name}: {violation['id']} {violation['impact']} {targets}")
    checked.pages.append(name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    await page.screenshot(path=str(SHOTS / f"{name}-top.png"))


SAID_FOR_MISTAKES = {
    "Date received must be a real date": "#f-received-on-day",
    "Enter the applicant's name": "#f-applicant-name",
    "Select whether the applicant is the victim": "#f-applicant-is-victim-0",
    "Add at least one victim": "#f-victims",
}
"""The start form's error summary for an empty name, 31 February and no victim: the GOV.UK
Design System's words, each linked to its question (issue 12)."""

NOTIFICATION = DhrNotification.model_json_schema()

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
PUBLISHED = {"case-1280": "case", "answer": "answer", "start-form-errors": "start-errors"}
"""The screenshots the README shows, taken by this test: test-artifacts name -> docs name."""


def _publish_screenshots() -> None:
    """Copy the README's screenshots from this run (CSPFLOW_PUBLISH_SCREENSHOTS=1 only)."""
    if os.environ.get("CSPFLOW_PUBLISH_SCREENSHOTS") != "1":
        return
    for taken, published in PUBLISHED.items():
        top = taken in ("answer", "start-form-errors")
        source = SHOTS / f"{taken}-top.png" if top else SHOTS / f"{taken}.png"
        shutil.copyfile(source, DOCS_SHOTS / f"{published}.png")


async def scan_for_codes(page: Page, console: Console, case_id: str) -> None:
    """The page a person reads carries no internal code (tests/internal_codes.py); the case id
    is shown once, for cspflow commands."""
    text = await page.locator("main").inner_text()
    found = internal_codes(text, console.directory, allowed=(case_id,))
    assert found == [], (found, text)


async def fill(page: Page, pairs: list[tuple[str, str]]) -> None:
    """Type a form's answers as a person would: text boxes, radios, selects, check boxes."""
    for name, value in pairs:
        if name.endswith(".count"):
            # "Add another": press it (a real form post, no JavaScript) until the list is long
            # enough; what was typed so far comes back filled in.
            key = name.removesuffix(".count")
            counter = page.locator(f'input[type="hidden"][name="{name}"]')
            while int(await counter.get_attribute("value") or 0) < int(value):
                async with page.expect_navigation():
                    await page.click(f'button[name="_add"][value="{key}"]')
            continue
        locator = page.locator(f'[name="{name}"]')
        kind = await locator.first.evaluate("e => e.tagName + ':' + (e.type || '')")
        if kind == "INPUT:radio" or kind == "INPUT:checkbox":
            if value:
                await page.locator(f'[name="{name}"][value="{value}"]').check()
        elif kind.startswith("SELECT"):
            if value:
                await locator.select_option(value)
        else:
            await locator.fill(value)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server: a browser journey that ends with its worker still
    finishing a task must not hold the shared server's clock for the tests after it."""
    async with await start_time_skipping_server() as environment:
        yield environment


@pytest.fixture
async def served(
    env: WorkflowEnvironment, settings: Settings, console: Console
) -> AsyncIterator[WebServer]:
    """The console on a real port on loopback, as `cspflow web` serves it."""
    web_settings = settings.model_copy(update={"web_port": free_port()})
    server = await start_web(
        web_settings, env.client, console.sessions, load_directory(settings.directory_file)
    )
    yield server
    await server.stop()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-postgres.sh (apt-get chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def new_context(
    chromium: Browser, checked: Checked, *, javascript: bool = True
) -> tuple[BrowserContext, Page]:
    context = await chromium.new_context(java_script_enabled=javascript)
    page = await context.new_page()

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            checked.csp.append(message.text)

    page.on("console", on_console)
    return context, page


async def sign_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/sign-in")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Sign in')")


@pytest.mark.usefixtures("worker")
async def test_a_case_from_the_start_form_to_a_partner_answer_in_a_browser(
    served: WebServer,
    chromium: Browser,
    cspflow: Cspflow,
    console: Console,
    inbox: Inbox,
    today: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole journey in Chromium, every page accessible and within its security policy."""
    base, checked = served.url, Checked()
    context, page = await new_context(chromium, checked)
    case_id = "ct-north-B-1"
    try:
        await page.goto(f"{base}/sign-in")
        await audit(page, checked, "sign-in")
        await sign_in(page, base, NORTH)
        await page.wait_for_url(f"{base}/cases")
        await audit(page, checked, "cases")

        await page.click("a:has-text('Start a case')")
        await page.wait_for_url(f"{base}/cases/new")
        await audit(page, checked, "choose-process")  # every registered process that can start
        await page.click("a:has-text('Community Trigger')")
        await page.wait_for_url(f"{base}/cases/new/community-trigger")
        await audit(page, checked, "start-form")
        # The form refuses a date after the real today; the test server's clock may be ahead.
        received = min(today, date.today())
        document = application(received, reference="B-1").model_dump(mode="json")
        mistakes = {"applicant.name": "", "received_on.day": "31", "received_on.month": "2"}
        victim = {k for k, _ in application_pairs(document) if k.startswith("victims.0.")}
        pairs = [
            (k, mistakes.get(k, v))
            for k, v in application_pairs(document)
            if k not in victim and k != "applicant.is_victim"
        ]
        await fill(page, pairs)
        await page.click("form button.govuk-button:has-text('Start the case') >> nth=-1")
        summary = page.locator(".govuk-error-summary")
        await summary.wait_for()
        links = {
            await a.inner_text(): await a.get_attribute("href")
            for a in await summary.locator("a").all()
        }
        assert links == SAID_FOR_MISTAKES, links
        for message, href in links.items():
            # Each message is beside its question too, and the link lands on that question.
            assert await page.locator(f"{href}").count() == 1, href
            beside = " ".join(await page.locator(".govuk-error-message").all_inner_texts())
            assert message in beside, (message, beside)
        title = "Error: Start a Community Trigger (ASB case review) case \u2013 cspflow"
        assert await page.title() == title
        await audit(page, checked, "start-form-errors")
        await summary.locator("a", has_text="Enter the applicant's name").click()
        assert await page.evaluate("document.activeElement.id") == "f-applicant-name"
        await page.fill("#f-applicant-name", document["applicant"]["name"])
        await page.fill("#f-received-on-day", str(received.day))
        await page.fill("#f-received-on-month", str(received.month))
        await page.check('[name="applicant.is_victim"][value="true"]')
        await fill(page, [(k, v) for k, v in application_pairs(document) if k in victim])
        await page.click("form button.govuk-button:has-text('Start the case') >> nth=-1")
        await page.wait_for_url(f"{base}/cases/{case_id}")
        await audit(page, checked, "case")
        await scan_for_codes(page, console, case_id)

        # The "cannot move on" banners (starter/health.py) meet the same checks. Detection runs
        # on a real server in tests/test_stalled.py; here the stall is given.
        with monkeypatch.context() as patched:
            given_stall(patched, case_id)
            await page.reload()
            await page.locator("text=This case cannot move on.").wait_for()
            await audit(page, checked, "case-stalled")
            await page.goto(f"{base}/cases")
            await page.locator("text=1 case cannot move on").wait_for()
            await audit(page, checked, "cases-stalled")
        await page.goto(f"{base}/cases/{case_id}")

        token = await answer_link_in_mail(inbox, "north-council")
        partner_context, partner = await new_context(chromium, checked)
        await partner.goto(f"{base}/answer/{token}")
        await audit(partner, checked, "answer")
        assert (
            "Answer a request from North Community Safety Partnership"
            in await partner.locator("h1").inner_text()
        )
        await scan_for_codes(partner, console, case_id)
        await partner.check('[name="holds_information"][value="true"]')
        await partner.fill("#f-summary", "Two visits and a warning letter.")
        await partner.click("form button.govuk-button:has-text('Send answer') >> nth=-1")
        await partner.locator("h1:has-text('Answer received')").wait_for()
        await audit(partner, checked, "answer-received")
        await partner.goto(f"{base}/answer/{token[:-2]}xx")
        await audit(partner, checked, "answer-link-refused")
        await partner_context.close()

        # Another agency's browser runs no JavaScript: answering must not need it.
        police_token = await answer_link_in_mail(inbox, "test-police")
        plain_context, plain = await new_context(chromium, checked, javascript=False)
        await plain.goto(f"{base}/answer/{police_token}")
        await plain.check('[name="holds_information"][value="false"]')
        await plain.fill("#f-summary", "No record of the address.")
        await plain.click("form button.govuk-button:has-text('Send answer') >> nth=-1")
        await plain.locator("h1:has-text('Answer received')").wait_for()
        await plain_context.close()

        await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: (
                {t.agency for t in s.tasks if t.state == "answered"}
                == {"north-council", "test-police"}
            ),
            what="the answered task on the case",
        )
        response = await page.goto(f"{base}/cases/{case_id}")
        assert response is not None and response.status == 200, await page.content()
        tasks = await page.locator("h2:has-text('Partner tasks') + table").inner_text()
        assert tasks.count("Answered") == 2, tasks
        await audit(page, checked, "case-advanced")
        await scan_for_codes(page, console, case_id)
        for width, name in ((1280, "case-1280"), (390, "case-phone")):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.reload()
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the case page scrolls sideways at {width} px"
            await audit(page, checked, name)
        await page.set_viewport_size({"width": 1280, "height": 720})
        await page.goto(f"{base}/cases/{case_id}/steps/decide_threshold")
        await audit(page, checked, "step-form")
        await page.goto(f"{base}/reports")
        await audit(page, checked, "reports")

        south_context, south = await new_context(chromium, checked)
        await sign_in(south, base, SOUTH)
        await south.wait_for_url(f"{base}/cases")
        response = await south.goto(f"{base}/cases/{case_id}")
        assert response is not None and response.status == 403
        await audit(south, checked, "refused")
        await south_context.close()

        auditor_context, auditor = await new_context(chromium, checked)
        await sign_in(auditor, base, AUDITOR)
        await auditor.wait_for_url(f"{base}/cases")
        await auditor.goto(f"{base}/cases/{case_id}")
        assert await auditor.locator("a[href*='/steps/']").count() == 0
        assert await auditor.locator("form[action*='new-link']").count() == 0
        response = await auditor.goto(f"{base}/cases/{case_id}/steps/decide_threshold")
        assert response is not None and response.status == 403
        expired = URLSafeTimedSerializer(
            console.secret, salt=answer_links._SALT, signer=LongAgoSigner
        ).dumps({"task": f"{case_id}.task.information.test-icb"})
        await auditor.goto(f"{base}/answer/{expired}")
        assert "This link has expired" in await auditor.locator("h1").inner_text()
        await audit(auditor, checked, "answer-link-expired")
        await auditor_context.close()
    finally:
        await context.close()
        with contextlib.suppress(ClientError):  # not started: the first failure tells why
            await close(cspflow, case_id)
    assert checked.violations == [], "\n".join(checked.violations)
    assert checked.csp == [], "\n".join(checked.csp)
    assert len(checked.pages) == 18
    _publish_screenshots()


async def test_the_checks_catch_a_planted_violation(served: WebServer, chromium: Browser) -> None:
    """axe-core reports an image with no text alternative, and the CSP blocks an inline script:
    the page checks above can fail."""
    checked = Checked()
    context, page = await new_context(chromium, checked)
    try:
        await page.goto(f"{served.url}/sign-in")
        await page.evaluate(
            """() => {
                const img = document.createElement('img');
                img.src = '/govuk/assets/images/favicon.svg';
                document.querySelector('main').appendChild(img);
                const script = document.createElement('script');
                script.textContent = 'window.planted = true';
                document.body.appendChild(script);
            }"""
        )
        await audit(page, checked, "planted")
        assert any("image-alt critical" in v for v in checked.violations), checked.violations
        assert await page.evaluate("() => window.planted === undefined")
        await page.wait_for_timeout(200)
        assert any("inline" in message for message in checked.csp), checked.csp
    finally:
        await context.close()


@pytest.mark.usefixtures("worker")
async def test_a_dhr_from_the_start_form_to_scoping_and_imr_answers_and_the_figures(
    served: WebServer,
    chromium: Browser,
    env: WorkflowEnvironment,
    cspflow: Cspflow,
    console: Console,
    inbox: Inbox,
    today: date,
) -> None:
    """A coordinator starts a DHR from the form, the police answer scoping through the link in
    their mail, the figures page lists the open review, and the police answer their IMR request
    through its link; every page accessible and within its security policy."""
    base, checked = served.url, Checked()
    context, page = await new_context(chromium, checked)
    case_id = "dhr-north-N-DHR-B1"
    started = False
    try:
        await sign_in(page, base, NORTH)
        await page.wait_for_url(f"{base}/cases")
        await page.goto(f"{base}/cases/new/dhr")
        await audit(page, checked, "dhr-start-form")
        document = dhr_notification(today, reference="N-DHR-B1").model_dump(mode="json")
        await fill(page, as_posted(build_form(NOTIFICATION, document, skip=frozenset())))
        await page.click("form button.govuk-button:has-text('Start') >> nth=-1")
        await page.wait_for_url(f"{base}/cases/{case_id}")
        started = True
        await audit(page, checked, "dhr-case")
        await scan_for_codes(page, console, case_id)

        token = await answer_link_in_mail(inbox, "test-police")
        partner_context, partner = await new_context(chromium, checked)
        await partner.goto(f"{base}/answer/{token}")
        await audit(partner, checked, "dhr-scoping-answer")
        await scan_for_codes(partner, console, case_id)
        await partner.check('[name="had_contact"][value="true"]')
        await partner.check('[name="records_secured"][value="true"]')
        await partner.fill("#f-summary", "Two call-outs to the address in 2024.")
        await partner.click("form button.govuk-button:has-text('Send answer') >> nth=-1")
        await partner.locator("h1:has-text('Answer received')").wait_for()
        await audit(partner, checked, "dhr-answer-received")
        await partner_context.close()

        await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: any(t.agency == "test-police" and t.state == "answered" for t in s.tasks),
            what="the police's scoping answer on the review",
        )
        year = today.year if today.month >= 4 else today.year - 1
        await page.goto(f"{base}/reports?process=dhr&area=north&year={year}")
        await audit(page, checked, "dhr-figures")
        table = await page.locator("#open-cases").inner_text()
        assert "N-DHR-B1" in table and "Deciding whether to hold a review" in table, table

        # Decided, chaired and scoped by the coordinator's steps; the police then answer their
        # IMR request through the link in its mail (issue 14 "Tests").
        await to_agency_reports(cspflow, case_id, today)
        token = await answer_link_in_mail(inbox, "test-police", about="individual management")
        partner_context, partner = await new_context(chromium, checked)
        await partner.goto(f"{base}/answer/{token}")
        await audit(partner, checked, "dhr-imr-answer")
        await scan_for_codes(partner, console, case_id)
        await partner.fill("#f-summary", "Two call-outs in the scope period; no disclosure.")
        await partner.check('[name="chronology_included"][value="true"]')
        await partner.check('[name="author_independent"][value="true"]')
        await partner.fill("#f-signed-off-by", "Head of Public Protection")
        await partner.click("form button.govuk-button:has-text('Send answer') >> nth=-1")
        await partner.locator("h1:has-text('Answer received')").wait_for()
        await partner_context.close()
        answered = await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: any(t.kind == "imr" and t.state == "answered" for t in s.tasks),
            what="the police's IMR on the review",
        )
        imr = next(t for t in answered.tasks if t.kind == "imr" and t.state == "answered")
        assert (imr.agency, imr.author_independent, imr.signed_off_by) == (
            "test-police",
            True,
            "Head of Public Protection",
        )
    finally:
        await context.close()
        if started:
            await close_and_finish(env, cspflow, case_id)
    assert checked.violations == [], "\n".join(checked.violations)
    assert checked.csp == [], "\n".join(checked.csp)
    assert len(checked.pages) == 6
