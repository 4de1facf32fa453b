"""P5/P6: the in-process backend against stock llama-cpp-python, measured in the same run.

P5  time to first token of a second question about the same image, relative to
    the first question. Ours keeps the evaluated prefix (image chunks included)
    in the KV cache; llama-cpp-python's vision handlers reset the cache on every
    call and encode the image again. Target: ours turn2/turn1 <= 0.2x.
P6  generation speed (tokens/s after the first token) of our loop against
    llama-cpp-python's own create_chat_completion on the same pair, prompt,
    greedy sampling and thread count. Target: >= 0.95x.

The pair is a random-weight MiniCPM-Llama3-V 2.5 pair from tinypair with a
vision tower wide and deep enough that encoding the 1200x900 image (3x2 slices
plus the overview) dominates the first turn, as it does with the real model.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The LLM is big enough (~2-5 ms a token here) that P6 times decoding plus loop
# overhead rather than scheduler noise; the vision tower makes turn 1 ~seconds.
FULL = dict(vision_width=192, vision_blocks=6, reps=3, tokens=80, llm=dict(n_embd=768, n_layers=6, n_head=6, n_ff=3072))
QUICK = dict(vision_width=128, vision_blocks=2, reps=2, tokens=80, llm=dict(n_embd=512, n_layers=4, n_head=4, n_ff=2048))
THREADS = int(os.environ.get("MCV_BENCH_THREADS") or os.cpu_count() or 2)
N_CTX = 4096
# Random weights mostly sample byte tokens that are not valid UTF-8, which
# llama-cpp-python holds back (no chunk per token). Both sides therefore answer
# under the same grammar: a JSON string of exactly ANSWER_LETTERS letters.
ANSWER_LETTERS = 64
ANSWER_SCHEMA = {"type": "string", "pattern": "^[a-z]{%d}$" % ANSWER_LETTERS}
QUESTION_1 = "What is in this picture?"
QUESTION_2 = "What colour is the largest shape?"

# Llama-3 turns for llama-cpp-python's Llava15ChatHandler: image URL(s) then a
# newline then the text, as HF/mcv place them. No BOS: the handler tokenises
# with add_special=True, which adds it (a template BOS would double it).
LLAMA3_VISION_FORMAT = (
    "{% for message in messages %}"
    "<|start_header_id|>{{ message.role }}<|end_header_id|>\n\n"
    "{% if message.content is string %}{{ message.content | trim }}{% else %}"
    "{% for c in message.content %}{% if c.type == 'image_url' %}"
    "{{ c.image_url.url if c.image_url is mapping else c.image_url }}\n{% endif %}{% endfor %}"
    "{% for c in message.content %}{% if c.type == 'text' %}{{ c.text | trim }}{% endif %}{% endfor %}"
    "{% endif %}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


@dataclass
class Turns:
    first: list[float]  # seconds to the first token, question 1
    second: list[float]  # seconds to the first token, question 2 (same image)
    gaps: list[float]  # seconds between consecutive tokens, all answers
    tokens: list[int]  # tokens generated per answer

    def ratio(self) -> float:
        return statistics.median(self.second) / statistics.median(self.first)

    def speed(self) -> float:
        """Tokens/s from the median gap: robust to the scheduler pausing a run."""
        return 1.0 / statistics.median(self.gaps)


def _timed_stream(started: float, chunks, has_text) -> tuple[float, list[float], int, list]:
    """(seconds to the first text, gaps between later texts, text chunks, all chunks)
    of a stream asked for at `started`. One text chunk is one token here (the
    tiny model's tokens are single bytes, no stop string holds text back)."""
    stamps, kept = [], []
    for chunk in chunks:
        kept.append(chunk)
        if has_text(chunk):
            stamps.append(time.perf_counter())
    if not stamps:
        return float("nan"), [], 0, kept
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return stamps[0] - started, gaps, len(stamps), kept


# --- ours ------------------------------------------------------------------------------


class Ours:
    def __init__(self, llm: Path, projector: Path) -> None:
        from mcv.core.backends.llama.backend import LlamaBackend
        from mcv.modelfile import generations

        self.backend = LlamaBackend(llm, projector, generations.get("2.5"), n_ctx=N_CTX, n_threads=THREADS)
        self.backend.load()

    def ask(self, messages, tokens: int):
        from mcv.core.backends.base import ChatRequest

        options = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": tokens}
        started = time.perf_counter()
        request = ChatRequest(model="bench", messages=messages, options=options, format=ANSWER_SCHEMA)
        stream = self.backend.chat(request)
        ttft, gaps, count, chunks = _timed_stream(started, stream, lambda c: bool(c.text))
        return ttft, gaps, count, "".join(c.text for c in chunks)

    def conversation(self, image, tokens: int) -> tuple[float, float, float, int]:
        from mcv.core.backends.base import Message

        self.backend.reset_cache()  # a genuine first turn
        first = [Message("user", QUESTION_1, (image,))]
        ttft1, gaps, count, answer = self.ask(first, tokens)
        second = first + [Message("assistant", answer), Message("user", QUESTION_2)]
        ttft2, _, _, _ = self.ask(second, tokens)
        return ttft1, ttft2, gaps, count

    def close(self) -> None:
        self.backend.close()


# --- stock llama-cpp-python -------------------------------------------------------------


class Stock:
    def __init__(self, llm: Path, projector: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Llava15ChatHandler

        class Llama3VisionHandler(Llava15ChatHandler):
            DEFAULT_SYSTEM_MESSAGE = None
            CHAT_FORMAT = LLAMA3_VISION_FORMAT

        from llama_cpp.llama_grammar import LlamaGrammar

        from mcv.core.backends.llama.grammar import schema_to_gbnf

        self.grammar = LlamaGrammar.from_string(schema_to_gbnf(ANSWER_SCHEMA), verbose=False)
        self.model = Llama(
            model_path=str(llm),
            chat_handler=Llama3VisionHandler(clip_model_path=str(projector), verbose=False),
            n_ctx=N_CTX,
            n_threads=THREADS,
            n_threads_batch=THREADS,
            verbose=False,
        )

    def ask(self, messages, tokens: int):
        started = time.perf_counter()  # the handler evaluates the prompt before returning the stream
        stream = self.model.create_chat_completion(
            messages=messages, max_tokens=tokens, temperature=0, repeat_penalty=1.0, stream=True, stop=[], grammar=self.grammar
        )
        ttft, gaps, count, chunks = _timed_stream(started, stream, lambda c: bool(c["choices"][0]["delta"].get("content")))
        return ttft, gaps, count, "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)

    def conversation(self, image, tokens: int) -> tuple[float, float, float, int]:
        first = [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image.data_url()}},
                    {"type": "text", "text": QUESTION_1},
                ],
            }
        ]
        ttft1, gaps, count, answer = self.ask(first, tokens)
        second = first + [{"role": "assistant", "content": answer}, {"role": "user", "content": QUESTION_2}]
        ttft2, _, _, _ = self.ask(second, tokens)
        return ttft1, ttft2, gaps, count

    def close(self) -> None:
        self.model.close()


