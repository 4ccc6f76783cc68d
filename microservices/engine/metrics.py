"""Prometheus metrics of one engine, in a registry of its own (so several
engines in one test process don't collide)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20)


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        r = self.registry = registry or CollectorRegistry()
        self.queue_depth = Gauge("writeup_queue_depth", "Requests waiting to be prefilled", registry=r)
        self.active = Gauge("writeup_active_sequences", "Sequences being prefilled or decoded", ["route"], registry=r)
        self.batch_size = Gauge("writeup_batch_size", "Sequences in the last decode step", registry=r)
        self.requests = Counter("writeup_requests", "Finished requests by outcome", ["route", "outcome"], registry=r)
        self.generated = Counter("writeup_generated_tokens", "Tokens sampled", ["route"], registry=r)
        self.prompt_tokens = Counter("writeup_prompt_tokens", "Prompt tokens admitted", ["route"], registry=r)
        self.cached_tokens = Counter("writeup_prefix_reused_tokens", "Prompt tokens served from the prefix cache", ["route"], registry=r)
        self.prefix_lookups = Counter("writeup_prefix_cache_lookups", "Prefix cache lookups", registry=r)
        self.prefix_hits = Counter("writeup_prefix_cache_hits", "Lookups that reused at least one token", registry=r)
        self.prefix_bytes = Gauge("writeup_prefix_cache_bytes", "Bytes held by the prefix cache", registry=r)
        self.over_quota = Counter("writeup_over_quota", "Requests refused: their writer had too many waiting", registry=r)
        self.prewarms = Counter("writeup_prewarms", "Prewarms by outcome", ["outcome"], registry=r)
        self.ttft = Histogram("writeup_time_to_first_token_seconds", "Submit to first token", buckets=LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("writeup_inter_token_latency_seconds", "Gap between a sequence's tokens", buckets=LATENCY_BUCKETS, registry=r)
        self.compiled = Counter("writeup_compiled_decode_steps", "Decode-only steps offered to the compiled graph, "
                                "by outcome (ran: compiled; eager: would have needed a new graph)", ["outcome"], registry=r)
        self.step = Histogram("writeup_decode_step_seconds", "One batched decode step", buckets=LATENCY_BUCKETS, registry=r)
