"""Publishing decisions to JetStream: pipelined, de-duplicated, each verdict per message."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck

from contracts.headers import MSG_ID_HEADER
from services.application.relay import Publication, UndeliverableError

__all__ = ["MSG_ID_HEADER", "JetStreamPublisher"]

# JetStream API errors that no retry will cure: the message is too big for the stream,
# or its subject is not one a stream takes.
_PERMANENT = {10054, 10060, 10077}


class JetStreamPublisher:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str = "RECORDS_OUT",
        timeout: float = 10.0,
        max_msg_size: int | None = None,
    ) -> None:
        self._js = js
        self._stream = stream
        self._timeout = timeout
        # The stream's own limit: a bigger message is refused without asking the server.
        self._max_msg_size = max_msg_size

    async def publish(self, messages: Sequence[Publication]) -> list[bool | Exception]:
        """One connection delivers in order, so the stream stores them in the order
        given, while one round trip (and, with ``sync_interval: always``, one fsync wait)
        is paid for the lot."""
        results: list[bool | Exception | None] = [None] * len(messages)
        futures: dict[int, asyncio.Future[PubAck]] = {}
        try:
            for index, message in enumerate(messages):
                headers = {**message.headers, MSG_ID_HEADER: message.msg_id}
                size = len(message.payload) + sum(len(k) + len(v) + 4 for k, v in headers.items())
                if self._max_msg_size is not None and size > self._max_msg_size:
                    results[index] = UndeliverableError(
                        f"{size} bytes exceeds the stream's limit of {self._max_msg_size}"
                    )
                    continue
                try:
                    futures[index] = await self._js.publish_async(
                        message.subject,
                        message.payload,
                        wait_stall=self._timeout,
                        stream=self._stream,
                        headers=headers,
                    )
                except (nats.errors.MaxPayloadError, nats.errors.BadSubjectError) as error:
                    results[index] = UndeliverableError(f"{type(error).__name__}: {error}")
            if futures:
                await asyncio.wait(futures.values(), timeout=self._timeout)
                for index, future in futures.items():
                    if future.done():
                        results[index] = _verdict(future.exception() or future.result())
                    else:
                        # nats-py (2.16) never settles an async publish the server refused
                        # (its reply handler raises instead): ask again, one by one, where
                        # the refusal does come back. Nats-Msg-Id keeps this safe.
                        results[index] = await self._publish_one(messages[index])
        finally:
            for future in futures.values():
                future.cancel()  # no-op once done; frees nats-py's slot for one never answered
        return [r if r is not None else RuntimeError("not published") for r in results]

    async def _publish_one(self, message: Publication) -> bool | Exception:
        headers = {**message.headers, MSG_ID_HEADER: message.msg_id}
        try:
            ack = await self._js.publish(
                message.subject,
                message.payload,
                timeout=self._timeout,
                stream=self._stream,
                headers=headers,
            )
        except Exception as error:
            return _verdict(error)
        return _verdict(ack)


def _verdict(outcome: PubAck | BaseException) -> bool | Exception:
    if isinstance(outcome, PubAck):
        return not outcome.duplicate
    if isinstance(outcome, nats.js.errors.APIError) and outcome.err_code in _PERMANENT:
        return UndeliverableError(f"{outcome.description} (JetStream error {outcome.err_code})")
    if isinstance(outcome, Exception):
        return outcome
    raise outcome
