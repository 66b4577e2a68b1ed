"""Only one scheduler is active: a second one stands by and takes over when the first is killed
with ``kill -9`` (PostgreSQL: the advisory lock; SQLite: the lease). Real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from models.db import make_engine
from models.schema import upgrade_to_head
from tests.conftest import ROOT

LEASE, POLL = 3.0, 0.5


class Scheduler:
    def __init__(self, database_url: str) -> None:
        env = {**os.environ, "DATABASE_URL": database_url, "SCHEDULER_LEASE_SECONDS": str(LEASE),
               "SCHEDULER_POLL_SECONDS": str(POLL), "RASA_URL": "http://127.0.0.1:9"}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.append(line)

    def said(self, word: str) -> bool:
        return any(f": {word}" in line for line in self.lines)

    async def wait_for(self, word: str, timeout: float) -> float:
        started = time.monotonic()
        while not self.said(word):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no {word!r} within {timeout} s: {''.join(self.lines)}")
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _takeover(database_url: str, *, within: float) -> None:
    first = Scheduler(database_url)
    second = None
    try:
        await first.wait_for("active", 30)
        second = Scheduler(database_url)
        await second.wait_for("standby", 30)
        await asyncio.sleep(2 * POLL)
        assert not second.said("active")  # never two at once
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
        took = await second.wait_for("active", within + 30)
        assert took <= within, f"the standby took {took:.1f} s to take over"
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_standby_takes_over_after_kill_9_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lease.db'}"
    engine = make_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    # The killed holder's lease runs out, then the next poll takes it.
    await _takeover(url, within=LEASE + POLL + 2)


@pytest.mark.postgres
async def test_standby_takes_over_after_kill_9_on_postgres(postgres_url: str) -> None:
    # The server frees the advisory lock when the killed process's connection drops.
    await _takeover(postgres_url, within=POLL + 3)
