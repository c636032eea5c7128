"""The web console in a real browser (headless Chromium through Selenium), on a real daemon.

One daemon serves the module: the iris example is trained once (with the quickstart's
MetricDefinitions) and its model deployed as a one-replica endpoint of the framework
image. The browser signs in with the link ``dockyard console`` prints, and each test
looks at one page the way a person would; a screenshot of every page is saved under
``build/`` (``build/console-*.png``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``dockyard setup --browser``,
which ``make setup-test`` runs) and the chart library (``dockyard setup``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, wait_until
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from test_ecs_services import SERVER, register, task_definition
from test_platform import (
    EXAMPLE,
    IRIS_METRICS,
    job_logs,
    predict_csv,
    training_request,
    wait_for_job,
    wait_in_service,
)

from dockyard.adapters.chart_library import ensure_chart_library
from dockyard.settings import Settings

pytestmark = pytest.mark.integration

BUILD = Path(__file__).resolve().parents[2] / "build"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 60.0


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart_library() -> None:
    """The chart library where every daemon of this user serves it from (as setup does)."""
    ensure_chart_library(Settings().share_dir)


@pytest.fixture(scope="module")
def link(daemon: Daemon, chart_library: None) -> str:
    """What `dockyard console` prints for this daemon."""
    printed = daemon.cli("console")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith(f"http://127.0.0.1:{daemon.console_port}/?token="), url
    return url


@pytest.fixture(scope="module")
def trained(daemon: Daemon, framework_image: str, unique_name: Callable[..., str]) -> str:
    name = unique_name("console-iris")
    request = training_request(
        name,
        framework_image,
        EXAMPLE / "code",
        "train.py",
        channels={"train": (EXAMPLE / "data" / "train").as_uri()},
        hyperparameters={"C": "1.0", "max-iter": "200"},
    )
    request["AlgorithmSpecification"]["MetricDefinitions"] = IRIS_METRICS
    daemon.api("POST", "/v1/training-jobs", json=request)
    job = wait_for_job(daemon, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return name


@pytest.fixture(scope="module")
def endpoint(
    daemon: Daemon, framework_image: str, trained: str, unique_name: Callable[..., str]
) -> Iterator[dict[str, Any]]:
    """The trained model served by the framework image's default handlers, one replica."""
    name = unique_name("console-ep")
    daemon.api(
        "POST",
        "/v1/endpoints",
        json={
            "EndpointName": name,
            "Image": framework_image,
            "ModelDataUrl": f"training-job:{trained}",
            "InstanceCount": 1,
        },
    )
    yield wait_in_service(daemon, name, replicas=1)
    daemon.api("DELETE", f"/v1/endpoints/{name}")


