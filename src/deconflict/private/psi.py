"""ECDH private set intersection over ristretto255: group operations and messages.

Each party hashes its records to the group (SHA-512 of a domain prefix and the
record, then ``crypto_core_ristretto255_from_hash``), multiplies them by its secret
scalar ("blinding"), pads the list with random group elements up to a size class,
shuffles it and sends it. The other party multiplies what it received by its own
scalar and sends it back in the same order. Since ``a·(b·H(x)) == b·(a·H(x))``, each
side can compare doubly blinded values without ever seeing the other's records,
or anything from which they could be recomputed without the other's scalar.

The group arithmetic is libsodium's, as bundled by ``rbcl`` (no system library
needed), called through cffi straight into one preallocated buffer: one C call per
element and no Python objects per element but its pointers. The scalar
multiplication itself (~49 µs, libsodium's constant-time 4-bit window) is then
about 99 % of the time, so this is as fast as libsodium goes on one core; and
libsodium runs without the GIL, so ``workers > 1`` blinds on several cores at once.

Wire format (all integers little-endian)::

    magic      4 bytes   b"DCPS"
    version    u8        1
    kind       u8        1 offer, 2 answer, 3 refine, 4 refine-answer, 5 finish
    agreement  32 bytes  SHA-256 fingerprint of the agreement (raw)
    session    16 bytes  random, chosen by the initiator
    grid       22 bytes  fine/coarse H3 resolutions, band and slot sizes (Grid.to_bytes)
    time buf.  f64       the time buffer (s) both sides apply
    sections   u8        then per section: tag u8 (round << 1 | reply), count u32,
                         count × 32-byte ristretto255 elements
    digest     32 bytes  SHA-256 of everything above (detects corruption, not forgery)
"""

from __future__ import annotations

import enum
import functools
import hashlib
import math
import secrets
import struct
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from deconflict.errors import InputError
from deconflict.private.cells import GRID_BYTES, Grid, records_to_bytes

#: Bytes of one group element.
POINT_BYTES = 32
#: Bytes of one record (see :mod:`deconflict.private.cells`).
RECORD_BYTES = 32
#: Bytes of a secret scalar.
SCALAR_BYTES = 32
#: Bytes of the SHA-512 digest hashed to the group.
HASH_BYTES = 64

MAGIC = b"DCPS"
VERSION = 1
DOMAIN = b"deconflict/private/psi/v1\x00"
#: Smallest size class; every list is padded to at least this many elements.
MIN_SIZE_CLASS = 64
#: Size classes per doubling: sizes m·2^k with m in {4, 5, 6, 7}, so padding ≤ 25 %.
SIZE_CLASS_STEPS = 4
#: Largest list a message may carry.
MAX_POINTS = 1 << 24
#: Below this many elements, blinding stays on the calling thread.
_PARALLEL_MIN = 4096

_HEADER = struct.Struct(f"<4sBB32s16s{GRID_BYTES}sdB")
_SECTION = struct.Struct("<BI")
_DIGEST = 32


class Kind(enum.IntEnum):
    """The five messages of a two-round exchange, in order."""

    OFFER = 1
    ANSWER = 2
    REFINE = 3
    REFINE_ANSWER = 4
    FINISH = 5

    @property
    def label(self) -> str:
        """Lower-case name used in messages and file names (``refine-answer``)."""
        return self.name.lower().replace("_", "-")


class Round(enum.IntEnum):
    """Round of a section: coarse cells, then fine cells inside the common coarse ones."""

    COARSE = 0
    FINE = 1


#: Sections each kind carries: (round, reply). ``reply`` sections hold the receiver's
#: own elements re-blinded by the sender, in the order the receiver sent them.
LAYOUT: dict[Kind, tuple[tuple[Round, bool], ...]] = {
    Kind.OFFER: ((Round.COARSE, False),),
    Kind.ANSWER: ((Round.COARSE, True), (Round.COARSE, False)),
    Kind.REFINE: ((Round.COARSE, True), (Round.FINE, False)),
    Kind.REFINE_ANSWER: ((Round.FINE, True), (Round.FINE, False)),
    Kind.FINISH: ((Round.FINE, True),),
}


