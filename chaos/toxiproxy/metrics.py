"""`/metrics`: Prometheus text, read from the proxies' own counters when scraped.

Counting in plain integers on the data path and turning them into metric families only on a
scrape keeps the spliced fast path free of metric-library calls.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chaos.toxiproxy.proxy import ProxyCollection


class ProxyCollector(Collector):
    def __init__(self, proxies: ProxyCollection) -> None:
        self.proxies = proxies

    def collect(self) -> Iterator[Metric]:
        opened = CounterMetricFamily(
            "toxiproxy_proxy_connections", "Client connections opened", labels=["proxy"]
        )
        active = GaugeMetricFamily(
            "toxiproxy_proxy_connections_active", "Client connections open now", labels=["proxy"]
        )
        received = CounterMetricFamily(
            "toxiproxy_proxy_received_bytes",
            "Bytes read from the sending side (upstream: from clients)",
            labels=["direction", "proxy"],
        )
        sent = CounterMetricFamily(
            "toxiproxy_proxy_sent_bytes",
            "Bytes written to the receiving side (upstream: to the server)",
            labels=["direction", "proxy"],
        )
        activations = CounterMetricFamily(
            "toxiproxy_toxic_activations",
            "Toxics that took effect: per connection and direction, or per HTTP request",
            labels=["proxy", "toxic", "type"],
        )
        for proxy in self.proxies.sorted():
            stats = proxy.stats
            opened.add_metric([proxy.name], stats.connections)
            active.add_metric([proxy.name], len(proxy.connections))
            for stream in ("upstream", "downstream"):
                live = [c.direction(stream) for c in proxy.connections]
                received.add_metric(
                    [stream, proxy.name], stats.received[stream] + sum(d.received for d in live)
                )
                sent.add_metric(
                    [stream, proxy.name], stats.sent[stream] + sum(d.sent for d in live)
                )
            for (toxic, type_), count in sorted(stats.activations.items()):
                activations.add_metric([proxy.name, toxic, type_], count)
        yield from (opened, active, received, sent, activations)


def registry_for(proxies: ProxyCollection) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(proxies))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
