"""The transform driver: send a job's records to its replicas, write each ``X.out`` in order.

One driver thread per running job, in the daemon. It waits for a replica to pass
``/ping``, reads ``/execution-parameters`` (request, then container, then defaults:
:mod:`dockyard.control.transform_params`), lists the input, then walks the files in
order: each is split and batched (:mod:`dockyard.control.transform_records`), the
batches go out with MaxConcurrentTransforms requests in flight per replica, and the
answers are written to the file's part file strictly in input order (a window of
requests in flight, drained oldest first).

**Checkpoints.** Every half second, and when a file ends, the part file is flushed
and fsync'ed and then the count of records it holds and its length are stored in the
job's record. A driver that starts again truncates the part file to the stored length
and goes on from the stored record: what was written after the checkpoint is written
again, once. A finished part file becomes ``X.out`` whole (see
:mod:`.transform_io`) and only then is the file marked Completed.

**Failures.** An answer of 4xx, or of 5xx after InvocationsMaxRetries retries, fails
its records: a failed mini-batch is resent record by record to name the record that
fails. The file is then left without ``X.out`` and marked Failed; the other files go
on. A replica that stops answering (connection refused or cut) is not the record's
fault: the request goes to another ready replica, or waits for the replacement the
reconciler launches.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import httpx

from dockyard.control.transform_filters import (
    FilterError,
    RecordFilters,
    filter_input,
    filter_output,
    record_filters,
)
from dockyard.control.transform_params import (
    ParameterError,
    TransformParameters,
    TransformRequest,
    read_execution_parameters,
    resolve,
)
from dockyard.control.transform_records import (
    Batch,
    RecordTooLarge,
    SplitError,
    answer_lines,
    assemble,
    batches,
    count_records,
    encode,
)
from dockyard.records.transform import FileProgress, FileStatus, TransformJobRecord
from dockyard.server.platform import Platform
from dockyard.server.transform_io import OutputLocation, input_files, output_location, read_input
from dockyard.spec.transform_job import TransformJobSpec

log = logging.getLogger("dockyard.transform")

CHECKPOINT_S = 0.5
PING_TIMEOUT_S = 2.0
PING_INTERVAL_S = 0.2
STARTUP_TIMEOUT_S = 240.0  # the inference contract's default startup window
MAX_LOST_REPLICAS = 20  # connection failures one request survives (replicas replaced)
ANSWER_SHOWN = 200  # characters of an error answer kept in the failure reason


class StartupTimeout(OSError):
    """No replica answered /ping within the inference contract's startup window."""


class Halted(Exception):
    """The job was stopped (or the daemon is going): leave everything as checkpointed."""


def request_of(spec: TransformJobSpec) -> TransformRequest:
    return TransformRequest(
        spec.max_payload_in_mb, spec.max_concurrent_transforms, spec.batch_strategy
    )


