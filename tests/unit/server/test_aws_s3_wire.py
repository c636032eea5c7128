"""S3's wire pieces: XML from the model's shapes, aws-chunked bodies, byte ranges,
routing by the model, and the object layer's ETags and listing pages."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore.parsers import RestXMLParser

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.artifacts.objects import MIN_PART_SIZE, LocalObjects, ObjectError
from dockyard.server.aws import s3wire
from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.s3 import find_operation
from dockyard.server.aws.shapes import service_model

S3 = service_model("s3")


def parsed(operation: str, body: bytes) -> dict[str, object]:
    """What botocore reads from ``body`` as ``operation``'s answer."""
    shape = S3.operation_model(operation).output_shape
    response = {"body": body, "headers": {}, "status_code": 200}
    return dict(RestXMLParser().parse(response, shape))


def test_list_objects_v2_xml_reads_back_through_botocore() -> None:
    shape = S3.operation_model("ListObjectsV2").output_shape
    body = s3wire.render(
        "ListBucketResult",
        shape,
        {
            "Name": "b",
            "IsTruncated": True,
            "KeyCount": 2,
            "Contents": [{"Key": "a/x", "Size": 3, "ETag": '"e"', "LastModified": 0.0}],
            "CommonPrefixes": [{"Prefix": "a/y/"}],
            "NextContinuationToken": "t",
        },
    )
    root = ET.fromstring(body)
    assert root.tag == f"{{{s3wire.NAMESPACE}}}ListBucketResult"
    got = parsed("ListObjectsV2", body)
    assert got["IsTruncated"] is True and got["KeyCount"] == 2
    assert got["Contents"][0]["Key"] == "a/x"  # type: ignore[index]
    assert got["CommonPrefixes"] == [{"Prefix": "a/y/"}]
    assert b"<LastModified>1970-01-01T00:00:00.000Z</LastModified>" in body


def test_complete_multipart_request_body_is_read_by_the_model() -> None:
    shape = S3.operation_model("CompleteMultipartUpload").input_shape.members["MultipartUpload"]
    body = (
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b'<Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part>'
        b'<Part><ETag>"b"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>'
    )
    assert s3wire.parse(shape, body) == {
        "Parts": [{"ETag": '"a"', "PartNumber": 1}, {"ETag": '"b"', "PartNumber": 2}]
    }
    with pytest.raises(AwsError) as raised:
        s3wire.parse(shape, b"<CompleteMultipartUpload><Part>")
    assert raised.value.code == "MalformedXML"


def test_error_xml_has_code_message_resource_and_request_id() -> None:
    body = s3wire.error_xml(AwsError("NoSuchKey", "gone", 404, {"Key": "k"}), "RID", "/b/k")
    root = ET.fromstring(body)
    assert [(e.tag, e.text) for e in root] == [
        ("Code", "NoSuchKey"),
        ("Message", "gone"),
        ("Key", "k"),
        ("Resource", "/b/k"),
        ("RequestId", "RID"),
    ]


def chunked(parts: list[bytes], signing: s3wire.ChunkSigning | None, trailer: str = "") -> bytes:
    out, previous = b"", signing.seed if signing else ""
    for data in [*parts, b""]:
        ext = ""
        if signing is not None:
            previous = signing.sign(previous, hashlib.sha256(data).hexdigest())
            ext = f";chunk-signature={previous}"
        out += f"{len(data):x}{ext}\r\n".encode() + data
        out += b"\r\n" if data else b""
    return out + trailer.encode() + b"\r\n"


def test_aws_chunked_bodies_decode_in_any_split_and_check_chunk_signatures() -> None:
    signing = s3wire.ChunkSigning.derive("secret", "20260101T000000Z", "us-east-1", "s3", "0" * 64)
    body = chunked([b"hello ", b"world"], signing)
    for step in (1, 7, len(body)):
        decoder = s3wire.AwsChunked(signing)
        out = b"".join(decoder.feed(body[i : i + step]) for i in range(0, len(body), step))
        decoder.close()
        assert out == b"hello world"
    forged = body.replace(b"world", b"WORLD")
    with pytest.raises(AwsError) as raised:
        s3wire.AwsChunked(signing).feed(forged)
    assert raised.value.code == "SignatureDoesNotMatch"


def test_aws_chunked_trailers_and_truncation() -> None:
    decoder = s3wire.AwsChunked()
    body = chunked([b"abc"], None, "x-amz-checksum-crc32:NSRBwg==\r\n")
    assert decoder.feed(body) == b"abc"
    decoder.close()
    assert decoder.trailers == {"x-amz-checksum-crc32": "NSRBwg=="}
    cut = s3wire.AwsChunked()
    cut.feed(body[:5])
    with pytest.raises(AwsError) as raised:
        cut.close()
    assert raised.value.code == "IncompleteBody"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole object, as S3 answers
    ],
)
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert s3wire.byte_range(header, 100) == expected


