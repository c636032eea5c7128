"""``sts`` (AWS's query protocol: a form-encoded POST answered in XML): who is calling.

``aws sts get-caller-identity`` is how people check that a client reaches the right
account, and boto3 code reads the account from it. Dockyard has one local account
(``000000000000``): a key from ``dockyard credentials create`` is that account's root
(``arn:aws:iam::000000000000:root``), a key handed to a task for its ``taskRoleArn``
is that role, assumed (``arn:aws:sts::000000000000:assumed-role/ROLE/SESSION``), as
AWS answers for a task's credentials. Other STS actions answer NotImplemented naming
themselves; an unknown one is ``InvalidAction``. Requests go to the front like any
other, routed here by the ``sts`` in the signature's credential scope.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs
from xml.etree import ElementTree as ET

from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.protocol import Answer
from dockyard.server.aws.service import ACCOUNT_ID
from dockyard.server.aws.shapes import service_model
from dockyard.server.aws.sigv4 import Caller, SignedRequest, verify

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/sts/aws4_request")
XML_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def is_sts(headers: Mapping[str, str]) -> bool:
    """A request signed for the ``sts`` service."""
    return bool(_SCOPE.search(headers.get("authorization", "")))


def _identity(caller: Caller, keys: AccessKeys) -> dict[str, str]:
    """GetCallerIdentity's result for the key that signed."""
    role_arn = next((k.role_arn for k in keys.all() if k.access_key_id == caller.access_key_id), "")
    if role_arn:
        role = role_arn.rsplit("/", 1)[-1]
        session = caller.access_key_id
        return {
            "UserId": f"AROA{caller.access_key_id[4:]}:{session}",
            "Account": ACCOUNT_ID,
            "Arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{session}",
        }
    return {"UserId": ACCOUNT_ID, "Account": ACCOUNT_ID, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root"}


def _xml(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _result(action: str, members: Mapping[str, str], request_id: str) -> Answer:
    response = ET.Element(f"{action}Response", xmlns=XML_NAMESPACE)
    result = ET.SubElement(response, f"{action}Result")
    for name, value in members.items():
        ET.SubElement(result, name).text = value
    metadata = ET.SubElement(response, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = request_id
    return Answer(200, _xml(response), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})


def _error(error: AwsError, request_id: str) -> Answer:
    response = ET.Element("ErrorResponse", xmlns=XML_NAMESPACE)
    detail = ET.SubElement(response, "Error")
    ET.SubElement(detail, "Type").text = "Sender" if error.status < 500 else "Receiver"
    ET.SubElement(detail, "Code").text = error.code
    ET.SubElement(detail, "Message").text = error.message
    ET.SubElement(response, "RequestId").text = request_id
    headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return Answer(error.status, _xml(response), headers)


class StsFront:
    """Answers STS requests (see the module's doc)."""

    def __init__(self, keys: AccessKeys) -> None:
        self.keys = keys

    def answer(self, request: SignedRequest) -> Answer:
        request_id = str(uuid.uuid4())
        try:
            caller = verify(request, self.keys)
            form = request.body.decode("utf-8", errors="replace") or request.query
            params = {k: v[0] for k, v in parse_qs(form, keep_blank_values=True).items()}
            action = params.get("Action")
            if not action:
                raise AwsError("MissingAction", "Missing required parameter: Action")
            if action not in service_model("sts").operation_names:
                raise AwsError("InvalidAction", f"Could not find operation {action}")
            if action != "GetCallerIdentity":
                raise AwsError(
                    "NotImplemented",
                    f"Dockyard does not implement STS {action}; docs/aws-api.md lists "
                    "the operations it does",
                    501,
                )
            return _result(action, _identity(caller, self.keys), request_id)
        except AwsError as error:
            if error.code == "InvalidSignatureException":  # the query protocol's name
                error = AwsError("SignatureDoesNotMatch", error.message, error.status)
            return _error(error, request_id)
