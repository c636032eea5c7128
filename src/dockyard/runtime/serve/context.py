"""The ``context`` argument handler functions may ask for, as in the inference toolkit.

The toolkit passes a model-server context as an extra last argument to any handler
function that declares one more parameter than usual (``input_fn(body, content_type,
context)``...). Code written for it reads request headers and sets response headers
through that object; this class offers the same methods (index 0 is the one request), so
such code runs unchanged:

>>> attrs = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
>>> context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "trace=1")

This is how ``CustomAttributes`` flow: the request header is readable here, and a value
the handler sets is sent back as the response header (SageMaker returns the response
attribute only when the model sets one, so nothing is echoed automatically).
``custom_attributes`` / ``set_custom_attributes`` are shorter spellings of the same.

A context is built only for requests whose handlers ask for one; the default chain never
pays for it.
"""

from __future__ import annotations

from typing import Any

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"


class Headers(dict[str, str]):
    """A dict of headers whose lookups ignore case (keys are stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class RequestProcessor:
    """One request's headers in, status and headers out (the toolkit's request_processor)."""

    def __init__(self, request_headers: Headers) -> None:
        self._request = request_headers
        self.response_headers: dict[str, str] = {}
        self.status: int | None = None
        self.phrase = ""

    def get_request_property(self, key: str) -> str | None:
        value: str | None = self._request.get(key)
        return value

    def get_request_properties(self) -> Headers:
        return self._request

    def add_response_property(self, key: str, value: str) -> None:
        self.response_headers[key.lower()] = value

    def get_response_headers(self) -> dict[str, str]:
        return self.response_headers

    def report_status(self, code: int, reason_phrase: str = "") -> None:
        self.status = code
        self.phrase = reason_phrase


class Context:
    """What a handler may learn about the server and its request, and set on the reply."""

    def __init__(self, model_dir: str, request_headers: Headers | None = None) -> None:
        self.system_properties: dict[str, Any] = {
            "model_dir": model_dir,
            "server_name": "dockyard",
            "batch_size": 1,
            "gpu_id": None,
        }
        self.request_processor = [RequestProcessor(request_headers or Headers())]

    @property
    def custom_attributes(self) -> str | None:
        """The request's ``X-Amzn-SageMaker-Custom-Attributes``, if sent."""
        return self.request_processor[0].get_request_property(CUSTOM_ATTRIBUTES)

    def set_custom_attributes(self, value: str) -> None:
        """Send ``value`` back as the response's ``X-Amzn-SageMaker-Custom-Attributes``."""
        self.set_response_header(0, CUSTOM_ATTRIBUTES, value)

    def get_request_id(self, idx: int = 0) -> str | None:
        return self.get_request_header(idx, "x-amzn-requestid")

    def get_request_header(self, idx: int, key: str) -> str | None:
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> Headers:
        return self.request_processor[idx].get_request_properties()

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.request_processor[idx].add_response_property(key, value)

    def get_response_headers(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].get_response_headers()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx: int) -> str | None:
        return self.get_response_headers(idx).get("content-type")

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.request_processor[idx].report_status(code, phrase)

    def get_response_status(self, idx: int) -> tuple[int, str]:
        processor = self.request_processor[idx]
        return processor.status or 200, processor.phrase


def headers_from_scope(raw: list[tuple[bytes, bytes]]) -> Headers:
    """ASGI's ``[(b'name', b'value')]`` (names already lower-case) as Headers."""
    headers = Headers()
    for name, value in raw:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers
