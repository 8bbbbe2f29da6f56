"""hailo-ocr: text reading with PaddleOCR (DB detection + CTC recognition) on the Hailo-10H or as ONNX on CPU."""
