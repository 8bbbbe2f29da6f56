"""hailo-pose: human pose estimation, 17 COCO keypoints (YOLOv8-pose on the Hailo-10H or as ONNX on CPU)."""
