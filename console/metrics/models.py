"""Stats history: one row per running container every SAMPLE_INTERVAL seconds, kept for HISTORY seconds.

Written by the periodic task `console.metrics.tasks.sample_containers` and read by
the container page (through the API) before it appends live points. Rows keep
the cumulative counters as well as the computed point, so the next sample can
compute CPU % and rates over the 10 s between the two.
"""

from __future__ import annotations

from django.db import models

from console.endpoints.models import Endpoint

SAMPLE_INTERVAL = 10  # seconds between samples
HISTORY = 3600  # seconds of history kept per container


class StatsSample(models.Model):
    """One container's stats at `taken_at`: cumulative counters plus the point computed from them."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="stats_samples")
    container_id = models.CharField(max_length=64)
    taken_at = models.DateTimeField()
    # Counters as the engine reported them (for the next sample's deltas).
    cpu_total = models.BigIntegerField(default=0)
    system_total = models.BigIntegerField(default=0)
    net_rx_total = models.BigIntegerField(default=0)
    net_tx_total = models.BigIntegerField(default=0)
    blk_read_total = models.BigIntegerField(default=0)
    blk_write_total = models.BigIntegerField(default=0)
    # The point: CPU %, memory bytes, rates in bytes per second (null: not known yet).
    cpu = models.FloatField(null=True)
    mem = models.BigIntegerField(default=0)
    mem_limit = models.BigIntegerField(default=0)
    net_rx = models.FloatField(null=True)
    net_tx = models.FloatField(null=True)
    blk_read = models.FloatField(null=True)
    blk_write = models.FloatField(null=True)
    pids = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["endpoint", "container_id", "taken_at"], name="metrics_sample_lookup")]
        ordering = ("taken_at",)

    def __str__(self) -> str:
        return f"{self.container_id[:12]} @ {self.taken_at:%H:%M:%S}"

    def as_point(self) -> dict:
        """The same shape as a live stats message (see console.metrics.stats.Point)."""
        return {
            "t": round(self.taken_at.timestamp(), 3), "cpu": self.cpu, "mem": self.mem, "mem_limit": self.mem_limit,
            "mem_pct": round(self.mem / self.mem_limit * 100.0, 2) if self.mem_limit else None,
            "net_rx": self.net_rx, "net_tx": self.net_tx, "blk_read": self.blk_read, "blk_write": self.blk_write,
            "pids": self.pids,
        }
