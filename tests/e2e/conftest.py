"""Browser tests: Debian's Chromium driven by Playwright against the live server."""

import time
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
def shot(axe_scanner):
    """shot(page, name): save a full-page screenshot under var/screenshots/; the page is
    scanned with axe-core as it looks now, after any htmx swaps (see the block below)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        axe_scanner.scan(page)
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
    polls = "every " in (element.get_attribute("hx-trigger") or "")
    assert polls or element.get_attribute("data-live-panel"), "the element does not poll"
    element.evaluate("el => htmx.trigger(el, 'refresh')")


# --- Accessibility: axe-core on every page the browser tests visit (issue 17) ---------------
#
# Every page opened in any browser context of a test is scanned with axe-core (shipped inside
# axe-playwright-python) when it has loaded, and again whenever a test takes a screenshot (the
# state after htmx swaps). A critical or serious violation of a WCAG 2.0/2.1/2.2 A or AA rule
# fails the test; moderate and minor ones are printed in the test output and summed up at the
# end of the run. This block is kept apart from the fixtures above on purpose.

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_BLOCKING = {"critical", "serious"}
AXE_NOTED: dict[str, int] = {}  # rule id (impact) -> pages, for the end-of-run summary


class AxeScanner:
    """Runs axe-core on pages and keeps what it found for the current test."""

    def __init__(self):
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.reset()

    def reset(self):
        self.blocking: list[str] = []
        self.noted: list[str] = []
        self.seen: set[tuple[str, str]] = set()
        self.reported: set[tuple] = set()
        self.busy = False
        self.pending: list = []

    @staticmethod
    def _settle(page, timeout: float = 15.0) -> None:
        """Wait (polling, with a deadline) until no htmx request, swap or CSS transition is
        under way: a page half-way through one is not what a reader looks at. Polled
        from here: the page's CSP forbids the string eval that wait_for_function uses."""
        deadline = time.monotonic() + timeout
        while AxeScanner._busy(page) and time.monotonic() < deadline:
            page.wait_for_timeout(50)

    @staticmethod
    def _busy(page) -> bool:
        return page.evaluate(
            "() => !!document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
            " || document.getAnimations().some(a => a.playState === 'running')"
        )

    def _axe(self, page) -> dict:
        """axe-core's findings on the page: injected once per document (the script is
        half a megabyte), and only the violations brought back (axe's passes and
        inapplicable rules, every node of them, were most of a scan's time)."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe.axe_script)
        return page.evaluate(
            "options => axe.run(document, options)",
            {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
        )

    def attach(self, page):
        page.on("load", lambda p: self.scan(p, quiet=True))
        return page

    def scan(self, page, *, quiet: bool = False) -> list[dict]:
        """Scan the page as it is now; return its blocking violations.

        quiet: a page that navigates away or closes while being scanned (a load handler
        racing the test's next click) is skipped; its next load is scanned instead.
        """
        if self.busy and quiet:
            # A load event delivered while another scan awaits the browser: scan it next.
            self.pending.append(page)
            return []
        deadline = time.monotonic() + 60
        while self.busy and time.monotonic() < deadline:
            # The test asks while a load handler's scan is still in flight (Playwright
            # runs handlers while the test waits): let it finish, then scan.
            page.wait_for_timeout(50)
        self.busy = True
        try:
            return self._scan(page, quiet=quiet)
        finally:
            self.busy = False
            while self.pending:
                self.scan(self.pending.pop(0), quiet=True)

    def _scan(self, page, *, quiet: bool) -> list[dict]:
        length = "document.body ? document.body.innerHTML.length : 0"
        try:
            for attempt in range(3):
                try:
                    self._settle(page)
                    url = page.url
                    # The same URL in the same state is scanned once; a changed DOM again.
                    key = (url, str(page.evaluate(length)))
                    if key in self.seen:
                        return []
                    response = self._axe(page)
                except Exception:
                    # A click that follows a link returns before the browser swaps documents;
                    # a scan that straddles the swap finds no document (axe: "reading
                    # 'documentElement'" of null). Scan the page that arrives instead (a load
                    # handler's scan leaves it to that page's own load handler).
                    if quiet or attempt == 2:
                        raise
                    page.wait_for_load_state("load")
                    continue
                # An htmx request that began during the scan (hx-trigger="load") dims part
                # of the page under axe's eyes: scan again once it has settled.
                if not self._busy(page) and str(page.evaluate(length)) == key[1]:
                    break
            else:
                if quiet:
                    # A load handler racing the test's own clicks never saw the page at
                    # rest: its findings would be of a moment; the screenshot scans it.
                    return []
        except Exception:
            if quiet:
                return []
            raise
        self.seen.add(key)
        path = url.split("//", 1)[-1].split("/", 1)[-1]
        blocking = []
        for v in response["violations"]:
            found = (path.split("?")[0], v["id"], *(str(n["target"]) for n in v["nodes"]))
            if found in self.reported:
                continue
            self.reported.add(found)
            line = f"/{path}: {v['id']} ({v['impact']}) x{len(v['nodes'])}: {v['help']}"
            for node in v["nodes"][:5]:
                line += f"\n    {' '.join(map(str, node['target']))}: {node['html'][:160]}"
                summary = (node.get("failureSummary") or "").replace("\n", " ")
                line += f"\n      {summary[:300]}"
            if v["impact"] in AXE_BLOCKING:
                blocking.append(v)
                self.blocking.append(line)
            else:
                self.noted.append(line)
                rule = f"{v['id']} ({v['impact']})"
                AXE_NOTED[rule] = AXE_NOTED.get(rule, 0) + 1
        return blocking


@pytest.fixture(scope="session")
def axe_scanner():
    return AxeScanner()


@pytest.fixture(scope="session")
def browser(browser, axe_scanner):
    """The session's browser, with every page of every context it opens scanned on load."""
    new_context, new_page = browser.new_context, browser.new_page

    def scanned_context(*args, **kwargs):
        # Reduced motion turns Bootstrap's transitions off, so a scan reads the colours a
        # control settles on, not a frame half-way through a focus or hover transition.
        kwargs.setdefault("reduced_motion", "reduce")
        context = new_context(*args, **kwargs)
        context.on("page", axe_scanner.attach)
        return context

    def scanned_page(*args, **kwargs):
        return axe_scanner.attach(new_page(*args, **kwargs))

    browser.new_context, browser.new_page = scanned_context, scanned_page
    return browser


@pytest.fixture(autouse=True)
def axe_check(request, axe_scanner):
    """Fail the test on a critical or serious violation on any page it visited."""
    axe_scanner.reset()
    yield axe_scanner
    if axe_scanner.noted:
        print("axe-core, moderate and minor (not failing):\n" + "\n".join(axe_scanner.noted))
    if axe_scanner.blocking:
        pytest.fail(
            "axe-core found critical or serious WCAG A/AA violations:\n"
            + "\n".join(axe_scanner.blocking),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter):
    if AXE_NOTED:
        terminalreporter.section("axe-core: moderate and minor violations (pages)")
        for rule, pages in sorted(AXE_NOTED.items()):
            terminalreporter.write_line(f"{rule}: {pages}")
