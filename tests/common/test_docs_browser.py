"""The API docs pages, the admin and `/` in headless Chromium, offline: Swagger UI and ReDoc render from the app's own
files, and every page works under the Content-Security-Policy with no violation in the browser's console."""

import contextlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Every host name resolves to nothing except 127.0.0.1 (the live server): a page that needs a CDN stays blank here,
# as it would offline. The other flags keep Chromium's own background traffic (updates, sync) off.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
NETWORK_SCHEMES = {"http", "https", "ws", "wss"}
RENDER_TIMEOUT = 30  # seconds; Swagger UI and ReDoc render 27 operations in a few seconds on 2 loaded cores


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with a fresh profile, its network log on (`goog:loggingPrefs` performance)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: run `bash deploy/scripts/system-deps.sh` (`make test` does)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(RENDER_TIMEOUT)
    # The log so far is Chromium's start page; each test reads what its own pages asked for.
    driver.get_log("performance")
    yield driver
    driver.quit()


@pytest.fixture
def origin(live_server):
    """The live server as the browser reaches it: 127.0.0.1, the one address the resolver rules leave."""
    return f"http://127.0.0.1:{live_server.thread.port}"


def operations_in_schema(client, version: str) -> int:
    schema = client.get(f"/api/v{version}/schema/", {"format": "json"}).json()
    return sum(1 for item in schema["paths"].values() for method in item if method in HTTP_METHODS)


def rendered(driver, selector: str, *, expected: int) -> int:
    """How many `selector` elements the page shows, once there are `expected` or when RENDER_TIMEOUT passes."""
    with contextlib.suppress(TimeoutException):  # the count below says how far it got
        WebDriverWait(driver, RENDER_TIMEOUT).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, selector)) >= expected
        )
    return len(driver.find_elements(By.CSS_SELECTOR, selector))


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# Chromium reports each blocked load or inline code as "Refused to ... because it violates the following Content
# Security Policy directive: ..." in the console.
CSP_VIOLATION = "Content Security Policy"
# The one violation the ReDoc page is expected to have: the Redocly logo in ReDoc's sidebar footer, which no setting
# turns off, is refused by img-src (otherwise the page would load it from cdn.redoc.ly).
REDOC_LOGO = "cdn.redoc.ly"


