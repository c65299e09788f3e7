"""Plain data across the process boundary: JSON with arrays as {dtype, shape, data}. No pickle.

The grading process decodes what a submission's process sends with hard limits (size, depth,
dtypes), so nothing it receives can run code or exhaust memory: only numbers, strings, lists,
dicts and numeric arrays come back.
"""
from __future__ import annotations

import json
import math

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64")
MAX_ELEMENTS = 2_000_000
MAX_DEPTH = 8
MAX_STRING = 4000


class DecodeError(ValueError):
    pass


def encode(value, depth: int = 0):
    """numpy arrays / torch tensors / numbers / str / lists / dicts -> JSON-ready data."""
    if depth > MAX_DEPTH:
        raise ValueError("data nested too deeply")
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            raise ValueError(f"arrays of dtype {value.dtype} cannot be sent")
        return {"__array__": True, "dtype": value.dtype.name, "shape": list(value.shape),
                "data": value.reshape(-1).tolist()}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value[:MAX_STRING] if isinstance(value, str) else value
    if isinstance(value, (list, tuple)):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"cannot send a {type(value).__name__}")


def _number(x):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise DecodeError(f"array data must be numbers, got {type(x).__name__}")
    return x


def decode(data, depth: int = 0, budget=None):
    """Inverse of `encode`, checking every part. Raises DecodeError on anything unexpected."""
    budget = [MAX_ELEMENTS] if budget is None else budget
    if depth > MAX_DEPTH:
        raise DecodeError("data nested too deeply")
    if isinstance(data, dict) and data.get("__array__") is True:
        dtype, shape, flat = data.get("dtype"), data.get("shape"), data.get("data")
        if dtype not in DTYPES:
            raise DecodeError(f"unsupported array dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 8 or not all(type(s) is int and 0 <= s for s in shape):
            raise DecodeError(f"bad array shape {shape!r}")
        size = math.prod(shape)
        if not isinstance(flat, list) or len(flat) != size:
            raise DecodeError(f"array of shape {shape} needs {size} values")
        budget[0] -= size
        if budget[0] < 0:
            raise DecodeError(f"more than {MAX_ELEMENTS} array elements")
        if dtype == "bool":
            if not all(type(x) is bool for x in flat):
                raise DecodeError("a bool array holds non-bool values")
            return np.array(flat, dtype=bool).reshape(shape)
        return np.array([_number(x) for x in flat], dtype=dtype).reshape(shape)
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        return data[:MAX_STRING]
    if isinstance(data, list):
        budget[0] -= len(data)
        if budget[0] < 0:
            raise DecodeError(f"more than {MAX_ELEMENTS} elements")
        return [decode(v, depth + 1, budget) for v in data]
    if isinstance(data, dict):
        return {str(k)[:200]: decode(v, depth + 1, budget) for k, v in data.items()}
    raise DecodeError(f"unexpected {type(data).__name__}")


def dumps(value) -> str:
    return json.dumps(encode(value), allow_nan=True, separators=(",", ":"))


def loads(text: str, max_chars: int = 64_000_000):
    if len(text) > max_chars:
        raise DecodeError(f"message of {len(text)} characters exceeds {max_chars}")
    try:
        return decode(json.loads(text))
    except (json.JSONDecodeError, RecursionError) as e:
        raise DecodeError(f"not valid JSON: {e}") from None
