"""`python -m sandbox`: run the local Telegram Bot API server and the web chat.

Defaults come from SANDBOX_HOST, SANDBOX_API_PORT, SANDBOX_WEB_PORT and TIMEZONE (the names the
bot's settings use), else 127.0.0.1, 8081, 8080 and Asia/Shanghai.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from sandbox.app import SandboxServer
from sandbox.core import DEFAULT_TIMEZONE, known_timezone


def _timezone(name: str) -> str:
    try:
        return known_timezone(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="A local Telegram Bot API server with a web chat, for Diancai offline.",
    )
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument(
        "--api-port", type=int, default=int(os.environ.get("SANDBOX_API_PORT", "8081"))
    )
    parser.add_argument(
        "--web-port", type=int, default=int(os.environ.get("SANDBOX_WEB_PORT", "8080"))
    )
    parser.add_argument(
        "--no-faults",
        action="store_true",
        help="no flood limits (429) or injected errors; Telegram's validation stays on",
    )
    parser.add_argument(
        "--quiet-period",
        type=float,
        default=0.3,
        help="seconds a /wait long poll lets the chat settle after the bot's first answer",
    )
    parser.add_argument(
        "--timezone",
        type=_timezone,
        default=os.environ.get("TIMEZONE", DEFAULT_TIMEZONE),
        help="the zone the web chat shows message times in: the bot's (default: %(default)s)",
    )
    parser.add_argument(
        "--echo-bot",
        action="store_true",
        help="also run a tiny echo bot against the sandbox, to try the web chat alone",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    server = SandboxServer(
        host=args.host,
        api_port=args.api_port,
        web_port=args.web_port,
        faults=not args.no_faults,
        quiet_period=args.quiet_period,
        timezone=args.timezone,
    )
    await server.start()
    print(f"Bot API:  {server.api_url}  (aiogram: TelegramAPIServer.from_base('{server.api_url}'))")
    print(f"Control:  {server.api_url}/sandbox/  (see sandbox/README.md)")
    print(f"Web chat: {server.web_url}")
    print(f"Faults:   {'on' if server.sandbox.faults else 'off'}   (Ctrl+C to stop)", flush=True)
    echo_task = None
    if args.echo_bot:
        from sandbox.echo import make_bot, make_dispatcher

        bot, dispatcher = make_bot(server.api_url), make_dispatcher()
        echo_task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
        print("Echo bot: running (polling)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if echo_task is not None:
            await dispatcher.stop_polling()
            await echo_task
            await bot.session.close()
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
