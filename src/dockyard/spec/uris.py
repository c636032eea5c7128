"""Where data and artifacts live: ``s3://bucket/key`` everywhere, ``file:///path`` locally.

SageMaker names data by S3 URI (botocore's ``S3Uri`` pattern). Its local mode also
accepts ``file:///absolute/path`` for input channels and output paths, meaning "this
directory on the machine running the job"; Dockyard does the same. ``s3://`` URIs are
resolved through the artifact store (a local directory laid out ``bucket/key`` by
default), so a job description reads the same locally and on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator

from dockyard.spec.errors import SpecValueError

URI_HINT = (
    "use s3://bucket/prefix, or file:///absolute/path for data on this machine "
    "(as SageMaker local mode does)"
)
MAX_URI_LENGTH = 1024  # botocore S3Uri max


@dataclass(frozen=True)
class DataUri:
    """A parsed data location: ``s3`` (``bucket``, ``key``) or ``file`` (``path``)."""

    scheme: Literal["s3", "file"]
    bucket: str = ""
    key: str = ""
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file://{self.path}"
        return f"s3://{self.bucket}/{self.key}"


def parse_data_uri(text: str) -> DataUri:
    """``s3://bucket/key`` or ``file:///abs/path`` → :class:`DataUri`; SpecValueError otherwise."""
    if len(text) > MAX_URI_LENGTH:
        raise SpecValueError(f"must be at most {MAX_URI_LENGTH} characters", hint=URI_HINT)
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket:
            raise SpecValueError(f'"{text}" names no bucket', hint=URI_HINT)
        return DataUri("s3", bucket=bucket, key=key)
    if text.startswith("file://"):
        path = text[len("file://") :]
        if not path.startswith("/"):
            raise SpecValueError(
                f'"{text}" is not an absolute file URI',
                hint="write file:// followed by an absolute path, e.g. file:///data/train",
            )
        return DataUri("file", path=path)
    if text.startswith("https://"):
        raise SpecValueError(
            f'"{text}": https:// S3 URLs are not supported locally',
            hint="write it as s3://bucket/key",
        )
    raise SpecValueError(f'"{text}" is not an S3 or file URI', hint=URI_HINT)


def _check_data_uri(text: str) -> str:
    parse_data_uri(text)
    return text


DataUriText = Annotated[str, AfterValidator(_check_data_uri)]
