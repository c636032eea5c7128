"""The image scanner on images built in memory, served by a fake registry."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.adapters.registry.advisories import Combined, Lookup, OsvDirectory, PypiJsonApi
from dockyard.adapters.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    ManifestInfo,
    RegistryClient,
)
from dockyard.adapters.registry.layers import PREFILTERED_RULES
from dockyard.adapters.registry.osv import advisories_from_osv
from dockyard.adapters.registry.sbom import purl
from dockyard.adapters.registry.scanner import ScanLimits, scan_image
from dockyard.adapters.registry.tokens import TokenIssuer
from dockyard.control.scan import InstalledPackage, Severity, VersionRange, cvss3_base_score
from dockyard.control.scan.secrets import _TEXT_RULES
from dockyard.errors import DockyardError
from dockyard.records.registry import ScanResult

pytestmark = pytest.mark.unit

REPO = "models/app"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
DPKG_STATUS = b"""Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
"""
BASE = {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS}


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n".encode()


def site(name: str, version: str) -> dict[str, bytes]:
    path = f"usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA"
    return {path: metadata(name, version)}


def layer(files: Mapping[str, bytes], *, prefix: str = "") -> bytes:
    """A gzip-compressed tar of ``files`` (``.wh.`` names are whiteouts, empty files)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class FakeRegistry:
    """``manifest()`` and ``blob()`` over images kept in memory (blobs in small chunks)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, ManifestInfo] = {}

    def push(self, layers: list[bytes], config: Mapping[str, Any] | None = None) -> str:
        body = {"os": "linux", "architecture": "amd64", "config": {}, **(config or {})}
        config_blob = json.dumps(body).encode()
        self.blobs.update({digest_of(b): b for b in [config_blob, *layers]})
        digest = digest_of(config_blob + b"".join(layers))
        self.manifests[digest] = ManifestInfo(
            REPO, digest, DOCKER_MANIFEST, digest_of(config_blob), len(config_blob),
            tuple(len(b) for b in layers), (), tuple(digest_of(b) for b in layers),
        )  # fmt: skip
        return digest

    def manifest(self, repository: str, reference: str) -> ManifestInfo:
        return self.manifests[reference]

    def blob(self, repository: str, digest: str) -> Iterator[bytes]:
        data = self.blobs[digest]
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]


class NoAdvisories:
    name = "no advisory source"

    def lookup(self, packages: object, distro: object) -> Lookup:
        return Lookup()


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


def scan(registry: FakeRegistry, digest: str, tmp_path: Path, **kwargs: Any) -> ScanResult:
    kwargs.setdefault("advisories", NoAdvisories())
    return scan_image(registry, REPO, digest, sbom_dir=tmp_path / "sbom", **kwargs)


def sbom_packages(result: ScanResult) -> set[tuple[str, str]]:
    assert result.sbom_path is not None
    bom = json.loads(Path(result.sbom_path).read_text())
    return {(c["name"], c["version"]) for c in bom["components"]}


def osv(path: Path, *records: Mapping[str, Any]) -> OsvDirectory:
    path.mkdir(parents=True, exist_ok=True)
    for record in records:
        (path / f"{record['id']}.json").write_text(json.dumps(record))
    return OsvDirectory(path)


REQUESTS_ADVISORY = {
    "id": "GHSA-x84v-xcm2-53pg",
    "aliases": ["CVE-2018-18074"],
    "summary": "Insufficiently Protected Credentials in Requests",
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "requests"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
    }],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
}  # fmt: skip
OPENSSL_ADVISORY = {
    "id": "DSA-5532-1",
    "aliases": ["CVE-2023-5363"],
    "affected": [{
        "package": {"ecosystem": "Debian:12", "name": "openssl"},
        "ranges": [{"type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}],
    }],
    "database_specific": {"severity": "HIGH"},
}  # fmt: skip


# -- packages ---------------------------------------------------------------------------


def test_packages_come_from_the_dpkg_database_and_python_metadata(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    egg = {"opt/app/lib/Flask_Cors.egg-info/PKG-INFO": metadata("Flask_Cors", "3.0.10")}
    image = registry.push([layer(BASE, prefix="./"), layer({**site("requests", "2.19.0"), **egg})])

    result = scan(registry, image, tmp_path)

    assert result.status == "COMPLETE"
    assert result.packages == 4  # removed-one left only its config files
    assert sbom_packages(result) == {
        ("libssl3", "3.0.11-1~deb12u1"), ("tzdata", "2024a-0+deb12u1"),
        ("requests", "2.19.0"), ("flask-cors", "3.0.10"),
    }  # fmt: skip


def test_the_last_layer_with_a_dpkg_status_wins(registry: FakeRegistry, tmp_path: Path) -> None:
    upgraded = DPKG_STATUS.replace(b"3.0.11-1~deb12u1", b"3.0.11-1~deb12u2")
    image = registry.push([layer(BASE), layer({"var/lib/dpkg/status": upgraded})])

    packages = sbom_packages(scan(registry, image, tmp_path))

    assert ("libssl3", "3.0.11-1~deb12u2") in packages
    assert ("libssl3", "3.0.11-1~deb12u1") not in packages


def test_a_whiteout_removes_a_package_a_lower_layer_installed(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    gone = "usr/lib/python3/dist-packages/.wh.requests-2.19.0.dist-info"
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")}), layer({gone: b""})])

    assert ("requests", "2.19.0") not in sbom_packages(scan(registry, image, tmp_path))


def test_an_opaque_directory_hides_what_lower_layers_put_in_it(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    lower = layer({**BASE, **site("requests", "2.19.0")})
    upper = layer({"usr/lib/python3/dist-packages/.wh..wh..opq": b"", **site("idna", "3.7")})
    image = registry.push([lower, upper])

    packages = sbom_packages(scan(registry, image, tmp_path))

    assert ("idna", "3.7") in packages
    assert ("requests", "2.19.0") not in packages


# -- secrets ----------------------------------------------------------------------------


def test_a_secret_in_env_is_a_masked_critical_finding(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    config = {"config": {"Env": ["PATH=/usr/bin", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}"]}}
    image = registry.push([layer(BASE)], config)

    [finding] = scan(registry, image, tmp_path).findings

    assert finding.severity is Severity.CRITICAL
    assert finding.location == "ENV AWS_SECRET_ACCESS_KEY"
    assert finding.description.endswith("*" * 36 + "EKEY")
    assert AWS_SECRET not in repr(finding)


def test_a_secret_in_a_file_names_its_layer_path_and_line(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    dotenv = f"DEBUG=1\naws_secret_access_key = {AWS_SECRET}\n".encode()
    image = registry.push([layer(BASE), layer({"app/.env": dotenv})])

    [finding] = scan(registry, image, tmp_path).findings

    assert finding.name == "aws-secret-access-key"
    assert finding.location == "layer 2: /app/.env:2"
    assert AWS_SECRET not in finding.description


def test_a_secret_in_a_file_a_later_layer_deleted_is_still_reported(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n"
    image = registry.push([layer({**BASE, "root/id_rsa": key}), layer({"root/.wh.id_rsa": b""})])

    [finding] = scan(registry, image, tmp_path).findings

    assert finding.location == "layer 1: /root/id_rsa:1"


def test_build_arguments_in_the_history_are_searched(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    history = [
        {"created_by": "/bin/sh -c #(nop)  ENV PATH=/usr/bin"},
        {"created_by": "|1 GH=ghp_" + "a" * 36 + " /bin/sh -c make"},
    ]
    image = registry.push([layer(BASE)], {"history": history})

    [finding] = scan(registry, image, tmp_path).findings

    assert (finding.name, finding.location) == ("github-token", "history 2:1")


def test_binary_files_and_documentation_are_not_searched(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    line = f"secret = {AWS_SECRET}\n".encode()
    files = {"usr/bin/tool": b"\x7fELF\0\0" + line, "usr/share/doc/x/README": line}
    image = registry.push([layer({**BASE, **files})])

    result = scan(registry, image, tmp_path)

    assert result.findings == ()
    assert "1 binary file" in result.description


def test_the_secret_search_stops_at_its_cap_and_says_so(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    files = {f"app/{n}.txt": b"x" * 600 for n in range(3)}
    files["app/late.env"] = f"secret = {AWS_SECRET}\n".encode()
    image = registry.push([layer({**BASE, **files})])

    result = scan(registry, image, tmp_path, limits=ScanLimits(max_text_bytes=1500))

    assert result.findings == ()
    assert "stopped at its limit of 1.5 KiB of text" in result.description
    assert "files from layer 1: /app/" in result.description


def test_the_prefilter_knows_every_secret_rule() -> None:
    assert {rule for rule, _ in _TEXT_RULES} == PREFILTERED_RULES


# -- vulnerabilities --------------------------------------------------------------------


def test_an_osv_pypi_advisory_matches_with_the_severity_of_its_cvss_vector(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])
    advisories = osv(tmp_path / "osv", REQUESTS_ADVISORY)

    [finding] = scan(registry, image, tmp_path, advisories=advisories).findings

    assert finding.name == "GHSA-x84v-xcm2-53pg"
    assert finding.severity is Severity.HIGH
    assert finding.package == "requests 2.19.0 (pypi)"
    assert finding.fixed_version == "2.20.0"
    assert "CVE-2018-18074" in finding.description


def test_a_fixed_version_is_not_reported(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.20.0")})])
    advisories = osv(tmp_path / "osv", REQUESTS_ADVISORY)

    result = scan(registry, image, tmp_path, advisories=advisories)

    assert result.findings == ()
    assert "pypi packages checked against OSV advisories in" in result.description


def test_a_debian_advisory_matches_the_source_package_within_a_debian_version_range(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    image = registry.push([layer(BASE)])
    advisories = osv(tmp_path / "osv", OPENSSL_ADVISORY)

    result = scan(registry, image, tmp_path, advisories=advisories)

    [finding] = result.findings
    assert (finding.name, finding.severity) == ("DSA-5532-1", Severity.HIGH)
    assert finding.package == "libssl3 3.0.11-1~deb12u1 (deb)"
    assert finding.fixed_version == "3.0.11-1~deb12u2"
    assert "deb packages checked against" in result.description


def test_debian_advisories_of_another_release_do_not_cover_the_image(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    other = json.loads(json.dumps(OPENSSL_ADVISORY).replace("Debian:12", "Debian:11"))
    image = registry.push([layer(BASE)])

    result = scan(registry, image, tmp_path, advisories=osv(tmp_path / "osv", other))

    assert result.findings == ()
    assert "deb packages not checked: no vulnerability data for Debian 12 reachable" in (
        result.description
    )


def test_the_description_says_deb_was_not_checked_when_no_source_covers_it(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])
    advisories = osv(tmp_path / "osv", REQUESTS_ADVISORY)

    result = scan(registry, image, tmp_path, advisories=advisories)

    assert result.status == "COMPLETE"
    assert "pypi packages checked" in result.description
    assert "deb packages not checked: no vulnerability data for Debian 12 reachable" in (
        result.description
    )


def test_an_empty_advisory_directory_checks_nothing_and_says_so(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])

    result = scan(registry, image, tmp_path, advisories=OsvDirectory(tmp_path / "none"))

    assert "deb packages not checked" in result.description
    assert "pypi packages not checked: no vulnerability data for PyPI reachable" in (
        result.description
    )


def test_osv_ranges_with_several_spans_and_last_affected() -> None:
    record = {
        "id": "PYSEC-1",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "Pkg"},
            "ranges": [{"type": "ECOSYSTEM", "events": [
                {"introduced": "0"}, {"fixed": "1.2"},
                {"introduced": "2.0"}, {"last_affected": "2.3"},
                {"introduced": "3.0"},
            ]}, {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}],
            "versions": ["1.0", "1.1"],
        }],
    }  # fmt: skip

    advisories = [advisory for _, advisory in advisories_from_osv(record)]

    assert [a.ranges for a in advisories] == [
        (VersionRange(fixed="1.2"),),
        (VersionRange(introduced="2.0", last_affected="2.3"),),
        (VersionRange(introduced="3.0"),),
        (),
    ]
    assert advisories[-1].versions == ("1.0", "1.1")
    assert [a.fixed_version for a in advisories] == ["1.2", None, None, None]


def test_withdrawn_osv_records_are_ignored() -> None:
    withdrawn = {**REQUESTS_ADVISORY, "withdrawn": "2024-01-01T00:00:00Z"}

    assert list(advisories_from_osv(withdrawn)) == []


def test_an_osv_zip_export_is_read_and_a_broken_file_is_noted(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    with zipfile.ZipFile(folder / "all.zip", "w") as archive:
        archive.writestr("GHSA-x84v-xcm2-53pg.json", json.dumps(REQUESTS_ADVISORY))
    (folder / "broken.json").write_text("{not json")
    requests = InstalledPackage("pypi", "requests", "2.19.0")

    lookup = OsvDirectory(folder).lookup([requests], "Debian:12")

    assert [a.id for a in lookup.advisories] == ["GHSA-x84v-xcm2-53pg"]
    assert set(lookup.covered) == {"pypi"}
    assert "1 unreadable file(s) skipped (broken.json)" in lookup.notes[0]


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores_of_known_vectors(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    ["CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
)
def test_a_vector_that_is_not_cvss3_is_refused(vector: str) -> None:
    with pytest.raises(ValueError, match="CVSS"):
        cvss3_base_score(vector)


# -- PyPI's JSON API --------------------------------------------------------------------


def pypi(handler: Any) -> PypiJsonApi:
    return PypiJsonApi("https://pypi.example", transport=httpx.MockTransport(handler))


REQUESTS = InstalledPackage("pypi", "requests", "2.19.0")


def test_a_mirror_that_answers_404_for_pip_is_unavailable_not_clean() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(404)

    source = pypi(handler)
    lookup = source.lookup([REQUESTS], None)
    again = source.lookup([REQUESTS], None)

    assert lookup.covered == {}
    assert "unavailable: answered 404 for 'pip'" in lookup.notes[0]
    assert seen == ["/pypi/pip/json"]  # the verdict is kept a while, not asked again
    assert again == lookup


def test_an_index_without_per_version_json_is_unavailable_not_clean() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/pypi/pip/json":
            return httpx.Response(200, json={"info": {"name": "pip", "version": "24.0"}})
        return httpx.Response(404)

    lookup = pypi(handler).lookup([REQUESTS], None)

    assert lookup.covered == {}
    assert "unavailable: answered 404 for pip 24.0, a release that exists" in lookup.notes[0]
    assert seen == ["/pypi/pip/json", "/pypi/pip/24.0/json"]


def test_an_unreachable_index_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    lookup = pypi(handler).lookup([REQUESTS], None)

    assert lookup.covered == {}
    assert "ConnectError" in lookup.notes[0]


def test_pypi_vulnerabilities_are_advisories_for_the_installed_version() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/pypi/requests/2.19.0/json":
            vulnerability = {
                "id": "PYSEC-2018-28",
                "aliases": ["CVE-2018-18074"],
                "details": "Requests sends credentials.",
                "fixed_in": ["2.20.0"],
            }
            return httpx.Response(200, json={"info": {}, "vulnerabilities": [vulnerability]})
        if request.url.path == "/pypi/private-lib/1.0/json":
            return httpx.Response(404)
        return httpx.Response(200, json={"info": {"name": "pip", "version": "24.0"}})

    lookup = pypi(handler).lookup([REQUESTS, InstalledPackage("pypi", "private-lib", "1.0")], None)

    [advisory] = lookup.advisories
    assert (advisory.id, advisory.versions, advisory.fixed_version) == (
        "PYSEC-2018-28", ("2.19.0",), "2.20.0"
    )  # fmt: skip
    assert set(lookup.covered) == {"pypi"}
    assert "1 pypi package(s) unknown to https://pypi.example, not checked: private-lib 1.0" in (
        lookup.notes
    )
    assert lookup.summaries["PYSEC-2018-28"] == "Requests sends credentials. (CVE-2018-18074)"


def test_combined_sources_cover_what_any_covers_and_keep_every_note(tmp_path: Path) -> None:
    unavailable = pypi(lambda request: httpx.Response(404))
    combined = Combined(osv(tmp_path / "osv", REQUESTS_ADVISORY), unavailable)

    lookup = combined.lookup([REQUESTS], "Debian:12")

    assert set(lookup.covered) == {"pypi"}
    assert [a.id for a in lookup.advisories] == ["GHSA-x84v-xcm2-53pg"]
    assert any("PyPI JSON API at https://pypi.example unavailable" in n for n in lookup.notes)


def test_the_description_names_the_source_that_checked_and_the_one_that_could_not(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])
    unavailable = pypi(lambda request: httpx.Response(404))
    advisories = Combined(osv(tmp_path / "osv", REQUESTS_ADVISORY), unavailable)

    result = scan(registry, image, tmp_path, advisories=advisories)

    assert (
        f"pypi packages checked against OSV advisories in {tmp_path / 'osv'} "
        "(PyPI JSON API at https://pypi.example unavailable: answered 404"
    ) in result.description


# -- the SBOM, failures, the client -----------------------------------------------------


def test_the_sbom_is_cyclonedx_with_package_urls(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])

    result = scan(registry, image, tmp_path)

    assert result.sbom_path == str(tmp_path / "sbom" / f"{image}.cdx.json")
    bom = json.loads(Path(result.sbom_path).read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    assert bom["serialNumber"].startswith("urn:uuid:")
    assert bom["metadata"]["component"] == {
        "type": "container", "bom-ref": f"{REPO}@{image}", "name": REPO, "version": image
    }  # fmt: skip
    assert {c["purl"] for c in bom["components"]} == {
        "pkg:pypi/requests@2.19.0",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
    }
    assert all(c["type"] == "library" for c in bom["components"])


def test_a_purl_encodes_epochs_and_plus_signs() -> None:
    package = InstalledPackage("deb", "libstdc++6", "1:12.2.0-14")

    assert purl(package, distro=None) == "pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14"


def test_a_damaged_layer_fails_the_scan(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.push([layer(BASE)[:200]])

    result = scan(registry, image, tmp_path)

    assert result.status == "FAILED"
    assert result.description.startswith("the scan failed:")
    assert result.findings == ()


def test_a_zstd_layer_fails_the_scan_saying_so(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.push([b"\x28\xb5\x2f\xfd" + b"\0" * 100])

    result = scan(registry, image, tmp_path)

    assert result.status == "FAILED"
    assert "layer 1 is zstd-compressed" in result.description


def test_an_index_scans_its_first_manifest(registry: FakeRegistry, tmp_path: Path) -> None:
    image = registry.push([layer({**BASE, **site("requests", "2.19.0")})])
    index = "sha256:" + "f" * 64
    registry.manifests[index] = ManifestInfo(REPO, index, OCI_INDEX, None, 0, (), (image,))

    result = scan(registry, index, tmp_path)

    assert result.status == "COMPLETE"
    assert result.packages == 3
    assert result.description.startswith(f"{index} is an index of 1 manifests")


def test_the_client_streams_a_blob_and_checks_its_digest(tmp_path: Path) -> None:
    data = b"layer bytes" * 100_000
    served = {digest_of(data): data, "sha256:" + "0" * 64: data}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=served[request.url.path.rsplit("/", 1)[1]])

    transport = httpx.MockTransport(handler)
    with RegistryClient("http://registry", TokenIssuer(tmp_path), transport=transport) as client:
        assert b"".join(client.blob(REPO, digest_of(data))) == data
        with pytest.raises(DockyardError, match="does not match its digest"):
            b"".join(client.blob(REPO, "sha256:" + "0" * 64))
        with pytest.raises(DockyardError, match="sha256 digest"):
            client.blob(REPO, "../../etc/passwd")


def test_the_client_lists_layer_digests(tmp_path: Path) -> None:
    layers = [
        {"size": 20, "digest": "sha256:" + "1" * 64},
        {"size": 3, "digest": "sha256:" + "2" * 64},
    ]
    body = {"mediaType": DOCKER_MANIFEST, "config": {"digest": "sha256:" + "c" * 64, "size": 5},
            "layers": layers}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=body, headers={"docker-content-digest": "sha256:" + "a" * 64}
        )

    transport = httpx.MockTransport(handler)
    with RegistryClient("http://registry", TokenIssuer(tmp_path), transport=transport) as client:
        info = client.manifest(REPO, "v1")

    assert info.layer_digests == ("sha256:" + "1" * 64, "sha256:" + "2" * 64)
