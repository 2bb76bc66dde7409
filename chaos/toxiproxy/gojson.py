"""JSON read and written the way Toxiproxy's Go server does (`encoding/json`).

Reading follows `json.Decoder.Decode`: only the first value of a body counts (what follows is
never read), a blank body is `EOF`, a cut-off one `unexpected EOF`, and syntax errors are worded
like Go's scanner. `Struct` then decodes a value the way Go fills a struct: keys match fields
case-insensitively, unknown keys are ignored, `null` leaves a field as it was, and a value of
the wrong type is refused with Go's own sentence ("json: cannot unmarshal string into Go struct
field LatencyToxic.attributes.latency of type int64").

Writing follows `json.Marshal`: compact, `<`, `>` and `&` escaped, float32 fields (toxicity)
in Go's shortest form (`1`, not `1.0`).
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_DEPTH = 10000
INT64 = (-(2**63), 2**63 - 1)


class DecodeError(Exception):
    """A body Go's decoder refuses; the message is Go's."""


class GoNumber(str):
    """A JSON number as written, so type errors can quote it as Go does."""


class GoObject(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in order, duplicates kept (Go assigns each in turn)."""


class Float32(float):
    """A value Go holds as float32: written in float32's shortest form."""


# ---- reading: the scanner -----------------------------------------------------------------
_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_KEY, _VALUE, _ELEMENT = range(3)
_GO_ON, _ENDED_BEFORE, _ENDED_WITH = range(3)  # what one byte did to the value being read


def _quote_char(c: int) -> str:
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    ch = chr(c)
    if ch.isprintable():
        return f"'{ch}'"
    named = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
    if c in named:
        return f"'{named[c]}'"
    return f"'\\x{c:02x}'" if c < 0x80 else f"'\\u{c:04x}'"


