"""cancerllm."""
