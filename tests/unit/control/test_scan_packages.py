"""What an image has installed: dpkg's status file and Python distribution metadata."""

from __future__ import annotations

import pytest

from dockyard.control.scan import (
    InstalledPackage,
    is_python_metadata_path,
    normalize_pypi_name,
    parse_dpkg_status,
    parse_python_metadata,
)

pytestmark = pytest.mark.unit

STATUS = """\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL and TLS
 cryptographic protocols for secure communication over the Internet.
 .
 Version: 9.9 (a continuation line, not a field)

Package: adduser
Status: install ok installed
Architecture: all
Version: 3.134
Conffiles:
 /etc/adduser.conf cc3493ecd2d09837ffdcc3e25fdfff18

Package: old-tool
Status: deinstall ok config-files
Version: 1.0-1

Package: gone
Status: purge ok not-installed

Package: half
Status: install reinstreq half-installed
Version: 2.0-1

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.13.dfsg-1
"""


def test_installed_packages_are_read_in_file_order() -> None:
    assert parse_dpkg_status(STATUS) == (
        InstalledPackage("deb", "libssl3", "3.0.11-1~deb12u2", source="openssl"),
        InstalledPackage("deb", "adduser", "3.134"),
        InstalledPackage("deb", "half", "2.0-1"),
        InstalledPackage("deb", "zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
    )


def test_removed_packages_and_leftover_conffiles_are_not_installed() -> None:
    names = {p.name for p in parse_dpkg_status(STATUS)}
    assert "old-tool" not in names
    assert "gone" not in names


def test_a_distroless_status_d_entry_without_status_counts_as_installed() -> None:
    entry = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
    assert parse_dpkg_status(entry) == (InstalledPackage("deb", "tzdata", "2024a-0+deb12u1"),)


def test_multiarch_duplicates_are_reported_once() -> None:
    twice = "Package: libc6\nVersion: 2.36-9\n\nPackage: libc6\nVersion: 2.36-9\n"
    assert len(parse_dpkg_status(twice)) == 1


def test_crlf_and_extra_blank_lines_are_tolerated() -> None:
    text = "\r\n\r\nPackage: a\r\nVersion: 1\r\n\r\n\r\nPackage: b\r\nVersion: 2\r\n"
    assert [p.name for p in parse_dpkg_status(text)] == ["a", "b"]


def test_field_names_are_case_insensitive() -> None:
    assert parse_dpkg_status("package: a\nVERSION: 1\n")[0].version == "1"


def test_an_empty_status_file_has_no_packages() -> None:
    assert parse_dpkg_status("") == ()


METADATA = """\
Metadata-Version: 2.1
Name: Scikit_Learn
Version: 1.5.0
Summary: A set of python modules for machine learning and data mining
Requires-Dist: numpy>=1.19.5

Name: not-a-header
Version: 9.9 (this is the long description)
"""


def test_python_metadata_gives_the_normalized_name_and_version() -> None:
    assert parse_python_metadata(METADATA) == InstalledPackage("pypi", "scikit-learn", "1.5.0")


def test_metadata_with_crlf_line_ends_is_read() -> None:
    text = METADATA.replace("\n", "\r\n")
    assert parse_python_metadata(text) == InstalledPackage("pypi", "scikit-learn", "1.5.0")


def test_metadata_without_a_version_is_skipped() -> None:
    assert parse_python_metadata("Metadata-Version: 2.1\nName: x\n") is None
    assert parse_python_metadata("") is None


@pytest.mark.parametrize(
    ("name", "normal"),
    [("Scikit_Learn", "scikit-learn"), ("zope.interface", "zope-interface"), ("A__B-.c", "a-b-c")],
)
def test_pep_503_names(name: str, normal: str) -> None:
    assert normalize_pypi_name(name) == normal


@pytest.mark.parametrize(
    ("path", "is_metadata"),
    [
        ("usr/lib/python3/dist-packages/numpy-1.26.4.dist-info/METADATA", True),
        ("/opt/venv/lib/python3.11/site-packages/six.egg-info/PKG-INFO", True),
        ("usr/lib/python3/dist-packages/numpy-1.26.4.dist-info/RECORD", False),
        ("METADATA", False),
    ],
)
def test_metadata_paths(path: str, is_metadata: bool) -> None:
    assert is_python_metadata_path(path) is is_metadata
