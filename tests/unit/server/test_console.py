"""The web console's door and pages: the token traded for a cookie, refusals, the API behind.

:func:`dockyard.server.console.guard.decide` is pure and tested directly; the console
app is driven with FastAPI's ``TestClient`` over the in-memory control plane, so the
pages' API calls reach the real routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from dockyard.adapters.chart_library import FILES, package_dir
from dockyard.server.app import create_app
from dockyard.server.console.app import Console
from dockyard.server.console.guard import (
    COOKIE,
    CSRF_HEADER,
    Request,
    Verdict,
    decide,
    session_value,
    without_token,
)

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

TOKEN = "s3cret-token"
LOOPBACK = {"host": "127.0.0.1:9070"}


def verdict(path: str, query: str = "", method: str = "GET", **headers: str) -> Verdict:
    return decide(Request(method, path, query, {**LOOPBACK, **headers}), TOKEN).verdict


# -- the decision ---------------------------------------------------------------------------


def test_the_right_token_in_the_address_is_traded_for_a_cookie_and_dropped() -> None:
    decision = decide(Request("GET", "/", f"token={TOKEN}&x=1", LOOPBACK), TOKEN)
    assert decision.verdict is Verdict.REDIRECT_WITH_COOKIE
    assert decision.location == "/?x=1"
    assert TOKEN not in (decision.location or "")


def test_a_wrong_token_in_the_address_is_refused() -> None:
    assert verdict("/", "token=nope") is Verdict.WRONG_TOKEN


def test_a_page_without_a_session_goes_to_the_login_page() -> None:
    assert verdict("/") is Verdict.TO_LOGIN


def test_a_stale_cookie_is_no_session() -> None:
    assert verdict("/", cookie=f"{COOKIE}={session_value('old-token')}") is Verdict.TO_LOGIN


def test_the_api_without_a_session_is_unauthorized() -> None:
    assert verdict("/v1/endpoints") is Verdict.API_UNAUTHORIZED


def test_the_api_with_the_session_cookie_passes() -> None:
    assert verdict("/v1/endpoints", cookie=f"{COOKIE}={session_value(TOKEN)}") is Verdict.PASS


def test_the_api_with_the_bearer_token_passes() -> None:
    assert verdict("/v1/endpoints", authorization=f"Bearer {TOKEN}") is Verdict.PASS


def test_a_cookie_write_without_the_console_header_is_refused() -> None:
    cookie = f"{COOKIE}={session_value(TOKEN)}"
    assert verdict("/v1/endpoints/x", method="DELETE", cookie=cookie) is Verdict.CSRF
    headers = {"cookie": cookie, CSRF_HEADER: "1"}
    assert verdict("/v1/endpoints/x", method="DELETE", **headers) is Verdict.PASS


def test_static_files_and_the_login_page_are_public() -> None:
    assert verdict("/static/console.js") is Verdict.PASS
    assert verdict("/login") is Verdict.PASS


def test_a_host_other_than_the_loopback_is_refused() -> None:
    request = Request("GET", "/", f"token={TOKEN}", {"host": "evil.example:9070"})
    assert decide(request, TOKEN).verdict is Verdict.FOREIGN_HOST


def test_the_cookie_holds_no_token() -> None:
    assert TOKEN not in session_value(TOKEN)


def test_without_token_keeps_the_other_parameters() -> None:
    assert without_token("a=1&token=x&b=2") == "a=1&b=2"


# -- the app ----------------------------------------------------------------------------------


@pytest.fixture
def share_dir(tmp_path: Path) -> Path:
    return tmp_path / "share"


@pytest.fixture
def console(world: World, share_dir: Path) -> Iterator[TestClient]:
    api = create_app(world.platform, world.control_plane)
    app = Console(api, TOKEN, share_dir)
    with TestClient(app, base_url="http://127.0.0.1:9070", follow_redirects=False) as client:
        yield client


def signed_in(console: TestClient) -> TestClient:
    answer = console.get(f"/?token={TOKEN}")
    assert answer.status_code == 303
    return console


def test_opening_the_printed_link_sets_a_cookie_and_redirects_without_the_token(
    console: TestClient,
) -> None:
    answer = console.get(f"/?token={TOKEN}")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    page = console.get("/")
    assert page.status_code == 200
    assert "console.js" in page.text


def test_a_wrong_token_is_a_401_login_page(console: TestClient) -> None:
    answer = console.get("/?token=wrong")
    assert answer.status_code == 401
    assert "Wrong token" in answer.text
    assert console.get("/v1/endpoints").status_code == 401


def test_no_token_shows_the_login_page(console: TestClient) -> None:
    answer = console.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    login = console.get("/login")
    assert login.status_code == 200
    assert 'name="token"' in login.text


def test_the_login_form_signs_in_with_the_right_token_only(console: TestClient) -> None:
    assert console.post("/login", content=b"token=wrong").status_code == 401
    answer = console.post("/login", content=f"token={TOKEN}".encode())
    assert answer.status_code == 303
    assert console.get("/v1/endpoints").json() == {"Endpoints": []}


def test_pages_forbid_referrers_and_framing(console: TestClient) -> None:
    answer = console.get("/login")
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_the_api_answers_through_the_session(console: TestClient, world: World) -> None:
    world.deploy(count=1)
    signed_in(console)

    endpoints = console.get("/v1/endpoints").json()["Endpoints"]

    assert [e["EndpointName"] for e in endpoints] == ["iris"]


def test_a_session_write_without_the_console_header_is_refused_and_changes_nothing(
    console: TestClient, world: World
) -> None:
    world.deploy(count=1)
    signed_in(console)

    answer = console.delete("/v1/endpoints/iris")

    assert answer.status_code == 403
    assert answer.json()["code"] == "Forbidden"
    assert world.status() != "Deleting"


def test_the_chart_library_is_a_404_until_installed_then_served(
    console: TestClient, share_dir: Path
) -> None:
    assert console.get("/vendor/uPlot.iife.min.js").status_code == 404
    for name in FILES:
        path = package_dir(share_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/* uPlot */")

    assert console.get("/vendor/uPlot.iife.min.js").text == "/* uPlot */"
    assert console.get("/vendor/anything-else.js").status_code == 404


def test_static_files_ship_with_the_package(console: TestClient) -> None:
    for name in ("console.js", "console.css"):
        assert console.get(f"/static/{name}").status_code == 200
