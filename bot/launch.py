"""`make run`: everything needed to use Diancai on this machine, then the bot.

Without TELEGRAM_BOT_TOKEN: the local sandbox (Bot API + web chat) with the demo registry and
demo users, the Rasa NLU server, the scheduler, and the bot pointed at the sandbox. With a token:
Rasa, the scheduler and the bot, on Telegram, with nothing seeded (the registry and the staff
are the operator's: README, "Going live"). Ctrl+C stops all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot.runner import run
from bot.settings import Settings, load_settings_or_exit
from models.db import make_engine, make_session_factory, utcnow
from models.demo import seed_demo_staff, staff_ids
from models.outbox import quiet_hours_end
from models.registry import import_compounds, import_plan_items, list_compounds
from models.schema import upgrade_to_head
from nlu import server as rasa

log = logging.getLogger("launch")
ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = ROOT / "data" / "demo"
SANDBOX_START_TIMEOUT = 60  # seconds; importing it takes a few on a busy 2-core machine
# Who the web chat shows, side by side: (telegram id, name, language).
DEMO_RESIDENT = (10001, "王阿姨", "zh")
DEMO_WORKER = (10002, "李姐（社区工作者）", "zh")
DEMO_ADMIN = (10003, "张主任（管理员）", "zh")
DEMO_WORKER_COMPOUNDS = ["hp01", "sh01", "dd01"]


class SandboxFailed(RuntimeError):
    pass


class DemoDataInProduction(RuntimeError):
    """A real token, but the database holds the sandbox's demo staff."""


async def prepare_database(settings: Settings) -> None:
    """Migrations; for the sandbox also the demo registry and the demo staff. With a real token
    nothing is seeded, and a database the sandbox has used (demo staff in it) is refused."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        async with make_session_factory(engine)() as session, session.begin():
            if settings.uses_sandbox:
                await import_compounds(session=session, path=DEMO_DATA / "compounds.csv")
                await import_plan_items(session=session, path=DEMO_DATA / "plan_items.csv")
                await seed_demo_staff(
                    session=session, worker_id=DEMO_WORKER[0], worker_name=DEMO_WORKER[1],
                    admin_id=DEMO_ADMIN[0], admin_name=DEMO_ADMIN[1],
                    compound_codes=DEMO_WORKER_COMPOUNDS,
                )  # fmt: skip
                return
            demo_staff = {DEMO_WORKER[0], DEMO_ADMIN[0]} - set(settings.admin_ids)
            found = sorted(demo_staff & set(await staff_ids(session=session)))
            if found:
                raise DemoDataInProduction(
                    f"the database at DATABASE_URL was used by the sandbox: its demo staff "
                    f"({', '.join(map(str, found))}) would be staff on Telegram. Point "
                    "DATABASE_URL at a new database (or delete the sandbox's var/diancai.db)."
                )
            if not await list_compounds(session=session):
                print("No compounds yet: residents cannot pick theirs until you import the "
                      "registry (README, Going live).", flush=True)  # fmt: skip
    finally:
        await engine.dispose()


def quiet_hours_notice(settings: Settings, now: datetime) -> str:
    """What `make run` says about quiet hours, so that nobody demoing in the evening wonders
    why a notification does not come: the hours, whether they hold messages right now, what
    waits, and how to turn them off."""
    start, end = (f"{t:%H:%M}" for t in (settings.quiet_hours_start, settings.quiet_hours_end))
    if start == end:  # an empty interval: models.outbox.quiet_hours_end never holds anything
        return (
            f"Quiet hours: off (QUIET_HOURS_START = QUIET_HOURS_END = {start}), every push goes "
            "out at once."
        )
    clock = f"{now.astimezone(settings.tz):%H:%M}"
    held_now = quiet_hours_end(
        now, start=settings.quiet_hours_start, end=settings.quiet_hours_end, tz=settings.tz
    )
    state = (
        f"ON now ({clock}): non-urgent pushes wait until {end}."
        if held_now
        else f"not now ({clock}): from {start}, non-urgent pushes wait until {end}."
    )
    return (
        f"Quiet hours {start}–{end} {settings.timezone}, {state}\n"
        "Pushes are what the bot sends on its own: notices, status news, surveys, alerts to\n"
        "workers. Urgent ones and replies never wait. Off for a demo: QUIET_HOURS_START and\n"
        "QUIET_HOURS_END set to the same time (e.g. both 00:00) in .env."
    )


@contextlib.asynccontextmanager
async def sandbox(settings: Settings) -> AsyncIterator[str]:
    from sandbox.client import SandboxClient

    api_url = settings.sandbox_api_url
    ports = [
        "--api-port",
        str(settings.sandbox_api_port),
        "--web-port",
        str(settings.sandbox_web_port),
    ]
    # The web chat shows times in the bot's zone, as the bot's own texts do.
    zone = ["--timezone", settings.timezone]
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", settings.sandbox_host, *ports, *zone],
        cwd=ROOT,
    )
    try:
        async with SandboxClient(api_url) as client:
            for _ in range(SANDBOX_START_TIMEOUT * 10):
                if process.poll() is not None:
                    raise SandboxFailed(
                        f"the sandbox did not start (exit code {process.returncode}); is port "
                        f"{settings.sandbox_api_port} or {settings.sandbox_web_port} taken? "
                        "Set SANDBOX_API_PORT / SANDBOX_WEB_PORT to free ones."
                    )
                try:
                    await client.users()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            else:
                raise SandboxFailed(
                    f"the sandbox did not answer on {api_url} within {SANDBOX_START_TIMEOUT} s"
                )
            for telegram_id, name, language in (DEMO_RESIDENT, DEMO_WORKER, DEMO_ADMIN):
                await client.create_user(id=telegram_id, first_name=name, language_code=language)
        yield api_url
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


async def main() -> int:
    settings = load_settings_or_exit()
    try:
        await prepare_database(settings)
    except DemoDataInProduction as error:
        print(f"not started: {error}", file=sys.stderr)
        return 2

    rasa_server = None
    if not await asyncio.to_thread(rasa.is_ready, settings.rasa_url):
        print("Starting the NLU server (Rasa), about half a minute…", flush=True)
        try:
            where = urlsplit(settings.rasa_url)  # start it where the bot will look for it
            rasa_server = await asyncio.to_thread(
                rasa.start, host=where.hostname or rasa.DEFAULT_HOST, port=where.port or 80
            )
        except RuntimeError as error:
            print(f"NLU server not started ({error}); the bot will offer category buttons.")
    # The scheduler runs in a process of its own (one active instance; see scheduler/service.py).
    scheduler = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT)
    try:
        if settings.uses_sandbox:
            return await _run_with_sandbox(settings)
        print(quiet_hours_notice(settings, utcnow()), flush=True)
        return await run(settings)
    except SandboxFailed as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        scheduler.terminate()
        if rasa_server is not None:
            rasa.stop(rasa_server)


async def _run_with_sandbox(settings: Settings) -> int:
    async with sandbox(settings):
        settings = settings.for_sandbox().model_copy(
            update={"admin_ids": sorted({*settings.admin_ids, DEMO_ADMIN[0]})}
        )
        web = f"http://{settings.sandbox_host}:{settings.sandbox_web_port}"
        quiet = textwrap.indent(quiet_hours_notice(settings, utcnow()), "  ")
        print(f"\n  点菜 Diancai is running. Open {web} to chat with the bot.\n", flush=True)
        print(f"{quiet}\n", flush=True)
        return await run(settings)


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(asyncio.run(main()))
