"""Streaming base64 (RFC 4648, standard alphabet) for payloads that never sit whole in memory."""

from __future__ import annotations

import re

import pybase64

_NOT_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")


class Base64Error(ValueError):
    """Invalid base64; ``offset`` is the 0-based position in the base64 text."""

    def __init__(self, offset: int, reason: str = "") -> None:
        self.offset = offset
        detail = f" ({reason})" if reason else ""
        super().__init__(f"invalid base64 at byte {offset}{detail}")


def encode_chunk(raw: bytes | memoryview) -> bytes:
    """Encode one chunk; chunks whose size is a multiple of 3 concatenate to valid base64."""
    return pybase64.b64encode(raw)


def _locate_error(text: bytes, base: int) -> Base64Error:
    """Find where a quantum-aligned run of base64 that failed to decode goes wrong.

    Only called on failure, so the slow scan never touches the fast path.
    """
    bad = _NOT_ALPHABET.search(text)
    if bad is not None:
        char = text[bad.start() : bad.start() + 1]
        return Base64Error(base + bad.start(), f"unexpected {char!r}")
    # Only alphabet and '=' present: the padding is misplaced.
    pad = text.find(b"=")
    quantum_pos = pad % 4
    if quantum_pos < 2:
        return Base64Error(base + pad, "'=' where data is expected")
    for i in range(pad, min(len(text), pad - quantum_pos + 4)):
        if text[i : i + 1] != b"=":
            return Base64Error(base + i, "data inside padding")
    return Base64Error(base + pad - quantum_pos + 4, "data after padding")


class Base64StreamDecoder:
    """Decode base64 fed in arbitrary pieces.

    Carries the 0-3 characters that do not complete a quantum over to the next piece, so
    the decoded output is the same whatever the chunking. The bulk of every piece is
    decoded in one call to pybase64 from a memoryview, without copying it first.
    """

    __slots__ = ("_carry", "_consumed", "_padded", "decoded_size")

    def __init__(self) -> None:
        self._carry = b""
        self._consumed = 0  # base64 characters accepted so far (for error offsets)
        self._padded = False
        self.decoded_size = 0

    @property
    def position(self) -> int:
        """Offset in the base64 text of the next character to arrive."""
        return self._consumed + len(self._carry)

    def decode(self, text: bytes | memoryview) -> bytes:
        head, body = self.decode_parts(text)
        return head + body if head else body

    def decode_parts(self, text: bytes | memoryview) -> tuple[bytes, bytes]:
        """Like ``decode``, but the few bytes of the quantum completed from the carry come
        apart from the bulk, so a caller can pass both on without joining (copying) them."""
        view = memoryview(text)
        if not view:
            return b"", b""
        if self._padded:
            raise Base64Error(self.position, "data after padding")
        out = b""
        start = 0
        if self._carry:
            need = 4 - len(self._carry)
            if len(view) < need:
                self._carry += bytes(view)
                return b"", b""
            quantum = self._carry + bytes(view[:need])
            out = self._decode_aligned(quantum, self._consumed)
            self._carry = b""
            start = need
            if self._padded and len(view) > start:
                raise Base64Error(self._consumed, "data after padding")
        usable = (len(view) - start) // 4 * 4
        body = b""
        if usable:
            body = self._decode_aligned(view[start : start + usable], self._consumed)
        rest = view[start + usable :]
        if rest:
            if self._padded:
                raise Base64Error(self._consumed, "data after padding")
            self._carry = bytes(rest)
        return out, body

    def _decode_aligned(self, text: bytes | memoryview, base: int) -> bytes:
        try:
            decoded: bytes = pybase64.b64decode(text, validate=True)
        except ValueError:
            raise _locate_error(bytes(text), base) from None
        self._consumed += len(text)
        self.decoded_size += len(decoded)
        if text[-1:] == b"=":
            self._padded = True
        return decoded

    def finish(self) -> bytes:
        """End of the base64 text: decode what is carried, accepting missing final padding."""
        carry, self._carry = self._carry, b""
        if not carry:
            return b""
        if self._padded:
            raise Base64Error(self._consumed, "data after padding")
        if len(carry) == 1:
            raise Base64Error(self._consumed, "truncated: a lone final character")
        stripped = carry.rstrip(b"=")
        if len(stripped) < 2:
            raise Base64Error(self._consumed, "truncated")
        return self._decode_aligned(stripped + b"=" * (4 - len(stripped)), self._consumed)