def csp_violations(driver, *, expected: str | None = None) -> list[str]:
    """The console's CSP violations since the last read of the browser log (a violation naming `expected` aside)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if CSP_VIOLATION in entry["message"] and not (expected and expected in entry["message"])
    ]


def foreign_requests(driver, origin: str) -> list[str]:
    """URLs the pages sent to a host other than `origin` (Chromium's network log, since the last call).

    A request the page's own Content-Security-Policy blocked never leaves the browser, so it does not count: the
    ReDoc page's policy blocks the Redocly logo that ReDoc's sidebar footer always shows (common/redoc.html)."""
    sent, blocked = {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [
        url
        for request_id, url in sent.items()
        if request_id not in blocked
        and urlsplit(url).scheme in NETWORK_SCHEMES
        and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != origin
    ]


@pytest.mark.parametrize("version", ["1", "2"])
def test_swagger_ui_renders_every_operation(browser, origin, client, version):
    expected = operations_in_schema(client, version)
    browser.get(f"{origin}/api/v{version}/docs/")
    count = rendered(browser, ".opblock", expected=expected)
    assert expected >= 20  # the schema itself is whole, so the count below means something
    assert count == expected, f"Swagger UI shows {count} of {expected} operations; errors: {console_errors(browser)}"


@pytest.mark.parametrize("version", ["1", "2"])
def test_swagger_ui_runs_under_the_csp_without_a_violation(browser, origin, client, version):
    browser.get(f"{origin}/api/v{version}/docs/")
    rendered(browser, ".opblock", expected=operations_in_schema(client, version))
    browser.find_element(By.CSS_SELECTOR, ".opblock-summary").click()  # an operation opens (Swagger UI's own JS)
    assert rendered(browser, ".opblock-body", expected=1) == 1
    assert csp_violations(browser) == []


@pytest.mark.parametrize("version", ["1", "2"])
def test_swagger_ui_requests_nothing_from_another_host(browser, origin, client, version):
    browser.get(f"{origin}/api/v{version}/docs/")
    rendered(browser, ".opblock", expected=operations_in_schema(client, version))
    assert foreign_requests(browser, origin) == []


@pytest.mark.parametrize("version", ["1", "2"])
def test_redoc_renders_every_operation_in_its_menu(browser, origin, client, version):
    expected = operations_in_schema(client, version)
    browser.get(f"{origin}/api/v{version}/redoc/")
    count = rendered(browser, ".menu-content li[data-item-id*='operation/']", expected=expected)
    assert count == expected, f"ReDoc's menu shows {count} of {expected} operations; errors: {console_errors(browser)}"
    assert browser.find_element(By.CSS_SELECTOR, "h2").text


@pytest.mark.parametrize("version", ["1", "2"])
def test_redoc_runs_under_the_csp_with_only_the_logo_refused(browser, origin, client, version):
    browser.get(f"{origin}/api/v{version}/redoc/")
    rendered(browser, ".menu-content li[data-item-id*='operation/']", expected=operations_in_schema(client, version))
    assert csp_violations(browser, expected=REDOC_LOGO) == []


@pytest.mark.parametrize("version", ["1", "2"])
def test_redoc_requests_nothing_from_another_host(browser, origin, client, version):
    browser.get(f"{origin}/api/v{version}/redoc/")
    rendered(browser, ".menu-content li[data-item-id*='operation/']", expected=operations_in_schema(client, version))
    assert foreign_requests(browser, origin) == []


def test_home_links_the_docs_the_admin_and_health(browser, origin):
    browser.get(f"{origin}/")
    links = browser.find_elements(By.TAG_NAME, "a")
    assert {
        f"{origin}/api/v2/docs/",
        f"{origin}/api/v2/redoc/",
        f"{origin}/api/v2/schema/",
        f"{origin}/api/v1/docs/",
        f"{origin}/api/v1/redoc/",
        f"{origin}/api/v1/schema/",
        f"{origin}/admin/",
        f"{origin}/health/live/",
        f"{origin}/health/ready/",
        f"{origin}/health/detailed/",
    } <= {link.get_attribute("href") for link in links}
    assert {"Swagger UI", "ReDoc", "OpenAPI schema", "Admin", "/health/live/"} <= {link.text for link in links}
    assert foreign_requests(browser, origin) == []


def test_home_docs_link_opens_swagger_ui(browser, origin, client):
    browser.get(f"{origin}/")
    browser.find_element(By.ID, "docs-v2").click()
    expected = operations_in_schema(client, "2")
    assert rendered(browser, ".opblock", expected=expected) == expected
    assert browser.current_url == f"{origin}/api/v2/docs/"


def test_home_page_has_no_csp_violation(browser, origin):
    browser.get(f"{origin}/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "aiassistant-api"
    # The inline <style> applied (with the nonce): the body is narrowed to 42rem, not the browser's full width.
    assert browser.execute_script("return getComputedStyle(document.body).maxWidth") != "none"
    assert csp_violations(browser) == []


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


def admin_sign_in(browser, origin, user):
    browser.get(f"{origin}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(user.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    WebDriverWait(browser, RENDER_TIMEOUT).until(lambda d: d.current_url == f"{origin}/admin/")


def test_admin_login_page_has_no_csp_violation(browser, origin):
    browser.get(f"{origin}/admin/login/")
    assert browser.find_element(By.ID, "login-form").is_displayed()
    # The admin's stylesheet applied (a 'self' style): the login box is centred, not the unstyled page's full width.
    assert browser.execute_script("return getComputedStyle(document.getElementById('container')).width") != (
        browser.execute_script("return getComputedStyle(document.body).width")
    )
    assert csp_violations(browser) == []


def test_admin_sign_in_and_changelist_have_no_csp_violation(browser, origin, staff):
    admin_sign_in(browser, origin, staff)  # the login form posts under form-action 'self'
    browser.get(f"{origin}/admin/accounts/user/")
    assert browser.find_element(By.ID, "result_list").is_displayed()
    # The changelist's JavaScript ran (admin/js/actions.js, 'self'): ticking "select all" ticks the row.
    browser.find_element(By.ID, "action-toggle").click()
    assert browser.find_element(By.CSS_SELECTOR, "#result_list .action-select").is_selected()
    assert csp_violations(browser) == []


def test_admin_change_form_has_no_csp_violation(browser, origin, staff):
    admin_sign_in(browser, origin, staff)
    browser.get(f"{origin}/admin/accounts/user/{staff.pk}/change/")
    assert browser.find_element(By.CSS_SELECTOR, "#user_form, form[method=post]").is_displayed()
    assert csp_violations(browser) == []


def test_sso_from_the_admin_login_page_to_the_admin_in_the_browser(browser, origin, db):
    """The "Sign in with SSO" link, the stand-in provider's redirects and the callback, in Chromium under the CSP."""
    from django.test import override_settings

    from accounts.sso import provider
    from tests.oidc_standin import OidcProviderStandIn

    provider.forget()
    standin = OidcProviderStandIn(
        client_id="aiassistant-admin", client_secret="standin-secret", redirect_uris=[f"{origin}/oidc/callback/"]
    )
    sso = override_settings(
        OIDC_ENABLED=True,
        OIDC_RP_CLIENT_ID="aiassistant-admin",
        OIDC_RP_CLIENT_SECRET="standin-secret",
        OIDC_OP_DISCOVERY_URL=standin.url,
        OIDC_STAFF_GROUP="staff",
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend", "accounts.sso.backend.StaffOidcBackend"],
    )
    with standin, sso:
        standin.person = {"sub": "s-1", "email": "grace@example.com", "email_verified": True, "groups": ["staff"]}
        browser.get(f"{origin}/admin/login/?next=/admin/")
        browser.find_element(By.ID, "sso-login").click()
        WebDriverWait(browser, RENDER_TIMEOUT).until(lambda d: d.current_url == f"{origin}/admin/")
        assert "grace@example.com" in browser.find_element(By.ID, "user-tools").text.lower()
        assert csp_violations(browser) == []
    provider.forget()
