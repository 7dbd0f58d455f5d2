"""Sealing a running pulse's answers so nobody who reads the tables can open them.

While a pulse runs, each answer waits in ``pulse_sealed_answer``, written in the same
transaction as its participant's "answered" mark. On PostgreSQL every row carries the id of the
transaction that wrote it (``xmin``), so that buffer row *is* linked to the person by anyone
with SELECT on both tables; what makes the link worthless is that the row is encrypted
(AES-256-GCM, from the ``cryptography`` package) with a key derived from the application's
secret key, which lives in the environment, never in the database. The plaintext is padded to
one fixed length, so not even the length of a comment ties a sealed row to an answer published
later. Opening happens once, in the transaction that closes the pulse and publishes every
answer in random order.

Rotating ``SERVICECHAIN_SECRET_KEY`` while a pulse runs makes its sealed answers unreadable:
close pulses first (the README says so).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from servicechain.platform.config import get_settings

PLAINTEXT_BYTES = 4608  # header (≤ 500 bytes) + a comment of 1000 characters (≤ 4000 bytes) + room
MAX_COMMENT_CHARS = 1000
_INFO = b"servicechain pulse answers v1"


class Unreadable(ValueError):
    """The sealed answer was not made with this installation's key, or was changed."""


def key_for(pulse_id: int) -> bytes:
    """The pulse's own key (HKDF of the secret key with the pulse id), so a sealed row copied
    into another pulse does not open."""
    secret = get_settings().secret_key.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + b":" + str(pulse_id).encode()).derive(secret)


def seal(pulse_id: int, answer: dict[str, Any]) -> str:
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    if len(body) + 4 > PLAINTEXT_BYTES:
        raise ValueError("answer too long to seal")
    # Length prefix, then zero padding to one size for every answer.
    plain = len(body).to_bytes(4, "big") + body + b"\0" * (PLAINTEXT_BYTES - 4 - len(body))
    nonce = os.urandom(12)
    sealed = AESGCM(key_for(pulse_id)).encrypt(nonce, plain, str(pulse_id).encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(pulse_id: int, token: str, *, key: bytes | None = None) -> dict[str, Any]:
    try:
        raw = base64.b64decode(token)
        plain = AESGCM(key or key_for(pulse_id)).decrypt(raw[:12], raw[12:], str(pulse_id).encode())
    except Exception as exc:  # wrong key, wrong pulse, or tampered
        raise Unreadable(str(exc)) from None
    size = int.from_bytes(plain[:4], "big")
    return json.loads(plain[4:4 + size].decode())
