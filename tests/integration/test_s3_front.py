"""boto3 and the AWS CLI use the artifact store as S3, through the daemon's AWS front.

One daemon (private state directory and ports) serves the module; the clients are
boto3's own, unchanged but for ``endpoint_url`` and a key from ``dockyard credentials
create``. ``upload_file`` of 20 MB goes multipart (boto3 switches above 8 MB) and
``download_file`` brings back the same bytes; the object is the artifact store's file
at ``STATE_DIR/artifacts/bucket/key``, so ``s3://`` in a training request names it.
Listing pages with a delimiter, ranges, heads, copies, deletes and the errors S3
answers (NoSuchKey, NoSuchBucket, SignatureDoesNotMatch, NoSuchUpload, InvalidPart)
are checked against what S3 documents.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from dockyard_daemon import free_port
from test_aws_front import REGION, AwsDaemon, aws_cli, aws_client, error_of

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

MB = 1024 * 1024


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    running = AwsDaemon(
        tmp_path_factory.mktemp("s3-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="module")
def keys(daemon: AwsDaemon) -> dict[str, str]:
    done = daemon.cli("credentials", "create")
    assert done.returncode == 0, done.stderr
    pairs = [line.split(None, 1) for line in done.stdout.splitlines() if line.strip()]
    return {p[0]: p[1].strip() for p in pairs if len(p) == 2}


@pytest.fixture(scope="module")
def s3(daemon: AwsDaemon, keys: dict[str, str]) -> Any:
    return aws_client(daemon, keys, "s3")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="s3-front")
    return "s3-front"


def test_upload_file_goes_multipart_and_download_file_is_byte_identical(
    daemon: AwsDaemon, s3: Any, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MB))
    s3.upload_file(str(source), bucket, "data/big.bin")

    head = s3.head_object(Bucket=bucket, Key="data/big.bin")
    assert head["ContentLength"] == 20 * MB
    # boto3's 8 MB parts: the ETag is the MD5 of the parts' MD5s, and their count
    data = source.read_bytes()
    parts = [data[i : i + 8 * MB] for i in range(0, len(data), 8 * MB)]
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    assert head["ETag"] == f'"{hashlib.md5(joined).hexdigest()}-3"'

    back = tmp_path / "back.bin"
    s3.download_file(bucket, "data/big.bin", str(back))
    assert back.read_bytes() == data
    # the artifact store's own file: what s3://s3-front/data/big.bin names in a job
    assert (daemon.state_dir / "artifacts" / bucket / "data" / "big.bin").read_bytes() == data


def test_put_head_get_range_copy_and_delete(s3: Any, bucket: str) -> None:
    body = b"0123456789" * 10
    put = s3.put_object(
        Bucket=bucket,
        Key="small/a b+c.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"owner": "iris"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="small/a b+c.txt")
    assert (head["ContentLength"], head["ContentType"]) == (100, "text/plain")
    assert head["Metadata"] == {"owner": "iris"}
    ranged = s3.get_object(Bucket=bucket, Key="small/a b+c.txt", Range="bytes=10-19")
    assert ranged["Body"].read() == b"0123456789"
    assert ranged["ContentRange"] == "bytes 10-19/100"
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    tail = s3.get_object(Bucket=bucket, Key="small/a b+c.txt", Range="bytes=-5")
    assert tail["Body"].read() == b"56789"

    s3.copy_object(
        Bucket=bucket, Key="small/copy.txt", CopySource={"Bucket": bucket, "Key": "small/a b+c.txt"}
    )
    copied = s3.get_object(Bucket=bucket, Key="small/copy.txt")
    assert copied["Body"].read() == body and copied["Metadata"] == {"owner": "iris"}

    s3.delete_object(Bucket=bucket, Key="small/copy.txt")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="small/copy.txt")
    assert error_of(raised) == ("NoSuchKey", 404)
    assert raised.value.response["Error"]["Key"] == "small/copy.txt"
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="small/copy.txt")
    assert error_of(raised) == ("404", 404)  # HEAD answers carry no body, as on S3


def test_list_objects_v2_pages_with_a_delimiter(s3: Any) -> None:
    s3.create_bucket(Bucket="listing")
    keys = [f"runs/{run}/part-{n}" for run in ("a", "b", "c") for n in range(2)]
    keys += ["runs/top-0", "runs/top-1", "other/x", "runs0"]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())

    seen_keys: list[str] = []
    seen_prefixes: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="listing", Prefix="runs/", Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    counts = []
    for page in pages:
        counts.append(page["KeyCount"])
        seen_keys += [item["Key"] for item in page.get("Contents", [])]
        seen_prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    assert seen_prefixes == ["runs/a/", "runs/b/", "runs/c/"]
    assert seen_keys == ["runs/top-0", "runs/top-1"]
    assert counts == [2, 2, 1]

    everything = s3.list_objects_v2(Bucket="listing")
    assert [item["Key"] for item in everything["Contents"]] == sorted(keys)
    assert everything["IsTruncated"] is False
    after = s3.list_objects_v2(Bucket="listing", StartAfter="runs/c/part-1")
    assert [item["Key"] for item in after["Contents"]] == ["runs/top-0", "runs/top-1", "runs0"]

    deleted = s3.delete_objects(Bucket="listing", Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket="listing")["KeyCount"] == 0
    s3.delete_bucket(Bucket="listing")
    assert "listing" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_multipart_calls_by_hand_and_their_errors(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj")["UploadId"]
    first = s3.upload_part(
        Bucket=bucket, Key="mp/obj", UploadId=upload, PartNumber=1, Body=b"a" * (5 * MB)
    )
    second = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=upload, PartNumber=2, Body=b"b")
    listed = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * MB), (2, 1)]

    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp/obj",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]},
        )
    assert error_of(raised) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp/obj",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["ETag"]},
            ]
        },
    )
    assert done["ETag"].endswith('-2"')
    assert s3.head_object(Bucket=bucket, Key="mp/obj")["ContentLength"] == 5 * MB + 1
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload)
    assert error_of(raised) == ("NoSuchUpload", 404)

    aborted = s3.create_multipart_upload(Bucket=bucket, Key="mp/gone")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp/gone", UploadId=aborted)
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="mp/gone", UploadId=aborted, PartNumber=1, Body=b"x")
    assert error_of(raised) == ("NoSuchUpload", 404)


def test_s3_errors_have_s3_names(daemon: AwsDaemon, s3: Any, keys: dict[str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert error_of(raised) == ("NoSuchBucket", 404)
    s3.create_bucket(Bucket="twice")
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="twice")
    assert error_of(raised) == ("BucketAlreadyOwnedByYou", 409)

    forged = aws_client(daemon, {**keys, "SecretAccessKey": "x" * 40}, "s3")
    with pytest.raises(ClientError) as raised:
        forged.put_object(Bucket="twice", Key="forged", Body=b"nope")
    assert error_of(raised) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket="twice", Key="forged")
    assert error_of(raised) == ("404", 404)  # nothing was stored

    with pytest.raises(ClientError) as raised:
        s3.get_bucket_policy(Bucket="twice")
    assert error_of(raised) == ("NotImplemented", 501)
    assert "GetBucketPolicy" in raised.value.response["Error"]["Message"]


def test_a_body_that_does_not_match_its_checksum_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_object(
            Bucket=bucket, Key="bad-md5", Body=b"hello", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="
        )  # the MD5 of b""
    assert error_of(raised) == ("BadDigest", 400)
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="bad-md5")
    assert error_of(raised) == ("404", 404)


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_the_aws_cli_copies_and_lists(
    daemon: AwsDaemon, keys: dict[str, str], bucket: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(
        AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
        AWS_DEFAULT_REGION=REGION,
    )

    def aws(*args: str) -> str:
        done = subprocess.run(
            [aws_cli() or "aws", *args, "--endpoint-url", daemon.aws_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    local = tmp_path / "cli.json"
    local.write_text(json.dumps({"rows": list(range(1000))}))
    aws("s3", "cp", str(local), f"s3://{bucket}/cli/one.json")
    listing = aws("s3", "ls", f"s3://{bucket}/cli/")
    assert "one.json" in listing and str(local.stat().st_size) in listing
    aws("s3", "cp", f"s3://{bucket}/cli/one.json", str(tmp_path / "back.json"))
    assert (tmp_path / "back.json").read_text() == local.read_text()
    assert f"{bucket}" in aws("s3", "ls")
