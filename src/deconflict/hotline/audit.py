"""The hotline's tamper-evident audit log: a signed hash chain, checked against held heads.

The log is a JSON-lines file, one entry a line. Each entry carries the SHA-256 ``hash`` of
its own canonical JSON (``n``, ``time``, ``type``, ``data``, ``prev``) and ``prev``, the hash
of the entry before it, so changing, removing or re-ordering any entry breaks the chain.
The log holder signs every hash with its Ed25519 key (entry 1, the genesis, names that key),
so nobody else can forge an entry. The holder itself could still truncate or rebuild the
whole log, so it hands the other parties signed *heads* (entry count and last hash): like
Certificate Transparency's signed tree heads, a party that kept a head catches any later
log that is shorter than it or whose entry ``n`` has another hash. Times are Unix seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from deconflict._util import atomic_write, fsync_dir, write_all
from deconflict.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: Prefix of the bytes signed for an entry (a signature is valid for nothing else).
ENTRY_DOMAIN = b"deconflict-audit-v1\n"
#: Prefix of the bytes signed for a head.
HEAD_DOMAIN = b"deconflict-audit-head-v1\n"
#: ``prev`` of entry 1.
ZERO_HASH = "0" * 64
GENESIS = "genesis"
ENTRY_KEYS = frozenset({"n", "time", "type", "data", "prev", "hash", "sig"})
HEAD_KEYS = frozenset({"n", "hash", "time", "public_key", "sig"})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_TAIL_CHUNK = 1 << 16
_SIG_CHUNK = 2048


def canonical(obj: Mapping[str, Any]) -> str:
    """The canonical JSON of ``obj``: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def entry_content(n: int, t: float, type_: str, data: Mapping[str, Any], prev: str) -> str:
    """The canonical JSON an entry's hash covers (``t`` in Unix s)."""
    return canonical({"n": n, "time": t, "type": type_, "data": data, "prev": prev})


def entry_hash(n: int, t: float, type_: str, data: Mapping[str, Any], prev: str) -> str:
    """The hex SHA-256 of an entry's canonical content (``t`` in Unix s)."""
    return hashlib.sha256(entry_content(n, t, type_, data, prev).encode()).hexdigest()


def _entry_line(content: str, digest: str, sig: str) -> str:
    """The canonical JSON of the whole entry, spliced from its content (one serialisation).

    Sorted keys run data, hash, n, prev, sig, time, type; the last ``,"n":`` and
    ``,"time":`` are the top-level ones, as a string value cannot hold an unescaped quote.
    """
    i = content.rfind(',"n":')
    j = content.rfind(',"time":')
    return f'{content[:i]},"hash":"{digest}"{content[i:j]},"sig":"{sig}"{content[j:]}'


