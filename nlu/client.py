"""Async client for the Rasa NLU server (``POST /model/parse``), as the bot uses it.

The bot never waits long for NLU: one call has a total budget (``timeout``, 1.5 s by default)
covering a first attempt and one retry; after ``failure_threshold`` consecutive failed calls the
circuit opens and calls return "unavailable" at once for ``cooldown`` seconds, then one call is
let through to probe the server. Network problems never raise: ``interpret`` returns an
``Interpretation`` with ``available=False``, and the urgent flag is still computed from the
patterns, so an emergency is recognised with Rasa down.

Entity offsets (``start``/``end``) refer to ``Interpretation.normalized``. Rasa sees that text with
place names masked character for character (``nlu/places.py``), so the offsets hold for both;
the ``compound`` entity comes from the registry names the masking found.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import aiohttp

from nlu.normalize import cap, normalize
from nlu.places import find_places, mask_places
from nlu.taxonomy import load_taxonomy
from nlu.urgent import urgent_in

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
# Share of the budget the first attempt may use; the retry gets what is left.
_FIRST_ATTEMPT_SHARE = 0.6
_RETRY_PAUSE = 0.05


@dataclass(frozen=True)
class RankedCategory:
    category: str
    confidence: float


@dataclass(frozen=True)
class Entity:
    entity: str  # building, unit, room, phone, compound
    value: str
    start: int  # offsets in Interpretation.normalized
    end: int


@dataclass(frozen=True)
class Interpretation:
    text: str  # the original message
    normalized: str  # normalised and capped (Rasa saw it with place names masked, same length)
    available: bool  # False when Rasa could not be reached
    intent: str | None  # "water", "greet", "ask_progress", "nlu_fallback", ...; None if unavailable
    category: str | None  # taxonomy id when the intent is a category, else None
    confidence: float  # of the best real intent (nlu_fallback only carries Rasa's threshold)
    ranking: list[RankedCategory]  # category intents only, best first; >= 3 when available
    urgent: bool  # explicit patterns (nlu/urgent.py); computed even when unavailable
    entities: list[Entity] = field(default_factory=list)
    model_version: str | None = None  # the model's file name without .tar.gz (its hash)
    urgent_reason: str | None = None  # gas, fire, electric, flood, collapse, elevator, ...

    @property
    def top3(self) -> list[RankedCategory]:
        return self.ranking[:3]


class NLUUnavailable(Exception):
    """Raised inside the client only; callers get ``available=False``."""


class NLUClient:
    """One instance per process; share it (it holds the HTTP session and the circuit state)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 1.5,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._consecutive_failures = 0
        self._open_until: float | None = None
        self._model_version: str | None = None
        self._version_checked = False
        self._categories = frozenset(load_taxonomy().ids)

    # --- circuit breaker -----------------------------------------------------------------------
    @property
    def circuit_open(self) -> bool:
        """True while calls are skipped (after repeated failures, until the cool-down ends)."""
        return self._open_until is not None and self._clock() < self._open_until

    def _record_success(self) -> None:
        if self._open_until is not None:
            logger.info("NLU server reachable again, circuit closed")
            self._version_checked = False  # it may have restarted with another model
        self._consecutive_failures = 0
        self._open_until = None

    def _record_failure(self) -> None:
        self._consecutive_failures += 1
        half_open_probe_failed = self._open_until is not None
        if half_open_probe_failed or self._consecutive_failures >= self.failure_threshold:
            self._open_until = self._clock() + self.cooldown
            logger.warning(
                "NLU server failed %d times in a row: skipping it for %.0f s",
                self._consecutive_failures,
                self.cooldown,
            )

    # --- HTTP ----------------------------------------------------------------------------------
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32, force_close=False)
            )
        return self._session

    async def _post_parse(self, text: str, budget: float) -> dict[str, Any]:
        session = self._get_session()
        try:
            async with session.post(
                f"{self.base_url}/model/parse",
                json={"text": text},
                timeout=aiohttp.ClientTimeout(total=budget),
            ) as response:
                if response.status != 200:
                    raise NLUUnavailable(f"HTTP {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise NLUUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict) or "intent" not in data:
            raise NLUUnavailable("unexpected response")
        return data

    async def _parse_with_retry(self, text: str) -> dict[str, Any]:
        deadline = self._clock() + self.timeout
        attempt_budget = self.timeout * _FIRST_ATTEMPT_SHARE
        try:
            return await self._post_parse(text, attempt_budget)
        except NLUUnavailable as first:
            remaining = deadline - self._clock() - _RETRY_PAUSE
            if remaining <= 0.05:
                raise
            logger.info("NLU call failed (%s), retrying once", first)
            await asyncio.sleep(_RETRY_PAUSE)
            return await self._post_parse(text, remaining)

    async def _fetch_model_version(self) -> None:
        try:
            async with self._get_session().get(
                f"{self.base_url}/status",
                timeout=aiohttp.ClientTimeout(total=min(0.5, self.timeout)),
            ) as response:
                status = await response.json(content_type=None)
            model_file = str(status.get("model_file") or "")
            if model_file:
                self._model_version = PurePosixPath(model_file).name.removesuffix(".tar.gz")
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
            logger.debug("could not read the model version: %s", exc)

    # --- public API ----------------------------------------------------------------------------
    async def interpret(self, text: str) -> Interpretation:
        """Classify one message. Never raises for network errors (``available=False`` instead)."""
        base = _basics(text)
        masked = mask_places(base["normalized"])
        if not masked:  # nothing to classify (only emoji or spaces)
            base.pop("compounds")
            return Interpretation(
                **base, available=True, intent=None, category=None, confidence=0.0, ranking=[]
            )
        if self.circuit_open:
            return self._unavailable(base)
        try:
            data = await self._parse_with_retry(masked)
        except NLUUnavailable as exc:
            logger.warning("NLU unavailable: %s", exc)
            self._record_failure()
            return self._unavailable(base)
        self._record_success()
        if not self._version_checked:
            self._version_checked = True
            await self._fetch_model_version()
        return self._interpretation(base, data)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> NLUClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- response mapping ----------------------------------------------------------------------
    def _unavailable(self, base: dict[str, Any]) -> Interpretation:
        return _without_rasa(base, self._model_version)

    def _interpretation(self, base: dict[str, Any], data: dict[str, Any]) -> Interpretation:
        compounds: list[Entity] = base.pop("compounds", [])
        intent = (data.get("intent") or {}).get("name")
        real = [
            (str(r["name"]), float(r.get("confidence") or 0.0))
            for r in data.get("intent_ranking") or []
            if r.get("name") and r["name"] != FALLBACK_INTENT
        ]
        real.sort(key=lambda r: r[1], reverse=True)
        ranking = [RankedCategory(name, conf) for name, conf in real if name in self._categories]
        if intent != FALLBACK_INTENT:
            confidence = float((data.get("intent") or {}).get("confidence") or 0.0)
        else:
            confidence = real[0][1] if real else 0.0
        return Interpretation(
            **base,
            available=True,
            intent=intent,
            category=intent if intent in self._categories else None,
            confidence=confidence,
            ranking=ranking,
            entities=_entities(data.get("entities") or [], compounds),
            model_version=self._model_version,
        )


def _entities(raw: list[dict[str, Any]], compounds: Sequence[Entity] = ()) -> list[Entity]:
    """Entities without overlaps: where two patterns match the same span, the longer wins."""
    candidates = sorted(
        [
            *compounds,
            *(
                Entity(str(e["entity"]), str(e["value"]), int(e["start"]), int(e["end"]))
                for e in raw
                if {"entity", "value", "start", "end"} <= e.keys()
            ),
        ],
        key=lambda e: (-(e.end - e.start), e.start),
    )
    kept: list[Entity] = []
    for entity in candidates:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)


