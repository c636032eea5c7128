"""SigV4 checks: the request was signed, recently, by a key Dockyard issued.

The expected signature is computed by botocore's own signer (``SigV4Auth``) over an
``AWSRequest`` rebuilt from what arrived: the method, the path as sent, the query,
exactly the headers the client listed in ``SignedHeaders``, the body (or the client's
``X-Amz-Content-SHA256``), at the client's ``X-Amz-Date``, in the client's credential
scope. The region is whichever the client signed for; the service is the one the
front routed the request to, or its signing name. Refusals use the names AWS uses:
MissingAuthenticationToken, IncompleteSignature, UnrecognizedClientException,
InvalidSignatureException (a bad signature or a clock more than 15 minutes off).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.aws.errors import AwsError

MAX_SKEW_S = 15 * 60
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Caller:
    """Who signed, for which region and service (from the credential scope)."""

    access_key_id: str
    region: str
    service: str


@dataclass(frozen=True)
class SignedRequest:
    """What of an incoming request the signature covers."""

    method: str
    raw_path: str  # as sent, percent-encoding kept
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def verify(
    request: SignedRequest,
    keys: AccessKeys,
    now: dt.datetime | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> Caller:
    """The caller of a correctly signed request; AwsError (403/400) for any other.

    ``signer`` is botocore's signer for the service: S3's (``S3SigV4Auth``) signs the
    path as sent, without normalising or encoding it again."""
    header = request.headers.get("authorization")
    if not header:
        raise AwsError("MissingAuthenticationToken", "Missing Authentication Token", 403)
    match = _AUTH.match(header)
    parts = match["credential"].split("/") if match else []
    if match is None or len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError(
            "IncompleteSignature",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "in the AWS4-HMAC-SHA256 form",
        )
    key_id, day, region, service, _ = parts
    stamp = request.headers.get("x-amz-date", "")
    signed_at = _parse_date(stamp)
    if signed_at is None or not stamp.startswith(day):
        raise AwsError(
            "IncompleteSignature", "X-Amz-Date is missing or does not match the credential date"
        )
    now = now or dt.datetime.now(dt.UTC)
    if abs((now - signed_at).total_seconds()) > MAX_SKEW_S:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is more than 15 minutes away from the server's time "
            f"{now.strftime(_DATE_FORMAT)}",
            403,
        )
    secret = keys.secret_of(key_id)
    if secret is None:
        raise AwsError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid "
            "(issue a key with `dockyard credentials create`)",
            403,
        )
    expected = _signature(
        request, match["signed"].split(";"), key_id, secret, region, service, signer
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise AwsError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            403,
        )
    return Caller(key_id, region, service)


def _signature(
    request: SignedRequest,
    signed: list[str],
    key_id: str,
    secret: str,
    region: str,
    service: str,
    signer_class: type[SigV4Auth] = SigV4Auth,
) -> str:
    headers = {name: request.headers.get(name, "") for name in signed}
    host = request.headers.get("host", "localhost")
    url = f"http://{host}{request.raw_path}" + (f"?{request.query}" if request.query else "")
    rebuilt = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    rebuilt.context["timestamp"] = request.headers["x-amz-date"]
    signer = signer_class(Credentials(key_id, secret), service, region)
    canonical = signer.canonical_request(rebuilt)
    return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))


def _parse_date(stamp: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(stamp, _DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
