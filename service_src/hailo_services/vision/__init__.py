"""hailo-vision: a vision-language model (Qwen2-VL-2B) behind the Ollama and OpenAI chat APIs."""
