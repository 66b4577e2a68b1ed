"""Runs inside nlu/.venv (Python 3.10 + Rasa), driven by ``nlu/evaluate.py``; stdlib + Rasa only.

    nlu/.venv/bin/python nlu/rasa_worker.py JOB.json

JOB.json: ``{"config": path, "runs": [{"name", "train_dir" | "model", "model_dir", "texts"}],
"out": path}``. For each run it trains a model on ``train_dir`` (or loads ``model``), parses every
text and writes ``{"runs": [{"name", "model", "train_seconds", "parses": [...]}]}`` to ``out``.
One process for all runs: TensorFlow is imported once, not once per fold.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path


async def _parse_all(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    parses = []
    for text in texts:
        result = await agent.parse_message(text)
        parses.append(
            {
                "intent": result.get("intent"),
                "intent_ranking": result.get("intent_ranking", []),
                # DIET's ranking before LinearBlendClassifier, for the report's "DIET alone"
                "diet_intent_ranking": result.get("diet_intent_ranking", []),
                "entities": [
                    {k: e.get(k) for k in ("entity", "value", "start", "end")}
                    for e in result.get("entities", [])
                ],
            }
        )
    return parses


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    from rasa.model_training import train_nlu

    results = []
    for run in job["runs"]:
        started = time.monotonic()
        model = run.get("model")
        train_seconds = None
        if not model:
            model = train_nlu(
                config=job["config"],
                nlu_data=run["train_dir"],
                output=run["model_dir"],
                fixed_model_name=run["name"],
            )
            train_seconds = round(time.monotonic() - started, 1)
        parses = asyncio.run(_parse_all(str(model), run["texts"]))
        results.append(
            {"name": run["name"], "model": str(model), "train_seconds": train_seconds,
             "parses": parses}
        )  # fmt: skip
        print(f"{run['name']}: trained in {train_seconds} s, parsed {len(parses)}", flush=True)
    Path(job["out"]).write_text(json.dumps({"runs": results}, ensure_ascii=False), "utf-8")


if __name__ == "__main__":
    main()
