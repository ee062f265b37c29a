"""The console's page in headless Chromium, against the whole system as real processes.

A reader drives the flow from the page and watches it: a payment's cards appear in the three
lanes and are acknowledged by both groups; a poisoned entry is dead-lettered before the
reader's eyes; a stopped consumer leaves its card pending while its group's lag grows, and it
catches up when it runs again; a chaos run's fault shows in its lane until it is healed.
Screenshots go to each test's temporary directory (the one of the stopped consumer, which shows
all of it, is docs/console.png).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from console.lanes.streams import FAULTS_STREAM
from eventkit import Event
from playwright.sync_api import Browser, Locator, Page, expect

from tests.helpers import Stack, eventually
from tests.helpers.browser import chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

SETTLES_MS = 15_000  # how long the page may take to show a change that happens in ms


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("console-browser"))
    system.start("payments", "orders", "notifications", "console")
    yield system
    system.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def requested() -> list[str]:
    """Every URL the page asked for."""
    return []


@pytest.fixture
def page(browser: Browser, stack: Stack, requested: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    opened = context.new_page()
    opened.on("request", lambda request: requested.append(request.url))
    opened.goto(stack["console"].url)
    expect(opened.locator("#connection")).to_have_attribute("data-connection", "live")
    yield opened
    context.close()


def lane(page: Page, name: str) -> Locator:
    return page.locator(f'.lane[data-lane="{name}"]')


def card_of(page: Page, lane_name: str, payment_id: str, type_: str = "PaymentReceived") -> Locator:
    return lane(page, lane_name).locator(f'.card[data-subject="{payment_id}"][data-type="{type_}"]')


def figure(page: Page, group: str, name: str) -> Locator:
    return page.locator(f'.figures[data-group="{group}"] [data-figure="{name}"]')


def pay_from_the_form(page: Page, amount: str = "25.00") -> str:
    page.fill('#pay-form input[name="amount"]', amount)
    page.click('#pay-form button[type="submit"]')
    status = page.locator("#drive-status")
    expect(status).to_have_attribute("data-outcome", "ok", timeout=SETTLES_MS)
    payment_id = status.get_attribute("data-payment-id")
    assert payment_id
    return payment_id


def test_a_payment_made_on_the_page_shows_in_all_three_lanes_and_is_acknowledged(
    page: Page, stack: Stack, requested: list[str], tmp_path: Path
) -> None:
    payment_id = pay_from_the_form(page)

    # Event sourcing: the payment's first append.
    appended = card_of(page, "sourcing", payment_id)
    expect(appended).to_have_attribute("data-state", "appended")
    expect(appended.locator(".state")).to_have_text("v1 appended")
    # The thin event and the fat one, each acknowledged by its group.
    for name in ("notification", "state-transfer"):
        expect(card_of(page, name, payment_id)).to_have_attribute(
            "data-state", "acknowledged", timeout=SETTLES_MS
        )

    # The panel: the event store's history, orders' copy and the order, the notification.
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#panel-history li")).to_have_count(1)
    expect(panel.locator('[data-part="order"]')).to_have_attribute("data-status", "paid")
    expect(panel.locator("#panel-notifications li")).to_have_count(1, timeout=SETTLES_MS)

    # A refund from the panel: a second append, and both groups acknowledge it.
    panel.locator('#refund-form input[name="amount"]').fill("4.00")
    panel.locator('#refund-form button[type="submit"]').click()
    expect(panel.locator("#refund-status")).to_contain_text("partially_refunded, v2")
    refunded = card_of(page, "sourcing", payment_id, "PaymentRefunded")
    expect(refunded.locator(".state")).to_have_text("v2 appended")
    for name in ("notification", "state-transfer"):
        expect(card_of(page, name, payment_id, "PaymentRefunded")).to_have_attribute(
            "data-state", "acknowledged", timeout=SETTLES_MS
        )
    expect(panel.locator("#panel-history li")).to_have_count(2, timeout=SETTLES_MS)
    expect(panel.locator('[data-part="cached"]')).to_have_attribute("data-version", "2")
    expect(panel.locator('[data-part="order"]')).to_have_attribute(
        "data-status", "partially_refunded"
    )
    page.screenshot(path=tmp_path / "acknowledged.png")
    # Everything came from the console itself: no CDN, nothing fetched elsewhere.
    assert {url.split("/")[2] for url in requested} == {stack["console"].url.split("/")[2]}
    assert f"{stack['console'].url}/static/console.js" in requested


def test_a_poisoned_entry_is_dead_lettered_on_the_page(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    dead_letters = figure(page, "orders", "dead-letters")
    expect(dead_letters).to_have_text(re.compile(r"^\d+$"))
    before = int(dead_letters.text_content() or "")
    admin = stack.redis.client()
    poison = admin.xadd("{payments}:state", {"surprise": "not an event"}).decode()
    admin.close()

    card = lane(page, "state-transfer").locator(f'.card[data-entry-id="{poison}"]')
    expect(card).to_have_attribute("data-valid", "false")
    expect(card).to_contain_text("missing field: data")
    expect(card).to_have_attribute("data-state", "dead-lettered", timeout=SETTLES_MS)
    expect(dead_letters).to_have_text(str(before + 1))
    letter = page.locator(f'.dead-letters[data-group="orders"] [data-original-id="{poison}"]')
    expect(letter).to_contain_text("InvalidEvent: missing field: data")
    # Not an event, so no append in the event-sourcing lane.
    expect(lane(page, "sourcing").locator(f'[data-entry-id="{poison}"]')).to_have_count(0)
    page.screenshot(path=tmp_path / "dead-letter.png")


def blocked_in_redis(admin: redis.Redis, client_name: str) -> bool:
    """Whether a connection of ``client_name`` waits in a blocking read (CLIENT LIST flag b)."""
    return any(c["name"] == client_name and "b" in c["flags"] for c in admin.client_list())


def test_a_stopped_consumer_leaves_its_card_pending_and_its_lag_growing_until_it_runs(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    notifications = stack["notifications"]
    admin = stack.redis.client(decode_responses=True)
    notifications.signal(signal.SIGSTOP)
    try:
        # Its XREADGROUP BLOCK may still be waiting in Redis, which would hand the next entry
        # to the stopped process: wait until that read has timed out (CONSUMER_BLOCK_MS).
        eventually(lambda: not blocked_in_redis(admin, "notifications"), what="no blocked read")
        payment_id = pay_from_the_form(page, "12.00")

        thin = card_of(page, "notification", payment_id)
        expect(thin).to_have_attribute("data-state", "pending", timeout=SETTLES_MS)
        expect(thin.locator(".card-progress")).to_contain_text("not delivered to the group")
        expect(figure(page, "notifications", "lag-entries")).to_have_text("1")
        # The lag's age grows while the group waits: past 2 s, then past 3 s.
        for seconds in (2, 3):
            page.wait_for_function(
                """([selector, least]) =>
                    parseFloat(document.querySelector(selector).textContent) >= least""",
                arg=['.figures[data-group="notifications"] [data-figure="lag-seconds"]', seconds],
                timeout=SETTLES_MS,
            )
        # The other group is not held up by it.
        expect(card_of(page, "state-transfer", payment_id)).to_have_attribute(
            "data-state", "acknowledged"
        )
        page.screenshot(path=tmp_path / "stalled.png")
    finally:
        notifications.signal(signal.SIGCONT)
        admin.close()

    expect(thin).to_have_attribute("data-state", "acknowledged", timeout=SETTLES_MS)
    expect(figure(page, "notifications", "lag-entries")).to_have_text("0")
    expect(figure(page, "notifications", "lag-seconds")).to_have_text("0.0 s")
    page.screenshot(path=tmp_path / "caught-up.png")


def test_a_chaos_runs_faults_show_in_their_lane_until_healed(
    page: Page, stack: Stack, uid: str, tmp_path: Path
) -> None:
    # As chaos/faults.py announces them (tests/e2e/test_console_faults.py has the feed's side).
    run, faults = f"run-{uid}", lane(page, "faults")
    expect(faults).to_be_hidden()  # no chaos run yet: the page is as it always was

    def announce(type_: str) -> str:
        data = {"run": run, "seed": 3, "kind": "sigstop", "target": "notifications", "detail": {}}
        event = Event(source="chaos", type=type_, subject="notifications", data=data)
        with stack.redis.client() as admin:
            entry_id: bytes = admin.xadd(FAULTS_STREAM, event.to_fields())
        return entry_id.decode()

    injected = faults.locator(f'[data-entry-id="{announce("FaultInjected")}"]')
    expect(injected).to_have_attribute("data-state", "injected")
    expect(injected).to_contain_text("sigstop · notifications")
    expect(faults.locator('[data-figure="active-faults"]')).to_have_text("1")
    expect(faults.locator('[data-figure="chaos-run"]')).to_have_text(run)
    page.screenshot(path=tmp_path / "fault.png")

    healed = faults.locator(f'[data-entry-id="{announce("FaultHealed")}"]')
    expect(healed).to_have_attribute("data-state", "healed")
    expect(injected).to_have_attribute("data-state", "over")
    expect(faults.locator('[data-figure="active-faults"]')).to_have_text("0")
