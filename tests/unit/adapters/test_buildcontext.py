"""Build contexts: fixed modes and mtimes, hard links that never touch users' files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.adapters.buildcontext import (
    FIXED_MTIME,
    normalize_tree,
    place_file,
    place_listing,
    scan_dir,
)

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_normalized_tree_has_fixed_modes_and_mtimes(tmp_path):
    (tmp_path / "d").mkdir(mode=0o700)
    (tmp_path / "d" / "private").write_text("x")
    (tmp_path / "d" / "private").chmod(0o600)
    (tmp_path / "d" / "tool").write_text("x")
    (tmp_path / "d" / "tool").chmod(0o700)

    normalize_tree(tmp_path / "d")

    assert mode(tmp_path / "d") == 0o755
    assert mode(tmp_path / "d" / "private") == 0o644
    assert mode(tmp_path / "d" / "tool") == 0o755
    assert (tmp_path / "d" / "private").stat().st_mtime == FIXED_MTIME


def test_well_moded_file_is_hard_linked(tmp_path):
    source = tmp_path / "model.joblib"
    source.write_text("w")
    source.chmod(0o644)

    place_file(source, tmp_path / "ctx" / "model.joblib")

    assert os.path.samefile(source, tmp_path / "ctx" / "model.joblib")


def test_private_file_is_copied_and_the_users_file_is_left_alone(tmp_path):
    source = tmp_path / "secret.pkl"
    source.write_text("w")
    source.chmod(0o600)
    before = source.stat().st_mtime

    place_file(source, tmp_path / "ctx" / "secret.pkl")

    copy = tmp_path / "ctx" / "secret.pkl"
    assert not os.path.samefile(source, copy)
    assert mode(copy) == 0o644 and copy.stat().st_mtime == FIXED_MTIME
    assert mode(source) == 0o600 and source.stat().st_mtime == before


def test_scan_honours_dockerignore_and_keeps_the_dockerfile(tmp_path):
    for rel in ("Dockerfile", "serve.py", "data/big.bin", "logs/a.log", "keep/x.log"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".dockerignore").write_text("data\n**/*.log\nDockerfile\n")

    listing = scan_dir(tmp_path)

    assert listing.files == (".dockerignore", "Dockerfile", "serve.py")
    assert "data" not in listing.dirs


def test_placed_listing_reproduces_the_kept_files(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f.txt").write_text("hello")
    (src / "empty").mkdir()

    place_listing(scan_dir(src), tmp_path / "ctx")

    assert (tmp_path / "ctx" / "a" / "f.txt").read_text() == "hello"
    assert (tmp_path / "ctx" / "empty").is_dir()


def test_links_to_directories_are_skipped(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "alias").symlink_to(tmp_path / "real")

    listing = scan_dir(tmp_path)

    assert listing.files == ("real/f",)
    assert listing.skipped == ("alias",)


def test_dockerfile_builds_keep_the_users_modes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o700)

    place_listing(scan_dir(src), tmp_path / "ctx")

    assert mode(tmp_path / "ctx" / "run.sh") == 0o700
