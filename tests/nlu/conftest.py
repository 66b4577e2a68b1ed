"""Fixtures for the NLU tests. Tests marked ``rasa`` use the session's Rasa server
(``rasa_url`` in tests/conftest.py; ``make test`` trains the model first)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port


@pytest.fixture
def unused_port() -> int:
    """A TCP port nothing listens on (at the time of asking)."""
    return free_port()
