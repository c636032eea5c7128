"""wrk runs and what they report: req/s, errors, and latency both ways.

One wrk process per measurement, on 127.0.0.1, with **one connection per wrk thread**
(``-t C -c C``). That is what makes the uncorrected figures possible: wrk's own
percentiles (``--latency`` and the ``latency`` object its Lua ``done()`` hook gets) are
*corrected for coordinated omission* after the run (wrk 4.1 adds synthetic samples for
every response slower than the mean interval), so a server that stalls now and then
shows a p99 no request saw. With a single connection per thread, the Lua ``request()``
and ``response()`` hooks of one thread alternate strictly, so the script times every
request itself (``clock_gettime`` through LuaJIT's ffi) into a per-thread histogram of
1 % wide buckets, and ``done()`` merges them. Both figures come from the same run:

* ``p50_ms`` / ``p99_ms``: **uncorrected** — what requests saw (the script's histogram);
* ``p50_corrected_ms`` / ``p99_corrected_ms``: wrk's coordinated-omission-corrected ones.

Errors are every non-2xx response (counted by the script) plus wrk's socket errors
(connect, read, write, timeout).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

#: wrk's Lua: static request, per-thread raw histogram, one JSON line from done().
LUA = r"""
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


@dataclass(frozen=True)
class Request:
    """One server's request: where to POST what (its own request format)."""

    path: str
    content_type: str
    body: str


@dataclass(frozen=True)
class Figures:
    """One wrk run, reduced: req/s, latency (ms) both ways, errors."""

    rps: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    p50_corrected_ms: float
    p99_corrected_ms: float
    errors: int
    non2xx: int
    socket_errors: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class LoadError(RuntimeError):
    """wrk did not run or printed nothing the harness could read."""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def script_for(request: Request) -> str:
    return (
        f"BODY = {_lua_string(request.body)}\nCONTENT_TYPE = {_lua_string(request.content_type)}\n"
        + LUA
    )


def run_wrk(
    url_base: str, request: Request, connections: int, duration_s: float, timeout_s: float = 5.0
) -> Figures:
    """``wrk -t C -c C -d D`` against ``url_base + request.path``; the figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script_for(request))
        script = Path(handle.name)
    command = [
        "wrk",
        f"-t{connections}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(script),
        url_base.rstrip("/") + request.path,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    finally:
        script.unlink(missing_ok=True)
    return parse_wrk(done.stdout, done.stderr)


def parse_wrk(stdout: str, stderr: str = "") -> Figures:
    """The ``BENCH_JSON`` line the script's ``done()`` printed, as :class:`Figures`."""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            break
    else:
        raise LoadError(f"wrk printed no figures: {stdout[-400:]} {stderr[-400:]}")
    seconds = raw["duration_us"] / 1e6
    sockets = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    ms = 1000.0
    return Figures(
        rps=round(raw["requests"] / seconds, 1) if seconds > 0 else 0.0,
        requests=int(raw["requests"]),
        p50_ms=round(raw["p50_us"] / ms, 3),
        p90_ms=round(raw["p90_us"] / ms, 3),
        p99_ms=round(raw["p99_us"] / ms, 3),
        p999_ms=round(raw["p999_us"] / ms, 3),
        p50_corrected_ms=round(raw["p50_corrected_us"] / ms, 3),
        p99_corrected_ms=round(raw["p99_corrected_us"] / ms, 3),
        errors=int(raw["non2xx"]) + sockets,
        non2xx=int(raw["non2xx"]),
        socket_errors=int(sockets),
        seconds=round(seconds, 3),
    )
