"""hailo-detect: COCO object detection (YOLOv8 on the Hailo-10H, YOLOv8 ONNX or SSD-MobileNet-v2 on CPU)."""
