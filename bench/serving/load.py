"""wrk runs and what they report: req/s, errors, and latency both ways.

Two wrk passes per server and concurrency C, back to back, on 127.0.0.1:

1. **Throughput** — ``wrk -t min(C, 2) -c C -d D`` with a static request (no per-request
   Lua): **req/s**, errors, and wrk's own latency percentiles, which wrk 4.1 *corrects
   for coordinated omission* after the run (``--latency`` and the ``latency`` object its
   Lua ``done()`` hook gets both are: it adds synthetic samples for every response slower
   than the mean interval, so a server that stalls now and then shows a p99 no request
   saw). Reported as ``p50_corrected_ms`` / ``p99_corrected_ms``.
2. **Latency as requests saw it** — ``wrk -t C -c C -d T``: one connection per wrk
   thread, so the Lua ``request()`` and ``response()`` hooks of a thread alternate
   strictly and the script times every request itself (``clock_gettime`` through
   LuaJIT's ffi) into a per-thread histogram of 1 %-wide buckets that ``done()`` merges.
   Reported as ``p50_ms`` / ``p90_ms`` / ``p99_ms`` / ``p999_ms`` (**uncorrected**), with
   the pass's own rate as ``timed_rps``. This pass is not used for req/s: per-request Lua
   and C threads cost wrk several times more CPU per request (measured on the constant
   server at c=32: 24k req/s in pass 1, 15k in pass 2), CPU the servers share.

Errors, both passes summed: responses with status >= 400 in pass 1 (wrk's count),
non-2xx in pass 2 (the script's count), and socket errors (connect, read, write,
timeout) in both.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .cpu import Meter, per_request_us

TIMEOUT_S = 5.0

#: Pass 2: static request, per-thread raw histogram, one JSON line from done().
TIMED_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
local LOG_STEP = math.log(1.01)

wrk.method = "POST"
wrk.body = BODY
wrk.headers["Content-Type"] = CONTENT_TYPE
local req = nil
local started = 0
hist = {}
non2xx = 0
count = 0

function init(args)
  req = wrk.format()
end

function request()
  started = now_us()
  return req
end

function response(status, headers, body)
  local us = now_us() - started
  if us < 1 then us = 1 end
  local b = math.floor(math.log(us) / LOG_STEP)
  hist[b] = (hist[b] or 0) + 1
  count = count + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local function pct(merged, total, p)
  local keys = {}
  for k, _ in pairs(merged) do table.insert(keys, k) end
  table.sort(keys)
  local want = total * p / 100.0
  local seen = 0
  for _, k in ipairs(keys) do
    seen = seen + merged[k]
    if seen >= want then return math.exp((k + 0.5) * LOG_STEP) end
  end
  return 0
end

function done(summary, latency, requests)
  local merged, total, bad = {}, 0, 0
  for _, t in ipairs(threads) do
    local h = t:get("hist")
    for k, v in pairs(h) do merged[k] = (merged[k] or 0) + v end
    total = total + t:get("count")
    bad = bad + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"wrk_status_errors": %d, "timed": %d, ' ..
    '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "p999_us": %.1f, ' ..
    '"p50_corrected_us": %.1f, "p99_corrected_us": %.1f, ' ..
    '"mean_corrected_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    bad, e.connect, e.read, e.write, e.timeout, e.status, total,
    pct(merged, total, 50), pct(merged, total, 90), pct(merged, total, 99),
    pct(merged, total, 99.9),
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


#: Pass 1: static request, no per-request hooks; done() prints wrk's own figures.
STATIC_LUA = r"""
wrk.method = "POST"
wrk.body = BODY
wrk.headers["Content-Type"] = CONTENT_TYPE

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "p50_corrected_us": %.1f, ' ..
    '"p99_corrected_us": %.1f, "mean_corrected_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class Request:
    """One server's request: where to POST what (its own request format)."""

    path: str
    content_type: str
    body: str


@dataclass(frozen=True)
class Figures:
    """Both passes, reduced: req/s (pass 1), latency (ms) both ways, errors (both)."""

    rps: float
    requests: int
    p50_corrected_ms: float
    p99_corrected_ms: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    timed_rps: float | None
    errors: int
    status_errors: int
    socket_errors: int
    seconds: float
    timed_seconds: float
    #: pass 1's CPU per request by hop, µs (``cpu.py``); empty when not metered
    cpu_us: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


class LoadError(RuntimeError):
    """wrk did not run or printed nothing the harness could read."""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def script_for(request: Request, lua: str) -> str:
    body = _lua_string(request.body)
    kind = _lua_string(request.content_type)
    return f"BODY = {body}\nCONTENT_TYPE = {kind}\n" + lua


def _wrk(
    url: str, request: Request, lua: str, threads: int, connections: int, seconds: float
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script_for(request, lua))
        script = Path(handle.name)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={TIMEOUT_S:g}s",
        "-s",
        str(script),
        url,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    finally:
        script.unlink(missing_ok=True)
    return parse_line(done.stdout, done.stderr)


def run_wrk(
    url_base: str,
    request: Request,
    connections: int,
    duration_s: float,
    timed_s: float | None = None,
    threads: int = 2,
    meter: Meter | None = None,
) -> Figures:
    """Pass 1 for ``duration_s``, then pass 2 for ``timed_s`` (0: skip it); the figures.

    With ``meter``, every hop's CPU time is read just before and just after pass 1.
    """
    url = url_base.rstrip("/") + request.path
    before = meter.read() if meter else None
    one = _wrk(url, request, STATIC_LUA, min(connections, threads), connections, duration_s)
    used = per_request_us(before, meter.read(), int(one["requests"])) if meter and before else {}
    timed = duration_s if timed_s is None else timed_s
    two = _wrk(url, request, TIMED_LUA, connections, connections, timed) if timed > 0 else None
    return replace(combine(one, two), cpu_us=used)


def _sockets(raw: dict[str, float]) -> int:
    return int(raw["connect"] + raw["read"] + raw["write"] + raw["timeout"])


def combine(one: dict[str, float], two: dict[str, float] | None) -> Figures:
    ms = 1000.0
    seconds = one["duration_us"] / 1e6
    timed_seconds = two["duration_us"] / 1e6 if two else 0.0
    status = int(one["status"]) + (int(two["non2xx"]) if two else 0)
    sockets = _sockets(one) + (_sockets(two) if two else 0)

    def pick(key: str) -> float | None:
        return round(two[key] / ms, 3) if two else None

    return Figures(
        rps=round(one["requests"] / seconds, 1) if seconds > 0 else 0.0,
        requests=int(one["requests"]),
        p50_corrected_ms=round(one["p50_corrected_us"] / ms, 3),
        p99_corrected_ms=round(one["p99_corrected_us"] / ms, 3),
        p50_ms=pick("p50_us"),
        p90_ms=pick("p90_us"),
        p99_ms=pick("p99_us"),
        p999_ms=pick("p999_us"),
        timed_rps=round(two["requests"] / timed_seconds, 1) if two and timed_seconds else None,
        errors=status + sockets,
        status_errors=status,
        socket_errors=sockets,
        seconds=round(seconds, 3),
        timed_seconds=round(timed_seconds, 3),
    )


def parse_line(stdout: str, stderr: str = "") -> dict[str, float]:
    """The ``BENCH_JSON`` line a script's ``done()`` printed."""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
            return raw
    raise LoadError(f"wrk printed no figures: {stdout[-400:]} {stderr[-400:]}")
