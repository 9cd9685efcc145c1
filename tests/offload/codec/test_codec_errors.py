"""Malformed inputs: each raises its typed error, and the message names the line/offset/index."""

from __future__ import annotations

import pytest

from offload.codec import jsonpoints, lineproto, protobuf
from offload.errors import DecodeError, JSONPointError, LineProtocolError, ProtobufDecodeError

VECTOR = bytes.fromhex(
    "0a2f0a03637075120c0a04686f737440015a02683112050a0176102a12090a036d73675a026869188080a8b1e39fe7cb17"
)


def _point(body: bytes) -> bytes:
    return b"\x0a" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    "data, line, column, reason",
    [
        pytest.param("m", 1, 2, "missing fields", id="missing-fields"),
        pytest.param("m,t=1", 1, 6, "missing fields", id="missing-fields-after-tags"),
        pytest.param("m\\ f=1i", 1, 8, "missing fields", id="bad-escape-eats-the-separator"),
        pytest.param('m f="abc', 1, 5, "unbalanced quotes", id="unterminated-string"),
        pytest.param('m f="abc\\"', 1, 5, "unbalanced quotes", id="escaped-closing-quote"),
        pytest.param("m f=12ai", 1, 5, "invalid number", id="invalid-integer"),
        pytest.param("m f=9223372036854775808i", 1, 5, "out of range", id="integer-overflow"),
        pytest.param("m f=18446744073709551616u", 1, 5, "out of range", id="uint-overflow"),
        pytest.param("m f=-1u", 1, 5, "invalid number", id="negative-uint"),
        pytest.param("m f=1e400", 1, 5, "out of range", id="float-overflow"),
        pytest.param("m f=NaN", 1, 5, "invalid number", id="nan"),
        pytest.param("m f=yes", 1, 5, "invalid boolean", id="bad-bool"),
        pytest.param("m f=1 12x", 1, 7, "bad timestamp", id="bad-timestamp"),
        pytest.param("m f=1 99999999999999999999", 1, 7, "bad timestamp", id="timestamp-overflow"),
        pytest.param("m f=1 1 2", 1, 9, "after the timestamp", id="text-after-timestamp"),
        pytest.param("m,a=1,a=2 f=1", 1, 7, "duplicate tags", id="duplicate-tags"),
        pytest.param("m,=1 f=1", 1, 3, "missing tag key", id="missing-tag-key"),
        pytest.param("m,a f=1", 1, 4, "missing tag value", id="missing-tag-value"),
        pytest.param("m,a=b=c f=1", 1, 6, "invalid tag format", id="equals-in-tag-value"),
        pytest.param("m f", 1, 4, "invalid field format", id="field-without-value"),
        pytest.param("m f=", 1, 5, "missing field value", id="missing-field-value"),
        pytest.param("m f=1,", 1, 7, "missing field key", id="trailing-comma"),
        pytest.param(",t=1 f=1", 1, 1, "missing measurement", id="missing-measurement"),
        pytest.param("m f=[1i,2i", 1, 5, "array", id="unterminated-array"),
        pytest.param("m f=1\r\n", 1, 5, "invalid number", id="carriage-return"),
        pytest.param("m f=1i\nm f=2i\nm f=\n", 3, 5, "missing field value", id="third-line"),
        pytest.param('m s="a\nb" 1\nm f=x', 3, 5, "invalid boolean", id="line-count-includes-newlines-in-strings"),
        pytest.param(b'm f="\xc3\x28"', 1, 6, "invalid UTF-8", id="invalid-utf8"),
        pytest.param(b"m f=1i\nm,t=\xff f=1", 2, 5, "invalid UTF-8", id="invalid-utf8-line-2"),
    ],
)
def test_line_protocol_errors(data, line, column, reason):
    with pytest.raises(LineProtocolError) as err:
        lineproto.decode(data)
    e = err.value
    assert isinstance(e, DecodeError)
    assert (e.line, e.column) == (line, column), str(e)
    assert reason in e.reason
    assert str(e).startswith(f"line {line}, column {column}: ")


