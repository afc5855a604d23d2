"""Prometheus figures of the core: commands handled by name and outcome, and how long they took."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "odpe_bot_commands",
            "Commands handled, by command and outcome.",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "odpe_bot_command_duration_seconds",
            "Time to handle a command, from receipt to reply.",
            ["command"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.messages = Counter(
            "odpe_bot_messages", "Messages received, by platform.", ["platform"], registry=self.registry
        )
        self.up = Gauge("odpe_bot_up", "1 while the bot runs.", registry=self.registry)
        self.up.set(1)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