class _Scanner:
    """Go's `encoding/json` scanner, one byte at a time: each step says whether the value ended."""

    def __init__(self) -> None:
        self.stack: list[int] = []
        self.state: Callable[[int], int] = self._begin_value

    def fail(self, c: int, context: str) -> int:
        raise DecodeError(f"invalid character {_quote_char(c)} {context}")

    def step(self, c: int) -> int:
        return self.state(c)

    def _push(self, c: int, kind: int) -> None:
        self.stack.append(kind)
        if len(self.stack) > MAX_DEPTH:
            self.fail(c, "exceeded max depth")

    def _pop(self) -> int:
        self.stack.pop()
        self.state = self._end_value
        return _GO_ON if self.stack else _ENDED_WITH

    def _begin_value(self, c: int) -> int:
        if c in _SPACE:
            return _GO_ON
        if c == ord("{"):
            self._push(c, _KEY)
            self.state = self._begin_key_or_empty
        elif c == ord("["):
            self._push(c, _ELEMENT)
            self.state = self._begin_value_or_empty
        elif c == ord('"'):
            self.state = self._in_string
        elif c == ord("-"):
            self.state = self._neg
        elif c == ord("0"):
            self.state = self._zero
        elif c in _DIGITS:
            self.state = self._int
        elif c in b"tfn":
            word = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c]
            self.state = self._literal(word, 1)
        else:
            self.fail(c, "looking for beginning of value")
        return _GO_ON

    def _begin_value_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return _GO_ON
        if c == ord("]"):
            return self._pop()
        return self._begin_value(c)

    def _begin_key_or_empty(self, c: int) -> int:
        if c in _SPACE:
            return _GO_ON
        if c == ord("}"):
            return self._pop()
        return self._begin_key(c)

    def _begin_key(self, c: int) -> int:
        if c in _SPACE:
            return _GO_ON
        if c != ord('"'):
            self.fail(c, "looking for beginning of object key string")
        self.state = self._in_string
        return _GO_ON

    def _end_value(self, c: int) -> int:
        if not self.stack:
            return _ENDED_BEFORE  # a top-level scalar ended; Go never reads what follows
        if c in _SPACE:
            self.state = self._end_value
            return _GO_ON
        top = self.stack[-1]
        if top == _KEY:
            if c != ord(":"):
                self.fail(c, "after object key")
            self.stack[-1] = _VALUE
            self.state = self._begin_value
        elif top == _VALUE:
            if c == ord(","):
                self.stack[-1] = _KEY
                self.state = self._begin_key
            elif c == ord("}"):
                return self._pop()
            else:
                self.fail(c, "after object key:value pair")
        elif c == ord(","):
            self.state = self._begin_value
        elif c == ord("]"):
            return self._pop()
        else:
            self.fail(c, "after array element")
        return _GO_ON

    def _in_string(self, c: int) -> int:
        if c == ord('"'):
            self.state = self._end_value
        elif c == ord("\\"):
            self.state = self._in_escape
        elif c < 0x20:
            self.fail(c, "in string literal")
        return _GO_ON

    def _in_escape(self, c: int) -> int:
        if c in b'bfnrt\\/"':
            self.state = self._in_string
        elif c == ord("u"):
            self.state = self._hex(4)
        else:
            self.fail(c, "in string escape code")
        return _GO_ON

    def _hex(self, left: int) -> Callable[[int], int]:
        def state(c: int) -> int:
            if c not in _HEX:
                self.fail(c, "in \\u hexadecimal character escape")
            self.state = self._in_string if left == 1 else self._hex(left - 1)
            return _GO_ON

        return state

    def _neg(self, c: int) -> int:
        if c == ord("0"):
            self.state = self._zero
        elif c in _DIGITS:
            self.state = self._int
        else:
            self.fail(c, "in numeric literal")
        return _GO_ON

    def _int(self, c: int) -> int:
        if c in _DIGITS:
            return _GO_ON
        return self._zero(c)

    def _zero(self, c: int) -> int:
        if c == ord("."):
            self.state = self._dot
            return _GO_ON
        if c in b"eE":
            self.state = self._exp
            return _GO_ON
        return self._end_value(c)

    def _dot(self, c: int) -> int:
        if c not in _DIGITS:
            self.fail(c, "after decimal point in numeric literal")
        self.state = self._fraction
        return _GO_ON

    def _fraction(self, c: int) -> int:
        if c in _DIGITS:
            return _GO_ON
        if c in b"eE":
            self.state = self._exp
            return _GO_ON
        return self._end_value(c)

    def _exp(self, c: int) -> int:
        if c in b"+-":
            self.state = self._exp_sign
            return _GO_ON
        return self._exp_sign(c)

    def _exp_sign(self, c: int) -> int:
        if c not in _DIGITS:
            self.fail(c, "in exponent of numeric literal")
        self.state = self._exp_digits
        return _GO_ON

    def _exp_digits(self, c: int) -> int:
        if c in _DIGITS:
            return _GO_ON
        return self._end_value(c)

    def _literal(self, word: str, at: int) -> Callable[[int], int]:
        def state(c: int) -> int:
            if c != ord(word[at]):
                self.fail(c, f"in literal {word} (expecting {_quote_char(ord(word[at]))})")
            self.state = self._end_value if at == len(word) - 1 else self._literal(word, at + 1)
            return _GO_ON

        return state


def _first_value(raw: bytes) -> bytes:
    scanner = _Scanner()
    for i, c in enumerate(raw):
        ended = scanner.step(c)
        if ended == _ENDED_BEFORE:
            return raw[:i]
        if ended == _ENDED_WITH:
            return raw[: i + 1]
    try:
        if scanner.step(ord(" ")) == _ENDED_BEFORE:  # Go's decoder does the same at the end
            return raw
    except DecodeError:
        pass
    raise DecodeError("unexpected EOF" if raw.strip(b" \t\r\n") else "EOF")


def loads(raw: bytes) -> Any:
    """The first JSON value of a request body, as `json.Decoder.Decode` reads it."""
    value = _first_value(raw)
    try:
        return json.loads(
            value.decode("utf-8", "replace"),
            object_pairs_hook=GoObject,
            parse_int=GoNumber,
            parse_float=GoNumber,
        )
    except RecursionError:
        raise DecodeError("exceeded max depth") from None


# ---- reading: typed decoding ----------------------------------------------------------------
def describe(value: Any) -> str:
    """How Go's errors name a JSON value."""
    if isinstance(value, GoObject):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoNumber):
        return "number"
    return "string"


def type_error(found: str, go_type: str, struct_name: str | None, path: tuple[str, ...]) -> str:
    if struct_name is None and not path:
        return f"json: cannot unmarshal {found} into Go value of type {go_type}"
    where = f"{struct_name or ''}.{'.'.join(path)}"
    return f"json: cannot unmarshal {found} into Go struct field {where} of type {go_type}"


