"""hailo-ollama's own metrics: tokens, time to first token, decode speed."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..core.metrics import LATENCY_BUCKETS, ServiceMetrics


class LLMMetrics(ServiceMetrics):
    def __init__(self, service: str):
        super().__init__(service)
        r = self.registry
        self.time_to_first_token = Histogram(
            "hailo_time_to_first_token_seconds",
            "Time from engine start to first token",
            ["service", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("hailo_tokens", "Tokens processed", ["service", "model", "kind"], registry=r)
        self.tokens_per_second = Gauge(
            "hailo_tokens_per_second", "Decode speed of the last generation", ["service", "model"], registry=r
        )
