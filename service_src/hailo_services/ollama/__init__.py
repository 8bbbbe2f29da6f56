"""hailo-ollama: an Ollama- and OpenAI-compatible LLM service on the Hailo-10H or the CPU."""
