"""`make bench` / `python -m bench [name …]`: run the benchmarks in bench/bench_*.py.

Each module has a `main()` that measures, prints, and writes its results with the machine it ran
on to bench/results/<name>.md. Benchmarks only talk to servers on this machine (loopback) and
stop by themselves. Speed and capacity targets live here, not in timed unit tests.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    for name in names:
        print(f"== bench {name} ==", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
