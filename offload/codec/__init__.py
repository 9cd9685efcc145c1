"""Point codecs: line protocol, protobuf `point.PBPoints`, JSON points, and DataKit's point precheck.

    lineproto   decode(data, precision="n", now_ns=None) / encode(points, precision="n", trailing_newline=False)
                / encode_point(p) -> str
    protobuf    decode(data) / encode(points) / decode_point(data) / encode_point(p)
    jsonpoints  decode(data) / encode(points, form="simple" | "pbjson")
    check       check_points(points, category)

The wire formats are those of wire.md a and b. Every decoder raises a subclass of
`offload.errors.DecodeError` naming where the input is wrong; encoders raise
`offload.errors.EncodeError` for a value the format cannot carry.
"""

from offload.codec import check, jsonpoints, lineproto, protobuf
from offload.codec.check import check_points
from offload.codec.jsonpoints import decode as decode_json
from offload.codec.jsonpoints import encode as encode_json
from offload.codec.lineproto import decode as decode_lineproto
from offload.codec.lineproto import encode as encode_lineproto
from offload.codec.lineproto import encode_point as encode_lineproto_point
from offload.codec.protobuf import decode as decode_protobuf
from offload.codec.protobuf import decode_point as decode_protobuf_point
from offload.codec.protobuf import encode as encode_protobuf
from offload.codec.protobuf import encode_point as encode_protobuf_point

__all__ = [
    "check",
    "check_points",
    "decode_json",
    "decode_lineproto",
    "decode_protobuf",
    "decode_protobuf_point",
    "encode_json",
    "encode_lineproto",
    "encode_lineproto_point",
    "encode_protobuf",
    "encode_protobuf_point",
    "jsonpoints",
    "lineproto",
    "protobuf",
]
