"""Identifier codes built as whole arrays: USCCs, pseudonymous person IDs, patent numbers.

Every code is a row of bytes in a numpy matrix, viewed as fixed-width bytes and handed to polars in
one step. Uniqueness comes from bijections of a running serial (an affine map modulo the code
space), so codes look scattered yet never repeat, with no lookup of what was already issued.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from features.standards.uscc import ALPHABET, GB11714_WEIGHTS, USCC_WEIGHTS

__all__ = ["PersonIds", "Serials", "UsccMinter", "ascii_matrix", "digits", "gb11714_chars", "gb32100_chars", "strings"]

_ALPHA31 = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_VALUE31 = np.full(256, -1, dtype=np.int64)  # byte -> value in the 31-symbol alphabet
_VALUE31[_ALPHA31] = np.arange(31)
_VALUE36 = np.full(256, -1, dtype=np.int64)  # byte -> GB 11714 value: digits 0-9, A-Z 10-35
_VALUE36[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_VALUE36[np.arange(ord("A"), ord("Z") + 1)] = np.arange(10, 36)
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)

OLD_SPACE = 10**8  # 8-digit organisation codes kept by firms registered before GB 32100 (2015-10-01)
NEW_SPACE = 31**6  # new bodies: 'MA' + 6 symbols, as in 91440101MA5CJQ4N59
GB32100_FROM = (2015, 10, 1)


def strings(mat: np.ndarray) -> pl.Series:
    """Each row of a uint8 matrix as one ASCII string."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return pl.Series(mat.view(f"S{mat.shape[1]}").ravel()).cast(pl.String)


def ascii_matrix(texts: list[str]) -> np.ndarray:
    """Equal-length ASCII texts as a uint8 matrix, one row each."""
    return np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), -1).copy()


def digits(values: np.ndarray, base: int, width: int) -> np.ndarray:
    """Base-``base`` digits of each value, most significant first, as an (n, width) matrix."""
    powers = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % base


@dataclass
class Serials:
    """A running serial mapped through ``a * i + b mod modulus`` (a coprime to the modulus): a bijection,
    so every value taken is new, and the values look scattered."""

    rng: np.random.Generator
    modulus: int
    what: str  # named in the error when the space runs out
    issued: int = 0
    _a: int = field(init=False)
    _b: int = field(init=False)

    def __post_init__(self) -> None:
        if self.modulus**2 >= 2**63:  # a * i must stay below 2**63, and both are below the modulus
            raise ValueError(f"modulus {self.modulus} too large for int64 arithmetic")
        self._a = int(self.rng.integers(2, self.modulus))
        while math.gcd(self._a, self.modulus) != 1:
            self._a = int(self.rng.integers(2, self.modulus))
        self._b = int(self.rng.integers(self.modulus))

    def take(self, k: int) -> np.ndarray:
        if self.issued + k > self.modulus:
            raise ValueError(f"more than {self.modulus:,} {self.what}: the code space is exhausted")
        i = np.arange(self.issued, self.issued + k, dtype=np.int64)
        self.issued += k
        return (self._a * i + self._b) % self.modulus


def gb11714_chars(body: np.ndarray) -> np.ndarray:
    """Check character (position 17) of each 8-byte organisation-code body."""
    c = 11 - (_VALUE36[body] @ np.array(GB11714_WEIGHTS)) % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), ord("0") + c % 10)).astype(np.uint8)


def gb32100_chars(first17: np.ndarray) -> np.ndarray:
    """Check character (position 18) of each row of 17 bytes."""
    return _ALPHA31[(31 - (_VALUE31[first17] @ np.array(USCC_WEIGHTS)) % 31) % 31]


class UsccMinter:
    """Issues valid, never repeated USCCs; one minter per generated registry."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._old = Serials(rng, OLD_SPACE, "pre-2015 organisation codes")
        self._new = Serials(rng, NEW_SPACE, "new organisation codes")

    def mint(self, prefix: np.ndarray, division: np.ndarray, numeric: np.ndarray) -> np.ndarray:
        """18-byte rows: ``prefix`` (n, 2) and ``division`` (n, 6) ASCII matrices; ``numeric`` rows get an
        old all-digit organisation code, the others a new 'MA' body."""
        code = np.empty((len(numeric), 18), dtype=np.uint8)
        code[:, :2] = prefix
        code[:, 2:8] = division
        code[numeric, 8:16] = ord("0") + digits(self._old.take(int(numeric.sum())), 10, 8)
        code[~numeric, 8:10] = np.frombuffer(b"MA", dtype=np.uint8)
        code[~numeric, 10:16] = _ALPHA31[digits(self._new.take(int((~numeric).sum())), 31, 6)]
        code[:, 16] = gb11714_chars(code[:, 8:16])
        code[:, 17] = gb32100_chars(code[:, :17])
        return code


@dataclass
class PersonIds:
    """Pseudonymous person IDs: 16 hex digits, a bijection of a running serial over 2**64."""

    rng: np.random.Generator
    issued: int = 0
    _a: np.uint64 = field(init=False)
    _b: np.uint64 = field(init=False)

    def __post_init__(self) -> None:
        self._a = np.uint64(int(self.rng.integers(2**62)) * 2 + 1)  # odd: invertible modulo 2**64
        self._b = np.uint64(int(self.rng.integers(2**62)))

    def mint(self, n: int) -> pl.Series:
        serial = np.arange(self.issued, self.issued + n, dtype=np.uint64)
        self.issued += n
        with np.errstate(over="ignore"):
            v = serial * self._a + self._b  # wraps modulo 2**64, which keeps it a bijection
        shifts = np.arange(60, -4, -4, dtype=np.uint64)
        return strings(_HEX[(v[:, None] >> shifts) & np.uint64(15)])