def _head_body(head: Mapping[str, Any]) -> bytes:
    """The bytes a head's signature covers."""
    fields = {k: head[k] for k in ("n", "hash", "time", "public_key")}
    return HEAD_DOMAIN + canonical(fields).encode()


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_log` found.

    ``entries`` counts the entries that verified (all of them when ``ok``), ``head_hash``
    is the hash of the last of those, ``problem`` is one line naming the first bad entry,
    ``key_checked`` is True when the log was confirmed signed by the pinned key,
    ``public_key`` is the key the genesis names and ``heads_checked`` how many party heads
    were found consistent.
    """

    ok: bool
    entries: int
    head_hash: str
    problem: str | None
    key_checked: bool
    public_key: str = ""
    heads_checked: int = 0


class AuditLog:
    """An open audit log that this process appends to (one writer: it holds a file lock).

    Appends are thread-safe and durable: each returns after ``os.fsync``. Use as a context
    manager, or call :meth:`close`.
    """

    def __init__(self, path: Path, key: SigningKey, fd: int, n: int, last_hash: str, size: int):
        """Use :meth:`open`."""
        self.path = path
        self._key = key
        self._public_key = key.verify_key.encode().hex()
        self._fd: int | None = fd
        self._n = n
        self._hash = last_hash
        self._size = size
        self._lock = threading.Lock()
        #: Bytes of a torn last line removed when the log was opened (0: none).
        self.dropped_bytes = 0

    @classmethod
    def open(cls, path: Path, key: SigningKey) -> AuditLog:
        """Open the log at ``path``, creating it (with its genesis) if missing; mode 0600.

        A torn last line (a crash mid-write, never acknowledged) is truncated away. Only the
        first and last entries are read (fast at any size; :func:`verify_log` checks the rest).
        Raises :class:`InputError` when the log belongs to another key, its last entry is
        damaged, or another process has it open.
        """
        path = Path(path)
        created = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as err:
            raise InputError(f"audit log {path}: {err.strerror}") from None
        try:
            _lock_exclusive(fd, path)
            if os.fstat(fd).st_mode & 0o077:  # a log from before logs were private
                with contextlib.suppress(PermissionError):  # another owner's file
                    os.fchmod(fd, 0o600)
            if created:
                fsync_dir(path.parent)
            size = os.fstat(fd).st_size
            dropped = 0
            if size:
                good = _complete_size(fd, size)
                if good != size:
                    os.ftruncate(fd, good)
                    os.fsync(fd)
                    dropped, size = size - good, good
            log = cls(path, key, fd, 0, ZERO_HASH, size)
            log.dropped_bytes = dropped
            if size == 0:
                log._write_batch([(GENESIS, {"public_key": log._public_key})], genesis=True)
            else:
                log._n, log._hash = _check_ends(fd, size, path, log._public_key)
        except BaseException:
            os.close(fd)
            raise
        return log

    @property
    def n(self) -> int:
        """Number of the last entry."""
        return self._n

    @property
    def public_key(self) -> str:
        """The holder's verify key, hex."""
        return self._public_key

    def append(self, type: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Append one entry, durably; returns it."""
        return self.append_many([(type, data)])[0]

    def append_many(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Append entries with one write and one fsync; returns them in order."""
        return self._write_batch(items, genesis=False)

    def head(self) -> dict[str, Any]:
        """The signed head: ``n``, last ``hash``, ``time`` (Unix s), ``public_key``, ``sig``."""
        with self._lock:
            self._check_open()
            return sign_head(self._key, self._n, self._hash)

    def close(self) -> None:
        """Close the file and release the lock (idempotent)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> int:
        if self._fd is None:
            raise ValueError(f"audit log {self.path} is closed")
        return self._fd

    def _write_batch(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], *, genesis: bool
    ) -> list[dict[str, Any]]:
        """Build, sign, write and fsync ``items``; state changes only once they are durable."""
        with self._lock:
            fd = self._check_open()
            n, prev = self._n, self._hash
            lines: list[str] = []
            out: list[dict[str, Any]] = []
            sign = self._key.sign
            for type_, data in items:
                if not genesis:
                    _check_item(type_, data)
                    data = dict(data)
                n += 1
                t = time.time()
                try:
                    content = entry_content(n, t, type_, data, prev)
                except (TypeError, ValueError, RecursionError) as err:
                    raise InputError(f"audit entry {type_!r}: data is not JSON ({err})") from None
                digest = hashlib.sha256(content.encode()).hexdigest()
                sig = sign(ENTRY_DOMAIN + digest.encode()).signature.hex()
                line = _entry_line(content, digest, sig)
                lines.append(line)
                out.append(json.loads(line))  # a deep copy, as it reads back from the file
                prev = digest
            if not lines:
                return out
            blob = ("\n".join(lines) + "\n").encode()
            try:
                write_all(fd, blob)
                os.fsync(fd)
            except OSError:
                try:  # drop what reached the file: none of it was acknowledged
                    os.ftruncate(fd, self._size)
                except OSError:  # a partial line may remain: close, reopening repairs it
                    os.close(fd)
                    self._fd = None
                raise
            self._n, self._hash, self._size = n, prev, self._size + len(blob)
            return out


def sign_head(key: SigningKey, n: int, last_hash: str) -> dict[str, Any]:
    """A head for a log of ``n`` entries ending in ``last_hash``, signed now by ``key``."""
    head: dict[str, Any] = {
        "n": n,
        "hash": last_hash,
        "time": time.time(),
        "public_key": key.verify_key.encode().hex(),
    }
    head["sig"] = key.sign(_head_body(head)).signature.hex()
    return head


def read_head(path: Path, key: SigningKey) -> dict[str, Any]:
    """A signed head of the log at ``path`` without opening it for writing.

    Works while another process appends (an incomplete last line is left out); the file
    is fsynced first so the head never covers entries a crash could still lose.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise InputError(f"audit log {path}: {err.strerror}") from None
    try:
        size = _complete_size(fd, os.fstat(fd).st_size)
        if size == 0:
            raise InputError(f"audit log {path}: empty (no genesis entry)")
        n, last = _check_ends(fd, size, path, key.verify_key.encode().hex())
        os.fsync(fd)
    finally:
        os.close(fd)
    return sign_head(key, n, last)


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of the log at ``path``, in order, unverified (see :func:`verify_log`).

    A torn last line is skipped; a line that is not a JSON object raises :class:`InputError`.
    """
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as err:
        raise InputError(f"audit log {path}: {err.strerror}") from None
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                return
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                raise InputError(f"audit log {path}: line {number} is not a JSON object")
            yield obj


def verify_log(
    path: Path, *, public_key: str | None = None, heads: Sequence[Mapping[str, Any]] = ()
) -> VerifyReport:
    """Check the whole chain at ``path``, the signer against ``public_key``, and ``heads``.

    Returns a report whose ``problem`` names the first thing wrong; raises
    :class:`InputError` only when the file cannot be read or an argument is malformed.
    """
    path = Path(path)
    pinned = None if public_key is None else _key_arg(public_key)
    for i, head in enumerate(heads, start=1):
        _check_head_shape(head, f"head #{i}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"audit log {path}: {err.strerror}") from None

    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    with _SignatureChecker() as sigs:
        hashes, signer, problem = _check_chain(lines, pinned, sigs)
        bad = sigs.first_bad()
    if bad is not None:
        del hashes[bad - 1 :]
        problem = f"entry {bad}: bad signature"

    def report(problem: str | None, *, heads_checked: int = 0) -> VerifyReport:
        key_ok = pinned is not None and signer == pinned
        last = hashes[-1] if hashes else ""
        return VerifyReport(
            problem is None, len(hashes), last, problem, key_ok, signer, heads_checked
        )

    if problem is not None:
        return report(problem)
    if torn:
        return report(
            f"last line torn (line {len(lines) + 1} has no newline: a crash mid-write?; "
            "opening the log with its key repairs it)"
        )
    if not hashes:
        return report("log is empty (no genesis entry)")
    verify_key = VerifyKey(bytes.fromhex(signer))
    for head in heads:
        k = head["n"]
        if head["public_key"] != signer:
            return report(
                f"head n={k} is signed by key {head['public_key'][:16]}…, but the log by "
                f"{signer[:16]}… (log rebuilt under another key)"
            )
        try:
            verify_key.verify(_head_body(head), bytes.fromhex(head["sig"]))
        except BadSignatureError:
            return report(f"head n={k}: bad signature")
        if k > len(hashes):
            return report(f"log has {len(hashes)} entries but party head n={k}: truncated")
        if hashes[k - 1] != head["hash"]:
            return report(f"entry {k} differs from the head a party holds: log rewritten")
    return report(None, heads_checked=len(heads))


class _SignatureChecker:
    """Checks entry signatures in chunks on worker threads while the chain is walked.

    libsodium runs without the GIL, so signatures (most of the cost) scale with cores.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 32))
        self._chunk: list[tuple[int, bytes, bytes]] = []
        self._key: VerifyKey | None = None
        self._futures: list[Future[int | None]] = []

    def start(self, public_key: str) -> None:
        """Signatures are to be checked under ``public_key`` (hex)."""
        self._key = VerifyKey(bytes.fromhex(public_key))

    def add(self, number: int, signed: bytes, sig: bytes) -> None:
        """Queue entry ``number``: ``sig`` should sign ``signed``."""
        self._chunk.append((number, signed, sig))
        if len(self._chunk) >= _SIG_CHUNK:
            self._flush()

    def first_bad(self) -> int | None:
        """Number of the first queued entry whose signature fails, or None."""
        self._flush()
        for future in self._futures:
            bad = future.result()
            if bad is not None:
                return bad
        return None

    def _flush(self) -> None:
        if self._chunk and self._key is not None:
            self._futures.append(self._pool.submit(_first_bad, self._key, self._chunk))
            self._chunk = []

    def __enter__(self) -> _SignatureChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _first_bad(key: VerifyKey, chunk: list[tuple[int, bytes, bytes]]) -> int | None:
    for number, signed, sig in chunk:
        try:
            key.verify(signed, sig)
        except BadSignatureError:
            return number
    return None


def _check_chain(
    lines: list[bytes], pinned: str | None, sigs: _SignatureChecker
) -> tuple[list[str], str, str | None]:
    """Every check but the signatures of entries 2.. (queued on ``sigs``), to the first problem.

    Returns the hashes of the entries that passed, the genesis key ("" if none) and the
    problem (None if none).
    """
    hashes: list[str] = []
    signer = ""
    prev = ZERO_HASH
    for number, line in enumerate(lines, start=1):
        problem = None
        entry = _parse_entry(line)
        if entry is None:
            return hashes, signer, f"entry {number}: not a valid entry (changed)"
        if entry["n"] != number:
            problem = (
                f"entry at line {number} is numbered {entry['n']}, expected {number} "
                "(an entry was removed or re-ordered)"
            )
            return hashes, signer, problem
        if entry["prev"] != prev:
            problem = (
                f"entry {number}: prev does not match entry {number - 1} (removed or re-ordered)"
                if number > 1
                else "entry 1: prev is not all zeros (an entry was removed)"
            )
            return hashes, signer, problem
        try:
            content = entry_content(number, entry["time"], entry["type"], entry["data"], prev)
        except RecursionError:  # nested deeper than it can have been written
            return hashes, signer, f"entry {number}: not a valid entry (changed)"
        digest = hashlib.sha256(content.encode()).hexdigest()
        if digest != entry["hash"]:
            return hashes, signer, f"entry {number}: hash does not match its content (changed)"
        if _entry_line(content, digest, entry["sig"]).encode() != line:
            return hashes, signer, f"entry {number}: not in canonical form (changed)"
        signed = ENTRY_DOMAIN + digest.encode()
        if number == 1:
            signer = _genesis_key(entry)
            if not signer:
                return hashes, "", "entry 1: not a genesis entry naming a public key"
            try:
                VerifyKey(bytes.fromhex(signer)).verify(signed, bytes.fromhex(entry["sig"]))
            except BadSignatureError:
                return hashes, signer, "entry 1: bad signature"
            if pinned is not None and signer != pinned:
                problem = f"log is signed by key {signer[:16]}…, expected {pinned[:16]}…"
                return hashes, signer, problem
            sigs.start(signer)
        elif entry["type"] == GENESIS:
            return hashes, signer, f"entry {number}: a second genesis entry"
        else:
            sigs.add(number, signed, bytes.fromhex(entry["sig"]))
        hashes.append(digest)
        prev = digest
    return hashes, signer, None


def head_text(head: Mapping[str, Any]) -> str:
    """A head as its file holds it: indented JSON and a final newline."""
    return json.dumps(head, indent=2) + "\n"


def write_head(path: Path, head: Mapping[str, Any]) -> None:
    """Write ``head`` to the JSON file at ``path`` (atomically; :func:`load_head` reads it)."""
    atomic_write(path, head_text(head))


def load_head(path: Path) -> dict[str, Any]:
    """The head in the JSON file at ``path`` (shape checked; its signature is not)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        why = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise InputError(f"head file {path}: {why}") from None
    try:
        head = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"head file {path}: not valid JSON") from None
    _check_head_shape(head, f"head file {path}")
    return dict(head)


def _check_item(type_: object, data: object) -> None:
    """An entry a caller may append: a non-empty type (not genesis) and a JSON object."""
    if not isinstance(type_, str) or not type_ or type_ == GENESIS:
        raise InputError(f"audit entry type: {type_!r} is not a non-empty string (not genesis)")
    if not isinstance(data, Mapping):
        raise InputError(f"audit entry {type_!r}: data is a {type(data).__name__}, not an object")


def _parse_entry(line: bytes) -> dict[str, Any] | None:
    """The entry on ``line`` if it has exactly the entry keys with the right types."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.keys() != ENTRY_KEYS:
        return None
    n, t = obj["n"], obj["time"]
    ok = (
        type(n) is int
        and type(t) in (int, float)
        and math.isfinite(t)
        and isinstance(obj["type"], str)
        and isinstance(obj["data"], dict)
        and _is_hex(obj["prev"], _HEX64)
        and _is_hex(obj["hash"], _HEX64)
        and _is_hex(obj["sig"], _HEX128)
    )
    return obj if ok else None


def _genesis_key(entry: Mapping[str, Any]) -> str:
    """The public key a genesis entry names, or "" when it is not one."""
    data = entry["data"]
    if entry["type"] != GENESIS or data.keys() != {"public_key"}:
        return ""
    key = data["public_key"]
    return key if _is_hex(key, _HEX64) else ""


def _check_head_shape(head: object, where: str) -> None:
    """Raise :class:`InputError` unless ``head`` looks like a signed head."""
    if not isinstance(head, Mapping) or set(head.keys()) != HEAD_KEYS:
        raise InputError(f"{where}: not a head (expected keys {', '.join(sorted(HEAD_KEYS))})")
    n, t = head["n"], head["time"]
    if type(n) is not int or n < 1:
        raise InputError(f"{where}: n {n!r} is not a whole number >= 1")
    if type(t) not in (int, float) or not math.isfinite(t):
        raise InputError(f"{where}: time {t!r} is not a finite number of Unix seconds")
    for field, pattern in (("hash", _HEX64), ("public_key", _HEX64), ("sig", _HEX128)):
        if not _is_hex(head[field], pattern):
            raise InputError(f"{where}: {field} is not {pattern.pattern[-4:-1]} lowercase hex")


def _is_hex(value: object, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _key_arg(public_key: str) -> str:
    """``public_key`` as 64 lowercase hex digits, or :class:`InputError`."""
    key = public_key.strip().lower()
    if not _is_hex(key, _HEX64):
        raise InputError(f"public key {public_key!r}: expected 64 hex digits")
    return key


def _lock_exclusive(fd: int, path: Path) -> None:
    """Take this process's writer lock on the log, or :class:`InputError`."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(f"audit log {path} is open for writing elsewhere") from None


def check_log_free(path: Path) -> None:
    """:class:`InputError` if another process holds ``path``'s writer lock (before start-up)."""
    if fcntl is None or not path.exists():  # pragma: no cover - not POSIX
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise InputError(f"audit log {path}: {err.strerror or err}") from None
    try:
        _lock_exclusive(fd, path)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _complete_size(fd: int, size: int) -> int:
    """Length of the file up to and including its last newline (0 if none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def _last_line(fd: int, size: int) -> bytes:
    """The last complete line of a file of ``size`` bytes that ends with a newline."""
    end = size - 1  # the final newline
    pieces: list[bytes] = []
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            pieces.append(chunk[i + 1 :])
            break
        pieces.append(chunk)
        end = start
    return b"".join(reversed(pieces))


def _first_line(fd: int, size: int) -> bytes:
    """The first line of a file that has at least one newline."""
    pieces: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(_TAIL_CHUNK, size - offset), offset)
        i = chunk.find(b"\n")
        if i >= 0:
            pieces.append(chunk[:i])
            break
        pieces.append(chunk)
        offset += len(chunk)
    return b"".join(pieces)


def _check_ends(fd: int, size: int, path: Path, public_key: str) -> tuple[int, str]:
    """Check the genesis names ``public_key`` and the last entry is intact; its n and hash."""
    first = _parse_entry(_first_line(fd, size))
    signer = _genesis_key(first) if first is not None and first["n"] == 1 else ""
    if not signer:
        raise InputError(f"audit log {path}: entry 1 is not a genesis entry; not an audit log?")
    if signer != public_key:
        raise InputError(
            f"audit log {path} is signed by key {signer[:16]}…, not by this key {public_key[:16]}…"
        )
    last = _parse_entry(_last_line(fd, size))
    damaged = InputError(
        f"audit log {path}: its last entry is damaged; run `deconflict audit verify` on it"
    )
    if last is None:
        raise damaged
    digest = entry_hash(last["n"], last["time"], last["type"], last["data"], last["prev"])
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(
            ENTRY_DOMAIN + digest.encode(), bytes.fromhex(last["sig"])
        )
    except BadSignatureError:
        raise damaged from None
    if digest != last["hash"] or last["n"] < 1:
        raise damaged
    return last["n"], digest
