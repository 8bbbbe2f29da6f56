"""hailo-depth: monocular depth estimation (scdepthv3, fast_depth from the Hailo model zoo)."""