@pytest.mark.parametrize(
    "data, offset, reason",
    [
        pytest.param(VECTOR[:-3], 1, "runs past the end", id="truncated"),
        pytest.param(b"\x0a\x80", 1, "truncated varint", id="truncated-length"),
        pytest.param(_point(b"\x18\x80\x80"), 3, "truncated varint", id="truncated-time"),
        pytest.param(_point(b"\x12\x02\x21\x00"), 5, "truncated fixed64", id="truncated-double"),
        pytest.param(b"\x0f", 0, "invalid wire type 7", id="wrong-wire-type-7"),
        pytest.param(_point(b"\x0e"), 2, "invalid wire type 6", id="wrong-wire-type-6-in-point"),
        pytest.param(_point(b"\x12\x01\x0f"), 4, "invalid wire type 7", id="wrong-wire-type-in-field"),
        pytest.param(b"\x0c", 0, "end of group", id="end-group-without-start"),
        pytest.param(b"\x0b\x08\x01", 0, "unterminated group", id="unterminated-group"),
        pytest.param(b"\x02\x00", 0, "field number 0", id="field-number-zero"),
        pytest.param(_point(b"\x18" + b"\xff" * 10 + b"\x01"), 3, "longer than 10 bytes", id="varint-too-long"),
        pytest.param(_point(b"\x0a\x02\xc3\x28"), 4, "invalid UTF-8", id="invalid-utf8-name"),
        pytest.param(_point(b"\x12\x06\x0a\x01k\x5a\x01\xff"), 9, "invalid UTF-8", id="invalid-utf8-string-field"),
        pytest.param(_point(b"\x12\x07\x3a\x05\x0a\x03x/y"), 4, "unsupported Any type", id="unknown-any-type"),
    ],
)
def test_protobuf_errors(data, offset, reason):
    with pytest.raises(ProtobufDecodeError) as err:
        protobuf.decode(data)
    e = err.value
    assert isinstance(e, DecodeError)
    assert e.offset == offset, str(e)
    assert reason in e.reason
    assert str(e).startswith(f"offset {offset}: ")


@pytest.mark.parametrize(
    "data, index, reason",
    [
        pytest.param(b'{"measurement": "m", "fields": {"v": 1}}', -1, "JSON array", id="not-an-array"),
        pytest.param(b"[", -1, "invalid JSON", id="invalid-json"),
        pytest.param(b"[1]", 0, "JSON object", id="element-not-an-object"),
        pytest.param(b'[{"measurement": 1, "fields": {"v": 1}}]', 0, "measurement must be a string", id="wrong-type"),
        pytest.param(b'[{"measurement": "m"}]', 0, "fields must be an object", id="missing-fields"),
        pytest.param(b'[{"measurement": "m", "fields": {}, "tags": {"t": 1}}]', 0, "tags", id="non-string-tag"),
        pytest.param(b'[{"measurement": "m", "fields": {}, "time": "soon"}]', 0, "time", id="bad-time"),
        pytest.param(b'[{"measurement": "m", "fields": {"a": [1, "x"]}}]', 0, "array elements", id="mixed-array"),
        pytest.param(b'[{"measurement": "m", "fields": {}, "extra": 1}]', 0, "unknown key", id="unknown-key"),
        pytest.param(b'[{"name": "m", "fields": [{"key": "v", "i": "x"}]}]', 0, "not an integer", id="pbjson-bad-int"),
        pytest.param(b'[{"name": "m", "fields": [{"key": "v", "i": "1", "s": "x"}]}]', 0, "more than one",
                     id="pbjson-two-values"),
        pytest.param(b'[{"name": "m", "fields": [{"key": "v", "d": "%%%"}]}]', 0, "base64", id="pbjson-bad-bytes"),
        pytest.param(b'[{"name": "m", "fields": []}, {"name": 5, "fields": []}]', 1, "name must be a string",
                     id="second-element"),
    ],
)
def test_json_errors(data, index, reason):
    with pytest.raises(JSONPointError) as err:
        jsonpoints.decode(data)
    e = err.value
    assert isinstance(e, DecodeError)
    assert e.index == index, str(e)
    assert reason in e.reason
    if index >= 0:
        assert str(e).startswith(f"point {index}: ")