# --- the run -------------------------------------------------------------------------------


def _measure(engines, image, warm, settings) -> list[Turns]:
    """Interleaved repetitions, so a busy machine slows both sides alike."""
    results = [Turns([], [], [], []) for _ in engines]
    for engine in engines:
        engine.conversation(warm, 4)  # allocations, first-call setup
    for _ in range(settings["reps"]):
        for engine, turns in zip(engines, results):
            ttft1, ttft2, gaps, count = engine.conversation(image, settings["tokens"])
            turns.first.append(ttft1)
            turns.second.append(ttft2)
            turns.gaps.extend(gaps)
            turns.tokens.append(count)
    return results


def run(quick: bool = False) -> list[dict]:
    from mcv.selftest.run import sample_image
    from mcv.selftest.tinypair import write_pair

    settings = QUICK if quick else FULL
    image = sample_image(1200, 900, seed=1)
    warm = sample_image(640, 480, seed=9)
    with tempfile.TemporaryDirectory(prefix="mcv-bench-p5-") as work:
        llm, projector = write_pair(
            Path(work),
            "2.5",
            vision_width=settings["vision_width"],
            vision_blocks=settings["vision_blocks"],
            vision_heads=4,
            **settings["llm"],
        )
        ours, stock = Ours(llm, projector), Stock(llm, projector)
        try:
            mine, theirs = _measure([ours, stock], image, warm, settings)
        finally:
            ours.close()
            stock.close()
    return _rows(mine, theirs, settings)


def _rows(mine: Turns, theirs: Turns, settings) -> list[dict]:
    med = statistics.median
    llm = settings["llm"]
    pair = (
        f"2.5 pair: vision {settings['vision_width']}w x {settings['vision_blocks']} blocks, "
        f"LLM {llm['n_embd']}w x {llm['n_layers']} layers; 1200x900 image (7 slices); {THREADS} threads"
    )
    p5 = mine.ratio()
    p6 = mine.speed() / theirs.speed()
    return [
        {
            "id": "P5",
            "what": "2nd-question TTFT / 1st-question TTFT, same image",
            "ours": p5,
            "peer": theirs.ratio(),
            "unit": "x",
            "ratio": p5,
            "target": "<= 0.2x",
            "ok": p5 <= 0.2,
            "note": (
                f"ours {med(mine.first):.2f}s -> {med(mine.second):.3f}s; "
                f"llama-cpp-python handler {med(theirs.first):.2f}s -> {med(theirs.second):.2f}s; {pair}"
            ),
        },
        {
            "id": "P6",
            "what": "generation speed after the first token",
            "ours": mine.speed(),
            "peer": theirs.speed(),
            "unit": "tok/s",
            "ratio": p6,
            "target": ">= 0.95x",
            "ok": p6 >= 0.95,
            "note": (
                f"greedy, {med(mine.tokens):.0f}/{med(theirs.tokens):.0f} tokens per answer, median token gap; "
                f"peer = create_chat_completion(stream=True); {pair}"
            ),
        },
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in os.sys.argv), indent=2))