def _basics(text: str) -> dict[str, Any]:
    """What is known of a message without Rasa: its normalised form, the compounds of the
    registry it names (masked before Rasa sees the text, ``normalize.for_nlu``, so Rasa's lookup
    cannot find them) and the urgent patterns."""
    normalized = cap(normalize(text))
    places = find_places(normalized)
    # Over the whole text, not the part Rasa reads (danger words after the cap still count),
    # with place names masked ("金火花园" is a name, not sparks).
    urgent = urgent_in(text)
    compounds = [
        Entity("compound", normalized[p.start : p.end], p.start, p.end)
        for p in places
        if p.kind == "registry"
    ]
    return {
        "text": text,
        "normalized": normalized,
        "urgent": urgent is not None,
        "urgent_reason": urgent.reason if urgent else None,
        "compounds": compounds,
    }


def _without_rasa(base: dict[str, Any], model_version: str | None = None) -> Interpretation:
    base = {k: v for k, v in base.items() if k != "compounds"}
    return Interpretation(
        **base, available=False, intent=None, category=None, confidence=0.0, ranking=[],
        model_version=model_version,
    )  # fmt: skip


def unavailable(text: str) -> Interpretation:
    """``text`` interpreted without Rasa (down, or too slow): the urgent patterns still apply."""
    return _without_rasa(_basics(text))
