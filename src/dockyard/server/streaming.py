"""Long work as a stream of JSON lines: progress while it runs, then a result.

Builds and framework preparation take seconds to minutes; the API answers at once
with a chunked response the CLI renders as it arrives. The work runs in a thread and
reports through a queue, so a slow pip or builder never blocks the event loop, and
an error becomes the stream's last line instead of a broken connection.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from starlette.responses import StreamingResponse

from dockyard.errors import DockyardError

_DONE = object()


def ndjson(work: Callable[[Callable[[str], None]], dict[str, Any]]) -> StreamingResponse:
    """Run ``work(progress)`` in a thread, streaming its progress lines and result."""
    lines: queue.Queue[object] = queue.Queue()

    def run() -> None:
        try:
            result = work(lambda line: lines.put({"progress": line}))
            lines.put({"result": result})
        except DockyardError as error:
            lines.put({"error": error.to_dict()})
        except Exception as error:
            lines.put({"error": {"code": "InternalError", "message": repr(error)}})
        finally:
            lines.put(_DONE)

    threading.Thread(target=run, daemon=True).start()

    def body() -> Iterator[bytes]:
        while (item := lines.get()) is not _DONE:
            yield (json.dumps(item) + "\n").encode()

    return StreamingResponse(body(), media_type="application/x-ndjson")
