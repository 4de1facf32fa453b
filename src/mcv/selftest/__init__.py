"""mcv checking itself: the doctor's checks, the offline self-test, and the
tiny random-weight MiniCPM-V pairs behind it (tests and benches use them too).

tinypair*.py  GGUF pairs in the exact shape of each generation, a few MB each
run.py        `python -m mcv.selftest.run`: a tiny pair answers one image in llama.cpp
checks.py     what `mcv doctor` reports: Ollama, llama-cpp-python, local pairs, self-test
"""
