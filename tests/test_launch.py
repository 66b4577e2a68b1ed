"""`make run`: the demo registry and the demo staff belong to the sandbox only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.launch import (
    DEMO_ADMIN,
    DEMO_WORKER,
    DemoDataInProduction,
    prepare_database,
    quiet_hours_notice,
    sandbox,
)
from bot.settings import Settings
from models.db import make_engine, make_session_factory
from models.outbox import quiet_hours_end
from models.registry import list_compounds
from models.tables import Role, User
from models.users import worker_compound_ids
from sandbox.client import SandboxClient
from tests.conftest import ROOT, free_port


def settings_for(database: Path, **values: object) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{database}", **values)


async def people_and_compounds(database: Path) -> tuple[dict[int, Role], list[str]]:
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    async with make_session_factory(engine)() as session:
        users = {u.telegram_id: u.role for u in (await session.exec(select(User))).all()}
        compounds = [c.code for c in await list_compounds(session=session)]
    await engine.dispose()
    return users, compounds


async def test_with_a_real_token_nothing_is_seeded(tmp_path: Path, capsys) -> None:
    await prepare_database(settings_for(tmp_path / "prod.db", telegram_bot_token="123:real"))
    assert await people_and_compounds(tmp_path / "prod.db") == ({}, [])
    assert "No compounds yet" in capsys.readouterr().out  # and the operator is told what to do


async def test_the_sandbox_gets_the_demo_registry_and_staff(tmp_path: Path) -> None:
    await prepare_database(settings_for(tmp_path / "sandbox.db"))
    await prepare_database(settings_for(tmp_path / "sandbox.db"))  # again: nothing doubles
    users, compounds = await people_and_compounds(tmp_path / "sandbox.db")
    assert users == {DEMO_WORKER[0]: Role.worker, DEMO_ADMIN[0]: Role.city_staff}
    assert {"hp01", "sh01", "dd01"} <= set(compounds)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}")
    async with make_session_factory(engine)() as session:
        worker = (await session.exec(select(User).where(User.telegram_id == DEMO_WORKER[0]))).one()
        assert len(await worker_compound_ids(session=session, user=worker)) == 3
    await engine.dispose()


async def test_a_database_the_sandbox_used_is_refused_with_a_real_token(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    await prepare_database(settings_for(database))  # someone tried the sandbox first
    with pytest.raises(DemoDataInProduction, match=f"{DEMO_WORKER[0]}, {DEMO_ADMIN[0]}"):
        await prepare_database(settings_for(database, telegram_bot_token="123:real"))
    # Through `python -m bot.launch` (what `make run` starts): one line, before anything runs.
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123:real",
           "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot.launch"], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the migrations' log lines
    assert last.startswith("not started: the database at DATABASE_URL was used by the sandbox")


@pytest.mark.parametrize("token", [None, "123:real"])
def test_make_run_itself_loads_no_demo_registry(token: str | None) -> None:
    """`make run` leaves the demo registry to the launcher (which loads it for the sandbox)."""
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    if token:
        env["TELEGRAM_BOT_TOKEN"] = token
    plan = subprocess.run(["make", "-n", "run"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True).stdout  # fmt: skip
    assert "-m bot.launch" in plan
    assert "data/demo" not in plan and "models.registry import" not in plan


async def test_the_sandbox_shows_times_in_the_bots_time_zone(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "sandbox.db", timezone="Europe/Berlin",
                            sandbox_api_port=free_port(), sandbox_web_port=free_port())  # fmt: skip
    async with sandbox(settings) as api_url, SandboxClient(api_url) as control:
        assert (await control.bot())["timezone"] == "Europe/Berlin"


def shanghai(hour: int, minute: int = 0) -> datetime:
    """This Beijing time on 2 December 2026, in UTC (as the launcher passes the clock)."""
    return datetime(2026, 12, 2, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (shanghai(23, 14), "ON now (23:14): non-urgent pushes wait until 08:00."),
        (shanghai(7, 59), "ON now (07:59): non-urgent pushes wait until 08:00."),
        (shanghai(8, 0), "not now (08:00): from 21:00, non-urgent pushes wait until 08:00."),
        (shanghai(14, 5), "not now (14:05): from 21:00, non-urgent pushes wait until 08:00."),
    ],
)
def test_make_run_says_whether_quiet_hours_hold_pushes_now(
    tmp_path: Path, now: datetime, expected: str
) -> None:
    notice = quiet_hours_notice(settings_for(tmp_path / "bot.db"), now)
    assert notice.splitlines()[0] == f"Quiet hours 21:00–08:00 Asia/Shanghai, {expected}"
    assert "QUIET_HOURS_START and\nQUIET_HOURS_END set to the same time" in notice


def test_the_quiet_hours_notice_uses_the_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "bot.db", timezone="Europe/Berlin",
                            quiet_hours_start=time(22, 30), quiet_hours_end=time(6, 45))  # fmt: skip
    berlin_23h = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)  # 23:00 in Berlin (UTC+1)
    assert quiet_hours_notice(settings, berlin_23h).splitlines()[0] == (
        "Quiet hours 22:30–06:45 Europe/Berlin, ON now (23:00): non-urgent pushes wait until 06:45."
    )


def test_equal_start_and_end_turn_quiet_hours_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "bot.db", quiet_hours_start=time(0), quiet_hours_end=time(0))
    assert quiet_hours_notice(settings, shanghai(23)) == (
        "Quiet hours: off (QUIET_HOURS_START = QUIET_HOURS_END = 00:00), every push goes out at once."
    )
    # As the outbox sender and the scheduler's sweeps decide it: nothing is held, at any hour.
    held = [quiet_hours_end(shanghai(hour), start=time(0), end=time(0), tz=settings.tz)
            for hour in range(24)]  # fmt: skip
    assert held == [None] * 24
