"""Prometheus metrics (``hailo_`` prefix), one registry per app so several apps can live in a process.

:class:`ServiceMetrics` holds what every service has (requests, latency, queue, inference time, model
loads). A service with metrics of its own subclasses it (hailo-ollama's token counters live in
``ollama/metrics.py``) and passes the subclass to the app factory.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class ServiceMetrics:
    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Info("hailo_service", "Service build and engine", registry=r)
        self.requests = Counter(
            "hailo_requests", "HTTP requests", ["service", "endpoint", "method", "code"], registry=r
        )
        self.request_seconds = Histogram(
            "hailo_request_duration_seconds",
            "HTTP request latency",
            ["service", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("hailo_queue_depth", "Requests waiting for a model", ["service", "model"], registry=r)
        self.queue_active = Gauge(
            "hailo_queue_active",
            "Requests running on a model (up to its parallel slots)",
            ["service", "model"],
            registry=r,
        )
        self.queue_rejected = Counter(
            "hailo_queue_rejected",
            "Requests refused because the queue was full or timed out",
            ["service", "model", "reason"],
            registry=r,
        )
        self.inference_seconds = Histogram(
            "hailo_inference_duration_seconds",
            "Engine time per request",
            ["service", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.models_loaded = Gauge("hailo_models_loaded", "Models in memory", ["service"], registry=r)
        self.model_load_seconds = Histogram(
            "hailo_model_load_duration_seconds",
            "Model load time",
            ["service", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
