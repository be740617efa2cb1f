"""The retry layer, the request limiter and the spending cap, without a server."""

import asyncio
import random

import pytest

from llmvalues.limits import RequestLimiter
from llmvalues.retry import (CONNECTION, OVERLOADED, RATE_LIMITED, SERVER_ERROR, TIMEOUT, FatalError,
                             RetriesExhausted, RetryPolicy, RetryStopped, TransientError, call_with_retries,
                             classify_status,
                             parse_retry_after, with_timeout)
from llmvalues.spending import Price, SpendingCap, max_request_cost, reply_cost, token_counts


def test_retry_after_ms_wins_over_seconds():
    assert parse_retry_after({"Retry-After": "3", "retry-after-ms": "250"}) == 0.25


def test_retry_after_seconds_and_date():
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    now = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:30 GMT"  # 10 s after ``now``
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(10.0)


def test_retry_after_unusable_values():
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-4"}) is None


@pytest.mark.parametrize("status, body, kind", [
    (429, {"code": "rate_limit_exceeded"}, RATE_LIMITED),
    (500, None, SERVER_ERROR),
    (503, {"type": "error", "error": {"type": "api_error"}}, SERVER_ERROR),
    (529, {"type": "error", "error": {"type": "overloaded_error"}}, OVERLOADED),
    (408, None, SERVER_ERROR),
])
def test_transient_statuses(status, body, kind):
    error = classify_status(status, body, {"retry-after-ms": "20"}, "message")
    assert isinstance(error, TransientError)
    assert error.kind == kind
    assert error.retry_after == 0.02


@pytest.mark.parametrize("status, body, fix_words", [
    (400, {"code": "invalid_request_error"}, "rejected the request"),
    (401, {"type": "error", "error": {"type": "authentication_error"}}, "api_key_env"),
    (403, None, "permissions"),
    (404, {"code": "model_not_found"}, "model id"),
    (429, {"code": "insufficient_quota", "type": "insufficient_quota"}, "quota"),
    (429, {"type": "error", "error": {"type": "rate_limit_error", "details": {"error_code": "insufficient_quota"}}},
     "quota"),
    (402, {"type": "error", "error": {"type": "billing_error"}}, "credit"),
])
def test_fatal_statuses_say_what_to_do(status, body, fix_words):
    error = classify_status(status, body, None, "the provider's message")
    assert isinstance(error, FatalError)
    assert str(status) in error.cause
    assert "the provider's message" in error.cause
    assert fix_words in error.fix


def test_backoff_honours_retry_after_and_caps():
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=4.0)
    rng = random.Random(1)
    delays = [policy.delay(number, None, rng) for number in range(1, 200)]
    assert all(0 <= delay <= 4.0 for delay in delays)
    assert max(delays) > 3.0  # full jitter reaches near the cap
    assert all(policy.delay(number, 7.5, rng) >= 7.5 for number in range(1, 20))
    assert policy.delay(1, 10_000, rng) == policy.max_retry_after_s


def test_first_backoff_bound_doubles():
    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=100.0)
    rng = random.Random(2)
    third = [policy.delay(3, None, rng) for _ in range(500)]
    assert max(third) <= 2.0
    assert max(third) > 1.5


def run(coroutine):
    return asyncio.run(coroutine)


def test_call_with_retries_counts_and_reports():
    outcomes = [TransientError(RATE_LIMITED, "slow down", 0.0), TransientError(CONNECTION, "reset"), "answer"]
    seen = []

    async def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    policy = RetryPolicy(retries=5, backoff_s=0.001)
    result, retries = run(call_with_retries(call, policy, on_retry=lambda n, e, d: seen.append((n, e.kind))))
    assert result == "answer"
    assert retries == 2
    assert seen == [(1, RATE_LIMITED), (2, CONNECTION)]


def test_call_with_retries_gives_up():
    calls = []

    async def call():
        calls.append(1)
        raise TransientError(SERVER_ERROR, "500")

    with pytest.raises(RetriesExhausted) as raised:
        run(call_with_retries(call, RetryPolicy(retries=3, backoff_s=0.0)))
    assert len(calls) == 4
    assert raised.value.last.kind == SERVER_ERROR


def test_fatal_error_is_not_retried():
    calls = []

    async def call():
        calls.append(1)
        raise FatalError("401 invalid_api_key", "check the key")

    with pytest.raises(FatalError):
        run(call_with_retries(call, RetryPolicy(retries=3, backoff_s=0.0)))
    assert len(calls) == 1


def test_with_timeout_turns_a_hang_into_a_transient_error():
    async def hang():
        await asyncio.sleep(5)

    with pytest.raises(TransientError) as raised:
        run(with_timeout(hang(), 0.05))
    assert raised.value.kind == TIMEOUT


