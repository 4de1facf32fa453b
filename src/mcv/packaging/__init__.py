"""Getting weights and creating Ollama models from GGUF pairs."""
