"""A software passkey: an EC P-256 key answering WebAuthn ceremonies the way a
browser and platform authenticator would (attestation format "none", user verified)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One resident credential for one relying party."""

    def __init__(self, origin: str = "http://localhost") -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.sign_count = 0
        self.rp_id: str | None = None
        self.user_handle: bytes | None = None

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def _cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """Answer ``navigator.credentials.create`` for the given ``publicKey`` options."""
        self.rp_id = options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        assert self.rp_id is not None
        excluded = {c["id"] for c in options.get("excludeCredentials", [])}
        if b64url(self.credential_id) in excluded:
            raise ValueError("InvalidStateError: this authenticator is already registered")
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([FLAG_UP | FLAG_UV | FLAG_AT])
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(
                    self._client_data("webauthn.create", options["challenge"])
                ),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(self, options: dict[str, Any], *, sign_count: int | None = None) -> dict[str, Any]:
        """Answer ``navigator.credentials.get``; the counter goes up unless given."""
        assert options["rpId"] == self.rp_id, "a passkey only answers its own relying party"
        allowed = {c["id"] for c in options.get("allowCredentials", [])}
        if allowed and b64url(self.credential_id) not in allowed:
            raise ValueError("NotAllowedError: no matching credential")
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        assert self.rp_id is not None
        assert self.user_handle is not None
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([FLAG_UP | FLAG_UV])
            + sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
