"""The sandbox's wire format: what a child may send back, and what is refused."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

from grader.sandbox import wire


def _raw(header: dict, body: bytes = b"") -> bytes:
    data = json.dumps(header).encode()
    return struct.pack("<I", len(data)) + data + body


def test_round_trip_keeps_dtype_shape_and_values():
    arrays = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([True, False]),
        "c": np.zeros((0, 5), dtype=np.int64),
        "d": np.array(3.5),
        "e": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    message = wire.decode(wire.encode(wire.Message({"note": "é", "n": [1, 2]}, arrays)))
    assert message.meta == {"note": "é", "n": [1, 2]}
    for name, value in arrays.items():
        got = message.arrays[name]
        assert got.dtype == value.dtype and got.shape == value.shape and (got == value).all()
        assert got.flags.writeable


@pytest.mark.parametrize("value", [np.array([object()]), np.array(["text"]), np.zeros(3, dtype=[("x", "f4")])])
def test_encode_refuses_non_numeric_arrays(value):
    with pytest.raises(wire.WireError):
        wire.encode(wire.Message({}, {"x": value}))


def test_encode_and_decode_enforce_the_cap():
    big = {"x": np.zeros(1000, dtype=np.float64)}
    with pytest.raises(wire.WireError, match="larger than"):
        wire.encode(wire.Message({}, big), bytes_cap=7999)
    data = wire.encode(wire.Message({}, big))
    with pytest.raises(wire.WireError, match="larger than"):
        wire.decode(data, bytes_cap=7999)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01", "shorter"),
        (struct.pack("<I", 10**9) + b"{}", "header length"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "object", "shape": [1]}]}, b"\0" * 8), "not allowed"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "float64", "shape": [2]}]}, b"\0" * 8), "fewer bytes"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "float64", "shape": [1]}]}, b"\0" * 9), "trailing"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "float64", "shape": [-1]}]}), "bad shape"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "float64", "shape": [True]}]}), "bad shape"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "uint8", "shape": [2**20, 2**20]}]}), "larger than"),
        (_raw({"meta": {}, "arrays": [{"name": "x", "dtype": "uint8", "shape": [1]}] * 2}, b"ab"), "repeated"),
        (_raw({"meta": [], "arrays": []}), "lacks meta"),
        (_raw({"meta": {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}, "arrays": []}), "nested"),
        (struct.pack("<I", 6) + b"\xff\xfe{}{}", "not JSON"),
    ],
)
def test_decode_refuses_malformed_messages(data, match):
    with pytest.raises(wire.WireError, match=match):
        wire.decode(data)


def test_a_pickle_is_never_unpickled():
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(wire.WireError):
        wire.decode(pickle.dumps(Boom()))


def test_frames_over_a_pipe_and_the_frame_cap():
    r, w = os.pipe()
    try:
        wire.write_frame(w, b"hello")
        wire.write_frame(w, b"x" * 100)
        assert wire.read_frame(r, cap=10) == b"hello"
        with pytest.raises(wire.WireError, match="larger than"):
            wire.read_frame(r, cap=10)
    finally:
        os.close(r)
        os.close(w)
    r, w = os.pipe()
    os.set_blocking(r, False)
    reader = wire.FrameReader(r, cap=10)
    wire.write_frame(w, b"ok")
    wire.write_frame(w, b"y" * 11)
    reader.feed()
    assert reader.frames == [b"ok"] and not reader.overflow  # one frame at a time
    reader.feed()
    assert reader.overflow  # announced larger than the cap: not read into memory
    reader.scrub()
    assert reader.frames == [bytearray(2)]  # wiped in place
    os.close(w)
    os.close(r)
