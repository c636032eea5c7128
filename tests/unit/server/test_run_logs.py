"""Reading training hosts' log copies: whole lines, every host, the last line too."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.ports.engine import ContainerSpec
from dockyard.server.run_logs import (
    copy_logs,
    done_marker,
    read_lines,
    split_stamp,
    timed_lines,
)
from dockyard.testing import FakeEngine

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


# -- copying, with the engine's timestamps ------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.starts = 0
        self.lines: list[tuple[str, float]] = []

    def start(self) -> None:
        self.starts += 1

    def line(self, text: str, at: float) -> None:
        self.lines.append((text, at))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b"2026-12-01T05:30:00.123456789Z hi\n", (1796103000.123456, b"hi\n")),
        (b"2026-12-01T05:30:00Z hi", (1796103000.0, b"hi")),
        (b"2026-12-01T06:30:00.5+01:00 x", (1796103000.5, b"x")),
        (b"no stamp here", (None, b"no stamp here")),
        (b"2026-13-01T05:30:00Z bad month", (None, b"2026-13-01T05:30:00Z bad month")),
    ],
)
def test_split_stamp_reads_the_engine_s_rfc3339_prefix(
    frame: bytes, expected: tuple[float | None, bytes]
) -> None:
    assert split_stamp(frame) == expected


def test_a_copy_strips_the_stamps_and_hands_whole_lines_to_the_watcher(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    state = engine.run(ContainerSpec(name="host", image="img"))
    engine.write_logs(state.id, b"one\ntw")
    engine.write_logs(state.id, b"o\nlast")
    engine.exit(state.id, 0)
    watcher = Recorder()
    path = tmp_path / "algo-1.log"

    copy_logs(engine, state.id, path, watcher=watcher)

    assert path.read_bytes() == b"one\ntwo\nlast"
    assert done_marker(path).exists()
    assert watcher.starts == 1
    assert [text for text, _ in watcher.lines] == ["one", "two", "last"]
    assert all(at > 1.7e9 for _, at in watcher.lines)


def test_a_copy_keeps_each_line_s_time_for_reading_back_as_events(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    state = engine.run(ContainerSpec(name="host", image="img"))
    engine.write_logs(state.id, b"one\ntw")
    engine.write_logs(state.id, b"o\nlast")
    engine.exit(state.id, 0)
    path = tmp_path / "algo-1.log"
    watcher = Recorder()

    copy_logs(engine, state.id, path, watcher=watcher)

    events = timed_lines(path)
    assert [text for _, text in events] == ["one", "two", "last"]
    assert [at for at, _ in events] == [round(at * 1000) for _, at in watcher.lines]


def test_timed_lines_hold_back_a_partial_line_and_date_untimed_lines_by_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "algo-1.log"
    path.write_text("old copy\nhalf")  # made before times were kept; the copy still runs
    events = timed_lines(path)
    assert [text for _, text in events] == ["old copy"]
    assert events[0][0] == round(path.stat().st_mtime * 1000)
    assert timed_lines(tmp_path / "missing.log") == []