# -- the group ----------------------------------------------------------------------------
def domain(fingerprint: str, session: bytes, grid: Grid, time_buffer_s: float = 0.0) -> bytes:
    """The hash prefix binding elements to the agreement, session, grid and time buffer."""
    return (
        DOMAIN
        + bytes.fromhex(fingerprint)
        + session
        + grid.to_bytes()
        + struct.pack("<d", float(time_buffer_s))
    )


class Group(Protocol):
    """The group operations the exchange needs (a seam: tests plug in a fast fake)."""

    def new_scalar(self) -> bytes:
        """A fresh secret scalar."""
        ...

    def hash_to_group(self, prefix: bytes, records: npt.NDArray[np.int64]) -> bytes:
        """``H(prefix ‖ record)`` for every record, n × 32 bytes."""
        ...

    def blind(self, points: bytes, scalar: bytes, workers: int = 1) -> bytes:
        """Every element times ``scalar``; commutative in the scalars."""
        ...

    def random_points(self, n: int) -> bytes:
        """``n`` random elements, indistinguishable from blinded ones."""
        ...

    def invalid_points(self, points: bytes) -> list[int]:
        """Indexes of elements that are not valid encodings."""
        ...


class _Sodium:
    """rbcl's bundled libsodium, called through cffi (ABI mode) without rbcl's wrappers.

    The very library rbcl loaded and the same functions, so the same bytes; what goes
    is the per-element Python around each call (type and length checks, a fresh output
    buffer and a ``bytes`` copy per element, list slicing, joins). These calls read and
    write raw memory: callers check every length first.
    """

    CDEF = """
        int crypto_scalarmult_ristretto255(unsigned char *q, const unsigned char *n,
                                           const unsigned char *p);
        int crypto_core_ristretto255_from_hash(unsigned char *p, const unsigned char *r);
        int crypto_core_ristretto255_is_valid_point(const unsigned char *p);
        void crypto_core_ristretto255_random(unsigned char *p);
    """

    def __init__(self) -> None:
        import cffi
        import rbcl  # writes out, loads and initialises (sodium_init) its libsodium

        self.ffi = cffi.FFI()
        self.ffi.cdef(self.CDEF)
        # ``_name`` is the path ctypes opened rbcl's copy from: the same library again.
        self.lib = self.ffi.dlopen(rbcl._sodium._name)

    def pointers(self, base: Any, size: int, start: int, stop: int) -> list[Any]:
        """Pointers to items ``start``…``stop - 1`` of ``size`` bytes from ``base``."""
        return [base + i for i in range(start * size, stop * size, size)]


@functools.cache
def _sodium() -> _Sodium:
    """The libsodium handle, made on first use (importing rbcl writes out a library)."""
    return _Sodium()


def _check_points(points: bytes) -> int:
    if len(points) % POINT_BYTES:
        raise InputError(f"a list of group elements of {len(points)} bytes, not a multiple of 32")
    return len(points) // POINT_BYTES


