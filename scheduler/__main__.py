"""``python -m scheduler``: the scheduler service (one active instance, others stand by).
``python -m scheduler run-due --at "2026-12-02 10:00"``: every sweep once, as of that local
time (Asia/Shanghai by default), for demos and tests; prints what each sweep did."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import datetime

from bot.settings import Settings, load_settings_or_exit
from models.db import make_engine, make_session_factory, utcnow
from models.schema import upgrade_to_head
from scheduler.jobs import run_due
from scheduler.service import serve


def parse_at(value: str, settings: Settings) -> datetime:
    """A local time ("2026-12-02 10:00") or an ISO time with an offset, as aware UTC."""
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=settings.tz)).astimezone(utcnow().tzinfo)


async def _run_due(settings: Settings, at: datetime) -> int:
    engine = make_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        done = await run_due(
            session_factory=make_session_factory(engine), settings=settings, now=at
        )
    finally:
        await engine.dispose()
    local = at.astimezone(settings.tz)
    print(f"run-due as of {local:%Y-%m-%d %H:%M %Z}:")
    for job_id, count in done.items():
        print(f"  {job_id:16} {count}")
    return 0


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    due = commands.add_parser("run-due", help="run every sweep once, as of a given time")
    due.add_argument("--at", help='local time, e.g. "2026-12-02 10:00" (default: now)')
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = load_settings_or_exit()
    if args.command == "run-due":
        at = parse_at(args.at, settings) if args.at else utcnow()
        return asyncio.run(_run_due(settings, at))
    return asyncio.run(_serve(settings))


if __name__ == "__main__":
    raise SystemExit(main())
