"""Secrets and task roles through the API and the control plane, on fakes.

A secret is sealed at rest (the database file never holds the value) and no API
answer, task description or event shows it, while the container it is named in gets
it as an environment variable. A missing secret fails the task with ECS's
ResourceInitializationError. A task with ``taskRoleArn`` gets the credentials
variables, one without gets none; the endpoint answers a task's own token only, and
botocore's own container provider reads what it serves.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.credentials import ContainerProvider
from conftest import IMAGE, WatchedEngine
from fastapi.testclient import TestClient

from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.ports.engine import ContainerSpec, ContainerState
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.server.credentials_endpoint import serve
from dockyard.server.secrets import KEY_FILE, SecretBox, SecretVault
from dockyard.server.task_roles import AUTHORIZATION_TOKEN, FULL_URI
from dockyard.spec.secret_refs import parse_value_from
from dockyard.spec.task_definition import parse_task_definition
from dockyard.testing import FakeLoadBalancer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

VALUE = "s3cr3t-value-Zq81"
ROLE = "arn:aws:iam::123456789012:role/app"


class RecordingEngine(WatchedEngine):
    """The fake engine, keeping the environment each container was started with."""

    def __init__(self, lb: FakeLoadBalancer) -> None:
        super().__init__(lb)
        self.envs: dict[str, dict[str, str]] = {}

    def run(self, spec: ContainerSpec) -> ContainerState:
        state = super().run(spec)
        self.envs[state.id] = dict(spec.env)
        return state


@pytest.fixture
def engine(lb: FakeLoadBalancer) -> RecordingEngine:
    engine = RecordingEngine(lb)
    engine.add_image(IMAGE)
    return engine


def definition(family: str, **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "image": IMAGE, **extra.pop("container", {})}
    return {"family": family, "containerDefinitions": [container], **extra}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def register(world: World, document: dict[str, Any]) -> str:
    task_definitions.register(world.store, parse_task_definition(document))
    return f"{document['family']}:1"


def run(client: TestClient, revision: str) -> str:
    response = client.post("/v1/tasks", json={"taskDefinition": revision})
    assert response.status_code == 201, response.text
    return str(response.json()["tasks"][0]["taskId"])


def describe(client: TestClient, task_id: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/tasks/{task_id}").json()["task"])


def env_of(world: World, task_id: str) -> dict[str, str]:
    world.settle(lambda: len(world.containers_of(task_id)) == 1, "the container to start")
    engine: RecordingEngine = world.engine  # type: ignore[assignment]
    return engine.envs[world.container_of(task_id).id]


def put(client: TestClient, name: str, value: str = VALUE) -> dict[str, Any]:
    response = client.put(f"/v1/secrets/{name}", json={"SecretString": value})
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- encryption at rest --------------------------------------------------------------------


def test_a_sealed_value_opens_and_the_key_file_is_owner_only(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "run")
    sealed = box.seal(VALUE)
    assert VALUE not in sealed
    assert SecretBox(tmp_path / "run").open(sealed) == VALUE  # the same key, read back
    assert stat.S_IMODE((tmp_path / "run" / KEY_FILE).stat().st_mode) == 0o600


def test_the_database_file_never_holds_the_value(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "dockyard.db")
    vault = SecretVault(store, SecretBox(tmp_path / "run"))
    vault.put("prod/db", VALUE)
    store.close()
    for path in tmp_path.glob("dockyard.db*"):
        assert VALUE.encode() not in path.read_bytes()
    reopened = SqliteStore(tmp_path / "dockyard.db")
    vault = SecretVault(reopened, SecretBox(tmp_path / "run"))
    assert vault.resolve(parse_value_from("prod/db")) == VALUE
    reopened.close()


# -- the API ---------------------------------------------------------------------------------


def test_put_list_describe_delete_never_answer_the_value(client: TestClient) -> None:
    answers = [put(client, "prod/db"), put(client, "prod/db", VALUE + "2")]
    assert answers[0]["Created"] is True and answers[1]["Created"] is False
    assert answers[0]["ARN"].endswith(":secret:prod/db")
    listed = client.get("/v1/secrets").json()
    assert [s["Name"] for s in listed["SecretList"]] == ["prod/db"]
    described = client.get("/v1/secrets/prod/db").json()
    events = client.get("/v1/events", params={"kind": "secret"}).json()
    deleted = client.delete("/v1/secrets/prod/db")
    assert deleted.status_code == 200
    assert client.get("/v1/secrets/prod/db").status_code == 404
    everything = json.dumps([answers, listed, described, events, deleted.json()])
    assert VALUE not in everything


def test_a_bad_name_is_a_400_naming_the_field(client: TestClient) -> None:
    response = client.put("/v1/secrets/bad%20name!", json={"SecretString": "x"})
    assert response.status_code == 400
    assert response.json()["field"] == "Name"


# -- injection -----------------------------------------------------------------------------


def test_a_container_gets_its_secret_and_nothing_shows_it(world: World, client: TestClient) -> None:
    put(client, "prod/db")
    put(client, "creds", json.dumps({"user": "u", "password": VALUE}))
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:creds-AbC123:password::"
    revision = register(
        world,
        definition(
            "withsecret",
            container={
                "secrets": [
                    {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:r:1:parameter/prod/db"},
                    {"name": "API_PASSWORD", "valueFrom": arn},
                ]
            },
        ),
    )
    task_id = run(client, revision)
    env = env_of(world, task_id)
    assert env["DB_PASSWORD"] == VALUE
    assert env["API_PASSWORD"] == VALUE
    world.step()
    shown = [
        describe(client, task_id),
        client.get("/v1/tasks").json(),
        client.get("/v1/events").json(),
        client.get(f"/v1/task-definitions/{revision}").json(),
    ]
    assert describe(client, task_id)["lastStatus"] == "RUNNING"
    assert VALUE not in json.dumps(shown)
    stored = world.store.tasks.require(task_id)
    assert VALUE not in repr(stored)


def test_a_missing_secret_fails_the_task_with_ecs_words(world: World, client: TestClient) -> None:
    revision = register(
        world,
        definition("nosecret", container={"secrets": [{"name": "X", "valueFrom": "absent"}]}),
    )
    task_id = run(client, revision)
    world.settle(lambda: describe(client, task_id)["lastStatus"] == "STOPPED", "the task to fail")
    described = describe(client, task_id)
    assert described["stopCode"] == "TaskFailedToStart"
    assert described["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: "
    )
    assert "'absent'" in described["stoppedReason"]
    assert world.containers_of(task_id) == []


# -- task roles ------------------------------------------------------------------------------


@pytest.fixture
def endpoint(world: World) -> Iterator[str]:
    """The real credentials endpoint, on the loopback (botocore accepts it there too)."""
    roles = world.control_plane.roles
    stop = serve(world.store, roles, 0, time.time, address="127.0.0.1")
    assert stop is not None and roles.base_url is not None
    yield roles.base_url
    stop()


def test_a_task_with_a_role_gets_credentials_botocore_reads(
    world: World, client: TestClient, endpoint: str
) -> None:
    task_id = run(client, register(world, definition("withrole", taskRoleArn=ROLE)))
    env = env_of(world, task_id)
    assert env[FULL_URI] == f"{endpoint}/v1/credentials/{task_id}"

    provider = ContainerProvider(
        environ={FULL_URI: env[FULL_URI], AUTHORIZATION_TOKEN: env[AUTHORIZATION_TOKEN]}
    )
    credentials = provider.load()
    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    key = world.control_plane.roles.keys.for_role(ROLE)
    assert (frozen.access_key, frozen.secret_key) == (key.access_key_id, key.secret_access_key)
    assert frozen.token
    assert env[AUTHORIZATION_TOKEN] not in json.dumps(describe(client, task_id))


def test_no_role_no_variables_and_no_other_tasks_credentials(
    world: World, client: TestClient, endpoint: str
) -> None:
    with_role = run(client, register(world, definition("roled", taskRoleArn=ROLE)))
    without = run(client, register(world, definition("plain")))
    assert FULL_URI not in env_of(world, without)
    assert AUTHORIZATION_TOKEN not in env_of(world, without)
    roles = world.control_plane.roles
    own = roles.token_for(with_role)
    other = roles.token_for(without)

    url = f"{endpoint}/v1/credentials/{with_role}"
    assert httpx.get(url, headers={"Authorization": own}).status_code == 200
    assert httpx.get(url, headers={"Authorization": other}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "x" * 64}).status_code == 401
    assert httpx.get(url).status_code == 401
    # the other task's own token is right, but it has no role: nothing to serve
    assert (
        httpx.get(
            f"{endpoint}/v1/credentials/{without}", headers={"Authorization": other}
        ).status_code
        == 404
    )


def test_a_role_without_an_endpoint_fails_the_task(world: World, client: TestClient) -> None:
    task_id = run(client, register(world, definition("orphanrole", taskRoleArn=ROLE)))
    world.settle(lambda: describe(client, task_id)["lastStatus"] == "STOPPED", "the task to fail")
    reason = describe(client, task_id)["stoppedReason"]
    assert reason.startswith("ResourceInitializationError: unable to serve task role credentials")
