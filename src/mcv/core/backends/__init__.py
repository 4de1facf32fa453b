"""Backends behind one small protocol (base.py): Ollama, llama.cpp, later OpenAI-compatible."""
