"""Loading, quietness and clean shutdown of the in-process backend."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mcv.core.backends.base import ChatRequest, Parameters, Message
from mcv.core.backends.llama.backend import LlamaBackend
from mcv.selftest.run import sample_image

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys
    from mcv.core.backends.base import ChatRequest, Message, Parameters
    from mcv.core.backends.llama.backend import LlamaBackend
    from mcv.selftest.run import sample_image

    llm, projector, how = sys.argv[1:4]
    backend = LlamaBackend(llm, projector)
    request = ChatRequest([Message("user", "Hi", (sample_image(),))],
                          Parameters(model="tiny", options={"temperature": 0, "num_predict": 3}))
    for image_round in range(2):  # the model stays loaded across images
        chunks = list(backend.chat(request))
        assert chunks[-1].done
    if how == "close":
        backend.close()
        backend.close()  # idempotent
    elif how == "abandon":
        stream = backend.chat(request)
        next(iter(stream), None)  # a half-read answer, never closed
    print("done")
    """
)


@pytest.mark.parametrize("how", ["close", "exit", "abandon"])
@pytest.mark.parametrize("generation", ["2.5", "2.6"])
def test_process_exits_cleanly(tiny_pair_factory, how, generation):
    llm, projector = tiny_pair_factory(generation)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(llm), str(projector), how], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
    assert done.stderr == ""  # no llama.cpp logs, no "I/O operation on closed file"


def test_loading_and_answering_print_nothing(tiny_pair_factory, capfd):
    llm, projector = tiny_pair_factory("2.5")
    with LlamaBackend(llm, projector) as backend:
        request = ChatRequest([Message("user", "Hi", (sample_image(),))], Parameters(model="tiny", options={"num_predict": 3}))
        assert list(backend.chat(request))[-1].done
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_lets_llama_cpp_speak(tiny_pair_factory, capfd):
    llm, projector = tiny_pair_factory("2.5")
    with LlamaBackend(llm, projector, verbose=True) as backend:
        backend.load()
    assert "llama" in capfd.readouterr().err.lower()


def test_model_loads_once_and_close_unloads(tiny_pair_factory):
    llm, projector = tiny_pair_factory("2.5")
    backend = LlamaBackend(llm, projector)
    request = ChatRequest([Message("user", "Hi")], Parameters(model="tiny", options={"num_predict": 2, "temperature": 0}))
    first = list(backend.chat(request))[-1].metrics
    native = backend.native
    second = list(backend.chat(request))[-1].metrics
    assert first.load_duration_ns > 0 and second.load_duration_ns == 0
    assert backend.native is native
    backend.close()
    assert backend._native is None
    # Usable again after close: it simply loads anew.
    assert list(backend.chat(request))[-1].metrics.load_duration_ns > 0
    backend.close()


def test_new_request_cancels_an_unfinished_stream_of_the_same_thread(tiny_pair_factory):
    llm, projector = tiny_pair_factory("2.5")
    options = {"num_predict": 20, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 4}
    request = ChatRequest([Message("user", "Hi")], Parameters(model="tiny", options=options))
    with LlamaBackend(llm, projector) as backend:
        first = backend.chat(request)
        next(first)  # suspended mid-answer, holding the model
        second = list(backend.chat(request))  # would deadlock without the cancel
        assert second[-1].done
        assert list(first) == []  # the abandoned stream simply ended
        backend.reset_cache()
        fresh = "".join(c.text for c in backend.chat(request))
        assert fresh == "".join(c.text for c in second)


def test_other_threads_wait_their_turn(tiny_pair_factory):
    import threading

    llm, projector = tiny_pair_factory("2.5")
    request = ChatRequest([Message("user", "Hi")], Parameters(model="tiny", options={"num_predict": 5, "temperature": 0}))
    with LlamaBackend(llm, projector) as backend:
        first = backend.chat(request)
        next(first)
        results = []
        worker = threading.Thread(target=lambda: results.append(list(backend.chat(request))))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()  # blocked while this thread's answer is unfinished
        rest = list(first)
        worker.join(timeout=30)
        assert not worker.is_alive() and results[0][-1].done and rest[-1].done
