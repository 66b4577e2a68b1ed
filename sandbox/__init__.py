"""Diancai's sandbox: a local Telegram Bot API server, a control API and a web chat.

The unchanged aiogram bot talks to it through `TelegramAPIServer.from_base(api_url)`;
tests and the web chat act as Telegram users through the control API (`sandbox.client`).
"""

from sandbox.app import SandboxServer, create_api_app, create_web_app
from sandbox.core import Sandbox

__all__ = ["Sandbox", "SandboxServer", "create_api_app", "create_web_app"]
