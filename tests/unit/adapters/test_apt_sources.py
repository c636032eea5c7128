"""Finding the host's Debian mirror in apt's two source formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.apt_sources import (
    host_sources,
    parse_deb822,
    parse_one_line,
    pick_mirror,
)

pytestmark = pytest.mark.unit

DEBIAN_DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_stanzas_give_their_uris_and_suites():
    sources = parse_deb822(DEBIAN_DEB822)

    assert [s.uris for s in sources] == [
        ("http://deb.debian.org/debian",),
        ("http://deb.debian.org/debian-security",),
    ]
    assert sources[0].suites == ("bookworm", "bookworm-updates")


def test_deb822_skips_disabled_and_source_only_stanzas():
    text = (
        "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\n\n"
        "Enabled: no\nTypes: deb\nURIs: http://b/debian\nSuites: bookworm\n"
    )

    assert parse_deb822(text) == []


def test_deb822_folds_continuation_lines():
    text = "Types: deb\nURIs: http://a/debian\n http://b/debian\nSuites: bookworm\n"

    assert parse_deb822(text)[0].uris == ("http://a/debian", "http://b/debian")


def test_one_line_sources_ignore_options_comments_and_deb_src():
    text = (
        "# deb http://commented/debian bookworm main\n"
        "deb-src http://src/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n"
    )

    sources = parse_one_line(text)

    assert [(s.uris, s.suites) for s in sources] == [
        (("http://mirror.example/debian/",), ("bookworm",))
    ]


def test_mirror_serving_bookworm_is_picked_over_security():
    assert pick_mirror(parse_deb822(DEBIAN_DEB822)) == "http://deb.debian.org/debian"


def test_any_debian_archive_is_a_fallback_mirror():
    sources = parse_one_line("deb http://mirror.example/debian/ trixie main\n")

    assert pick_mirror(sources) == "http://mirror.example/debian"


def test_ubuntu_sources_are_not_a_debian_mirror():
    sources = parse_one_line(
        "deb http://archive.ubuntu.com/ubuntu jammy main\n"
        "deb http://security.ubuntu.com/ubuntu jammy-security main\n"
    )

    assert pick_mirror(sources) is None


def test_security_pockets_alone_are_not_a_mirror():
    sources = parse_one_line("deb http://deb.debian.org/debian-security bookworm-security main\n")

    assert pick_mirror(sources) is None


def test_host_sources_read_list_and_sources_files(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "debian.sources").write_text(DEBIAN_DEB822)
    (tmp_path / "d" / "extra.list").write_text("deb http://extra/debian sid main\n")
    (tmp_path / "d" / "notes.txt").write_text("deb http://ignored/debian sid main\n")
    (tmp_path / "sources.list").write_text("deb http://first/debian bookworm main\n")

    sources = host_sources(tmp_path / "d", tmp_path / "sources.list")

    assert [s.uris[0] for s in sources] == [
        "http://first/debian",
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
        "http://extra/debian",
    ]
    assert pick_mirror(sources) == "http://first/debian"
