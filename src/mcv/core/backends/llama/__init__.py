"""The in-process engine: MiniCPM-V through llama-cpp-python's mtmd, with prefix reuse.

backend.py   LlamaBackend (the Backend protocol; loads on first use)
native.py    the only ctypes code: mtmd tokenise/evaluate, sampling calls, log routing
prompt.py    chat prompts rendered from a generation record (no BOS; images as parts)
kv_cache.py  what the KV cache holds, so a new turn evaluates only what is new
sampling.py  Ollama options -> a llama.cpp sampler chain; JSON schema -> grammar
grammar.py   JSON schema -> GBNF fixes over llama-cpp-python's converter
output.py    the answer stream: stop strings held back, <think> split off

Nothing here is imported until the backend answers its first request.
"""
