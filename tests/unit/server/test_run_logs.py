"""Reading training hosts' log copies: whole lines, every host, the last line too."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.server.run_logs import done_marker, read_lines

pytestmark = pytest.mark.unit


def test_lines_of_every_host_are_read(tmp_path: Path) -> None:
    paths = {"algo-1": tmp_path / "algo-1.log", "algo-2": tmp_path / "algo-2.log"}
    paths["algo-1"].write_text("a1\na2\n")
    paths["algo-2"].write_text("b1\n")
    lines = list(read_lines(paths, follow=False, status=lambda: ("", True)))
    assert lines == [
        {"host": "algo-1", "line": "a1"},
        {"host": "algo-1", "line": "a2"},
        {"host": "algo-2", "line": "b1"},
    ]


def test_a_partial_line_waits_while_the_copy_runs(tmp_path: Path) -> None:
    path = tmp_path / "algo-1.log"
    path.write_text("whole\nhalf")
    lines = [i["line"] for i in read_lines({"algo-1": path}, False, lambda: ("", True))]
    assert lines == ["whole"]


def test_the_last_line_without_newline_shows_once_the_copy_is_done(tmp_path: Path) -> None:
    path = tmp_path / "algo-1.log"
    path.write_text("whole\nlast words")
    done_marker(path).touch()
    lines = [i["line"] for i in read_lines({"algo-1": path}, False, lambda: ("", True))]
    assert lines == ["whole", "last words"]


def test_following_reports_status_and_ends_with_the_job(tmp_path: Path) -> None:
    path = tmp_path / "algo-1.log"
    path.write_text("done\n")
    done_marker(path).touch()
    items = list(read_lines({"algo-1": path}, True, lambda: ("Completed [Completed]", True)))
    assert items == [{"host": "algo-1", "line": "done"}, {"status": "Completed [Completed]"}]
