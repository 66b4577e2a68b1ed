"""Command line of the NLU service, run with the application's Python (``.venv/bin/python``).

python -m nlu train [--force]     train nlu/models/<hash>.tar.gz unless it exists
python -m nlu serve [--port N]    run the Rasa server in the foreground (Ctrl-C stops it)
python -m nlu eval                cross-validation + held-out report (nlu/reports/)
python -m nlu predict [--url U]   JSON lines {"text": ...} on stdin -> one JSON line each
python -m nlu check-data          training-data coverage and duplicates
python -m nlu hash                print the model hash of the current config and data
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

from nlu import model as nlu_model
from nlu import server

PREDICT_CONCURRENCY = 8
PREDICT_TIMEOUT = 10.0


def _train(args: argparse.Namespace) -> None:
    if args.force:
        nlu_model.train()
    else:
        nlu_model.ensure_model()


def _serve(args: argparse.Namespace) -> None:
    handle = server.start(port=args.port, host=args.host)
    print(f"Rasa serving {handle.model.name} on {handle.url} (Ctrl-C to stop)", file=sys.stderr)
    try:
        handle.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(handle)


def _eval(_args: argparse.Namespace) -> None:
    from nlu.evaluate import evaluate

    results = evaluate()
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


def _check_data(_args: argparse.Namespace) -> None:
    from nlu.trainingdata import check_data

    problems = check_data()
    for problem in problems:
        print(problem)
    if problems:
        raise SystemExit(f"{len(problems)} problem(s) in the NLU data")
    print("NLU data OK", file=sys.stderr)


def _hash(_args: argparse.Namespace) -> None:
    print(nlu_model.model_hash())


def prediction_json(interpretation: Any) -> dict[str, Any]:
    """The ``predict`` output line for one ``Interpretation``."""
    return {
        "text": interpretation.text,
        "category": interpretation.category,
        "confidence": round(interpretation.confidence, 4),
        "ranking": [
            {"category": r.category, "confidence": round(r.confidence, 4)}
            for r in interpretation.ranking[:3]
        ],
        "urgent": interpretation.urgent,
        "intent": interpretation.intent,
        "entities": [asdict(e) for e in interpretation.entities],
        "available": interpretation.available,
    }


def _read_texts(lines: list[str]) -> list[str | None]:
    texts: list[str | None] = []
    for line in lines:
        try:
            value = json.loads(line)
            texts.append(str(value["text"]) if isinstance(value, dict) else None)
        except (ValueError, KeyError):
            texts.append(None)
    return texts


async def predict_lines(lines: list[str], url: str) -> list[dict[str, Any]]:
    """Interpret each JSON line concurrently; results in input order."""
    from nlu.client import NLUClient

    texts = _read_texts(lines)
    semaphore = asyncio.Semaphore(PREDICT_CONCURRENCY)
    async with NLUClient(url, timeout=PREDICT_TIMEOUT, failure_threshold=len(lines) + 1) as client:

        async def one(text: str | None) -> dict[str, Any]:
            if text is None:
                return {"text": None, "error": 'expected a JSON object with a "text" string'}
            async with semaphore:
                return prediction_json(await client.interpret(text))

        return await asyncio.gather(*(one(t) for t in texts))


async def _predict_async(url: str) -> None:
    lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
    async with server.ensure_server(url) as live_url:
        results = await predict_lines(lines, live_url)
    out = sys.stdout
    for result in results:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()


def _predict(args: argparse.Namespace) -> None:
    asyncio.run(_predict_async(args.url))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train the model for the current config and data")
    p.add_argument("--force", action="store_true", help="train even if the model exists")
    p.set_defaults(func=_train)

    p = commands.add_parser("serve", help="run the Rasa server in the foreground")
    p.add_argument("--port", type=int, default=server.DEFAULT_PORT)
    p.add_argument("--host", default=server.DEFAULT_HOST)
    p.set_defaults(func=_serve)

    p = commands.add_parser("eval", help="cross-validation and held-out evaluation report")
    p.set_defaults(func=_eval)

    p = commands.add_parser("predict", help="JSON lines on stdin, one JSON line per input")
    p.add_argument("--url", default=server.DEFAULT_URL, help="Rasa server (started if absent)")
    p.set_defaults(func=_predict)

    p = commands.add_parser("check-data", help="taxonomy coverage, duplicates, held-out leaks")
    p.set_defaults(func=_check_data)

    p = commands.add_parser("hash", help="print the model hash of the current inputs")
    p.set_defaults(func=_hash)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.func(args)