class ReplicaPool:
    """The replicas' addresses (from the reconciler), which answered /ping, and how many
    requests each has in flight (at most ``slots``)."""

    def __init__(self, halt: threading.Event) -> None:
        self._halt = halt
        self._cond = threading.Condition()
        self._addresses: set[str] = set()
        self._ready: set[str] = set()
        self._busy: Counter[str] = Counter()
        self.slots = 1

    def update(self, addresses: set[str]) -> None:
        with self._cond:
            self._addresses = set(addresses)
            self._ready &= self._addresses
            self._cond.notify_all()

    def unverified(self) -> list[str]:
        with self._cond:
            return sorted(self._addresses - self._ready)

    def set_ready(self, address: str) -> None:
        with self._cond:
            if address in self._addresses:
                self._ready.add(address)
                self._cond.notify_all()

    def mark_down(self, address: str) -> None:
        with self._cond:
            self._ready.discard(address)
            self._cond.notify_all()

    def any_ready(self, timeout: float) -> str:
        """A ready replica's address, once there is one; StartupTimeout after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready:
                if time.monotonic() > deadline:
                    raise StartupTimeout(
                        f"no replica passed GET /ping within {timeout:.0f} s of the job's "
                        "start; see the job's replica logs"
                    )
                self._wait()
            return sorted(self._ready)[0]

    def acquire(self) -> str:
        with self._cond:
            while True:
                free = [a for a in self._ready if self._busy[a] < self.slots]
                if free:
                    address = min(free, key=lambda a: (self._busy[a], a))
                    self._busy[address] += 1
                    return address
                self._wait()

    def release(self, address: str) -> None:
        with self._cond:
            self._busy[address] -= 1
            self._cond.notify_all()

    def _wait(self) -> None:
        if self._halt.is_set():
            raise Halted
        self._cond.wait(0.25)
        if self._halt.is_set():
            raise Halted


@dataclass(frozen=True)
class Outcome:
    """What one batch came to: the bytes to write, or the record that failed and why."""

    output: bytes = b""
    records: int = 0  # how many records ``output`` answers
    failed_record: int | None = None
    message: str = ""


class _FileRun:
    """One input file being transformed: its records, its part file, its checkpoint."""

    def __init__(self, index: int, progress: FileProgress, data: bytes, part: Path) -> None:
        self.index = index
        self.progress = progress
        self.data = data
        self.part = part
        self.failed = False
        self.handle: IO[bytes] | None = None
        self.checkpointed_at = 0.0

    def open(self) -> None:
        """Open the part file at the checkpoint: what follows it is written again."""
        self.part.parent.mkdir(parents=True, exist_ok=True)
        done = self.progress.records_done
        if done and self.part.is_file() and self.part.stat().st_size >= self.progress.bytes_written:
            self.handle = self.part.open("r+b")
            self.handle.truncate(self.progress.bytes_written)
            self.handle.seek(self.progress.bytes_written)
        else:
            self.handle = self.part.open("wb")
            self.progress = replace(self.progress, records_done=0, bytes_written=0)
        self.progress = replace(self.progress, status=FileStatus.IN_PROGRESS)

    def write(self, output: bytes, count: int) -> None:
        assert self.handle is not None
        self.handle.write(output)
        self.progress = replace(
            self.progress,
            records_done=self.progress.records_done + count,
            bytes_written=self.progress.bytes_written + len(output),
        )

    def sync(self) -> None:
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class TransformDriver:
    def __init__(self, platform: Platform, name: str, staging: Path) -> None:
        self.platform = platform
        self.name = name
        self.staging = staging
        self._halt = threading.Event()
        self._finished = threading.Event()
        self.pool = ReplicaPool(self._halt)
        self._thread = threading.Thread(target=self._run, name=f"transform-{name}", daemon=True)
        self._pinger = threading.Thread(target=self._ping, name=f"ping-{name}", daemon=True)
        self._http: httpx.Client | None = None

    # -- what the reconciler calls ------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._halt.is_set()

    def start(self) -> None:
        self._thread.start()
        self._pinger.start()

    def halt(self) -> None:
        self._halt.set()

    def update_replicas(self, addresses: dict[str, str]) -> None:
        self.pool.update(set(addresses.values()))

    # -- the run ------------------------------------------------------------------------

    def _record(self) -> TransformJobRecord:
        return self.platform.store.transform_jobs.require(self.name)

    def _run(self) -> None:
        try:
            record = self._record()
            if not record.files:
                record = self._list(record)
            parameters = self._parameters(record)
            self._transform(self._record(), parameters)
        except Halted:
            return
        except (ParameterError, FilterError, OSError, httpx.HTTPError) as error:
            log.warning("transform job %s: %s", self.name, error)
            self._save(driver_error=f"ClientError: {error}")
        except Exception as error:  # a bug here must fail the job, not hang it
            log.exception("transform job %s: the driver failed", self.name)
            self._save(driver_error=f"InternalError: {error}")
        finally:
            self._finished.set()
            if self._http is not None:
                self._http.close()
            self.platform.wake("transform_job", self.name)

    def _save(self, **changes: Any) -> None:
        store = self.platform.store
        with store.transaction():
            current = store.transform_jobs.get(self.name)
            if current is not None:
                store.transform_jobs.put(replace(current, **changes))

    def _save_file(self, index: int, progress: FileProgress) -> None:
        store = self.platform.store
        with store.transaction():
            current = store.transform_jobs.get(self.name)
            if current is not None:
                files = list(current.files)
                files[index] = progress
                store.transform_jobs.put(replace(current, files=tuple(files)))

    def _list(self, record: TransformJobRecord) -> TransformJobRecord:
        """Every input file and how many records it holds (for progress), stored once."""
        spec = record.spec.transform_input
        files = []
        for key, path in input_files(Path(record.input_path)):
            try:
                count = count_records(read_input(path, spec.compression_type), spec.split_type)
                files.append(FileProgress(key, count))
            except (SplitError, OSError, EOFError) as error:
                failure = f"{key}: cannot be read as {spec.split_type} records: {error}"
                files.append(FileProgress(key, 0, FileStatus.FAILED, failure=failure))
        if not files:
            raise OSError(f"no input files under {record.input_path}")
        self._save(files=tuple(files))
        return self._record()

    def _parameters(self, record: TransformJobRecord) -> TransformParameters:
        """Request, then /execution-parameters of the first ready replica, then defaults."""
        address = self.pool.any_ready(STARTUP_TIMEOUT_S)
        offered = None
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.get(f"http://{address}/execution-parameters", timeout=PING_TIMEOUT_S)
            if answer.status_code == 200:
                offered = read_execution_parameters(answer.json())
        parameters = resolve(request_of(record.spec), offered)
        self.pool.slots = parameters.max_concurrent
        self._save(
            parameters={
                "MaxPayloadInMB": str(parameters.max_payload_mb),
                "MaxConcurrentTransforms": str(parameters.max_concurrent),
                "BatchStrategy": parameters.strategy,
                **{f"{k}Source": v for k, v in parameters.sources.items()},
            }
        )
        return parameters

    def _transform(self, record: TransformJobRecord, parameters: TransformParameters) -> None:
        spec = record.spec
        processing = spec.data_processing
        filters = record_filters(
            processing.input_filter,
            processing.output_filter,
            processing.join_source,
            spec.transform_input.content_type,
            spec.transform_output.accept,
        )
        output = output_location(self.platform, spec.transform_output.s3_output_path)
        workers = spec.transform_resources.instance_count * parameters.max_concurrent
        self._http = httpx.Client(
            limits=httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2)
        )
        sender = _Sender(self, spec, filters, parameters)
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"send-{self.name}")
        inflight: deque[tuple[_FileRun, Future[Outcome] | None]] = deque()
        window = workers * 2
        inputs = dict(input_files(Path(record.input_path)))
        try:
            for index, progress in enumerate(record.files):
                if progress.finished:
                    continue
                run = _FileRun(index, progress, b"", self.staging / f"{index:06d}.part")
                if progress.key not in inputs:
                    raise OSError(f"{progress.key} is no longer in the input")
                run.data = read_input(inputs[progress.key], spec.transform_input.compression_type)
                run.open()
                self._save_file(index, run.progress)
                for batch in self._batches(run, spec, parameters):
                    if self._halt.is_set():
                        raise Halted
                    while len(inflight) >= window:
                        self._drain(inflight.popleft(), spec, output)
                    if run.failed:
                        break
                    inflight.append((run, executor.submit(sender.send, batch)))
                inflight.append((run, None))
            while inflight:
                self._drain(inflight.popleft(), spec, output)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            for run, _ in inflight:
                run.close()

    def _batches(
        self, run: _FileRun, spec: TransformJobSpec, parameters: TransformParameters
    ) -> Iterator[Batch]:
        split_type = spec.transform_input.split_type
        try:
            yield from batches(
                run.data,
                split_type,
                parameters.strategy,
                parameters.max_payload_bytes,
                start=run.progress.records_done,
            )
        except RecordTooLarge as error:
            self._fail(run, spec, error.index, str(error))
        except SplitError as error:
            self._fail(run, spec, run.progress.records_done, str(error))

    def _drain(
        self,
        item: tuple[_FileRun, Future[Outcome] | None],
        spec: TransformJobSpec,
        output: OutputLocation,
    ) -> None:
        run, future = item
        if run.failed:
            run.close()
            return
        if future is None:  # the file's last batch is written
            self._finish(run, output)
            return
        outcome = future.result()  # Halted passes through
        if outcome.failed_record is not None:
            self._fail(run, spec, outcome.failed_record, outcome.message)
            return
        run.write(outcome.output, outcome.records)
        if time.monotonic() - run.checkpointed_at >= CHECKPOINT_S:
            run.sync()
            self._save_file(run.index, run.progress)
            run.checkpointed_at = time.monotonic()

    def _finish(self, run: _FileRun, output: OutputLocation) -> None:
        run.sync()
        run.close()
        output.publish(self.platform, run.progress.key, run.part)
        run.progress = replace(
            run.progress, status=FileStatus.COMPLETED, records_done=run.progress.records
        )
        self._save_file(run.index, run.progress)
        run.part.unlink(missing_ok=True)

    def _fail(self, run: _FileRun, spec: TransformJobSpec, record: int, message: str) -> None:
        run.failed = True
        run.close()
        run.part.unlink(missing_ok=True)
        line = f" (line {record + 1})" if spec.transform_input.split_type == "Line" else ""
        failure = f"{run.progress.key}: record {record + 1}{line}: {message}"
        run.progress = replace(run.progress, status=FileStatus.FAILED, failure=failure)
        self._save_file(run.index, run.progress)
        self.platform.store.add_event("transform_job", self.name, f"failed: {failure}")

    def _ping(self) -> None:
        with httpx.Client(timeout=PING_TIMEOUT_S) as http:
            while not self._halt.is_set() and not self._finished.is_set():
                for address in self.pool.unverified():
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(f"http://{address}/ping").status_code == 200:
                            self.pool.set_ready(address)
                self._halt.wait(PING_INTERVAL_S)


class _Sender:
    """Sends one batch (from a worker thread) and turns the answer into an Outcome."""

    def __init__(
        self,
        driver: TransformDriver,
        spec: TransformJobSpec,
        filters: RecordFilters,
        parameters: TransformParameters,
    ) -> None:
        self.driver = driver
        self.filters = filters
        self.split_type = spec.transform_input.split_type
        self.assemble_with = spec.transform_output.assemble_with
        config = spec.model_client_config
        self.timeout = float(config.invocations_timeout_in_seconds)
        self.retries = config.invocations_max_retries
        self.headers = {}
        if spec.transform_input.content_type:
            self.headers["Content-Type"] = spec.transform_input.content_type
        if spec.transform_output.accept:
            self.headers["Accept"] = spec.transform_output.accept
        self.chunked = parameters.max_payload_bytes is None

    def send(self, batch: Batch) -> Outcome:
        payload = batch.body
        if not self.filters.input_filter.is_root:
            try:
                payload = encode(
                    [filter_input(self.filters, r) for r in batch.records], self.split_type
                )
            except FilterError:
                return self._first_failing(batch, "")
        ok, answer = self._invoke(payload)
        if not ok:
            return self._first_failing(batch, answer.decode(errors="replace"))
        return self._output(batch, answer)

    def _output(self, batch: Batch, answer: bytes) -> Outcome:
        if not self.filters.per_record_output:
            return Outcome(assemble(answer, self.assemble_with), records=batch.count)
        lines = answer_lines(answer)
        if len(lines) != batch.count:
            return Outcome(
                failed_record=batch.first,
                message=f"the model answered {len(lines)} lines for {batch.count} records, "
                "so they cannot be joined or filtered record by record",
            )
        written = []
        for offset, (record, line) in enumerate(zip(batch.records, lines, strict=True)):
            try:
                written.append(filter_output(self.filters, record, line) + b"\n")
            except FilterError as error:
                return Outcome(failed_record=batch.first + offset, message=str(error))
        return Outcome(b"".join(written), records=batch.count)

    def _first_failing(self, batch: Batch, message: str) -> Outcome:
        """Which record of a failed batch fails, found by halving the batch.

        A record the input filter cannot read is named at once. Otherwise the first
        half of what is still suspect is sent: if it fails the culprit is in it, if it
        passes it is in the rest, so a mini-batch of 65,536 records costs 16 requests.
        """
        records = batch.records
        filtered = []
        for offset, record in enumerate(records):
            try:
                filtered.append(filter_input(self.filters, record))
            except FilterError as error:
                return Outcome(failed_record=batch.first + offset, message=str(error))
        low, high, reason = 0, len(records), message
        failed = (low, high)  # the last range seen failing, and ``reason`` its answer
        while high - low > 1:
            middle = (low + high) // 2
            ok, answer = self._invoke(encode(filtered[low:middle], self.split_type))
            if ok:
                low = middle
            else:
                high, reason, failed = middle, answer.decode(errors="replace"), (low, middle)
        if failed != (low, high):  # the culprit's own answer, not its range's
            ok, answer = self._invoke(encode(filtered[low:high], self.split_type))
            reason = reason if ok else answer.decode(errors="replace")
        return Outcome(failed_record=batch.first + low, message=reason)

    def _invoke(self, payload: bytes) -> tuple[bool, bytes]:
        """POST /invocations until it answers 2xx, fails for good, or the job halts."""
        pool, http = self.driver.pool, self.driver._http
        assert http is not None
        failures = lost = 0
        while True:
            address = pool.acquire()
            try:
                content: Any = _chunks(payload) if self.chunked else payload
                response = http.post(
                    f"http://{address}/invocations",
                    content=content,
                    headers=self.headers,
                    timeout=self.timeout,
                )
            except httpx.TimeoutException:
                failures += 1
                if failures > self.retries:
                    return False, f"no answer within {self.timeout:.0f} s".encode()
                continue
            except httpx.TransportError as error:
                pool.mark_down(address)
                lost += 1
                if lost > MAX_LOST_REPLICAS:
                    return False, f"the model container stopped answering ({error})".encode()
                continue
            finally:
                pool.release(address)
            if response.is_success:
                return True, response.content
            message = f"the model answered {response.status_code}: "
            message += response.text[:ANSWER_SHOWN].strip()
            if response.status_code >= 500 and failures < self.retries:
                failures += 1
                continue
            return False, message.encode()


def _chunks(payload: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    """MaxPayloadInMB 0: the body goes chunked (Transfer-Encoding: chunked)."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]
