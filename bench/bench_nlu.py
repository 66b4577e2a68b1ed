"""NLU parse latency (p50, p95) and throughput against a Rasa server.

Uses the server at ``NLU_URL`` (default http://127.0.0.1:5005) if one answers there, otherwise
starts one with the current model for the run. Writes ``bench/results/nlu.md``.

    .venv/bin/python -m bench.bench_nlu      (or through `make bench`)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
from pathlib import Path

import aiohttp

from nlu.client import NLUClient
from nlu.evaluate import machine
from nlu.normalize import for_nlu
from nlu.server import DEFAULT_URL, ensure_server
from nlu.trainingdata import heldout_examples, training_examples

RESULTS = Path(__file__).resolve().parent / "results" / "nlu.md"
WARMUP = 20
SEQUENTIAL = 300
CONCURRENT = 1000
CONCURRENCY = 8


def _texts() -> list[str]:
    texts = [e.text for e in heldout_examples()] or [e.text for e in training_examples()]
    return [for_nlu(t) for t in texts if for_nlu(t)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _parse(session: aiohttp.ClientSession, url: str, text: str) -> float:
    started = time.perf_counter()
    async with session.post(f"{url}/model/parse", json={"text": text}) as response:
        response.raise_for_status()
        await response.read()
    return (time.perf_counter() - started) * 1000


async def run(url: str) -> dict[str, float]:
    texts = _texts()
    async with aiohttp.ClientSession() as session:
        for i in range(WARMUP):
            await _parse(session, url, texts[i % len(texts)])
        # one request at a time: the latency a resident's message sees
        latencies = [await _parse(session, url, texts[i % len(texts)]) for i in range(SEQUENTIAL)]
        # many at once, as `python -m nlu predict` sends them
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def limited(text: str) -> float:
            async with semaphore:
                return await _parse(session, url, text)

        started = time.perf_counter()
        await asyncio.gather(*(limited(texts[i % len(texts)]) for i in range(CONCURRENT)))
        throughput = CONCURRENT / (time.perf_counter() - started)
    # the full client path (normalise + urgent patterns + HTTP + mapping), sequential
    async with NLUClient(url) as client:
        client_latencies = []
        for i in range(100):
            started = time.perf_counter()
            await client.interpret(texts[i % len(texts)])
            client_latencies.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(latencies),
        "p95": _percentile(latencies, 0.95),
        "max": max(latencies),
        "client_p50": statistics.median(client_latencies),
        "client_p95": _percentile(client_latencies, 0.95),
        "throughput": throughput,
        "texts": len(texts),
        "mean_chars": statistics.mean(len(t) for t in texts),
    }


async def _main() -> dict[str, float]:
    async with ensure_server(os.environ.get("NLU_URL", DEFAULT_URL)) as url:
        return await run(url)


def main() -> None:
    r = asyncio.run(_main())
    lines = [
        "# NLU benchmark",
        "",
        f"- Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {machine()}",
        f"- Texts: {r['texts']:.0f} held-out messages, {r['mean_chars']:.0f} characters on average",
        "- Command: `make bench` (or `.venv/bin/python -m bench.bench_nlu`)",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| `POST /model/parse` p50, one at a time ({SEQUENTIAL} requests) | "
        f"{r['p50']:.1f} ms | ≤ 20 ms |",
        f"| `POST /model/parse` p95 | {r['p95']:.1f} ms | |",
        f"| `POST /model/parse` max | {r['max']:.1f} ms | |",
        f"| `NLUClient.interpret` p50 / p95 (normalise, urgent, HTTP, mapping) | "
        f"{r['client_p50']:.1f} / {r['client_p95']:.1f} ms | |",
        f"| throughput, {CONCURRENCY} concurrent ({CONCURRENT} requests) | "
        f"{r['throughput']:.0f} parses/s | 1,000 lines well under a minute |",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
