"""Where a transform job reads its files and puts each X.out: local folders, s3:// prefixes."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dockyard.errors import SpecError
from dockyard.ports.artifacts import ArtifactUri
from dockyard.server.transform_io import input_files, output_location, read_input

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit


def test_every_file_under_the_input_is_listed_by_its_key_in_order(tmp_path: Path) -> None:
    for key in ("b.csv", "a/z.csv", "a/b.csv"):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_text("1\n")
    assert [key for key, _ in input_files(tmp_path)] == ["a/b.csv", "a/z.csv", "b.csv"]
    assert [key for key, _ in input_files(tmp_path / "b.csv")] == ["b.csv"]


def test_gzip_input_is_read_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(b"1,2\n3,4\n"))
    assert read_input(path, "Gzip") == b"1,2\n3,4\n"
    assert read_input(path, "None") == path.read_bytes()


def test_a_local_output_gets_x_out_whole_with_the_input_key(world: World, tmp_path: Path) -> None:
    where = output_location(world.platform, (tmp_path / "out").as_uri())
    part = tmp_path / "0.part"
    part.write_bytes(b"answers\n")
    written = where.publish(world.platform, "a/b.csv", part)
    assert Path(written) == tmp_path / "out" / "a" / "b.csv.out"
    assert Path(written).read_bytes() == b"answers\n"
    assert [p.name for p in (tmp_path / "out" / "a").iterdir()] == ["b.csv.out"]  # no leftovers


def test_an_s3_output_goes_to_the_artifact_store_under_the_prefix(
    world: World, tmp_path: Path
) -> None:
    where = output_location(world.platform, "s3://results/batch")
    part = tmp_path / "0.part"
    part.write_bytes(b"answers\n")
    assert where.publish(world.platform, "a.csv", part) == "s3://results/batch/a.csv.out"
    stored = world.platform.artifacts.local_path(ArtifactUri("results", "batch/a.csv.out"))
    assert stored.read_bytes() == b"answers\n"


def test_an_output_path_that_is_a_file_is_refused(world: World, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    with pytest.raises(SpecError) as raised:
        output_location(world.platform, str(tmp_path / "taken"))
    assert raised.value.field == "TransformOutput.S3OutputPath"
