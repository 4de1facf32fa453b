"""GGUF facts -> MiniCPM-V generation -> Ollama Modelfile."""
