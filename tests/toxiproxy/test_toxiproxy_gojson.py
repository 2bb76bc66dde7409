"""JSON read and written as Go's encoding/json does, which Toxiproxy's answers are made of."""

from __future__ import annotations

import struct

import pytest

from chaos.toxiproxy import gojson

pytestmark = pytest.mark.unit


def _f32(value: float) -> gojson.Float32:
    return gojson.Float32(struct.unpack("f", struct.pack("f", value))[0])


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (0.1, "0.1"),  # float32 0.1 is 0.100000001490116..., written in its shortest form
        (2.0, "2"),
        (-0.5, "-0.5"),
        (0.123456789, "0.12345679"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.2345679e20, "123456790000000000000"),
        (1e21, "1e+21"),
        (3.4e38, "3.4e+38"),
    ],
)
def test_float32_is_written_in_gos_shortest_form(value, written):
    assert gojson.format_float32(_f32(value)) == written


def test_marshal_is_compact_and_escapes_as_go_does():
    value = {"a<b>&": ["\u2028\u2029", "\x01\n\t", "é", "\ud800"], "n": None, "t": True, "i": -3}
    assert gojson.dumps(value) == (
        b'{"a\\u003cb\\u003e\\u0026":["\\u2028\\u2029","\\u0001\\n\\t","\xc3\xa9","\\ufffd"],'
        b'"n":null,"t":true,"i":-3}'
    )
    assert gojson.dumps({"toxicity": _f32(1.0)}) == b'{"toxicity":1}'


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "EOF"),
        (b" \n", "EOF"),
        (b'{"a": 1', "unexpected EOF"),
        (b"tru", "unexpected EOF"),
        (b"{b}", "invalid character 'b' looking for beginning of object key string"),
        (b"{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b'{"a": 01}', "invalid character '1' after object key:value pair"),
        (b'{"a": -}', "invalid character '}' in numeric literal"),
        (b'{"a": 1.}', "invalid character '}' after decimal point in numeric literal"),
        (b'{"a": 1e}', "invalid character '}' in exponent of numeric literal"),
        (b'{"a": "\x01"}', "invalid character '\\x01' in string literal"),
        (b'{"a": "\\x"}', "invalid character 'x' in string escape code"),
        (b'{"a": "\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"),
        (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b'{"a": 1,}', "invalid character '}' looking for beginning of object key string"),
    ],
)
def test_syntax_errors_are_worded_like_gos_scanner(body, error):
    with pytest.raises(gojson.DecodeError) as refused:
        gojson.loads(body)
    assert str(refused.value) == error


def test_only_the_first_value_of_a_body_is_read():
    assert gojson.loads(b'{"a": 1} and then anything') == [("a", "1")]
    assert gojson.loads(b"123abc") == "123"


LATENCY = gojson.Struct("LatencyToxic", "toxics.LatencyToxic", {"latency": "int64"})
WRAPPER = gojson.Struct(
    "ToxicWrapper", "toxics.ToxicWrapper", {"name": "string", "attributes": LATENCY}
)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"name": 5}', "number into Go struct field ToxicWrapper.name of type string"),
        (
            b'{"attributes": {"latency": "x"}}',
            "string into Go struct field LatencyToxic.attributes.latency of type int64",
        ),
        (
            b'{"attributes": {"latency": 1.5}}',
            "number 1.5 into Go struct field LatencyToxic.attributes.latency of type int64",
        ),
        (
            b'{"attributes": [1]}',
            "array into Go struct field ToxicWrapper.attributes of type toxics.LatencyToxic",
        ),
        (b"[1]", "array into Go value of type toxics.ToxicWrapper"),
    ],
)
def test_type_errors_are_worded_like_gos_decoder(body, error):
    with pytest.raises(gojson.DecodeError) as refused:
        WRAPPER.decode(gojson.loads(body), {})
    assert str(refused.value) == f"json: cannot unmarshal {error}"


def test_keys_match_fields_whatever_their_case_and_null_changes_nothing():
    into = {"name": "kept", "attributes": {"latency": 7}}
    WRAPPER.decode(gojson.loads(b'{"NAME": null, "Attributes": {"LATENCY": -2}, "x": 1}'), into)
    assert into == {"name": "kept", "attributes": {"latency": -2}}
