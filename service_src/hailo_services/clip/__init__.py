"""hailo-clip: CLIP ViT-B/32 embeddings (OpenAI /v1/embeddings for texts and images), zero-shot
classification and search (the Hailo-10H encoders, or the same network as ONNX on CPU)."""
