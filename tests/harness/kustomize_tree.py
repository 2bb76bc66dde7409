"""Reading the generated kustomize tree as a cluster would receive it, for the tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

# The only kustomization fields the generator writes. With no patches, generators or label
# transformers, `kustomize build` is the union of the resources with `namespace` set on each
# namespaced object; a test compares this reading with `kubectl kustomize` where kubectl exists.
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources"}
CLUSTER_SCOPED = {"Namespace"}

Doc = dict[str, Any]


def build(directory: Path) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: fields this reading does not apply: {unknown}"
    docs: list[Doc] = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            docs += build(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    docs = copy.deepcopy(docs)
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    return docs


class Cluster:
    """The objects of one overlay, looked up the way the API server would resolve references."""

    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs
        self.by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        assert len(self.by_key) == len(docs), "two objects share a kind and name"

    def get(self, kind: str, name: str) -> Doc:
        return self.by_key[(kind, name)]

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self.by_key

    def of_kind(self, *kinds: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] in kinds]

    def workloads(self) -> list[Doc]:
        return self.of_kind("Deployment", "StatefulSet")

    def selected(self, selector: dict[str, str]) -> list[Doc]:
        """Workloads whose pods carry every label of `selector`."""
        return [
            w
            for w in self.workloads()
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]

    def env(self, workload: Doc) -> dict[str, str]:
        """The first container's environment with Secret references resolved (missing: None)."""
        out: dict[str, Any] = {}
        for var in container(workload).get("env", []):
            if "value" in var:
                out[var["name"]] = var["value"]
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                secret = self.by_key.get(("Secret", ref["name"]))
                out[var["name"]] = (secret or {}).get("stringData", {}).get(ref["key"])
        return out

    def secret_refs(self) -> set[tuple[str, str]]:
        """(Secret, key) pairs the workloads read; (name, "*") for a whole envFrom Secret."""
        refs = set()
        for w in self.workloads():
            for c in w["spec"]["template"]["spec"]["containers"]:
                for var in c.get("env", []):
                    if "valueFrom" in var:
                        ref = var["valueFrom"]["secretKeyRef"]
                        refs.add((ref["name"], ref["key"]))
                for source in c.get("envFrom", []):
                    refs.add((source["secretRef"]["name"], "*"))
        return refs

    def provided(self, ref: tuple[str, str]) -> bool:
        name, key = ref
        secret = self.by_key.get(("Secret", name))
        return secret is not None and (key == "*" or key in secret.get("stringData", {}))


def container(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]["containers"][0]


def container_ports(workload: Doc) -> dict[str | int, int]:
    """Port name and number → number, for every container port of the workload's pods."""
    ports: dict[str | int, int] = {}
    for c in workload["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports", []):
            ports[p["containerPort"]] = p["containerPort"]
            if "name" in p:
                ports[p["name"]] = p["containerPort"]
    return ports


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port