@pytest.fixture(scope="module")
def service(
    daemon: Daemon,
    script_image: Callable[[str, str], str],
    unique_name: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """An ECS service of 2 tasks of the one-script web server, behind the load balancer."""
    image = script_image("ecs-web", SERVER)
    family = unique_name("console-td")
    name = unique_name("console-svc")
    revision = register(
        daemon, tmp_path_factory.mktemp("td"), task_definition(family, image, "blue")
    )
    created = daemon.cli(
        "service", "create", name, "--task-definition", revision, "--desired-count", "2",
        "--load-balancer", "web:8080",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    wait_until(
        lambda: daemon.api("GET", f"/v1/services/{name}")["service"]["runningCount"] == 2,
        timeout=PAGE_TIMEOUT * 3,
        what=f"service {name} running 2 tasks",
    )
    yield name
    daemon.raw("DELETE", f"/v1/services/{name}?force=true")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    for program in (CHROMIUM, CHROMEDRIVER):
        assert Path(program).is_file(), f"{program} is missing: run `dockyard setup --browser`"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2200"):
        options.add_argument(argument)
    # the system driver, named: Selenium Manager has nothing to look up or download
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def signed_in(browser: WebDriver, link: str) -> WebDriver:
    browser.get(link)
    wait_until(lambda: "token=" not in browser.current_url, timeout=PAGE_TIMEOUT, what="sign-in")
    return browser


def screenshot(browser: WebDriver, page: str) -> None:
    BUILD.mkdir(exist_ok=True)
    browser.save_screenshot(str(BUILD / f"console-{page}.png"))


def text_of(browser: WebDriver, css: str) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def points(browser: WebDriver, title: str) -> int:
    figures = browser.find_elements(By.CSS_SELECTOR, f'figure.chart[data-title="{title}"]')
    return int(figures[0].get_attribute("data-points") or 0) if figures else -1


def console_root(link: str) -> str:
    return link.split("?", 1)[0]


# -- signing in -------------------------------------------------------------------------------


def test_without_a_token_the_console_shows_the_login_page_and_gives_no_data(
    browser: WebDriver, link: str
) -> None:
    browser.delete_all_cookies()
    browser.get(console_root(link))

    wait_until(
        lambda: browser.current_url.endswith("/login"), timeout=PAGE_TIMEOUT, what="login page"
    )
    assert browser.find_element(By.ID, "token").get_attribute("type") == "password"
    screenshot(browser, "login")
    assert httpx.get(console_root(link) + "v1/endpoints").status_code == 401


def test_a_wrong_token_is_a_401(link: str) -> None:
    answer = httpx.get(console_root(link) + "?token=not-the-token")

    assert answer.status_code == 401
    assert "Wrong token" in answer.text


def test_the_link_signs_in_and_leaves_no_token_in_the_address_or_the_log(
    signed_in: WebDriver, daemon: Daemon, link: str
) -> None:
    assert "token" not in signed_in.current_url
    token = link.split("token=", 1)[1]
    assert token not in daemon.log_path.read_text(errors="replace")


# -- pages -------------------------------------------------------------------------------------


def test_the_overview_lists_a_real_endpoint_and_the_training_job(
    signed_in: WebDriver, endpoint: dict[str, Any], trained: str
) -> None:
    name = endpoint["EndpointName"]

    wait_until(
        lambda: name in text_of(signed_in, "#endpoints-body"),
        timeout=PAGE_TIMEOUT,
        what=f"{name} on the overview",
    )
    row = text_of(signed_in, "#endpoints-body")
    assert "InService" in row
    assert "1 / 1" in row
    assert trained in text_of(signed_in, "#training-jobs-body")
    link = signed_in.find_element(By.LINK_TEXT, name)
    assert link.get_attribute("href").endswith(f"#/endpoints/{name}")
    screenshot(signed_in, "overview")


def test_the_overview_fits_a_narrow_window(signed_in: WebDriver, endpoint: dict[str, Any]) -> None:
    signed_in.set_window_size(420, 1600)
    try:
        wait_until(
            lambda: endpoint["EndpointName"] in text_of(signed_in, "#endpoints-body"),
            timeout=PAGE_TIMEOUT,
            what="the overview",
        )
        overflow = signed_in.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        screenshot(signed_in, "overview-narrow")
    finally:
        signed_in.set_window_size(1280, 2200)


def test_the_keyboard_reaches_the_links_with_a_visible_focus(
    signed_in: WebDriver, endpoint: dict[str, Any]
) -> None:
    name = endpoint["EndpointName"]
    wait_until(
        lambda: name in text_of(signed_in, "#endpoints-body"), timeout=PAGE_TIMEOUT, what="page"
    )
    body = signed_in.find_element(By.TAG_NAME, "body")
    reached = []
    for _ in range(12):
        body.send_keys(Keys.TAB)
        active = signed_in.switch_to.active_element
        reached.append(active.text)
        if active.text == name:
            break
    assert name in reached
    outline = signed_in.switch_to.active_element.value_of_css_property("outline-style")
    assert outline != "none"


def test_an_endpoint_page_request_chart_grows_while_requests_are_sent(
    signed_in: WebDriver, endpoint: dict[str, Any]
) -> None:
    name = endpoint["EndpointName"]
    signed_in.get(signed_in.current_url.split("#", 1)[0] + f"#/endpoints/{name}")
    wait_until(
        lambda: "InService" in text_of(signed_in, "#summary-body"),
        timeout=PAGE_TIMEOUT,
        what="the endpoint page",
    )
    before = points(signed_in, "Requests")
    stop = threading.Event()

    def send() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                assert predict_csv(endpoint["Url"], client).status_code == 200

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        wait_until(
            lambda: (
                points(signed_in, "Requests") > max(before, 1)
                and "latest: requests 0.00"
                not in text_of(signed_in, 'figure[data-title="Requests"]')
            ),
            timeout=PAGE_TIMEOUT,
            what="the request chart to grow",
        )
    finally:
        stop.set()
        sender.join(30)
    assert signed_in.find_elements(By.CSS_SELECTOR, 'figure[data-title="Requests"] canvas')
    wait_until(
        lambda: (
            points(signed_in, "CPU per replica") > 0 and points(signed_in, "Memory per replica") > 0
        ),
        timeout=PAGE_TIMEOUT,
        what="the replica's CPU and memory on the charts",
    )
    replicas = text_of(signed_in, "#replicas-body")
    assert "healthy" in replicas
    assert endpoint["Replicas"][0]["TaskId"][:8] in replicas
    screenshot(signed_in, "endpoint")


def test_a_training_job_metric_chart_shows_the_points_its_log_printed(
    signed_in: WebDriver, daemon: Daemon, trained: str
) -> None:
    printed = [
        line for line in job_logs(daemon, trained)["algo-1"] if "validation accuracy: " in line
    ]
    assert printed

    signed_in.get(signed_in.current_url.split("#", 1)[0] + f"#/training-jobs/{trained}")

    wait_until(
        lambda: points(signed_in, "validation:accuracy") == len(printed),
        timeout=PAGE_TIMEOUT,
        what=f"{len(printed)} points on the validation:accuracy chart",
    )
    assert signed_in.find_elements(
        By.CSS_SELECTOR, 'figure[data-title="validation:accuracy"] canvas'
    )
    assert "Completed" in text_of(signed_in, "#timeline-body")
    assert "max-iter" in text_of(signed_in, "#hyperparameters-body")
    assert "train" in text_of(signed_in, "#channels-body")
    wait_until(
        lambda: "test accuracy" in text_of(signed_in, "#logs-body"),
        timeout=PAGE_TIMEOUT,
        what="the log tail",
    )
    screenshot(signed_in, "training-job")


def test_a_service_page_charts_its_requests_and_scales_it_after_confirmation(
    signed_in: WebDriver, daemon: Daemon, service: str
) -> None:
    signed_in.get(signed_in.current_url.split("#", 1)[0] + f"#/services/{service}")
    wait_until(
        lambda: "2 / 2" in text_of(signed_in, "#summary-body"),
        timeout=PAGE_TIMEOUT,
        what="the service page with 2 running tasks",
    )
    url = daemon.api("GET", f"/v1/services/{service}")["url"]
    before = points(signed_in, "Requests")
    stop = threading.Event()

    def send() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                assert client.post(url, content=b"x").status_code == 200

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        wait_until(
            lambda: points(signed_in, "Requests") > max(before, 1),
            timeout=PAGE_TIMEOUT,
            what="the service's request chart to grow",
        )
    finally:
        stop.set()
        sender.join(30)
    assert "RUNNING" in text_of(signed_in, "#tasks-body")
    screenshot(signed_in, "service")

    count = signed_in.find_element(By.ID, "scale-count")
    count.clear()
    count.send_keys("1")
    signed_in.find_element(By.XPATH, "//form//button[text()='Scale']").click()
    wait_until(lambda: _alert(signed_in), timeout=PAGE_TIMEOUT, what="the confirmation")
    alert = signed_in.switch_to.alert
    assert f"{service}'s desired count to 1" in alert.text
    alert.accept()

    wait_until(
        lambda: "Desired count is now 1." in text_of(signed_in, ".ok-message"),
        timeout=PAGE_TIMEOUT,
        what="the console to report the new desired count",
    )
    assert daemon.api("GET", f"/v1/services/{service}")["service"]["desiredCount"] == 1


def _alert(browser: WebDriver) -> bool:
    try:
        browser.switch_to.alert  # noqa: B018 - raises until the confirmation is up
    except Exception:
        return False
    return True
