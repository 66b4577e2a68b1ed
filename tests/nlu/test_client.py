"""NLUClient against a fake Rasa server (aiohttp, free port): mapping, timeout, retry, breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nlu.client import NLUClient


def rasa_response(text: str, intent: str, confidence: float, ranking: list[tuple[str, float]]):
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [
            {"entity": "building", "value": "3号楼", "start": 0, "end": 3, "extractor": "R"},
            {"entity": "room", "value": "501", "start": 6, "end": 9, "extractor": "R"},
        ],
    }


WATER = rasa_response(
    "3号楼2单元501停水了",
    "water",
    0.93,
    [("water", 0.93), ("heating_gas", 0.03), ("greet", 0.02), ("building", 0.01)],
)


@dataclass
class FakeRasa:
    """Answers /model/parse according to ``plan`` (one entry per request, last one repeats):
    "ok", "error" (HTTP 500), or "hang" (never answers; the client must give up)."""

    plan: list[str] = field(default_factory=lambda: ["ok"])
    response: dict = field(default_factory=lambda: WATER)
    requests: int = 0
    texts: list[str] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # loop time of each request
    # Called on each request before answering: a test moves its fake clock here, as if the
    # attempt had taken that long.
    on_request: Callable[[], None] = lambda: None

    async def parse(self, request: web.Request) -> web.Response:
        step = self.plan[min(self.requests, len(self.plan) - 1)]
        self.requests += 1
        self.arrived.append(asyncio.get_running_loop().time())
        body = await request.json()
        assert "text" in body
        self.texts.append(body["text"])
        self.on_request()
        if step == "hang":
            await asyncio.Event().wait()  # cancelled when the client hangs up
        if step == "error":
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response(self.response)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "/x/models/abc123.tar.gz", "model_id": "1"})


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeRasa, str]]:
    rasa = FakeRasa()
    app = web.Application()
    app.router.add_post("/model/parse", rasa.parse)
    app.router.add_get("/status", rasa.status)
    test_server = TestServer(app, host="127.0.0.1")  # a free port
    await test_server.start_server()
    try:
        yield rasa, str(test_server.make_url("")).rstrip("/")
    finally:
        await test_server.close()


async def test_maps_the_rasa_answer(fake: tuple[FakeRasa, str]) -> None:
    _rasa, url = fake
    async with NLUClient(url) as client:
        result = await client.interpret("３号楼２单元５０１停水了😭")
    assert result.available
    assert result.normalized == "3号楼2单元501停水了"
    assert result.intent == "water" and result.category == "water"
    assert result.confidence == pytest.approx(0.93)
    # only categories in the ranking, best first; "greet" is left out
    assert [r.category for r in result.ranking] == ["water", "heating_gas", "building"]
    assert [e.entity for e in result.entities] == ["building", "room"]
    assert result.model_version == "abc123"
    assert not result.urgent


async def test_rasa_gets_place_names_masked_and_the_compound_is_still_reported(
    fake: tuple[FakeRasa, str],
) -> None:
    rasa, url = fake
    async with NLUClient(url) as client:
        result = await client.interpret("南湖春晓小区3号楼停水了")
    assert rasa.texts == ["某某某某某某3号楼停水了"]  # the name says nothing about the demand
    assert result.normalized == "南湖春晓小区3号楼停水了"
    [compound] = [e for e in result.entities if e.entity == "compound"]
    assert result.normalized[compound.start : compound.end] == compound.value == "南湖春晓小区"


async def test_fallback_keeps_the_real_ranking(fake: tuple[FakeRasa, str]) -> None:
    rasa, url = fake
    rasa.response = rasa_response(
        "那个东西坏了",
        "nlu_fallback",
        0.4,
        [("nlu_fallback", 0.4), ("building", 0.31), ("water", 0.3), ("roads", 0.2)],
    )
    async with NLUClient(url) as client:
        result = await client.interpret("那个东西坏了")
    assert result.intent == "nlu_fallback"
    assert result.category is None
    assert [r.category for r in result.top3] == ["building", "water", "roads"]
    assert result.confidence == pytest.approx(0.31)


async def test_non_demand_intent_has_no_category(fake: tuple[FakeRasa, str]) -> None:
    rasa, url = fake
    rasa.response = rasa_response("你好", "greet", 0.99, [("greet", 0.99), ("water", 0.01)])
    async with NLUClient(url) as client:
        result = await client.interpret("你好")
    assert result.intent == "greet" and result.category is None


async def test_a_failed_attempt_is_retried_once(fake: tuple[FakeRasa, str]) -> None:
    rasa, url = fake
    rasa.plan = ["error", "ok"]
    async with NLUClient(url) as client:
        result = await client.interpret("停水了")
    assert result.available and result.category == "water"
    assert rasa.requests == 2


async def test_a_server_that_never_answers_is_given_up_on_after_two_attempts(
    fake: tuple[FakeRasa, str],
) -> None:
    rasa, url = fake
    rasa.plan = ["hang"]
    async with NLUClient(url, timeout=0.5) as client:
        # the guard only stops a client that never gives up from hanging the test suite
        result = await asyncio.wait_for(client.interpret("煤气味很大"), 10)
    assert not result.available
    assert result.intent is None and result.ranking == []
    assert result.urgent  # computed without Rasa
    assert rasa.requests == 2  # the first attempt timed out, then the retry did
    # the first attempt was given up only after its share of the budget (0.6 × 0.5 s)
    assert rasa.arrived[1] - rasa.arrived[0] >= 0.3


async def test_the_retry_gets_only_what_is_left_of_the_budget(
    fake: tuple[FakeRasa, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rasa, url = fake
    rasa.plan = ["error", "ok"]
    now = [0.0]
    rasa.on_request = lambda: now.__setitem__(0, now[0] + 0.5)  # each attempt "takes" 0.5 s
    async with NLUClient(url, timeout=1.5, clock=lambda: now[0]) as client:
        budgets: list[float] = []
        post = client._post_parse

        async def recording_post(text: str, budget: float) -> dict:
            budgets.append(budget)
            return await post(text, budget)

        monkeypatch.setattr(client, "_post_parse", recording_post)
        result = await client.interpret("停水了")
    assert result.available and rasa.requests == 2
    first, retry = budgets
    assert first == pytest.approx(0.9)  # 60 % of the budget
    assert retry == pytest.approx(1.5 - 0.5 - 0.05)  # the rest, less the pause before it


async def test_no_retry_once_the_budget_is_spent(fake: tuple[FakeRasa, str]) -> None:
    rasa, url = fake
    rasa.plan = ["error", "ok"]
    now = [0.0]
    rasa.on_request = lambda: now.__setitem__(0, now[0] + 1.5)  # the failure took it all
    async with NLUClient(url, timeout=1.5, clock=lambda: now[0]) as client:
        result = await client.interpret("停水了")
    assert not result.available
    assert rasa.requests == 1


async def test_circuit_opens_after_consecutive_failures_and_closes_after_cooldown(
    fake: tuple[FakeRasa, str],
) -> None:
    rasa, url = fake
    rasa.plan = ["error"]
    now = [1000.0]
    async with NLUClient(url, failure_threshold=3, cooldown=30.0, clock=lambda: now[0]) as client:
        for _ in range(3):
            assert not (await client.interpret("停水了")).available
        assert client.circuit_open
        calls = rasa.requests
        assert not (await client.interpret("停水了")).available
        assert rasa.requests == calls  # skipped: Rasa was not called during the cool-down

        now[0] += 31  # cool-down over: the next call is let through and succeeds
        rasa.plan = ["ok"]
        rasa.requests = 0
        result = await client.interpret("停水了")
        assert result.available and not client.circuit_open


async def test_a_failed_probe_after_cooldown_reopens_the_circuit(
    fake: tuple[FakeRasa, str],
) -> None:
    rasa, url = fake
    rasa.plan = ["error"]
    now = [0.0]
    async with NLUClient(url, failure_threshold=2, cooldown=10.0, clock=lambda: now[0]) as client:
        for _ in range(2):
            await client.interpret("停水了")
        now[0] += 11
        assert not client.circuit_open
        await client.interpret("停水了")  # the probe fails
        assert client.circuit_open


async def test_nothing_listening_is_unavailable_not_an_exception(unused_port: int) -> None:
    async with NLUClient(f"http://127.0.0.1:{unused_port}", timeout=0.5) as client:
        result = await client.interpret("楼顶漏水")
    assert not result.available and result.category is None


async def test_empty_text_after_normalisation_is_not_sent(fake: tuple[FakeRasa, str]) -> None:
    rasa, url = fake
    async with NLUClient(url) as client:
        result = await client.interpret("😭😭 ")
    assert rasa.requests == 0
    assert result.intent is None and result.normalized == ""
