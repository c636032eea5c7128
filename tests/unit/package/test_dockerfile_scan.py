"""Reading FROM lines the way the builder resolves them."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.package.dockerfile_scan import scan_dockerfile, substitute

pytestmark = pytest.mark.unit


def test_from_lines_with_stage_names_and_line_numbers():
    scan = scan_dockerfile("# comment\nFROM a:1 AS Build\nRUN x\nfrom b\n")

    assert [(f.line, f.image, f.stage) for f in scan.froms] == [(2, "a:1", "build"), (4, "b", None)]


def test_platform_flag_is_skipped():
    assert scan_dockerfile("FROM --platform=linux/amd64 img:2\n").froms[0].image == "img:2"


def test_continuation_lines_are_joined_and_comments_inside_dropped():
    scan = scan_dockerfile("FROM \\\n# note\n  img:3 \\\n  AS x\n")

    assert (scan.froms[0].line, scan.froms[0].image, scan.froms[0].stage) == (1, "img:3", "x")


def test_escape_directive_changes_the_continuation_character():
    scan = scan_dockerfile("# escape=`\nFROM `\n  img:4\n")

    assert scan.froms[0].image == "img:4"


def test_global_args_substitute_into_from():
    scan = scan_dockerfile('ARG REPO=dockyard/sklearn TAG="1.0"\nFROM ${REPO}:$TAG\n')

    assert scan.froms[0].image == "dockyard/sklearn:1.0"
    assert scan.froms[0].args == ("REPO", "TAG")


def test_args_after_the_first_from_are_not_global():
    scan = scan_dockerfile("FROM a\nARG LATER=x\nFROM ${LATER}\n")

    assert scan.froms[1].image == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("${A:-dflt}", "dflt"), ("${B:-dflt}", "set"), ("${B:+alt}", "alt"), ("${A:+alt}", "")],
)
def test_substitution_modifiers(text: str, expected: str):
    assert substitute(text, {"A": None, "B": "set"})[0] == expected


def test_malformed_from_is_refused_with_its_line():
    with pytest.raises(SpecError) as raised:
        scan_dockerfile("FROM a b c d\n")

    assert "line 1" in raised.value.message
