"""The endpoint pool: least outstanding, cool-downs that grow and end, Retry-After, shared per process."""

from __future__ import annotations

from mcv.core.backends.endpoints import COOL_DOWN_FIRST, COOL_DOWN_MAX, EndpointPool, close_pool, open_pool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pool_of(*urls: str, slots: int = 1) -> tuple[EndpointPool, Clock]:
    clock = Clock()
    return EndpointPool.of(urls, slots, clock=clock), clock


def test_least_outstanding_first_then_least_recently_chosen():
    pool, _ = pool_of("a", "b", "c")
    first = [pool.acquire().url for _ in range(3)]
    assert first == ["a", "b", "c"]  # ties go round
    a, b, c = pool.endpoints
    pool.finished(b)
    assert pool.acquire().url == "b"  # the only one with nothing in flight
    pool.finished(a)
    pool.finished(c)
    assert [pool.acquire().url for _ in range(2)] == ["a", "c"]
    assert [e.outstanding for e in pool.endpoints] == [1, 1, 1]


def test_a_failing_endpoint_is_out_for_a_growing_while_then_back():
    pool, clock = pool_of("a", "b")
    a, b = pool.endpoints
    assert pool.acquire() is a
    assert pool.failed(a) == COOL_DOWN_FIRST
    assert {pool.acquire().url for _ in range(3)} == {"b"}  # a is out
    clock.now += COOL_DOWN_FIRST
    assert pool.acquire() is a  # back after its cool-down
    assert pool.failed(a) == 2 * COOL_DOWN_FIRST  # failures in a row: longer
    clock.now += 2 * COOL_DOWN_FIRST
    assert pool.acquire() is a
    pool.finished(a)  # one success: forgiven
    assert a.failures == 0
    assert pool.acquire() is a
    assert pool.failed(a) == COOL_DOWN_FIRST


def test_cool_down_is_capped():
    pool, _ = pool_of("a")
    (a,) = pool.endpoints
    for _ in range(12):
        pool.acquire_soonest([a])
        pause = pool.failed(a)
    assert pause == COOL_DOWN_MAX


def test_retry_after_keeps_an_endpoint_out_exactly_that_long():
    pool, clock = pool_of("a", "b")
    a, b = pool.endpoints
    pool.acquire()
    assert pool.rate_limited(a, 7.0) == 7.0
    assert pool.acquire() is b
    pool.finished(b)
    assert pool.wait_time(exclude=[b]) == 7.0
    clock.now += 6.9
    assert pool.acquire(exclude=[b]) is None
    clock.now += 0.1
    assert pool.acquire(exclude=[b]) is a
    assert a.failures == 0  # a 429 is not a failure of the endpoint


def test_nothing_when_every_endpoint_is_out_or_excluded():
    pool, clock = pool_of("a", "b")
    a, b = pool.endpoints
    pool.acquire(), pool.acquire()
    pool.failed(a)
    assert pool.acquire(exclude=[b]) is None
    assert pool.wait_time(exclude=[a, b]) is None
    assert pool.wait_time() == 0.0  # b is in
    assert pool.acquire_soonest([a]) is a  # forced: the one back soonest


def test_slots_add_up():
    pool, _ = pool_of("a", "b", "c", slots=4)
    assert pool.slots == 12


def test_one_shared_pool_per_endpoints_while_in_use():
    first = open_pool(["http://x/v1", "http://y/v1"])
    second = open_pool(["http://x/v1", "http://y/v1"])
    other = open_pool(["http://x/v1"])
    assert first is second and other is not first
    first.acquire()
    first.failed(first.endpoints[0])
    close_pool(first)
    close_pool(other)
    assert open_pool(["http://x/v1", "http://y/v1"]) is second  # still used by `second`'s holder
    close_pool(second)
    close_pool(second)
    fresh = open_pool(["http://x/v1", "http://y/v1"])
    assert fresh is not first and not fresh.endpoints[0].out(fresh.clock())  # a later run starts clean
    close_pool(fresh)


def test_next_for_a_request_tries_each_endpoint_once_then_says_none():
    pool, clock = pool_of("a", "b")
    a, b = pool.endpoints
    tried = []
    first = pool.next_for(tried, longest_wait=0, too_long=RuntimeError)
    tried.append(first)
    pool.failed(first)
    second = pool.next_for(tried, longest_wait=0, too_long=RuntimeError)
    assert {first, second} == {a, b}
    tried.append(second)
    pool.failed(second)
    assert pool.next_for(tried, longest_wait=0, too_long=RuntimeError) is None  # each had its chance
    # a new request is not refused only because both failed before: the one back soonest is tried
    assert pool.next_for([], longest_wait=0, too_long=RuntimeError) is first
    pool.finished(first)
    assert pool.next_for([b], skip=[a], longest_wait=0, too_long=RuntimeError) is None  # never a skipped one


def test_next_for_waits_out_a_retry_after_or_refuses_a_long_one():
    pool, clock = pool_of("a")
    (a,) = pool.endpoints
    pool.acquire()
    pool.rate_limited(a, 0.05)
    clock_real = EndpointPool.of(["x"]).clock  # the real clock: next_for sleeps for real
    pool.clock = clock_real
    a.limited_until = clock_real() + 0.05
    assert pool.next_for([a], longest_wait=1.0, too_long=RuntimeError) is a  # waited, then asked it again
    pool.finished(a)
    a.limited_until = clock_real() + 30
    try:
        pool.next_for([a], longest_wait=1.0, too_long=lambda wait: RuntimeError(f"{wait:.0f}"))
    except RuntimeError as err:
        assert str(err) == "30"
    else:
        raise AssertionError("a 30 s Retry-After was waited for")
