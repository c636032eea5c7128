"""The S3 operations Dockyard answers, over the artifact store's objects.

Each handler takes the validated input members (:class:`S3Call`) and returns the
output members (:class:`S3Result`) that :mod:`.s3` writes as headers and XML, as
botocore's ``s3`` model places them. A body on its way in has already been received
and checked (:class:`~dockyard.adapters.artifacts.objects.Incoming`); one on its way
out is an open file (:class:`FileBody`) streamed from where the range starts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote, unquote

from dockyard.adapters.artifacts.objects import Incoming, LocalObjects, ObjectError, ObjectInfo
from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.s3wire import byte_range

OWNER = {"ID": "000000000000", "DisplayName": "dockyard"}
MAX_KEYS = 1000
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class S3Call:
    objects: LocalObjects
    params: Mapping[str, Any]
    region: str


@dataclass
class FileBody:
    """``length`` bytes of an open file from ``start``: a GetObject answer."""

    handle: BinaryIO
    start: int
    length: int

    def chunks(self) -> Iterator[bytes]:
        try:
            self.handle.seek(self.start)
            left = self.length
            while left > 0:
                data = self.handle.read(min(_CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data
        finally:
            self.handle.close()


@dataclass
class S3Result:
    output: dict[str, Any] = field(default_factory=dict)
    status: int | None = None  # None: the model's responseCode, else 200
    body: FileBody | None = None


S3Handler = Callable[[S3Call], S3Result]


# -- buckets ------------------------------------------------------------------------------


def list_buckets(call: S3Call) -> S3Result:
    buckets = [{"Name": b.name, "CreationDate": b.created} for b in call.objects.buckets()]
    return S3Result({"Buckets": buckets, "Owner": OWNER})


def create_bucket(call: S3Call) -> S3Result:
    bucket = call.params["Bucket"]
    call.objects.create_bucket(bucket)
    return S3Result({"Location": f"/{bucket}"})


def head_bucket(call: S3Call) -> S3Result:
    call.objects.require_bucket(call.params["Bucket"])
    return S3Result({"BucketRegion": call.region})


def delete_bucket(call: S3Call) -> S3Result:
    call.objects.delete_bucket(call.params["Bucket"])
    return S3Result()


def get_bucket_location(call: S3Call) -> S3Result:
    """A bucket is wherever the client is (the region it signed for); us-east-1 is
    written as an empty constraint, as S3 does."""
    call.objects.require_bucket(call.params["Bucket"])
    region = "" if call.region == "us-east-1" else call.region
    return S3Result({"LocationConstraint": region})


# -- listing ------------------------------------------------------------------------------


def list_objects_v2(call: S3Call) -> S3Result:
    params = call.params
    token = params.get("ContinuationToken")
    after = _untoken(token) if token else str(params.get("StartAfter") or "")
    page, out = _list(call, after)
    out.update(
        KeyCount=len(page.objects) + len(page.prefixes),
        ContinuationToken=token,
        StartAfter=_encoded(params, params.get("StartAfter")),
        NextContinuationToken=_token(page.last) if page.truncated and page.last else None,
    )
    if not params.get("FetchOwner"):
        for item in out["Contents"]:
            item.pop("Owner")
    return S3Result(out)


def list_objects(call: S3Call) -> S3Result:
    params = call.params
    page, out = _list(call, str(params.get("Marker") or ""))
    out["Marker"] = _encoded(params, params.get("Marker") or "")
    if page.truncated and params.get("Delimiter"):
        out["NextMarker"] = _encoded(params, page.last)
    return S3Result(out)


def _list(call: S3Call, after: str) -> tuple[Any, dict[str, Any]]:
    params = call.params
    bucket = params["Bucket"]
    prefix = str(params.get("Prefix") or "")
    delimiter = str(params.get("Delimiter") or "")
    max_keys = min(int(params.get("MaxKeys", MAX_KEYS)), MAX_KEYS)
    if max_keys < 0:
        raise AwsError("InvalidArgument", "max-keys must be 0 or more", 400)
    page = call.objects.page(
        bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
    )
    out = {
        "Name": bucket,
        "Prefix": _encoded(params, prefix),
        "Delimiter": _encoded(params, delimiter) or None,
        "MaxKeys": max_keys,
        "IsTruncated": page.truncated,
        "EncodingType": params.get("EncodingType"),
        "Contents": [_entry(params, o) for o in page.objects],
        "CommonPrefixes": [{"Prefix": _encoded(params, p)} for p in page.prefixes],
    }
    return page, out


def _entry(params: Mapping[str, Any], info: ObjectInfo) -> dict[str, Any]:
    return {
        "Key": _encoded(params, info.key),
        "LastModified": info.last_modified,
        "ETag": info.etag,
        "Size": info.size,
        "StorageClass": "STANDARD",
        "Owner": OWNER,
    }


def _encoded(params: Mapping[str, Any], text: str | None) -> str | None:
    """Keys and prefixes URL-encoded when the client asked (botocore always does)."""
    if text is None or params.get("EncodingType") != "url":
        return text
    return quote(text, safe="/")


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AwsError(
            "InvalidArgument", "The continuation token provided is incorrect", 400
        ) from None


# -- objects ------------------------------------------------------------------------------


def put_object(call: S3Call) -> S3Result:
    params = call.params
    body: Incoming = params["Body"]
    checksums = params["__checksums"]
    info = call.objects.commit(
        params["Bucket"],
        params["Key"],
        body,
        content_type=params.get("ContentType"),
        metadata=params.get("Metadata") or {},
        checksums=checksums,
    )
    return S3Result({"ETag": info.etag, **_checksum_members(checksums)})


def head_object(call: S3Call) -> S3Result:
    info = _conditional(call)
    return S3Result(_object_headers(info, call.params))


def get_object(call: S3Call) -> S3Result:
    params = call.params
    info = _conditional(call)
    path = call.objects.object_path(params["Bucket"], params["Key"])
    wanted = byte_range(params.get("Range"), info.size)
    handle = path.open("rb")  # held open: a later PUT of the key renames over, not into it
    out = _object_headers(info, params)
    if wanted is None:
        return S3Result(out, body=FileBody(handle, 0, info.size))
    first, last = wanted
    for name in _checksum_members(info.checksums):  # they are the whole object's
        out.pop(name, None)
    out["ContentLength"] = last - first + 1
    out["ContentRange"] = f"bytes {first}-{last}/{info.size}"
    return S3Result(out, status=206, body=FileBody(handle, first, last - first + 1))


def _conditional(call: S3Call) -> ObjectInfo:
    """The object, after If-Match (412) and If-None-Match (304), as S3 checks them;
    s3transfer's downloads send If-Match so the parts they fetch are of one object."""
    params = call.params
    info = call.objects.head(params["Bucket"], params["Key"])
    if_match, if_none = params.get("IfMatch"), params.get("IfNoneMatch")
    if if_match and if_match.strip() not in ("*", info.etag) and f'"{if_match}"' != info.etag:
        raise AwsError(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
        )
    if if_none and (if_none.strip() in ("*", info.etag) or f'"{if_none}"' == info.etag):
        raise AwsError("NotModified", "Not Modified", 304)
    since = params.get("IfModifiedSince")
    if isinstance(since, dt.datetime) and not if_none and info.last_modified <= since.timestamp():
        raise AwsError("NotModified", "Not Modified", 304)
    return info


