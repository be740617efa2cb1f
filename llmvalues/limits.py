"""Per-model limits on concurrent requests and on requests per minute."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Callable


class RequestLimiter:
    """Admit at most ``concurrency`` requests at once and ``requests_per_minute`` starts in any 60 s.

    Use ``async with limiter:`` around each request (each retry is a new start).
    ``requests_per_minute`` of 0 means no rate limit. The rate limit is a sliding
    window over the start times, so a burst up to the limit is allowed.
    """

    WINDOW_S = 60.0

    def __init__(self, concurrency: int, requests_per_minute: int = 0,
                 clock: Callable[[], float] = time.monotonic):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self.requests_per_minute = requests_per_minute
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._starts: collections.deque[float] = collections.deque()
        self._rate_lock = asyncio.Lock()

    async def __aenter__(self) -> "RequestLimiter":
        await self._slots.acquire()
        try:
            await self._wait_for_rate()
        except BaseException:
            self._slots.release()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._slots.release()

    async def _wait_for_rate(self) -> None:
        if not self.requests_per_minute:
            return
        async with self._rate_lock:
            while True:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.WINDOW_S:
                    self._starts.popleft()
                if len(self._starts) < self.requests_per_minute:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._starts[0] + self.WINDOW_S - now)
