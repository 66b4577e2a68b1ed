"""A database outage loses nothing: the update is spooled, the person is told, and the
message becomes a ticket once the database is back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from bot.app import create_dispatcher
from bot.settings import Settings
from bot.spool import replay
from models.db import make_engine, make_session_factory
from models.tables import Ticket
from tests.conftest import load_demo_registry
from tests.harness import FakeNLU, Harness
from tests.mocked_bot import make_bot


async def test_message_during_outage_is_kept_and_handled_after(tmp_path: Path) -> None:
    db_file = tmp_path / "live.db"
    engine: AsyncEngine = make_engine(f"sqlite+aiosqlite:///{db_file}")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    factory = make_session_factory(engine)
    await load_demo_registry(factory)
    # The dispatcher talks to a database that cannot be opened (a directory, not a file).
    broken = make_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/../../")
    settings = Settings(_env_file=None, telegram_bot_token="42:TEST")
    nlu = FakeNLU()
    nlu.teach("楼顶漏水了", "building", 0.92)
    spool_path = tmp_path / "spool.jsonl"
    down = create_dispatcher(settings=settings, session_factory=make_session_factory(broken),
                             nlu=nlu, run_outbox=False, spool_path=spool_path)  # fmt: skip
    bot, recorder = make_bot()
    down["bot_username"] = "diancai_test_bot"
    h = Harness(down, bot, recorder)

    replies = await h.send(1001, "/start c_hp01")
    assert any("消息已经保存" in r for r in replies)
    replies = await h.send(1001, "楼顶漏水了")
    assert any("消息已经保存" in r for r in replies)
    assert spool_path.exists() and len(spool_path.read_text().splitlines()) == 2

    # The database is back: the same updates, replayed, bind the compound and start the report.
    up = create_dispatcher(settings=settings, session_factory=factory, nlu=nlu,
                           run_outbox=False, spool_path=spool_path)  # fmt: skip
    up["bot_username"] = "diancai_test_bot"
    recorder.clear()
    assert await replay(spool=up["spool"], dispatcher=up, bot=bot) == 2
    assert not spool_path.exists()
    assert "您反映的是【楼体维修与节能】问题，对吗？" in recorder.texts()
    h.dp = up
    await h.press(1001, "✅ 确认提交")
    async with factory() as s:
        [ticket] = (await s.exec(select(Ticket))).all()
    assert ticket.text_original == "楼顶漏水了"
    await engine.dispose()
    await broken.dispose()