def test_limiter_bounds_concurrency():
    async def scenario():
        limiter = RequestLimiter(3)
        active = peak = 0

        async def request():
            nonlocal active, peak
            async with limiter:
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.01)
                active -= 1

        await asyncio.gather(*(request() for _ in range(20)))
        return peak

    assert run(scenario()) == 3


def test_limiter_bounds_requests_per_minute():
    class FakeClock:
        """Test double: a clock that sleeping advances, so a minute passes at once."""

        def __init__(self):
            self.now = 0.0

        def __call__(self):
            return self.now

    clock = FakeClock()
    starts = []

    async def scenario():
        limiter = RequestLimiter(10, requests_per_minute=4, clock=clock)
        real_sleep = asyncio.sleep

        async def advancing_sleep(seconds):
            clock.now += seconds
            await real_sleep(0)

        asyncio_sleep = asyncio.sleep
        asyncio.sleep = advancing_sleep
        try:
            async def request():
                async with limiter:
                    starts.append(clock.now)

            await asyncio.gather(*(request() for _ in range(10)))
        finally:
            asyncio.sleep = asyncio_sleep

    run(scenario())
    assert len(starts) == 10
    for index in range(len(starts) - 4):
        assert starts[index + 4] - starts[index] >= 60.0


def test_limiter_rejects_zero_concurrency():
    with pytest.raises(ValueError, match="concurrency"):
        RequestLimiter(0)


def test_token_counts_of_both_providers():
    assert token_counts({"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123}) == (120, 3)
    assert token_counts({"input_tokens": 100, "output_tokens": 2, "cache_read_input_tokens": 20,
                         "cache_creation_input_tokens": None}) == (120, 2)
    assert token_counts({}) is None
    assert token_counts(None) is None


def test_reply_cost():
    price = Price(input=2.0, output=8.0, batch_factor=0.5)
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000}
    assert reply_cost(price, usage) == pytest.approx(6.0)
    assert reply_cost(price, usage, batch=True) == pytest.approx(3.0)
    assert reply_cost(None, usage) is None
    assert reply_cost(price, {}) is None


def test_request_bound_exceeds_a_realistic_cost():
    price = Price(input=1.0, output=1.0)
    messages = [{"role": "system", "content": "You are a person."}, {"role": "user", "content": "x" * 400}]
    bound = max_request_cost(price, messages, max_tokens=4)
    # 400 ASCII letters are at most 400 tokens; a real tokenizer gives about 100.
    assert bound >= (400 + 4) / 1_000_000
    assert max_request_cost(price, messages, max_tokens=4, batch=True) == bound


def test_spending_cap_reserves_and_settles():
    cap = SpendingCap(1.0, spent=0.25)
    assert cap.reserve(0.5)
    assert not cap.reserve(0.5)  # 0.25 spent + 0.5 reserved + 0.5 > 1.0
    cap.settle(0.5, 0.1)
    assert cap.spent == pytest.approx(0.35)
    assert cap.reserved == 0.0
    assert cap.reserve(0.6)
    cap.release(0.6)
    assert cap.reserved == 0.0
    cap.settle(0.0, None)
    assert cap.spent == pytest.approx(0.35)


def test_spending_without_cap_counts():
    cap = SpendingCap(None)
    assert cap.reserve(1e9)
    cap.settle(1e9, 2.0)
    assert cap.spent == 2.0


def test_stop_ends_a_backoff_wait_at_once():
    async def scenario():
        stop = asyncio.Event()

        async def call():
            raise TransientError(RATE_LIMITED, "slow down", retry_after=30.0)

        task = asyncio.ensure_future(call_with_retries(call, RetryPolicy(retries=3), stop=stop))
        await asyncio.sleep(0.05)
        stop.set()
        started = asyncio.get_running_loop().time()
        with pytest.raises(RetryStopped):
            await task
        return asyncio.get_running_loop().time() - started

    assert run(scenario()) < 1.0


def test_provider_messages_lose_key_fragments():
    from llmvalues.providers.openai_chat import _short

    message = "Incorrect API key provided: sk-proj-ab12************************wxyz. You can find your key."
    assert _short(message) == "Incorrect API key provided: [key removed]. You can find your key."
    assert _short("rate limit of 500 requests per minute") == "rate limit of 500 requests per minute"


def test_spending_cap_frees_fully_after_floats():
    # 0.1 + 0.2 - 0.1 - 0.2 leaves 2.8e-17 in plain floats; a waiting collector needs exactly 0.
    from llmvalues.spending import SpendingCap

    cap = SpendingCap(1.0)
    assert cap.reserve(0.1)
    assert cap.reserve(0.2)
    cap.settle(0.1, 0.05)
    assert cap.in_flight == 1
    cap.release(0.2)
    assert cap.reserved == 0.0
    assert cap.in_flight == 0
    assert cap.spent == 0.05
