"""Toxic types, one module each; importing the package registers them all (see base.py)."""

from __future__ import annotations

import importlib
import pkgutil

from chaos.toxiproxy.toxics.base import (
    DIRECTIONS,
    DOWNSTREAM,
    REGISTRY,
    UPSTREAM,
    Toxic,
    ToxicKind,
    register,
)

# Like Go's package `init` functions: every module of this package registers its own type,
# so a new toxic is one new file.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

EXTENSION_TYPES = frozenset(name for name, kind in REGISTRY.items() if kind.extension)

__all__ = [
    "DIRECTIONS",
    "DOWNSTREAM",
    "EXTENSION_TYPES",
    "REGISTRY",
    "UPSTREAM",
    "Toxic",
    "ToxicKind",
    "register",
]
