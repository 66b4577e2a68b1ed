"""A resident's phone in the sandbox: say things, tap buttons, read what the bot answered."""

from __future__ import annotations

from typing import Any

from sandbox.client import SandboxClient


class Phone:
    def __init__(self, client: SandboxClient, user_id: int) -> None:
        self.client, self.user_id = client, user_id
        self.seen = 0  # the newest message id read so far
        self.history: list[dict[str, Any]] = []

    async def open(self, first_name: str, language_code: str = "zh") -> Phone:
        await self.client.create_user(first_name, id=self.user_id, language_code=language_code)
        return self

    def _take(self, messages: list[dict[str, Any]]) -> list[str]:
        """Record what arrived (an edited message replaces the copy seen before) and return the
        bot's texts, new and edited: an edit in place is an answer too."""
        known = {m["message_id"]: i for i, m in enumerate(self.history)}
        answers = []
        for message in messages:
            self.seen = max(self.seen, message["message_id"])
            if message["from"] != "bot":
                continue
            if message["message_id"] in known:
                self.history[known[message["message_id"]]] = message
            else:
                self.history.append(message)
            answers.append(message)
        return [m.get("text") or m.get("caption") or "" for m in answers]

    async def wait_for_buttons(self, timeout: float = 15) -> list[str]:
        """Until the newest bot message carries inline buttons (answers can come in parts)."""
        newest = [m for m in self.history if m["from"] == "bot"]
        while not (newest and (newest[-1].get("reply_markup") or {}).get("inline_keyboard")):
            await self.wait_for(timeout)
            newest = [m for m in self.history if m["from"] == "bot"]
        return self.buttons()

    async def say(self, text: str, timeout: float = 15) -> list[str]:
        sent = await self.client.send_text(self.user_id, text)
        self.seen = max(self.seen, sent["message_id"])
        return self._take(
            await self.client.wait(self.user_id, since=sent["message_id"], timeout=timeout)
        )

    async def send(self, timeout: float = 15, **body: Any) -> list[str]:
        sent = await self.client.send(self.user_id, **body)
        self.seen = max(self.seen, sent["message_id"])
        return self._take(
            await self.client.wait(self.user_id, since=sent["message_id"], timeout=timeout)
        )

    def buttons(self) -> list[str]:
        for message in reversed(self.history):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard")
            if rows:
                return [b["text"] for row in rows for b in row]
        return []

    async def tap(self, label: str, timeout: float = 15) -> list[str]:
        """Tap the newest inline button with this label; the bot's answer (alerts included)."""
        for message in reversed(self.history):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            if any(b["text"] == label for row in rows for b in row):
                pressed = await self.client.press(self.user_id, message["message_id"], label)
                result = await self.client.wait_raw(self.user_id, since=self.seen, timeout=timeout,
                                                    after_seq=pressed.get("seq"))  # fmt: skip
                if not any(m["from"] == "bot" for m in result["messages"]):
                    # Only the tapped message changed so far (its buttons removed): the
                    # answer proper is a new message, wait for it.
                    more = await self.client.wait_raw(self.user_id, since=self.seen,
                                                      timeout=timeout)  # fmt: skip
                    result["messages"] += more["messages"]
                texts = self._take(result["messages"] + result["changed"])
                alert = ""
                if pressed.get("callback_query_id"):
                    answer = await self.client.callback(pressed["callback_query_id"])
                    alert = answer.get("text") or ""
                return [alert, *texts] if alert else texts
        raise AssertionError(f"no button {label!r} in the chat; newest buttons: {self.buttons()}")

    async def tap_starting(self, prefix: str, timeout: float = 15) -> list[str]:
        """Tap the newest button whose label starts with ``prefix`` (a ticket's reference, shown
        with the start of its text)."""
        for message in reversed(self.history):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            for label in (b["text"] for row in rows for b in row):
                if label.startswith(prefix):
                    return await self.tap(label, timeout)
        raise AssertionError(f"no button starting {prefix!r}; newest buttons: {self.buttons()}")

    async def wait_for(self, timeout: float = 15) -> list[str]:
        """Whatever the bot sends next on its own (a notification)."""
        return self._take(await self.client.wait(self.user_id, since=self.seen, timeout=timeout))
