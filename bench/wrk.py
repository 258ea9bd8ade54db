"""Load with wrk: a Lua script that posts one real GitHub push payload, signed once (the body is
constant), with a unique `X-GitHub-Delivery` per request; optionally paced with `delay()`.

wrk has no constant-rate mode. Paced runs give each connection a delay before every request so the
connections together offer the wanted rate (fractional milliseconds are drawn at random around the
mean; wrk's timer has millisecond resolution). wrk starts a request's latency clock when it writes
it, so the delay is not counted as latency.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK = "wrk"

_SCRIPT = """\
-- written by python -m bench
local prefix = "{prefix}"
local threads_started = 0
function setup(thread)
  thread:set("tid", threads_started)
  threads_started = threads_started + 1
end
function init(args)
  local f = assert(io.open("{body_path}", "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.path = "{path}"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
  wrk.headers["X-GitHub-Event"] = "push"
  wrk.headers["X-Hub-Signature-256"] = "{signature}"
  me = prefix .. "-" .. tid .. "-"
  counter = 0
  math.randomseed(tid + 1)
end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = me .. counter
  return wrk.format()
end
{delay}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %f}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

_DELAY = """\
function delay()
  local d = {whole}
  if math.random() < {fraction} then d = d + 1 end
  return d
end
"""


def lua_script(prefix: str, body_path: Path, path: str, signature_value: str, delay_ms: float | None = None) -> str:
    delay = ""
    if delay_ms is not None and delay_ms > 0:
        whole = int(delay_ms)
        delay = _DELAY.format(whole=whole, fraction=f"{delay_ms - whole:.4f}")
    return _SCRIPT.format(prefix=prefix, body_path=str(body_path), path=path, signature=signature_value, delay=delay)


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # non-2xx/3xx answers, socket errors and timeouts
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_done(output: str) -> WrkResult:
    """The JSON line the script's done() prints."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if line.startswith("{") and '"requests"' in line:
            data = json.loads(line)
            errors = sum(
                int(data[k]) for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
            )
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                errors=errors,
                p50_ms=data["p50_us"] / 1000,
                p90_ms=data["p90_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                max_ms=data["max_us"] / 1000,
                mean_ms=data["mean_us"] / 1000,
            )
    raise ValueError(f"no wrk summary in its output:\n{output[-2000:]}")


def available() -> bool:
    return shutil.which(WRK) is not None


def run(url: str, script: Path, seconds: float, connections: int, threads: int = 1) -> WrkResult:
    """One wrk run against `url` (the script sets the path)."""
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return parse_done(completed.stdout)
