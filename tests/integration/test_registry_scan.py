"""Scanning images in a real registry: pushed by the engine, read back blob by blob.

The registry is a real Distribution with token authentication, as in
``test_registry.py`` (whose token server and push helper this module reuses). The
image is the offline base image plus a hand-made ``requests 2.19.0`` distribution
(nothing comes from the network) and an AWS secret in its ``ENV``; the advisory is an
OSV record written into a temporary directory, as an air-gapped user would drop one.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from test_registry import PUSHER, TokenServer, push

from dockyard.adapters.engine import DockerEngine
from dockyard.adapters.registry import Registry, RegistryClient
from dockyard.adapters.registry.advisories import OsvDirectory
from dockyard.adapters.registry.scanner import scan_image
from dockyard.control.scan import Severity
from dockyard.records.registry import ScanResult

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("docker-registry") is None, reason="needs docker-registry"),
]

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
METADATA = "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\nSummary: HTTP for Humans.\n"
DOCKERFILE = f"""FROM {{base}}
COPY site-packages/ /usr/local/lib/python3.11/dist-packages/
ENV AWS_SECRET_ACCESS_KEY={AWS_SECRET}
"""
REQUESTS_ADVISORY = {
    "schema_version": "1.4.0",
    "id": "GHSA-x84v-xcm2-53pg",
    "aliases": ["CVE-2018-18074"],
    "summary": "Insufficiently Protected Credentials in Requests",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}],
        }
    ],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = TokenServer()
    server.start()
    made = Registry(tmp_path_factory.mktemp("registry-scan"), token_realm=server.url("/token/scan"))
    server.issuers["scan"] = made.issuer
    made.ensure_running()
    yield made
    made.stop()
    server.stop()


@pytest.fixture(scope="module")
def api(engine: DockerEngine) -> Iterator[docker.APIClient]:
    if engine.kind != "docker":
        pytest.skip("pushes rely on Docker treating 127.0.0.0/8 as an insecure registry")
    client = docker.APIClient(base_url=engine.base_url, version="auto", timeout=600)
    yield client
    client.close()


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.base_url(), registry.issuer) as made:
        yield made


@pytest.fixture
def advisories(tmp_path: Path) -> OsvDirectory:
    folder = tmp_path / "advisories"
    folder.mkdir()
    (folder / "GHSA-x84v-xcm2-53pg.json").write_text(json.dumps(REQUESTS_ADVISORY))
    return OsvDirectory(folder)


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    yield
    if TIMINGS:
        lines = [f"  {what}: {seconds:.2f} s" for what, seconds in TIMINGS.items()]
        print("\nscan timings:\n" + "\n".join(lines), file=sys.stderr)


def pushed(api: docker.APIClient, registry: Registry, image: str, repository: str) -> str:
    """Push ``image`` as ``repository:v1``; its digest (the local tag is removed after)."""
    ref = f"{registry.host}/{repository}"
    api.tag(image, ref, "v1")
    try:
        return push(api, ref, "v1", PUSHER)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_image(f"{ref}:v1")


def build(api: docker.APIClient, base_image: str, labels: dict[str, str]) -> str:
    """The base image, plus requests 2.19.0's metadata and a secret in ENV."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in (
            ("Dockerfile", DOCKERFILE.format(base=base_image)),
            ("site-packages/requests-2.19.0.dist-info/METADATA", METADATA),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image_id = None
    for line in api.build(fileobj=context, custom_context=True, labels=labels, decode=True):
        if "error" in line:
            raise AssertionError(line["error"])
        image_id = line.get("aux", {}).get("ID", image_id)
    assert image_id
    return str(image_id)


def timed_scan(
    what: str,
    client: RegistryClient,
    repository: str,
    digest: str,
    advisories: OsvDirectory,
    sbom_dir: Path,
) -> ScanResult:
    started = time.monotonic()
    result = scan_image(client, repository, digest, advisories=advisories, sbom_dir=sbom_dir)
    TIMINGS[what] = time.monotonic() - started
    return result


def test_a_pushed_image_is_scanned_for_vulnerabilities_secrets_and_packages(
    api: docker.APIClient,
    registry: Registry,
    client: RegistryClient,
    advisories: OsvDirectory,
    base_image: str,
    session_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    image = build(api, base_image, session_labels)
    digest = pushed(api, registry, image, "models/scanned")

    result = timed_scan(
        "scan of the base image + requests metadata + ENV secret",
        client, "models/scanned", digest, advisories, tmp_path / "sbom",
    )  # fmt: skip

    assert result.status == "COMPLETE", result.description
    vulnerability = next(f for f in result.findings if f.name == "GHSA-x84v-xcm2-53pg")
    assert vulnerability.severity is Severity.HIGH
    assert vulnerability.package == "requests 2.19.0 (pypi)"
    assert vulnerability.fixed_version == "2.20.0"
    [secret] = [f for f in result.findings if f.severity is Severity.CRITICAL]
    assert secret.location == "ENV AWS_SECRET_ACCESS_KEY"
    assert AWS_SECRET not in secret.description
    assert secret.description.endswith("EKEY")
    assert "deb packages not checked: no vulnerability data for Debian 12 reachable" in (
        result.description
    )
    assert "pypi packages checked against OSV advisories" in result.description
    assert result.sbom_path is not None
    bom = json.loads(Path(result.sbom_path).read_text())
    purls = {component["purl"] for component in bom["components"]}
    assert "pkg:pypi/requests@2.19.0" in purls
    debs = {p for p in purls if p.startswith("pkg:deb/debian/")}
    assert len(debs) > 50
    assert any(p.startswith("pkg:deb/debian/python3.11@") for p in debs)
    assert result.packages == len(purls)


def test_the_base_image_scans_in_seconds(
    api: docker.APIClient,
    registry: Registry,
    client: RegistryClient,
    advisories: OsvDirectory,
    base_image: str,
    tmp_path: Path,
) -> None:
    digest = pushed(api, registry, base_image, "models/scanbase")

    result = timed_scan(
        "scan of the base image (1 layer, read from the registry)",
        client, "models/scanbase", digest, advisories, tmp_path,
    )  # fmt: skip

    assert result.status == "COMPLETE", result.description
    assert [f for f in result.findings if f.severity is Severity.CRITICAL] == []
    assert result.packages > 50
    assert TIMINGS["scan of the base image (1 layer, read from the registry)"] < 30
    print(f"\nbase image scan: {result.description}", file=sys.stderr)
