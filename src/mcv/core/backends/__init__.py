"""Engines behind one small protocol (base.py), chosen by name from the registry (registry.py):
the Ollama daemon (ollama.py) and llama.cpp in process (llama/); later OpenAI-compatible servers."""