def test_a_range_past_the_end_is_invalid_range() -> None:
    with pytest.raises(AwsError) as raised:
        s3wire.byte_range("bytes=100-", 100)
    assert (raised.value.code, raised.value.status) == ("InvalidRange", 416)


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("GET", "/", {}, {}, "ListBuckets"),
        ("GET", "/b", {"list-type": "2"}, {}, "ListObjectsV2"),
        ("GET", "/b", {}, {}, "ListObjects"),
        ("GET", "/b", {"location": ""}, {}, "GetBucketLocation"),
        ("PUT", "/b/k/x", {}, {}, "PutObject"),
        ("PUT", "/b/k", {}, {"x-amz-copy-source": "b/j"}, "CopyObject"),
        ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {}, "UploadPart"),
        ("POST", "/b/k", {"uploads": ""}, {}, "CreateMultipartUpload"),
        ("POST", "/b/k", {"uploadId": "u"}, {}, "CompleteMultipartUpload"),
        ("GET", "/b/k", {"uploadId": "u"}, {}, "ListParts"),
        ("DELETE", "/b/k", {"uploadId": "u"}, {}, "AbortMultipartUpload"),
        ("POST", "/b", {"delete": ""}, {}, "DeleteObjects"),
        ("GET", "/b", {"policy": ""}, {}, "GetBucketPolicy"),
    ],
)
def test_requests_are_routed_by_the_model(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], operation: str
) -> None:
    found = find_operation(method, path, query, headers)
    assert found is not None and found[0] == operation


def objects(tmp_path: Path) -> LocalObjects:
    store = LocalObjects(LocalArtifactStore(tmp_path))
    store.create_bucket("bkt")
    return store


def put(store: LocalObjects, key: str, data: bytes) -> None:
    body = store.receive()
    body.write(data)
    store.commit("bkt", key, body)


def test_etags_single_part_and_multipart(tmp_path: Path) -> None:
    store = objects(tmp_path)
    put(store, "one", b"abc")
    assert store.head("bkt", "one").etag == f'"{hashlib.md5(b"abc").hexdigest()}"'
    upload = store.create_upload("bkt", "many", None, {})
    parts = [b"a" * MIN_PART_SIZE, b"tail"]
    chosen = []
    for number, data in enumerate(parts, start=1):
        body = store.receive()
        body.write(data)
        chosen.append((number, store.put_part(upload, number, body, {}).etag, {}))
    info = store.complete(upload, chosen)
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    assert info.etag == f'"{hashlib.md5(joined).hexdigest()}-2"'
    assert (tmp_path / "bkt" / "many").read_bytes() == b"".join(parts)
    assert not list((tmp_path / ".incoming").iterdir())  # nothing left behind


def test_a_small_part_before_the_last_is_entity_too_small(tmp_path: Path) -> None:
    store = objects(tmp_path)
    upload = store.create_upload("bkt", "k", None, {})
    chosen = []
    for number in (1, 2):
        body = store.receive()
        body.write(b"x")
        chosen.append((number, store.put_part(upload, number, body, {}).etag, {}))
    with pytest.raises(ObjectError) as raised:
        store.complete(upload, chosen)
    assert raised.value.s3_code == "EntityTooSmall"
    assert not (tmp_path / "bkt" / "k").exists()


def test_a_file_written_by_a_job_gets_its_md5_etag(tmp_path: Path) -> None:
    store = objects(tmp_path)
    (tmp_path / "bkt" / "job").mkdir()
    (tmp_path / "bkt" / "job" / "model.tar.gz").write_bytes(b"model")
    info = store.head("bkt", "job/model.tar.gz")
    assert info.etag == f'"{hashlib.md5(b"model").hexdigest()}"'


def test_listing_is_in_key_order_and_pages_with_a_delimiter(tmp_path: Path) -> None:
    store = objects(tmp_path)
    for key in ("a0", "a/x", "a/y/z", "a-b", "b"):
        put(store, key, b".")
    page = store.page("bkt", max_keys=10)
    assert [o.key for o in page.objects] == ["a-b", "a/x", "a/y/z", "a0", "b"]
    first = store.page("bkt", prefix="a", delimiter="/", max_keys=2)
    assert ([o.key for o in first.objects], first.prefixes, first.truncated) == (
        ["a-b"],
        ["a/"],
        True,
    )
    assert first.last is not None
    rest = store.page("bkt", prefix="a", delimiter="/", after=first.last, max_keys=2)
    assert ([o.key for o in rest.objects], rest.prefixes, rest.truncated) == (["a0"], [], False)
