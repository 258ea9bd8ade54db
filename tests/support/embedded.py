"""`metricsync serve` as a real process on a free port, with its own data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support import scenario
from tests.support.process import Process, free_port, wait_http_ok
from tests.support.webhooks import SECRETS_ENV, Request


class Embedded:
    def __init__(self, tmp_path: Path) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.process: Process | None = None
        self.extra_env: dict[str, str] = {}
        self.serve_args: list[str] = ["serve"]

    def start(self) -> None:
        env = {
            **SECRETS_ENV,
            "METRICSYNC_DATA_DIR": str(self.data_dir),
            "METRICSYNC_PORT": str(self.port),
            **self.extra_env,
        }
        self.process = Process(self.serve_args, env, self.log)
        try:
            wait_http_ok(f"{self.base}/readyz", self.process)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> int:
        assert self.process is not None
        return self.process.stop()

    def post(self, request: Request) -> httpx.Response:
        return httpx.post(self.base + request.path, content=request.body, headers=request.headers, timeout=10)

    def get_json(self, path: str) -> Any:
        response = httpx.get(f"{self.base}{path}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def caught_up(self) -> bool:
        status = httpx.get(f"{self.base}/api/v1/status", timeout=5).json()
        return bool(status.get("caught_up"))

    def dora(self, **params: str) -> dict[str, dict[str, object]]:
        response = httpx.get(f"{self.base}/api/v1/dora", params={**scenario.WINDOW, **params}, timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, dict[str, object]] = response.json()
        return body
