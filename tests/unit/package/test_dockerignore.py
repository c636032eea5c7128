"""``.dockerignore`` with the builder's semantics."""

from __future__ import annotations

import pytest

from dockyard.package.dockerignore import DockerIgnore

pytestmark = pytest.mark.unit


def excluded(patterns: str, path: str) -> bool:
    return DockerIgnore.parse(patterns).excluded(path)


def test_star_does_not_cross_directories():
    assert excluded("*.log", "a.log")
    assert not excluded("*.log", "logs/a.log")


def test_double_star_matches_any_depth():
    assert excluded("**/*.log", "a/b/c.log")
    assert excluded("**/*.log", "c.log")


def test_a_matched_directory_excludes_everything_below_it():
    assert excluded("data", "data/train/x.csv")


def test_negation_re_includes_and_later_lines_win():
    patterns = "data\n!data/keep.csv\n"

    assert not excluded(patterns, "data/keep.csv")
    assert excluded(patterns, "data/other.csv")


def test_leading_slash_and_comments_are_ignored():
    assert excluded("# comment\n/build\n", "build/out")
    assert not excluded("# build\n", "build")


def test_dockerfile_and_dockerignore_are_always_sent():
    assert not excluded("*\n", "Dockerfile")
    assert not excluded("*\n", ".dockerignore")
    assert excluded("*\n", "model.joblib")


def test_question_mark_and_character_classes():
    assert excluded("file?.txt", "file1.txt")
    assert excluded("file[0-9].txt", "file7.txt")
    assert not excluded("file[0-9].txt", "filex.txt")


def test_exceptions_are_reported_so_directories_are_not_pruned():
    assert DockerIgnore.parse("a\n!a/b\n").has_exceptions
    assert not DockerIgnore.parse("a\n").has_exceptions
