"""hailo-piper: text to speech with Piper (CPU; Piper has no NPU model), with OpenAI's speech API and a
Wyoming TTS server for Home Assistant."""
