"""The console in a real browser: Playwright drives Debian's chromium (never a downloaded one) against the live
server of ``live.py``.

- Every test here is marked ``browser``. Without ``chromium`` on the PATH they are skipped with the reason, except
  under ``CI=true``, where they fail: CI installs chromium, so a missing browser must not pass unnoticed.
- Each test module gets its own server and database (module scope); under xdist each worker process has its own.
  Tests that spend credits use an account of their own (``live.new_account``), so they do not depend on order.
- Guards on every browser context: a request to anywhere but the app (or ``data:``) is aborted and fails the
  test; a console error or warning, or an uncaught page error (a CSP violation, a JS error, a missing asset),
  fails the test.
- ``signed_in_page`` signs in through the form once per module and reuses the browser's storage state; a test
  that signs out signs in on its own page first (signing out ends the shared session on the server).
- ``axe_clean(page)`` asserts that axe finds no accessibility violation; ``snap(page, flow, name)`` writes a
  screenshot for review when ``CONTACTVAULT_SCREENSHOTS=1`` (``make screenshots``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    Route,
    expect,
    sync_playwright,
)

from tests.browser.live import LiveServer, live_server
from tests.factories import Account

CHROMIUM = shutil.which("chromium")
HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# Chromium flags for a closed, shared machine: no /dev/shm (small in containers), no GPU, and none of the
# background calls to Google hosts that a machine without internet refuses.
CHROMIUM_ARGS = [
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chromium logs every 4xx/5xx answer as a console error; the guard judges answers by their status instead.
ANSWERED_WITH_STATUS = "Failed to load resource: the server responded with a status of"
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
# Generous for 2 shared cores; expect() polls, so a passing check returns as soon as it holds.
expect.set_options(timeout=10_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser/ is a browser test."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def require_chromium() -> None:
    """Skip without Debian's chromium, with the reason; fail instead under CI, which must have installed it."""
    if CHROMIUM is None:
        reason = "the browser tests need Debian's chromium (apt-get install chromium fonts-dejavu-core)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and chromium is missing: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _chromium_required() -> None:
    """Every browser test needs chromium (see ``require_chromium``)."""
    require_chromium()


def viewport() -> dict[str, int]:
    """The viewport: desktop, or another one named by ``CONTACTVAULT_VIEWPORT=390x844`` (``make screenshots``)."""
    named = os.environ.get("CONTACTVAULT_VIEWPORT", "")
    found = re.fullmatch(r"(\d+)x(\d+)", named)
    return {"width": int(found[1]), "height": int(found[2])} if found else DESKTOP


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """No fixed base URL: each module's server has its own port (``new_context`` sets it). This also replaces
    pytest-playwright's fallback fixture, a method that pytest 9 warns about (and warnings are errors here)."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's chromium (Playwright adds ``--no-sandbox`` itself, which running as root needs)."""
    require_chromium()  # before any module-scoped fixture launches the browser
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    """The same screen, language, time zone and look on every machine (for stable screenshots). Built here rather
    than on pytest-playwright's (device emulation, video), which would need its session-wide Playwright."""
    return {
        "viewport": viewport(),
        "locale": "en-US",
        "timezone_id": "UTC",
        "reduced_motion": "reduce",
        "color_scheme": "light",
    }


# Playwright's sync API keeps its event loop marked as running in the thread that started it, for as long as it
# runs: every later `asyncio.run()` in that thread (the worker's resolver chain, the SDK's async client) would fail
# with "cannot be called from a running event loop". So Playwright lives only while this package's tests run: an
# xdist worker that goes on to other tests stops it first (pytest tears a package fixture down when the next test
# is outside the package), instead of keeping the session-wide instance pytest-playwright would.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright for the browser tests only (see above)."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    """The browser type, from this package's Playwright."""
    chosen: BrowserType = getattr(playwright, browser_name)
    return chosen


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: BrowserType) -> Callable[..., Browser]:
    """Launches Debian's chromium with this package's options."""

    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    """One browser for this package's tests."""
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The console on a fresh, seeded database, for this module's tests."""
    with live_server(tmp_path_factory.mktemp("live")) as server:
        yield server