def _object_headers(info: ObjectInfo, params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ContentLength": info.size,
        "ContentType": params.get("ResponseContentType") or info.content_type,
        "ETag": info.etag,
        "LastModified": info.last_modified,
        "AcceptRanges": "bytes",
        "Metadata": dict(info.metadata),
    }
    if params.get("ChecksumMode") == "ENABLED":
        out.update(_checksum_members(info.checksums))
    return out


def delete_object(call: S3Call) -> S3Result:
    call.objects.delete(call.params["Bucket"], call.params["Key"])
    return S3Result()


def delete_objects(call: S3Call) -> S3Result:
    params = call.params
    bucket = params["Bucket"]
    call.objects.require_bucket(bucket)
    deleted, errors = [], []
    for item in params["Delete"].get("Objects", []):
        key = item["Key"]
        try:
            call.objects.delete(bucket, key)
        except ObjectError as error:  # fails only that key, as S3 reports it
            errors.append({"Key": key, "Code": error.s3_code, "Message": error.message})
            continue
        deleted.append({"Key": key})
    if params["Delete"].get("Quiet"):
        deleted = []
    return S3Result({"Deleted": deleted, "Errors": errors})


def copy_object(call: S3Call) -> S3Result:
    params = call.params
    source_bucket, source_key = _copy_source(params["CopySource"])
    replace = None
    if params.get("MetadataDirective") == "REPLACE":
        replace = (params.get("ContentType"), params.get("Metadata") or {})
    info = call.objects.copy(
        source_bucket, source_key, params["Bucket"], params["Key"], replace=replace
    )
    return S3Result({"CopyObjectResult": {"ETag": info.etag, "LastModified": info.last_modified}})


