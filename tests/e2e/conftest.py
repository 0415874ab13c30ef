"""Browser tests: Debian's Chromium driven by Playwright against the live server."""

from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.services import chromium_path, missing

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if path is None:
        missing("needs Chromium: apt-get install chromium")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def shot():
    """shot(page, name): save a full-page screenshot under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login(live_server):
    """login(page, user): sign in through the real login form."""

    def do(page, user, password: str = PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do


def poll_now(page, selector: str) -> None:
    """Make an htmx-polled element (hx-trigger="every Ns, refresh") fetch now,
    as its timer would: a test checks what the poll brings, not how long the
    interval is, and waiting for the timer cost 4-10 s a time."""
    element = page.locator(selector)
    assert "every " in (element.get_attribute("hx-trigger") or ""), "the element does not poll"
    element.evaluate("el => htmx.trigger(el, 'refresh')")
