"""Where in a YAML file a validation error points.

pydantic reports a problem's place in the data (`("timeline", 0, "fault", "edges")`); the YAML
parser's node tree knows the line of every key and item. Joining the two gives the
`FILE:LINE` that the topology and scenario loaders print.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

Loc = tuple[str | int, ...]


def line_of(
    node: yaml.Node | None, loc: Loc, aliases: Mapping[str, str] | None = None
) -> int | None:
    """The 1-based line of the deepest key or item along `loc` that the file has (for a missing
    field, its parent's); None without a document. `aliases` maps a model's field name to the
    file's key (`for_` to `for`)."""
    if node is None:
        return None
    aliases = aliases or {}
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            key_name = aliases.get(part, part) if isinstance(part, str) else part
            for key, value in node.value:
                if key.value == key_name:
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def dotted(loc: Loc, aliases: Mapping[str, str] | None = None) -> str:
    """`timeline[0].fault.edges`: a location as a person reads it."""
    aliases = aliases or {}
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + aliases.get(part, part)
    return text