def _copy_source(text: str) -> tuple[str, str]:
    """``bucket/key`` (URL-encoded, maybe with a leading ``/`` and ``?versionId=``)."""
    path, _, version = unquote(text).lstrip("/").partition("?versionId=")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise AwsError(
            "InvalidArgument", "Copy Source must mention the source bucket and key: bucket/key"
        )
    if version and version != "null":
        raise AwsError("InvalidArgument", "Dockyard's buckets are not versioned: drop versionId")
    return bucket, key


# -- multipart uploads --------------------------------------------------------------------


def create_multipart_upload(call: S3Call) -> S3Result:
    params = call.params
    upload = call.objects.create_upload(
        params["Bucket"], params["Key"], params.get("ContentType"), params.get("Metadata") or {}
    )
    return S3Result(
        {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "ChecksumAlgorithm": params.get("ChecksumAlgorithm"),
        }
    )


def upload_part(call: S3Call) -> S3Result:
    params = call.params
    upload = call.objects.upload(params["Bucket"], params["Key"], params["UploadId"])
    checksums = params["__checksums"]
    part = call.objects.put_part(upload, int(params["PartNumber"]), params["Body"], checksums)
    return S3Result({"ETag": part.etag, **_checksum_members(checksums)})


def complete_multipart_upload(call: S3Call) -> S3Result:
    params = call.params
    upload = call.objects.upload(params["Bucket"], params["Key"], params["UploadId"])
    chosen = []
    for part in (params.get("MultipartUpload") or {}).get("Parts", []):
        sums = {k.removeprefix("Checksum"): v for k, v in part.items() if k.startswith("Checksum")}
        chosen.append((int(part.get("PartNumber", 0)), str(part.get("ETag", "")), sums))
    info = call.objects.complete(upload, chosen)
    return S3Result(
        {
            "Location": f"/{upload.bucket}/{quote(upload.key)}",
            "Bucket": upload.bucket,
            "Key": upload.key,
            "ETag": info.etag,
        }
    )


def abort_multipart_upload(call: S3Call) -> S3Result:
    params = call.params
    call.objects.abort(call.objects.upload(params["Bucket"], params["Key"], params["UploadId"]))
    return S3Result()


def list_parts(call: S3Call) -> S3Result:
    params = call.params
    upload = call.objects.upload(params["Bucket"], params["Key"], params["UploadId"])
    marker = int(params.get("PartNumberMarker") or 0)
    max_parts = min(int(params.get("MaxParts") or 1000), 1000)
    after = [p for p in call.objects.parts(upload) if p.number > marker]
    page = after[:max_parts]
    truncated = len(after) > len(page)
    parts = []
    for p in page:
        entry = {
            "PartNumber": p.number,
            "LastModified": p.last_modified,
            "ETag": p.etag,
            "Size": p.size,
        }
        entry.update(_checksum_members(p.checksums))
        parts.append(entry)
    return S3Result(
        {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "NextPartNumberMarker": page[-1].number if truncated and page else None,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Parts": parts,
            "Initiator": OWNER,
            "Owner": OWNER,
            "StorageClass": "STANDARD",
        }
    )


def _checksum_members(checksums: Mapping[str, str]) -> dict[str, str]:
    """``{"CRC32": v}`` as the output members ``ChecksumCRC32``…"""
    return {f"Checksum{name}": value for name, value in checksums.items()}


HANDLERS: dict[str, S3Handler] = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
    "ListObjectsV2": list_objects_v2,
    "ListObjects": list_objects,
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
}