class Guard:
    """What a browser did that it must not: requests to other origins, console errors and warnings, page errors."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[str] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        """Guard a context and every page opened in it."""
        context.route("**/*", self._route)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)
        return context

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith((self.origin + "/", "data:")) or url == self.origin:
            route.fallback()
            return
        self.problems.append(f"blocked a request to another origin: {url}")
        route.abort()

    def _watch_page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning") or message.text.startswith(ANSWERED_WITH_STATUS):
            return
        self.problems.append(f"console {message.type}: {message.text} at {message.location.get('url', '')}")

    def _response(self, response: Response) -> None:
        # A page or an htmx request answered 4xx is the console speaking (a form to fix, a refusal, not found):
        # its own tests judge it. A missing asset, or any 5xx, is a fault.
        kind = response.request.resource_type
        if response.status >= 500 or (response.status >= 400 and kind not in ("document", "fetch", "xhr")):
            self.problems.append(f"{response.status} for {kind} {response.url}")

    def check(self) -> None:
        """Fail the test with everything seen."""
        assert not self.problems, "the browser saw:\n" + "\n".join(self.problems)


@pytest.fixture
def guard(live: LiveServer) -> Iterator[Guard]:
    """The guard of this test's contexts; checked when the test ends."""
    seen = Guard(live.url)
    yield seen
    seen.check()


@pytest.fixture
def new_context(new_context: Any, guard: Guard, live: LiveServer) -> Any:
    """Contexts (``context``, ``page`` and any a test opens itself) on the live server, guarded."""

    def make(**kwargs: Any) -> BrowserContext:
        return guard.watch(new_context(base_url=live.url, **kwargs))

    return make


@pytest.fixture(scope="module")
def signed_in_state(browser: Browser, browser_context_args: dict[str, Any], live: LiveServer) -> dict[str, Any]:
    """The browser storage (the session cookie) after signing in through the form once, for this module."""
    guard = Guard(live.url)
    context = guard.watch(browser.new_context(**browser_context_args, base_url=live.url))
    try:
        page = context.new_page()
        sign_in(page, live.account.api_key)
        expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
        state: dict[str, Any] = dict(context.storage_state())
    finally:
        context.close()
    guard.check()
    return state


@pytest.fixture
def signed_in_page(new_context: Any, signed_in_state: dict[str, Any]) -> Page:
    """A page signed in as the seeded account (``live.account``), on Home."""
    page: Page = new_context(storage_state=signed_in_state).new_page()
    page.goto("/console")
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
    return page


@pytest.fixture
def account_page(new_context: Any, live: LiveServer) -> Callable[[int], tuple[Page, Account]]:
    """A factory: a new account with ``credit`` credits, and a page signed in as it (through the form) on Home.
    For tests that spend or count credits, so that they need not know what other tests spent."""

    def make(credit: int) -> tuple[Page, Account]:
        account = live.new_account(credit)
        page: Page = new_context().new_page()
        sign_in(page, account.api_key)
        expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
        return page, account

    return make


def sign_in(page: Page, api_key: str) -> None:
    """Sign in through the form, the way a person does."""
    page.goto("/console/sign-in")
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()


def axe_clean(page: Page) -> None:
    """Assert that axe finds no accessibility violation on the page as it is now (its report when it does)."""
    results = Axe().run(page)
    assert results.violations_count == 0, f"axe found violations on {page.url}:\n{results.generate_report()}"


_shots: Counter[tuple[str, str]] = Counter()


def snap(page: Page, flow: str, name: str) -> Path | None:
    """With ``CONTACTVAULT_SCREENSHOTS=1``: a full-page PNG at ``artifacts/screenshots/<flow>/<NN>-<name>-<w>x<h>.png``
    (numbered in the order taken, per flow and size; elements marked ``data-volatile`` masked).
    Otherwise nothing: a normal run spends no time on PNGs."""
    if os.environ.get("CONTACTVAULT_SCREENSHOTS") != "1":
        return None
    size = page.viewport_size or DESKTOP
    dimensions = f"{size['width']}x{size['height']}"
    _shots[(flow, dimensions)] += 1
    path = SCREENSHOTS / flow / f"{_shots[(flow, dimensions)]:02d}-{name}-{dimensions}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # What changes from run to run (the key id, times marked data-volatile) is masked, so runs compare by eye.
    volatile = page.locator("[data-testid=principal], [data-volatile]")
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide", mask=[volatile])
    return path
