"""Password policy and argon2id hashing with a bound on concurrent hashes.

Each hash takes ~19 MiB and tens of milliseconds of CPU. Hashing runs in worker
threads behind a semaphore, so a flood of sign-ins queues instead of exhausting
memory, and the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import unicodedata
from importlib import resources

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from plaza.core.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lower-cased."""
    text = resources.files("plaza.identity").joinpath("data/common-passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_password_policy(password: str, *, username: str, field: str = "password") -> str:
    """Normalise (NFKC) and validate a new password; raises InvalidInput naming ``field``."""
    normalised = unicodedata.normalize("NFKC", password)
    if len(normalised) < MIN_LENGTH:
        raise InvalidInput(field, f"must be at least {MIN_LENGTH} characters")
    if len(normalised) > MAX_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_LENGTH} characters")
    lowered = normalised.lower()
    if lowered in common_passwords():
        raise InvalidInput(
            field, "is too common; choose one that is not on lists of leaked passwords"
        )
    if lowered == username.lower():
        raise InvalidInput(field, "must not be the username")
    return normalised


class PasswordHasher:
    """argon2id hashing; at most ``max_concurrent`` hashes run at once."""

    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, max_concurrent: int
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self.max_concurrent = max_concurrent
        # Verified against when the username does not exist, so that the answer
        # takes as long as for a real account and does not reveal which names exist.
        self._decoy = self._argon2.hash("plaza-decoy-password")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(
                self._argon2.hash, unicodedata.normalize("NFKC", password)
            )

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches. With ``stored_hash=None`` it spends the same time
        and says no."""
        candidate = unicodedata.normalize("NFKC", password)
        async with self._slots:
            return await asyncio.to_thread(self._verify_sync, stored_hash, candidate)

    def _verify_sync(self, stored_hash: str | None, password: str) -> bool:
        try:
            self._argon2.verify(stored_hash or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._argon2.check_needs_rehash(stored_hash)
