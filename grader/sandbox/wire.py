"""The bounded wire format between the grader and the sandbox: small JSON plus raw arrays.

Nothing that crosses a sandbox boundary is ever unpickled: a pickle is a program, and the
sandbox side runs student code. A message is

    u32 header length | header (UTF-8 JSON) | array bytes, back to back

and the header is ``{"meta": <small JSON>, "arrays": [{"name", "dtype", "shape"}, ...]}``.
Decoding checks every bound before it allocates: the header's size, the number of arrays, each
dtype against a short allow-list (plain numbers and booleans, never ``object``), each shape,
and that the bytes announced are exactly the bytes present and within the cap. Arrays come
back as fresh, writable numpy arrays that share nothing with the received buffer.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEADER_CAP = 256 * 1024  # JSON header bytes (error messages and signatures are capped below this)
ARRAYS_CAP = 64  # arrays per message
DEFAULT_BYTES_CAP = 16 * 2**20  # array payload per message
MAX_DIMS = 8
JSON_DEPTH_CAP = 32
ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64", "complex64", "complex128"]
)
_LENGTH = struct.Struct("<I")


class WireError(ValueError):
    """A message that breaks the format or one of its bounds."""


@dataclass
class Message:
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def encode(message: Message, bytes_cap: int = DEFAULT_BYTES_CAP) -> bytes:
    """Serialise a message; raises WireError when it would break a bound the reader enforces."""
    specs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    total = 0
    if len(message.arrays) > ARRAYS_CAP:
        raise WireError(f"{len(message.arrays)} arrays, more than {ARRAYS_CAP}")
    for name, value in message.arrays.items():
        array = np.asarray(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        dtype = array.dtype.name
        if dtype not in ALLOWED_DTYPES:
            raise WireError(f"array {name!r} has dtype {dtype}, not a plain number type")
        if array.ndim > MAX_DIMS:
            raise WireError(f"array {name!r} has {array.ndim} dimensions, more than {MAX_DIMS}")
        total += array.nbytes
        if total > bytes_cap:
            raise WireError(f"arrays larger than {bytes_cap} bytes")
        specs.append({"name": str(name), "dtype": dtype, "shape": list(array.shape)})
        blobs.append(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    header = json.dumps({"meta": message.meta, "arrays": specs}, ensure_ascii=True, allow_nan=True).encode()
    if len(header) > HEADER_CAP:
        raise WireError(f"header of {len(header)} bytes, more than {HEADER_CAP}")
    return _LENGTH.pack(len(header)) + header + b"".join(blobs)


def _depth_ok(value: Any, depth: int = 0) -> bool:
    if depth > JSON_DEPTH_CAP:
        return False
    if isinstance(value, dict):
        return all(_depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth_ok(v, depth + 1) for v in value)
    return True


def decode(data: bytes | bytearray, bytes_cap: int = DEFAULT_BYTES_CAP) -> Message:
    """Read a message, enforcing every bound; raises WireError on anything else."""
    if len(data) < _LENGTH.size:
        raise WireError("message shorter than its length prefix")
    (header_len,) = _LENGTH.unpack_from(data)
    if header_len > HEADER_CAP or _LENGTH.size + header_len > len(data):
        raise WireError("header length out of bounds")
    raw = data[_LENGTH.size : _LENGTH.size + header_len]
    if raw.count(b"[") + raw.count(b"{") > HEADER_CAP // 8:
        raise WireError("header too deeply structured")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"header is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(header, dict) or not isinstance(header.get("meta"), dict) or not isinstance(header.get("arrays"), list):
        raise WireError("header lacks meta or arrays")
    if not _depth_ok(header["meta"]):
        raise WireError("meta nested too deeply")
    specs = header["arrays"]
    if len(specs) > ARRAYS_CAP:
        raise WireError(f"more than {ARRAYS_CAP} arrays")
    offset = _LENGTH.size + header_len
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for spec in specs:
        if not isinstance(spec, dict):
            raise WireError("array spec is not an object")
        name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
        if not isinstance(name, str) or len(name) > 200 or name in arrays:
            raise WireError("bad or repeated array name")
        if dtype not in ALLOWED_DTYPES:
            raise WireError(f"array {name!r}: dtype {dtype!r} not allowed")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_DIMS
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= bytes_cap for d in shape)
        ):
            raise WireError(f"array {name!r}: bad shape")
        itemsize = np.dtype(dtype).itemsize
        nbytes = math.prod(shape) * itemsize
        total += nbytes
        if total > bytes_cap:
            raise WireError(f"arrays larger than {bytes_cap} bytes")
        if offset + nbytes > len(data):
            raise WireError(f"array {name!r}: fewer bytes than announced")
        buffer = data[offset : offset + nbytes]
        arrays[name] = np.frombuffer(buffer, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(tuple(shape)).copy()
        offset += nbytes
    if offset != len(data):
        raise WireError("trailing bytes after the arrays")
    return Message(header["meta"], arrays)


# -- framing over pipes ------------------------------------------------------------------------
# Frames are read into bytearrays and can be wiped in place (`scrub`): the zygote forwards a
# student's request and answer without ever holding them in memory a later child inherits.
_FRAME = struct.Struct("<Q")


def scrub(buffer: bytearray) -> None:
    """Overwrite a buffer with zeros in place (no copy is made)."""
    if buffer:
        ctypes.memset((ctypes.c_char * len(buffer)).from_buffer(buffer), 0, len(buffer))


def write_frame(fd: int, payload: bytes | bytearray | memoryview) -> None:
    """Write one length-prefixed frame to a file descriptor (blocking, complete, no copy)."""
    for part in (memoryview(_FRAME.pack(len(payload))), memoryview(payload)):
        while part:
            part = part[os.write(fd, part) :]


class FrameReader:
    """Reads length-prefixed frames from an fd, each into a bytearray of its own size.

    `feed()` reads what is available (all of it on a blocking fd: call it when poll says so);
    `frames` collects complete ones. A frame announced larger than `cap` sets `overflow` and
    nothing more is read into memory.
    """

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.cap = cap
        self.frames: list[bytearray] = []
        self.overflow = False
        self.eof = False
        self._head = bytearray(_FRAME.size)
        self._body: bytearray | None = None
        self._got = 0

    def feed(self, whole: bool = False) -> None:
        """Read what is there (one read past a frame's header), or with `whole` block until a
        frame is complete; either way stop after completing one frame, so a blocking fd is
        never read past it."""
        while not self.eof and not self.overflow:
            target = self._head if self._body is None else self._body
            count = 0
            if len(target) > self._got:
                try:
                    count = os.readv(self.fd, [memoryview(target)[self._got :]])
                except BlockingIOError:
                    return
                if count == 0:
                    self.eof = True
                    return
            self._got += count
            if self._got < len(target):
                if whole:
                    continue
                return
            self._got = 0
            if self._body is None:
                (size,) = _FRAME.unpack(self._head)
                if size > self.cap:
                    self.overflow = True
                    return
                self._body = bytearray(size)
            else:
                self.frames.append(self._body)
                self._body = None
                return

    def scrub(self) -> None:
        for frame in self.frames:
            scrub(frame)
        if self._body is not None:
            scrub(self._body)


def read_frame(fd: int, cap: int) -> bytearray | None:
    """Blocking read of one frame; None at end of file. Raises WireError past `cap`."""
    reader = FrameReader(fd, cap)
    reader.feed(whole=True)
    if reader.frames:
        return reader.frames[0]
    if reader.overflow:
        raise WireError(f"frame larger than {cap} bytes")
    return None