class Ristretto255:
    """ristretto255 through libsodium, as bundled by ``rbcl`` (loaded on first use).

    Each element is one C call straight into libsodium, writing into one preallocated
    buffer (no per-element Python objects but the pointers); results are byte for byte
    those of :class:`Ristretto255Reference`, the per-element ``rbcl`` calls.
    """

    def new_scalar(self) -> bytes:
        """A fresh secret scalar (uniform, non-zero, reduced), 32 bytes."""
        import rbcl

        return bytes(rbcl.crypto_core_ristretto255_scalar_random())

    def hash_to_group(self, prefix: bytes, records: npt.NDArray[np.int64]) -> bytes:
        """``from_hash(SHA-512(prefix ‖ record))`` for every record; n × 32 bytes."""
        sodium = _sodium()
        raw = records_to_bytes(records)
        n = len(raw) // RECORD_BYTES
        head = hashlib.sha512(prefix)
        digests = bytearray(HASH_BYTES * n)
        for i in range(n):
            h = head.copy()
            h.update(raw[i * RECORD_BYTES : (i + 1) * RECORD_BYTES])
            digests[i * HASH_BYTES : (i + 1) * HASH_BYTES] = h.digest()
        out = bytearray(POINT_BYTES * n)
        src, dst = sodium.ffi.from_buffer(digests), sodium.ffi.from_buffer(out)
        from_hash = sodium.lib.crypto_core_ristretto255_from_hash
        deque(
            map(
                from_hash,
                sodium.pointers(dst, POINT_BYTES, 0, n),
                sodium.pointers(src, HASH_BYTES, 0, n),
            ),
            maxlen=0,
        )
        return bytes(out)

    def random_points(self, n: int) -> bytes:
        """``n`` uniformly random group elements (padding), n × 32 bytes."""
        sodium = _sodium()
        out = bytearray(POINT_BYTES * n)
        dst = sodium.ffi.from_buffer(out)
        deque(
            map(
                sodium.lib.crypto_core_ristretto255_random, sodium.pointers(dst, POINT_BYTES, 0, n)
            ),
            maxlen=0,
        )
        return bytes(out)

    def blind(self, points: bytes, scalar: bytes, workers: int = 1) -> bytes:
        """Every element of ``points`` (n × 32 bytes) multiplied by ``scalar``.

        Raises :class:`InputError` when an element is not a valid encoding or the
        product is the identity. With ``workers > 1`` threads share long lists
        (libsodium runs without the GIL).
        """
        n = _check_points(points)
        if len(scalar) != SCALAR_BYTES:
            raise InputError(f"a scalar is {SCALAR_BYTES} bytes, not {len(scalar)}")
        sodium = _sodium()
        out = bytearray(POINT_BYTES * n)
        src, dst = sodium.ffi.from_buffer(points), sodium.ffi.from_buffer(out)
        mult = sodium.lib.crypto_scalarmult_ristretto255

        def run(bounds: tuple[int, int]) -> bool:
            start, stop = bounds
            codes = map(
                mult,
                sodium.pointers(dst, POINT_BYTES, start, stop),
                repeat(scalar, stop - start),
                sodium.pointers(src, POINT_BYTES, start, stop),
            )
            return any(list(codes))  # list first: every element is done, failed or not

        workers = max(1, min(workers, n // (_PARALLEL_MIN // 2)))
        parts = [(n * j // workers, n * (j + 1) // workers) for j in range(workers)]
        if workers == 1:
            failed = run(parts[0])
        else:
            with ThreadPoolExecutor(workers) as pool:
                failed = any(list(pool.map(run, parts)))
        if failed:
            raise InputError("a received element is not a valid ristretto255 group element")
        return bytes(out)

    def invalid_points(self, points: bytes) -> list[int]:
        """Indexes of the elements of ``points`` that are not valid encodings, or the identity."""
        n = _check_points(points)
        sodium = _sodium()
        src = sodium.ffi.from_buffer(points)
        valid = np.fromiter(
            map(
                sodium.lib.crypto_core_ristretto255_is_valid_point,
                sodium.pointers(src, POINT_BYTES, 0, n),
            ),
            dtype=np.int32,
            count=n,
        )
        identity = ~np.frombuffer(points, dtype=np.uint8).reshape(n, POINT_BYTES).any(axis=1)
        return np.flatnonzero((valid == 0) | identity).tolist()


class Ristretto255Reference:
    """The same group one ``rbcl`` call per element: the reference the fast path must equal.

    This was :class:`Ristretto255` until the direct calls replaced it; the tests and
    ``bench/private.py`` compare the two on random inputs.
    """

    def new_scalar(self) -> bytes:
        """A fresh secret scalar (uniform, non-zero, reduced), 32 bytes."""
        return RISTRETTO255.new_scalar()

    def hash_to_group(self, prefix: bytes, records: npt.NDArray[np.int64]) -> bytes:
        """``from_hash(SHA-512(prefix ‖ record))`` for every record; n × 32 bytes."""
        from rbcl import crypto_core_ristretto255_from_hash as from_hash

        raw = records_to_bytes(records)
        sha512 = hashlib.sha512
        return b"".join(
            from_hash(sha512(prefix + raw[i : i + RECORD_BYTES]).digest())
            for i in range(0, len(raw), RECORD_BYTES)
        )

    def random_points(self, n: int) -> bytes:
        """``n`` uniformly random group elements (padding), n × 32 bytes."""
        from rbcl import crypto_core_ristretto255_random as random_point

        return b"".join(random_point() for _ in range(n))

    def blind(self, points: bytes, scalar: bytes, workers: int = 1) -> bytes:
        """Every element of ``points`` times ``scalar``, one ``rbcl`` call each."""
        from rbcl import crypto_scalarmult_ristretto255 as mult

        items = split(points)

        def run(part: list[bytes]) -> bytes:
            try:
                return b"".join(mult(scalar, p) for p in part)
            except (RuntimeError, ValueError, TypeError):
                raise InputError(
                    "a received element is not a valid ristretto255 group element"
                ) from None

        workers = max(1, min(workers, len(items) // (_PARALLEL_MIN // 2)))
        if workers == 1:
            return run(items)
        n = len(items)
        parts = [items[n * j // workers : n * (j + 1) // workers] for j in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            return b"".join(pool.map(run, parts))

    def invalid_points(self, points: bytes) -> list[int]:
        """Indexes of the elements of ``points`` that are not valid encodings, or the identity."""
        from rbcl import crypto_core_ristretto255_is_valid_point as is_valid

        identity = bytes(POINT_BYTES)
        return [i for i, p in enumerate(split(points)) if p == identity or not is_valid(p)]


#: The group of the private mode.
RISTRETTO255 = Ristretto255()


def size_class(n: int) -> int:
    """The padded length of a list of ``n`` elements.

    At least :data:`MIN_SIZE_CLASS`; above it, the next ``m·2^k`` with ``m`` in
    4–7, so a list is padded by at most 25 % and its size leaks only to within a
    quarter of a doubling.

    >>> [size_class(n) for n in (0, 64, 65, 81, 128, 1000)]
    [64, 64, 80, 96, 128, 1024]
    """
    if n <= MIN_SIZE_CLASS:
        return MIN_SIZE_CLASS
    unit = 1 << max(0, n.bit_length() - 1 - (SIZE_CLASS_STEPS.bit_length() - 1))
    return -(-n // unit) * unit


def is_size_class(n: int) -> bool:
    """Whether ``n`` is a possible padded length."""
    return n >= MIN_SIZE_CLASS and size_class(n) == n


def pad_and_shuffle(
    points: bytes, group: Group = RISTRETTO255
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Pad ``points`` with random elements to their size class and shuffle them.

    Returns ``(sent, index)``: ``sent`` is what goes on the wire and
    ``index[i]`` the position in ``points`` of the element sent at ``i`` (-1 for
    padding), which the sender keeps to read the reply.
    """
    n = len(points) // POINT_BYTES
    total = size_class(n)
    padded = points + group.random_points(total - n)
    # A permutation from the operating system's CSPRNG (Fisher–Yates in SystemRandom).
    order = np.asarray(secrets.SystemRandom().sample(range(total), total), dtype=np.int64)
    arr = np.frombuffer(padded, dtype=np.uint8).reshape(total, POINT_BYTES)
    sent = arr[order].tobytes()
    index = np.where(order < n, order, -1).astype(np.int64)
    return sent, index


def split(points: bytes) -> list[bytes]:
    """The 32-byte elements of ``points``."""
    return [points[i : i + POINT_BYTES] for i in range(0, len(points), POINT_BYTES)]


# -- messages ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One message of the exchange; :meth:`to_bytes` is all that crosses the wire.

    ``sections`` are the point lists (n × 32 bytes each) in :data:`LAYOUT` order.
    """

    kind: Kind
    fingerprint: str
    session: bytes
    grid: Grid
    time_buffer_s: float
    sections: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        """The serialised message (see the module docstring for the layout)."""
        layout = LAYOUT[self.kind]
        if len(layout) != len(self.sections):
            raise ValueError(
                f"{self.kind.label}: {len(self.sections)} sections, expected {len(layout)}"
            )
        parts = [
            _HEADER.pack(
                MAGIC,
                VERSION,
                int(self.kind),
                bytes.fromhex(self.fingerprint),
                self.session,
                self.grid.to_bytes(),
                float(self.time_buffer_s),
                len(self.sections),
            )
        ]
        for (rnd, reply), points in zip(layout, self.sections, strict=True):
            parts.append(_SECTION.pack(int(rnd) << 1 | int(reply), len(points) // POINT_BYTES))
            parts.append(points)
        body = b"".join(parts)
        return body + hashlib.sha256(body).digest()

    def counts(self) -> tuple[int, ...]:
        """Elements per section."""
        return tuple(len(s) // POINT_BYTES for s in self.sections)


def section_name(rnd: Round, reply: bool) -> str:
    """``coarse reply`` / ``fine elements`` and so on, for error messages."""
    return f"{rnd.name.lower()} {'reply' if reply else 'elements'}"


def decode(data: bytes, source: str = "message", group: Group = RISTRETTO255) -> Message:
    """Parse and check a message; anything wrong raises a one-line :class:`InputError`.

    Checks the magic, version, kind, length, digest, section layout, that every
    fresh list is padded to a size class and that every element is a valid
    ristretto255 element other than the identity. Whether the message fits this
    party's agreement, grid, time buffer, session and step is checked by the party
    (:mod:`deconflict.private.protocol`).
    """
    if len(data) < _HEADER.size + _DIGEST or data[:4] != MAGIC:
        raise InputError(f"{source}: not a deconflict private-mode message (no DCPS header)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    head = _HEADER.unpack_from(body)
    _magic, version, kind, fingerprint, session, grid_bytes, time_buffer_s, nsections = head
    if version != VERSION:
        raise InputError(
            f"{source}: private-mode message version {version}, this program reads {VERSION}"
        )
    if hashlib.sha256(body).digest() != digest:
        raise InputError(f"{source}: corrupt message (checksum mismatch); ask for it again")
    try:
        k = Kind(kind)
    except ValueError:
        raise InputError(f"{source}: unknown message kind {kind}") from None
    try:
        grid = Grid.from_bytes(grid_bytes)
    except InputError as err:
        raise InputError(f"{source}: bad grid in header: {err}") from None
    layout = LAYOUT[k]
    if nsections != len(layout):
        raise InputError(
            f"{source}: a {k.label} message has {len(layout)} sections, this one {nsections}"
        )
    offset = _HEADER.size
    sections: list[bytes] = []
    for rnd, reply in layout:
        if offset + _SECTION.size > len(body):
            raise InputError(f"{source}: truncated before the {section_name(rnd, reply)}")
        tag, count = _SECTION.unpack_from(body, offset)
        offset += _SECTION.size
        if tag != (int(rnd) << 1 | int(reply)):
            raise InputError(
                f"{source}: section tag {tag}, expected the {section_name(rnd, reply)}"
            )
        if count > MAX_POINTS:
            raise InputError(f"{source}: {count} elements in one section (limit {MAX_POINTS})")
        if not reply and not is_size_class(count):
            raise InputError(
                f"{source}: {count} {section_name(rnd, reply)}, not padded to a size class"
            )
        end = offset + count * POINT_BYTES
        if end > len(body):
            raise InputError(f"{source}: truncated in the {section_name(rnd, reply)}")
        points = body[offset:end]
        bad = group.invalid_points(points)
        if bad:
            raise InputError(
                f"{source}: element {bad[0]} of the {section_name(rnd, reply)} is not a valid "
                f"ristretto255 group element ({len(bad)} bad in all)"
            )
        sections.append(points)
        offset = end
    if offset != len(body):
        raise InputError(f"{source}: {len(body) - offset} unexpected bytes after the last section")
    if not (math.isfinite(time_buffer_s) and time_buffer_s >= 0):
        raise InputError(f"{source}: bad time buffer {time_buffer_s!r} in header")
    return Message(k, fingerprint.hex(), session, grid, time_buffer_s, tuple(sections))
