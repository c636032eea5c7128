"""Host-side wheel resolution: the pip command, the cache key, errors, pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters import pip
from dockyard.adapters.pip import (
    WheelPlatform,
    cache_key,
    explain_failure,
    installed_versions,
    pip_command,
    prune_distributions,
    resolve_site,
)
from dockyard.settings import Settings

pytestmark = pytest.mark.unit

X86 = WheelPlatform("x86_64")


def test_platform_tags_run_from_the_bases_glibc_down_to_the_oldest():
    tags = X86.tags

    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert "manylinux1_x86_64" in tags
    assert not any("musl" in tag or tag.startswith("linux_") for tag in tags)


def test_aarch64_has_no_tags_older_than_manylinux2014():
    tags = WheelPlatform("aarch64").tags

    assert tags[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_16_aarch64" not in tags


def test_pip_command_takes_wheels_only_for_the_images_python():
    command = pip_command(Path("/t"), Path("/r.txt"), X86, ca_bundle=Path("/ca.crt"))

    for flag in ("--only-binary=:all:", "--no-compile"):
        assert flag in command
    assert command[command.index("--target") + 1] == "/t"
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--abi") + 1] == "cp311"
    assert command[command.index("--cert") + 1] == "/ca.crt"


def test_pip_command_leaves_the_hosts_index_settings_alone():
    command = " ".join(pip_command(Path("/t"), Path("/r.txt"), X86))

    for flag in ("--index-url", "--extra-index-url", "--find-links", "--no-index", "--isolated"):
        assert flag not in command
    assert "--cert" not in command


def test_cache_key_ignores_order_but_not_platform_or_constraints():
    key = cache_key(["b==1", "a==2"], [], X86)

    assert key == cache_key(["a==2", "b==1"], [], X86)
    assert key != cache_key(["a==2", "b==1"], [], WheelPlatform("aarch64"))
    assert key != cache_key(["a==2", "b==1"], ["numpy==2"], X86)


def test_missing_wheel_names_the_package_and_suggests_byoc():
    lines = [
        "ERROR: Could not find a version that satisfies the requirement pycrypto",
        "ERROR: No matching distribution found for pycrypto",
    ]

    error = explain_failure(lines, "requirements.txt", X86)

    assert "no wheel of pycrypto" in error.message
    assert "manylinux x86_64" in error.message
    assert "bring your own container" in (error.hint or "")
    assert error.resource == "requirements.txt"


def test_conflicts_are_explained_as_conflicts():
    error = explain_failure(["ERROR: ResolutionImpossible: ..."], "requirements.txt", X86)

    assert "conflict" in error.message


def fake_dist(site: Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    for rel in files:
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("x")
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files))


def test_installed_versions_are_read_from_dist_info(tmp_path):
    fake_dist(tmp_path, "scikit_learn", "1.9.1", ["sklearn/__init__.py"])

    assert installed_versions(tmp_path) == {"scikit-learn": "1.9.1"}


def test_pruning_removes_a_distributions_files_and_metadata(tmp_path):
    fake_dist(tmp_path, "numpy", "2.0", ["numpy/__init__.py", "numpy/core/x.py"])
    fake_dist(tmp_path, "tabulate", "0.10.0", ["tabulate/__init__.py"])

    removed = prune_distributions(tmp_path, {"numpy"})

    assert removed == ["numpy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tabulate", "tabulate-0.10.0.dist-info"]


def test_a_cached_resolution_runs_no_pip(tmp_path, monkeypatch):
    settings = Settings(state_dir=tmp_path)
    cached = settings.cache_dir / "site" / cache_key(["six"], [], X86)
    cached.mkdir(parents=True)

    def no_pip(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pip ran")

    monkeypatch.setattr(pip, "_run_pip", no_pip)

    assert resolve_site(["six"], settings, what="requirements.txt", target=X86) == cached
