"""Starting the bot: migrations, then long polling or a webhook server."""

from __future__ import annotations

import logging
import sys

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import create_bot, create_dispatcher
from bot.settings import Settings, load_settings_or_exit
from models.db import make_engine, make_session_factory
from models.schema import upgrade_to_head
from nlu.client import NLUClient

log = logging.getLogger(__name__)

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set. Run `make run` to start the bot against the local sandbox "
    "(no token needed), or set TELEGRAM_BOT_TOKEN in .env to talk to Telegram."
)


async def run(settings: Settings | None = None) -> int:
    settings = settings or load_settings_or_exit()
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    await upgrade_to_head(engine)
    nlu = NLUClient(settings.rasa_url, timeout=settings.nlu_timeout_seconds)
    dispatcher = create_dispatcher(
        settings=settings, session_factory=make_session_factory(engine), nlu=nlu
    )
    bot = create_bot(settings, settings.telegram_bot_token.get_secret_value())
    try:
        if settings.webhook_url:
            await _run_webhook(dispatcher, bot, settings)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            await dispatcher.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()
        await engine.dispose()
    return 0


async def _run_webhook(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    if settings.webhook_secret is None:  # the settings refuse this; never serve without it
        raise RuntimeError("WEBHOOK_SECRET is required in webhook mode")
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    # Requests without Telegram's X-Telegram-Bot-Api-Secret-Token (or with a wrong one) get 401
    # before the dispatcher sees them.
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret).register(
        app, path=settings.webhook_path
    )
    setup_application(app, dispatcher, bot=bot)
    assert settings.webhook_url is not None  # run() chose webhook mode because it is set
    url = settings.webhook_url.rstrip("/") + settings.webhook_path
    await bot.set_webhook(url, secret_token=secret, drop_pending_updates=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_listen_host, settings.webhook_listen_port)
    await site.start()
    log.info("webhook listening on %s:%s%s", settings.webhook_listen_host,
             settings.webhook_listen_port, settings.webhook_path)  # fmt: skip
    try:
        import asyncio

        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
