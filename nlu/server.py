"""Starting and stopping the Rasa NLU server (``rasa run --enable-api``, loopback only).

For the app launcher::

    from nlu import server
    handle = server.start(port=5005)      # blocks until the model is loaded and answering
    ...                                   # NLUClient(handle.url)
    server.stop(handle)

For code that needs a server for a while (``predict``, tests, benchmarks)::

    async with server.ensure_server("http://127.0.0.1:5005") as url:
        ...                               # reuses a server already answering there, or starts
                                          # one and stops it on exit

The model served is ``nlu/models/<hash>.tar.gz`` for the current config and data; it must have
been trained (``make nlu-model`` or ``python -m nlu train``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack
from urllib.parse import urlsplit

from nlu.model import NLU_DIR, RASA, model_path, rasa_env, require_rasa

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
# Loading TensorFlow and the model takes 10-30 s on 2 cores.
START_TIMEOUT = 180.0
LOG_DIR = NLU_DIR / "logs"


@dataclass
class RasaServer:
    """A Rasa server this process started."""

    url: str
    model: Path
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def status(url: str, timeout: float = 1.0) -> dict[str, object] | None:
    """Rasa's ``GET /status`` (model file, model id) or None if nothing answers there.

    ``/status`` only answers once the model is loaded, so a dict here means "ready".
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=timeout) as response:
            data = json.loads(response.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("model_file") else None


def is_ready(url: str) -> bool:
    """True when a Rasa server with a loaded model answers at ``url``."""
    return status(url) is not None


def start(
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    model: Path | None = None,
    timeout: float = START_TIMEOUT,
    log_file: Path | None = None,
) -> RasaServer:
    """Start ``rasa run --enable-api`` on host:port and block until it is ready.

    Raises ``RuntimeError`` if the model is missing, the process exits, or it is not ready
    within ``timeout`` seconds (the process is stopped then). Its output goes to ``log_file``
    (default ``nlu/logs/rasa-<port>.log``).
    """
    require_rasa()
    model = model or model_path()
    if not model.exists():
        raise RuntimeError(f"{model} does not exist: train it first (make nlu-model)")
    url = f"http://{host}:{port}"
    log_file = log_file or LOG_DIR / f"rasa-{port}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(RASA), "run", "--enable-api",
        "-i", host, "-p", str(port),
        "-m", str(model),
    ]  # fmt: skip
    logger.info("starting Rasa on %s with %s", url, model.name)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            cmd,
            cwd=NLU_DIR,
            env=rasa_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )
    server = RasaServer(url=url, model=model, process=process, log_file=log_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running:
            raise RuntimeError(
                f"Rasa exited with code {process.returncode} before it was ready; see {log_file}"
            )
        if is_ready(url):
            logger.info("Rasa ready on %s", url)
            return server
        time.sleep(0.5)
    stop(server)
    raise RuntimeError(f"Rasa not ready on {url} after {timeout:.0f} s; see {log_file}")


def stop(server: RasaServer, timeout: float = 15.0) -> None:
    """Stop a server started by ``start`` (SIGTERM to its process group, SIGKILL if needed)."""
    if not server.running:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    except ProcessLookupError:
        pass


class StartOptions(TypedDict, total=False):
    """``start``'s keyword arguments other than the address."""

    model: Path | None
    timeout: float
    log_file: Path | None


@contextmanager
def running_server(url: str = DEFAULT_URL, **start_kwargs: Unpack[StartOptions]) -> Iterator[str]:
    """Synchronous ``ensure_server``: reuse a server answering at ``url`` or run one meanwhile."""
    if is_ready(url):
        yield url
        return
    parts = urlsplit(url)
    server = start(
        host=parts.hostname or DEFAULT_HOST,
        port=parts.port or DEFAULT_PORT,
        **start_kwargs,
    )
    try:
        yield server.url
    finally:
        stop(server)


@asynccontextmanager
async def ensure_server(
    url: str = DEFAULT_URL, **start_kwargs: Unpack[StartOptions]
) -> AsyncIterator[str]:
    """Reuse a Rasa server already answering at ``url``, or start one for the block's duration.

    Yields the URL to give to ``NLUClient``. A server this helper started is stopped on exit;
    one that was already running is left alone.
    """
    if await asyncio.to_thread(is_ready, url):
        yield url
        return
    parts = urlsplit(url)
    server = await asyncio.to_thread(
        start,
        host=parts.hostname or DEFAULT_HOST,
        port=parts.port or DEFAULT_PORT,
        **start_kwargs,
    )
    try:
        yield server.url
    finally:
        await asyncio.to_thread(stop, server)
