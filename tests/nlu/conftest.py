"""Fixtures for the NLU tests. Tests marked ``rasa`` need the trained model (make nlu-model)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from nlu import server
from nlu.model import model_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A TCP port nothing listens on (at the time of asking)."""
    return free_port()


@pytest.fixture(scope="session")
def rasa_url() -> Iterator[str]:
    """A Rasa server with the current model, started on a free port for the test session.

    A dedicated port (not 5005) so the tests always run against the model of the current
    config and data, never against an older server someone left running.
    """
    model = model_path()
    if not model.exists():
        pytest.fail(f"{model} is missing: run `make nlu-model` (make test does it first)")
    handle = server.start(port=free_port(), model=model)
    try:
        yield handle.url
    finally:
        server.stop(handle)
