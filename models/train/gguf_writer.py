"""Minimal GGUF v3 writer (no dependency on the `gguf` package).

Layout (all little-endian), as specified in ggml's docs/gguf.md:

    magic  "GGUF" | version u32 = 3 | tensor_count u64 | kv_count u64
    kv_count x  { key: string, value_type: u32, value }
    tensor_count x { name: string, n_dims: u32, ne: u64[n_dims], ggml_type: u32, offset: u64 }
    padding to `general.alignment` (default 32)
    tensor data, each tensor starting at a multiple of the alignment (offsets are relative to the data start)

A string is { len: u64, utf-8 bytes } without a terminator. An array is { item_type: u32, count: u64, items }.
Tensor dims are written innermost-first (ggml `ne`), i.e. a row-major numpy array of shape (rows, cols) is
written as ne = [cols, rows] and its bytes are copied as-is.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# gguf value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

# ggml tensor types
GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1

_SCALAR_FMT = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}


def _str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


class GGUFWriter:
    def __init__(self, path: str, arch: str):
        self.path = path
        self.arch = arch
        self.kv: list[tuple[str, int, Any, int | None]] = []  # key, type, value, array item type
        self.tensors: list[tuple[str, np.ndarray, int]] = []
        self.add_string("general.architecture", arch)

    # ---- metadata -------------------------------------------------------
    def _add(self, key: str, vtype: int, value: Any, itype: int | None = None) -> None:
        if any(k == key for k, *_ in self.kv):
            raise ValueError(f"duplicate key {key}")
        self.kv.append((key, vtype, value, itype))

    def add_string(self, key: str, v: str) -> None: self._add(key, STRING, v)
    def add_u32(self, key: str, v: int) -> None: self._add(key, UINT32, int(v))
    def add_i32(self, key: str, v: int) -> None: self._add(key, INT32, int(v))
    def add_f32(self, key: str, v: float) -> None: self._add(key, FLOAT32, float(v))
    def add_bool(self, key: str, v: bool) -> None: self._add(key, BOOL, bool(v))
    def add_array(self, key: str, itype: int, values: list) -> None: self._add(key, ARRAY, list(values), itype)

    # ---- tensors --------------------------------------------------------
    def add_tensor(self, name: str, arr: np.ndarray, f16: bool = False) -> None:
        arr = np.ascontiguousarray(arr, dtype=np.float16 if f16 else np.float32)
        self.tensors.append((name, arr, GGML_TYPE_F16 if f16 else GGML_TYPE_F32))

    # ---- serialisation --------------------------------------------------
    @staticmethod
    def _value(vtype: int, value: Any, itype: int | None) -> bytes:
        if vtype == STRING:
            return _str(value)
        if vtype == ARRAY:
            assert itype is not None
            out = [struct.pack("<IQ", itype, len(value))]
            if itype == STRING:
                out.extend(_str(v) for v in value)
            else:
                dtype = {INT32: "<i4", UINT32: "<u4", FLOAT32: "<f4", UINT8: "u1", INT8: "i1",
                         INT64: "<i8", UINT64: "<u8", FLOAT64: "<f8", BOOL: "u1"}[itype]
                out.append(np.asarray(value, dtype=dtype).tobytes())
            return b"".join(out)
        return struct.pack(_SCALAR_FMT[vtype], value)

    def write(self) -> int:
        self.add_u32("general.alignment", ALIGNMENT)
        head = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, vtype, value, itype in self.kv:
            head.append(_str(key) + struct.pack("<I", vtype) + self._value(vtype, value, itype))
        offset = 0
        offsets = []
        for name, arr, ttype in self.tensors:
            ne = list(reversed(arr.shape))  # ggml order: innermost dimension first
            head.append(_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
                        + struct.pack("<IQ", ttype, offset))
            offsets.append(offset)
            offset += arr.nbytes
            offset += (-offset) % ALIGNMENT
        header = b"".join(head)
        header += b"\x00" * ((-len(header)) % ALIGNMENT)
        tmp = self.path + ".tmp"  # written aside and renamed, so readers never see a half-written model
        with open(tmp, "wb") as f:
            f.write(header)
            pos = 0
            for (name, arr, _), off in zip(self.tensors, offsets):
                f.write(b"\x00" * (off - pos))
                f.write(arr.tobytes())
                pos = off + arr.nbytes
            f.write(b"\x00" * ((-pos) % ALIGNMENT))
        os.replace(tmp, self.path)
        return len(header) + offset
