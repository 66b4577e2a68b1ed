"""A small async client of the sandbox's control API, for tests, benchmarks and the launcher.

async with SandboxClient("http://127.0.0.1:8081") as sandbox:
    user = await sandbox.create_user(first_name="王阿姨")
    sent = await sandbox.send_text(user["id"], "楼道灯坏了")
    answer = await sandbox.wait(user["id"], since=sent["message_id"])
    await sandbox.press(user["id"], answer[-1]["message_id"], "照明")
"""

from __future__ import annotations

import base64
from typing import Any, Self

import aiohttp


class SandboxError(RuntimeError):
    """The control API answered an error; `status` and `description` say which."""

    def __init__(self, status: int, description: str):
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


class SandboxTimeout(TimeoutError):
    """`wait` saw no answer from the bot in time."""


Message = dict[str, Any]


class SandboxClient:
    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None):
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = 30,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self._session.request(
            method,
            f"{self.base_url}/sandbox{path}",
            json=json,
            params=query,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                raise SandboxError(response.status, data.get("description", str(data)))
            return data

    # ---- users and groups ------------------------------------------------------------------

    async def create_user(
        self,
        first_name: str,
        *,
        id: int | None = None,
        language_code: str | None = "zh",
        last_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        body = {"first_name": first_name, "language_code": language_code}
        body |= {k: v for k, v in {"id": id, "last_name": last_name, "username": username}.items()
                 if v is not None}  # fmt: skip
        return await self._request("POST", "/users", body)

    async def users(self) -> list[dict[str, Any]]:
        return (await self._request("GET", "/users"))["users"]

    async def create_group(
        self,
        title: str,
        members: list[int],
        *,
        id: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"title": title, "members": members}
        if id is not None:
            body["id"] = id
        return await self._request("POST", "/groups", body)

    async def block(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/users/{user_id}/block")

    async def unblock(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/users/{user_id}/unblock")

    # ---- acting as a user ------------------------------------------------------------------

    async def send(self, user_id: int, **body: Any) -> dict[str, Any]:
        """Any message kind: text=..., photo=<base64>, location={...}, voice=..., contact=...,
        sticker=True, edit_of=<message_id> with text, reply_to=<message_id>."""
        return await self._request("POST", f"/users/{user_id}/send", body)

    async def send_text(self, user_id: int, text: str, **extra: Any) -> dict[str, Any]:
        return await self.send(user_id, text=text, **extra)

    async def send_photo(
        self, user_id: int, photo: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"photo": base64.b64encode(photo).decode()}
        if caption:
            body["caption"] = caption
        return await self.send(user_id, **body)

    async def send_location(
        self, user_id: int, latitude: float = 41.805699, longitude: float = 123.431472
    ) -> dict[str, Any]:
        return await self.send(user_id, location={"latitude": latitude, "longitude": longitude})

    async def send_voice(self, user_id: int, voice: bytes, duration: int = 1) -> dict[str, Any]:
        return await self.send(user_id, voice=base64.b64encode(voice).decode(), duration=duration)

    async def send_contact(self, user_id: int, phone_number: str) -> dict[str, Any]:
        return await self.send(user_id, contact={"phone_number": phone_number})

    async def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        return await self.send(user_id, text=text, edit_of=message_id)

    async def send_to_group(self, chat_id: int, from_user: int, **body: Any) -> dict[str, Any]:
        return await self._request("POST", f"/groups/{chat_id}/send", {"from": from_user, **body})

    async def press(self, user_id: int, message_id: int | None, text: str) -> dict[str, Any]:
        """Tap a button: inline (-> callback query) or reply keyboard (-> its text is sent).
        message_id None: the reply keyboard currently shown under the input."""
        body: dict[str, Any] = {"text": text}
        if message_id is not None:
            body["message_id"] = message_id
        return await self._request("POST", f"/users/{user_id}/press", body)

    # ---- reading chats ---------------------------------------------------------------------

    async def messages(self, user_id: int, since: int = 0) -> list[Message]:
        return (await self._request("GET", f"/users/{user_id}/messages", params={"since": since}))[
            "messages"
        ]

    async def chat_messages(self, chat_id: int, since: int = 0) -> list[Message]:
        return (await self._request("GET", f"/chats/{chat_id}/messages", params={"since": since}))[
            "messages"
        ]

    async def wait(
        self,
        user_id: int,
        since: int | None = None,
        timeout: float = 10,
        *,
        after_seq: int | None = None,
        raise_on_timeout: bool = True,
    ) -> list[Message]:
        """The bot's answer: messages (both directions) newer than `since`, once the bot has
        sent one and the chat went quiet; `after_seq` also wakes on edits/deletions of older
        messages (pass the `seq` from `press`). Raises SandboxTimeout if nothing came."""
        result = await self.wait_raw(user_id, since, timeout, after_seq=after_seq)
        if result["timed_out"] and raise_on_timeout:
            raise SandboxTimeout(f"the bot did not answer user {user_id} within {timeout} s")
        return result["messages"] + result["changed"]

    async def wait_raw(
        self,
        user_id: int,
        since: int | None = None,
        timeout: float = 10,
        *,
        after_seq: int | None = None,
        chat: bool = False,
    ) -> dict[str, Any]:
        """The whole /wait answer: messages, changed, seq, timed_out."""
        path = f"/chats/{user_id}/wait" if chat else f"/users/{user_id}/wait"
        return await self._request(
            "GET",
            path,
            params={"since": since, "after_seq": after_seq, "timeout": timeout},
            timeout=timeout + 10,
        )

    async def callback(self, query_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/callbacks/{query_id}")

    async def commands(self, user_id: int) -> list[dict[str, str]]:
        return (await self._request("GET", f"/users/{user_id}/commands"))["commands"]

    async def file(self, file_id: str) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(f"{self.base_url}/sandbox/files/{file_id}") as response:
            if response.status >= 400:
                raise SandboxError(response.status, await response.text())
            return await response.read()

    # ---- the sandbox -----------------------------------------------------------------------

    async def bot(self) -> dict[str, Any]:
        return await self._request("GET", "/bot")

    async def stats(self) -> dict[str, Any]:
        return await self._request("GET", "/stats")

    async def reset(self) -> dict[str, Any]:
        return await self._request("POST", "/reset")

    async def set_faults(self, enabled: bool) -> dict[str, Any]:
        return await self._request("POST", "/faults", {"enabled": enabled})

    async def inject_fault(
        self,
        error_code: int,
        *,
        method: str | None = None,
        description: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
    ) -> dict[str, Any]:
        spec = {"error_code": error_code, "method": method, "description": description,
                "count": count, "retry_after": retry_after}  # fmt: skip
        spec = {k: v for k, v in spec.items() if v is not None}
        return await self._request("POST", "/faults", {"inject": spec})

    async def configure(self, **config: Any) -> dict[str, Any]:
        """privacy_mode=bool, quiet_period=seconds, faults=bool."""
        return await self._request("POST", "/config", config)
