"""`python -m bot`: run the bot (long polling, or webhook when WEBHOOK_URL is set).

Without a token this refuses with one clear line: `make run` starts the local sandbox and
passes its token and address.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.runner import run


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