_INTEGER = re.compile(r"-?\d+")


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def scalar(go_type: str, value: Any, struct_name: str | None, path: tuple[str, ...]) -> Any:
    """A JSON scalar as a Go field of `go_type` (string, bool, int, int64, float32) holds it."""
    ok = False
    result: Any = value
    if go_type == "string":
        ok = isinstance(value, str) and not isinstance(value, GoNumber)
    elif go_type == "bool":
        ok = isinstance(value, bool)
    elif isinstance(value, GoNumber):
        found = f"number {value}"
        if go_type in ("int", "int64"):
            if _INTEGER.fullmatch(value) and INT64[0] <= int(value) <= INT64[1]:
                return int(value)
        else:
            try:
                result = Float32(_float32(float(value)))
                ok = not math.isinf(result)
            except OverflowError:
                ok = False
        if not ok:
            raise DecodeError(type_error(found, go_type, struct_name, path))
    if not ok:
        raise DecodeError(type_error(describe(value), go_type, struct_name, path))
    return result


@dataclass(frozen=True)
class Struct:
    """A Go struct as the decoder sees it: its name, its type's name and its JSON fields.

    A field's type is a Go scalar type ("string", "bool", "int", "int64", "float32") or another
    `Struct`.
    """

    name: str  # "" for an anonymous struct
    go_type: str
    fields: Mapping[str, str | Struct] = field(default_factory=dict)

    def _field(self, key: str) -> str | None:
        if key in self.fields:
            return key
        folded = key.casefold()
        return next((f for f in self.fields if f.casefold() == folded), None)

    def decode(self, value: Any, into: dict[str, Any], path: tuple[str, ...] = ()) -> None:
        """Assign `value`'s fields into `into` (a copy of the current values), or raise."""
        if value is None:
            return
        if not isinstance(value, GoObject):
            raise DecodeError(type_error(describe(value), self.go_type, None, path))
        self._members(value, into, path)

    def _members(self, obj: GoObject, into: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, item in obj:
            name = self._field(key)
            if name is None or item is None:
                continue
            kind = self.fields[name]
            where = (*path, name)
            if isinstance(kind, Struct):
                if not isinstance(item, GoObject):
                    raise DecodeError(type_error(describe(item), kind.go_type, self.name, where))
                nested = into.get(name)
                if not isinstance(nested, dict):
                    nested = into[name] = {}
                kind._members(item, nested, where)
            else:
                into[name] = scalar(kind, item, self.name, where)


def decode_list(value: Any, element: Struct) -> list[dict[str, Any]]:
    """A JSON array decoded into `[]element` (null elements stay empty)."""
    if value is None:
        return []
    if not isinstance(value, list) or isinstance(value, GoObject):
        raise DecodeError(type_error(describe(value), f"[]{element.go_type}", None, ()))
    items: list[dict[str, Any]] = []
    for item in value:
        decoded: dict[str, Any] = {}
        if item is not None:
            if not isinstance(item, GoObject):
                raise DecodeError(type_error(describe(item), element.go_type, None, ()))
            element._members(item, decoded, ())
        items.append(decoded)
    return items


# ---- writing --------------------------------------------------------------------------------
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_GO_ESCAPES["\u2029"] = "\\u2029"
_TO_ESCAPE = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def _string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return _TO_ESCAPE.sub(lambda m: _GO_ESCAPES.get(m.group(), "\\ufffd"), encoded)


def format_float32(value: float) -> str:
    """Go's `json.Marshal` of a float32: shortest digits, exponent only when tiny or huge."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits = ""
    for precision in range(9):
        digits = f"{value:.{precision}e}"
        if _float32(float(digits)) == value:
            break
    size = abs(value)
    if size < _float32(1e-6) or size >= _float32(1e21):
        return re.sub(r"e-0(\d)$", r"e-\1", digits)
    return format(Decimal(digits), "f")


def _encode(value: Any) -> Iterator[str]:
    if value is None:
        yield "null"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, Float32):
        yield format_float32(value)
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, str):
        yield _string(value)
    elif isinstance(value, Mapping):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + _string(key) + ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as Go does")


def dumps(value: Any) -> bytes:
    """`value` as Go's `json.Marshal` writes it (floats only as `Float32`)."""
    return "".join(_encode(value)).encode()
