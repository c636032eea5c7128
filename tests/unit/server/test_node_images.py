"""Images on an engine whose nodes pull them (swarm): by name and digest in Dockyard's
registry, never by image id; local-only images refused naming the push that fixes it.

A :class:`FakeEngine` that plays swarm (``nodes_pull_images``) and whose ``push``
records the image as Dockyard's registry front does; the deploy, training and
transform paths then choose the reference their containers run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.registry import Registry
from dockyard.adapters.store.memory import MemoryStore
from dockyard.errors import SpecError
from dockyard.package.dockerfile import LABEL_VERSION
from dockyard.ports.engine import RegistryAuth
from dockyard.records.registry import ImageRecord
from dockyard.server import endpoints, training
from dockyard.server.platform import Platform
from dockyard.server.registry.handles import RegistryHandles
from dockyard.server.registry.operations import create_repository
from dockyard.server.registry.transfer import node_reference
from dockyard.settings import Settings
from dockyard.spec.repository import parse_image_ref
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

PUBLIC = "127.0.0.1:5000"
FRAMEWORK = "dockyard/sklearn:1.5"
FIELD = "PrimaryContainer.Image"


class SwarmLikeEngine(FakeEngine):
    """Nodes pull images by name; a push lands in the store as the registry's front
    records it, the manifest digest derived from the image id."""

    def __init__(self) -> None:
        super().__init__(nodes_pull_images=True)
        self.platform: Platform | None = None
        self.pushed: list[str] = []

    def push(
        self, ref: str, auth: RegistryAuth, progress: Callable[[str], None] | None = None
    ) -> str:
        info = self.image(ref)
        assert info is not None and self.platform is not None
        parsed = parse_image_ref(ref.removeprefix(PUBLIC + "/"))
        digest = "sha256:" + hashlib.sha256(info.id.encode()).hexdigest()
        record = ImageRecord(parsed.repository, digest, (parsed.tag or "latest",), time.time(), 1)
        self.platform.store.images.put(record)
        self.pushed.append(ref)
        return digest


@pytest.fixture
def engine() -> SwarmLikeEngine:
    made = SwarmLikeEngine()
    made.add_image(FRAMEWORK, labels={LABEL_VERSION: "0.1.0"})
    made.add_image("handmade:1")
    return made


@pytest.fixture
def platform(tmp_path: Path, engine: SwarmLikeEngine) -> Platform:
    settings = Settings(state_dir=tmp_path / "state")
    registry = Registry(settings.state_dir, token_realm=f"http://{PUBLIC}/token")
    made = Platform(
        settings,
        MemoryStore(),
        engine,
        FakeLoadBalancer(),
        LocalArtifactStore(settings.artifacts_dir),
        FakeHealthProbe(engine),
        registry=RegistryHandles(registry, PUBLIC),
    )
    engine.platform = made
    return made


def _digest_of(engine: FakeEngine, image: str) -> str:
    info = engine.image(image)
    assert info is not None
    return "sha256:" + hashlib.sha256(info.id.encode()).hexdigest()


def test_an_image_dockyard_made_is_pushed_and_named_by_digest(
    platform: Platform, engine: SwarmLikeEngine
) -> None:
    ref = node_reference(platform, FRAMEWORK, FIELD)
    assert ref == f"{PUBLIC}/dockyard/sklearn@{_digest_of(engine, FRAMEWORK)}"
    assert engine.pushed == [f"{PUBLIC}/dockyard/sklearn:1.5"]
    assert platform.store.repositories.get("dockyard/sklearn") is not None  # made for it
    # the same again: the repository is reused, the reference the same
    assert node_reference(platform, FRAMEWORK, FIELD) == ref


def test_an_image_in_the_registry_is_pinned_by_its_digest_there(platform: Platform) -> None:
    create_repository(platform.store, {"repositoryName": "models/iris"}, time.time())
    digest = "sha256:" + "a" * 64
    platform.store.images.put(ImageRecord("models/iris", digest, ("v1",), time.time(), 1))
    by_tag = node_reference(platform, f"{PUBLIC}/models/iris:v1", FIELD)
    assert by_tag == f"{PUBLIC}/models/iris@{digest}"
    assert node_reference(platform, by_tag, FIELD) == by_tag


def test_an_image_of_another_registry_is_left_to_the_nodes(
    platform: Platform, engine: SwarmLikeEngine
) -> None:
    engine.add_image("registry.example.com/team/app:2")
    ref = node_reference(platform, "registry.example.com/team/app:2", FIELD)
    assert ref == "registry.example.com/team/app:2" and engine.pushed == []


def test_a_local_only_image_is_refused_naming_the_push(
    platform: Platform, engine: SwarmLikeEngine
) -> None:
    with pytest.raises(SpecError) as refused:
        node_reference(platform, "handmade:1", FIELD)
    assert refused.value.field == FIELD
    assert "only on this machine" in refused.value.message
    assert "dockyard push NAME:TAG --source handmade:1" in (refused.value.hint or "")
    assert engine.pushed == [] and platform.store.repositories.get("handmade") is None


def test_without_a_registry_even_a_framework_image_is_refused(platform: Platform) -> None:
    platform.registry = None
    with pytest.raises(SpecError) as refused:
        node_reference(platform, FRAMEWORK, FIELD)
    assert "registry" in (refused.value.hint or "")


def test_a_deploy_pins_the_registry_reference_where_nodes_pull(
    platform: Platform, engine: SwarmLikeEngine
) -> None:
    info = engine.image(FRAMEWORK)
    assert info is not None
    ref = endpoints.pinned_image(platform, FRAMEWORK, info, FIELD)
    assert ref == f"{PUBLIC}/dockyard/sklearn@{_digest_of(engine, FRAMEWORK)}"
    engine.nodes_pull_images = False  # one engine: the image id, as before
    assert endpoints.pinned_image(platform, FRAMEWORK, info, FIELD) == info.id


def test_a_training_job_runs_its_image_as_every_node_pulls_it(
    platform: Platform, engine: SwarmLikeEngine, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("1,2\n")
    request = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": FRAMEWORK, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::000000000000:role/dockyard",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3Uri": data.as_uri(), "S3DataType": "S3Prefix"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    described = training.create(platform, request)
    assert described["AlgorithmSpecification"]["TrainingImage"] == FRAMEWORK  # as written
    record = platform.store.training_jobs.require("job-1")
    expected = f"{PUBLIC}/dockyard/sklearn@{_digest_of(engine, FRAMEWORK)}"
    assert record.image_ref == expected
    definition = training._definition(record.spec, record.image_ref)
    assert [c.image for c in definition.container_definitions] == [expected]

    refused = {**request, "TrainingJobName": "job-2"}
    refused["AlgorithmSpecification"] = {"TrainingImage": "handmade:1", "TrainingInputMode": "File"}
    with pytest.raises(SpecError) as error:
        training.create(platform, refused)
    assert error.value.field == "AlgorithmSpecification.TrainingImage"
    assert platform.store.training_jobs.get("job-2") is None  # nothing written
