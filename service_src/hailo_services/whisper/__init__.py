"""hailo-whisper: speech to text with Whisper (genai.Speech2Text on the Hailo-10H, faster-whisper on CPU),
with OpenAI's audio API and a Wyoming ASR server for Home Assistant."""
