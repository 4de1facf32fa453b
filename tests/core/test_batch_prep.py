"""The batch's preparing pool ends whole: after close() no worker and no pool thread is left,
so nothing is still closing its pipes when the interpreter exits (no `Exception ignored` noise)."""

from __future__ import annotations

from mcv.core.batch.prep import PrepPool
from mcv.core.images.types import PrepareSettings
from support.images import jpeg_bytes, make_photo


def test_close_leaves_no_worker_and_no_pool_thread(tmp_path):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg_bytes(make_photo(320, 240, seed=1)))
    pool = PrepPool(2, PrepareSettings(), frozenset())
    futures = [pool.submit(str(photo), "a.jpg", True) for _ in range(4)]
    assert futures[0].result(timeout=60).sha256  # the workers are up and working
    executor = pool._executor
    processes = list(executor._processes.values())
    manager = executor._executor_manager_thread
    pool.close()
    assert processes and all(process.exitcode is not None for process in processes)
    assert manager is not None and not manager.is_alive()


def test_close_while_a_worker_writes_its_result_does_not_leave_the_pool_thread_reading_forever(tmp_path):
    # A worker killed mid-write leaves the executor's thread waiting for the rest of the message
    # for good, and the interpreter's exit, which joins that thread, hangs with it.
    import time

    from support.crashing import large_result

    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    pool = PrepPool(1, PrepareSettings(), frozenset(), function=large_result)
    future = pool.submit(str(photo), "a.jpg", True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "a.jpg.sending").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # pickled, and some of it in the pipe
    executor = pool._executor
    manager = executor._executor_manager_thread
    processes = list(executor._processes.values())
    pool.close()
    assert processes and all(process.exitcode is not None for process in processes)
    assert manager is not None and not manager.is_alive()
    assert future.done()
