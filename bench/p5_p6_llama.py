"""P5/P6: the in-process backend against stock llama-cpp-python, measured in the same run.

P5  time to first token of a second question about the same image, relative to
    the first question. Ours keeps the evaluated prefix (image chunks included)
    in the KV cache; llama-cpp-python's vision handlers reset the cache on every
    call and encode the image again. Target: ours turn2/turn1 <= 0.2x.
P5c the same through `mcv chat`'s core (the session and its conversation, routed
    to the fallback engine on the pair): turn 2 against turn 1 of one chat.
P5o through Ollama (the tests' strict stand-in): a chat's later requests carry
    each earlier image's bytes unchanged (what Ollama's prompt cache needs).
P6  decode-loop overhead: tokens/s after the first token of our sampling loop
    (llama.cpp sampler chain, streaming, stop handling) against
    llama-cpp-python's stock create_chat_completion(stream=True) on the same
    pair, prompt, grammar, greedy sampling and thread count. Both call the
    same llama.cpp decode, so the ratio is what each Python loop adds per
    token. It says nothing about answer quality (the weights are random).
    Target: >= 0.95x.

The pair is a random-weight MiniCPM-Llama3-V 2.5 pair from tinypair. The
full run uses the largest LLM that runs in reasonable time here: 2048 wide,
16 layers, FFN 5632 (TinyLlama-1.1B's width and FFN, 0.8 B parameters,
1.6 GB f16, ~70 ms a token on 2 cores), so P6 weighs loop overhead against
a real per-token cost rather than against a toy model's ~1 ms, where
scheduler noise on a shared machine swings the ratio by tens of percent.
tinypair's vocabulary has only ~270 tokens, so per-vocabulary work (grammar
masks, logits copies over a 128k vocabulary) is under-represented on both
sides. Turn 1 is the vision tower's encoding of the 1200x900 image (3x2
slices plus the overview) plus the LLM's prefill of its ~700 image tokens,
as with the real model.

Each engine answers the same conversations, interleaved (ours, stock, ours,
...), so a busy machine slows both alike; medians are taken per answer
first, so one disturbed answer does not move the result. The pair is written
to /dev/shm when it has room: with the GGUF in a disk's page cache, whichever
engine mapped it first decoded ~4% slower here (swapping the load order
swapped the sides), and P6 would measure load order instead of the loop.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Full: the largest LLM whose run stays at a few minutes here (~3.5; see the docstring).
# Quick: a small pair, a smoke run whose P6 ratio mostly shows loop overhead.
FULL = {
    "vision_width": 192,
    "vision_blocks": 6,
    "reps": 3,
    "tokens": 80,
    "llm": {"n_embd": 2048, "n_layers": 16, "n_head": 16, "n_ff": 5632},
}
QUICK = {
    "vision_width": 128,
    "vision_blocks": 2,
    "reps": 2,
    "tokens": 80,
    "llm": {"n_embd": 512, "n_layers": 4, "n_head": 4, "n_ff": 2048},
}
THREADS = int(os.environ.get("MCV_BENCH_THREADS") or os.cpu_count() or 2)
N_CTX = 4096
# Random weights mostly sample byte tokens that are not valid UTF-8, which
# llama-cpp-python holds back (no chunk per token). Both sides therefore answer
# under the same grammar: a JSON string of exactly ANSWER_LETTERS letters.
ANSWER_LETTERS = 64
ANSWER_SCHEMA = {"type": "string", "pattern": f"^[a-z]{{{ANSWER_LETTERS}}}$"}
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
    gaps: list[float]  # median seconds between consecutive tokens, one per answer
    tokens: list[int]  # tokens generated per answer

    def ratio(self) -> float:
        return statistics.median(self.second) / statistics.median(self.first)

    def speed(self) -> float:
        """Tokens/s from the median of per-answer median gaps: robust to the
        scheduler pausing a token, or another process slowing a whole answer."""
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
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - started, gaps, len(stamps), kept


# --- ours ------------------------------------------------------------------------------


class Ours:
    def __init__(self, llm: Path, projector: Path) -> None:
        from mcv.core.backends.llama.backend import LlamaBackend
        from mcv.modelfile import generations

        self.backend = LlamaBackend(llm, projector, generations.get("2.5"), n_ctx=N_CTX, n_threads=THREADS)
        self.backend.load()

    def ask(self, messages, tokens: int):
        from mcv.core.backends.base import ChatRequest, Parameters

        options = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": tokens}
        started = time.perf_counter()
        parameters = Parameters(model="bench", options=options, format=ANSWER_SCHEMA)
        request = ChatRequest(messages=messages, parameters=parameters)
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


# --- P5 through `mcv chat`'s core: the session and its conversation ----------------------------


class Chat:
    """Two turns of a chat the way `mcv chat` asks them: the core session routed to the
    fallback (the in-process engine, `--backend llama` on a GGUF path), one conversation;
    the image attached first (prepared), then each question timed to its first text."""

    def __init__(self, llm: Path, config_dir: str) -> None:
        from mcv.core.session import Session
        from mcv.core.settings import Settings

        environ = {k: v for k, v in os.environ.items() if not k.startswith(("MCV_", "OLLAMA_"))}
        environ["MCV_CONFIG"] = os.path.join(config_dir, "config.toml")
        flags = {"model": str(llm), "backend": "llama", "llama.n_ctx": N_CTX, "llama.n_threads": THREADS}
        self.session = Session(Settings.load(environ, flags=flags))
        options = {"temperature": 0, "repeat_penalty": 1.0}
        self.session.parameters = self.session.parameters.merged(options=options, format=ANSWER_SCHEMA)

    def conversation(self, image, tokens: int) -> tuple[float, float]:
        from mcv.core.events import TextChunk

        self.session.parameters = self.session.parameters.merged(options={"num_predict": tokens})
        chat = self.session.conversation()

        def ttft(question: str, images=()) -> float:
            started = time.perf_counter()
            first = None
            for event in chat.send(question, images):  # a prepared image: attached, as /image leaves it
                if isinstance(event, TextChunk) and first is None:
                    first = time.perf_counter() - started
            return first if first is not None else float("nan")

        return ttft(QUESTION_1, [image]), ttft(QUESTION_2)

    def close(self) -> None:
        self.session.close()


def _measure_chat(llm: Path, settings, work: str) -> tuple[list[float], list[float]]:
    """Each repetition a new picture, so turn 1 always encodes an image the engine has not seen."""
    from mcv.selftest.run import sample_image

    chat = Chat(llm, work)
    firsts, seconds = [], []
    try:
        chat.conversation(sample_image(640, 480, seed=9), 4)  # load, first-call setup
        for rep in range(settings["reps"]):
            first, second = chat.conversation(sample_image(1200, 900, seed=100 + rep), settings["tokens"])
            firsts.append(first)
            seconds.append(second)
    finally:
        chat.close()
    return firsts, seconds


def _chat_row(firsts: list[float], seconds: list[float], peer: float, settings) -> dict:
    med = statistics.median
    ratio = med(seconds) / med(firsts)
    return {
        "id": "P5c",
        "what": "chat: 2nd-turn TTFT / 1st-turn TTFT through the fallback",
        "ours": ratio,
        "peer": peer,
        "unit": "x",
        "ratio": ratio,
        "target": "<= 0.2x",
        "ok": ratio <= 0.2,
        "note": (
            f"the core session + conversation as `mcv chat` uses them (--backend llama on the pair); "
            f"{med(firsts):.2f}s -> {med(seconds):.3f}s; peer = the stock handler's turn2/turn1 above; "
            f"{_pair_note(settings)}"
        ),
    }


def ollama_image_bytes(turns: int = 4) -> dict:
    """Through Ollama (the tests' strict stand-in): a chat about two images, the second
    attached after turn 1; every later request must carry each earlier image's bytes unchanged."""
    import sys

    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.selftest.run import sample_image

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.ollama_standin import OllamaStandin

    standin = OllamaStandin()
    try:
        standin.add_model("minicpm-v", answer="An answer.")
        with tempfile.TemporaryDirectory(prefix="mcv-bench-p5o-") as work:
            environ = {k: v for k, v in os.environ.items() if not k.startswith(("MCV_", "OLLAMA_"))}
            environ.update(MCV_CONFIG=os.path.join(work, "config.toml"), OLLAMA_HOST=standin.url)
            with Session(Settings.load(environ, flags={"backend": "ollama"})) as session:
                chat = session.conversation()
                chat.send("what is this?", [sample_image(1200, 900, seed=1)]).result()
                chat.send("and this?", [sample_image(800, 600, seed=2)]).result()
                for turn in range(turns - 2):
                    chat.send(f"question {turn + 3}").result()
        bodies = [request.json for request in standin.requests_to("/api/chat")]
    finally:
        standin.close()
    seen: dict[int, str] = {}  # image position in the conversation -> its base64
    checked = same = 0
    for body in bodies:
        images = [image for message in body["messages"] for image in message.get("images") or []]
        for position, data in enumerate(images):
            if position in seen:
                checked += 1
                same += data == seen[position]
            seen[position] = data
    share = same / checked if checked else 0.0
    return {
        "id": "P5o",
        "what": "chat through Ollama: earlier images' request bytes unchanged turn to turn",
        "ours": share,
        "peer": "",
        "unit": "share",
        "ratio": share,
        "target": "= 1",
        "ok": checked > 0 and same == checked,
        "note": f"{same}/{checked} earlier-image payloads byte-identical over {len(bodies)} /api/chat requests "
        f"(2 images, {turns} turns; the tests' strict stand-in, which records every request)",
    }


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
            turns.gaps.append(statistics.median(gaps))
            turns.tokens.append(count)
    return results


def _ram_dir(needed: int) -> str | None:
    """/dev/shm when it has `needed` bytes free, else None (the default temp dir)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and shutil.disk_usage(shm).free > needed else None


def run(quick: bool = False) -> list[dict]:
    from mcv.selftest.run import sample_image
    from mcv.selftest.tinypair import write_pair

    settings = QUICK if quick else FULL
    image = sample_image(1200, 900, seed=1)
    warm = sample_image(640, 480, seed=9)
    with tempfile.TemporaryDirectory(prefix="mcv-bench-p5-", dir=_ram_dir(4_000_000_000)) as work:
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
        firsts, seconds = _measure_chat(llm, settings, work)
    rows = _rows(mine, theirs, settings)
    return [*rows, _chat_row(firsts, seconds, theirs.ratio(), settings), ollama_image_bytes()]


def _pair_note(settings) -> str:
    llm = settings["llm"]
    return (
        f"2.5 pair: vision {settings['vision_width']}w x {settings['vision_blocks']} blocks, "
        f"LLM {llm['n_embd']}w x {llm['n_layers']} layers x FFN {llm['n_ff']}; 1200x900 image (7 slices); "
        f"{THREADS} threads; {settings['reps']} interleaved reps"
    )


def _rows(mine: Turns, theirs: Turns, settings) -> list[dict]:
    return [_p5_row(mine, theirs, _pair_note(settings)), _p6_row(mine, theirs, _pair_note(settings))]


def _p5_row(mine: Turns, theirs: Turns, pair: str) -> dict:
    med = statistics.median
    p5 = mine.ratio()
    return {
        "id": "P5",
        "what": "2nd-question TTFT / 1st-question TTFT, same image",
        "ours": p5,
        "peer": theirs.ratio(),
        "unit": "x",
        "ratio": p5,
        "target": "<= 0.2x",
        "ok": p5 <= 0.2,
        "note": (
            f"peer = the stock llama-cpp-python handler's own turn2/turn1; "
            f"ours {med(mine.first):.2f}s -> {med(mine.second):.3f}s; "
            f"stock {med(theirs.first):.2f}s -> {med(theirs.second):.2f}s; {pair}"
        ),
    }


def _p6_row(mine: Turns, theirs: Turns, pair: str) -> dict:
    med = statistics.median
    p6 = mine.speed() / theirs.speed()
    return {
        "id": "P6",
        "what": "decode-loop speed after the first token",
        "ours": mine.speed(),
        "peer": theirs.speed(),
        "unit": "tok/s",
        "ratio": p6,
        "target": ">= 0.95x",
        "ok": p6 >= 0.95,
        "note": (
            "decode-loop overhead of mcv's sampling loop vs llama-cpp-python's stock "
            "create_chat_completion(stream=True) on the same llama.cpp decode, not model quality "
            f"(random weights); greedy under the same grammar, {med(mine.tokens):.0f}/{med(theirs.tokens):.0f} "
            f"tokens per answer, median of per-answer median token gaps; {pair}"
        ),
    }


if __name__ == "__main__":
    import sys

    from bench.run import print_table

    print_table(run(quick="--quick" in sys.argv))
