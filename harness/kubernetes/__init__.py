"""Kubernetes manifests for the suite, generated from the topology as docker-compose.yml is.

The output is a kustomize tree (`deploy/kubernetes`, written by `faultline kubernetes`):

- `base/`: per service a Deployment (probes on /ready and /health, requests and limits, no
  privileges), a Service and, for the entry point and each service that calls others, a
  HorizontalPodAutoscaler; one Toxiproxy Deployment holding a proxy per edge, its config in a
  ConfigMap built like toxiproxy.json; and per edge a Service `<from>-to-<to>` that selects the
  Toxiproxy pod on that edge's proxy port. A mesh rule or a Chaos Mesh selector can name one
  edge by that Service or by its `faultline/from` / `faultline/to` labels.
- `overlays/demo/`: the base plus PostgreSQL and RabbitMQ StatefulSets and demo Secrets, a
  self-contained namespace (`kubectl apply -k deploy/kubernetes/overlays/demo`).
- `overlays/external/`: the base against servers outside the cluster, reached through
  ExternalName Services; its Secrets come from `faultline kubernetes --secrets`.

Database and broker URLs carry credentials, and the gateway's signing key is a secret, so
Deployments read them from Secrets `<service>-secrets`; everything else is plain environment.
"""

from harness.kubernetes.objects import NAMESPACE, dns_name, edge_service, selector
from harness.kubernetes.servers import secret_documents, secrets_from_environment
from harness.kubernetes.suite import TOXIPROXY, toxiproxy_config
from harness.kubernetes.tree import OUTPUT_DIR, documents, dump, render, stale, write

__all__ = [
    "NAMESPACE",
    "OUTPUT_DIR",
    "TOXIPROXY",
    "dns_name",
    "documents",
    "dump",
    "edge_service",
    "render",
    "secret_documents",
    "secrets_from_environment",
    "selector",
    "stale",
    "toxiproxy_config",
    "write",
]
