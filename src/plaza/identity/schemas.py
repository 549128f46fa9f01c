"""Request and response bodies of the identity API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import EmailStr, Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp

_PASSWORD: dict[str, Any] = {"min_length": 1, "max_length": 1024}
_TOTP_CODE: dict[str, Any] = {"min_length": 6, "max_length": 8, "pattern": r"^[0-9 ]+$"}
_RECOVERY_CODE: dict[str, Any] = {"min_length": 8, "max_length": 32}

Username = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
PasswordIn = Field(**_PASSWORD)
TotpCode = Field(**_TOTP_CODE)
# The factors a body may carry one of: optional, so a client sends only the one it uses.
OptionalPassword = Field(default=None, **_PASSWORD)
OptionalTotpCode = Field(default=None, **_TOTP_CODE)
OptionalRecoveryCode = Field(default=None, **_RECOVERY_CODE)


class SignUp(Input):
    username: str = Username
    password: str = PasswordIn
    email: EmailStr | None = None


class SignIn(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = PasswordIn


class PasskeyAssertion(Input):
    challenge_id: IdStr
    credential: dict[str, Any]


class MfaVerify(Input):
    mfa_token: str = Field(min_length=10, max_length=100)
    totp_code: str | None = OptionalTotpCode
    recovery_code: str | None = OptionalRecoveryCode
    passkey: PasskeyAssertion | None = None


class MfaToken(Input):
    mfa_token: str = Field(min_length=10, max_length=100)


class StepUp(Input):
    password: str | None = OptionalPassword
    totp_code: str | None = OptionalTotpCode
    recovery_code: str | None = OptionalRecoveryCode
    passkey: PasskeyAssertion | None = None


class PasswordChange(Input):
    current_password: str = PasswordIn
    new_password: str = PasswordIn


class TotpConfirm(Input):
    code: str = TotpCode


class PasskeyRegistration(Input):
    challenge_id: IdStr
    credential: dict[str, Any]
    name: str = Field(default="Passkey", min_length=1, max_length=64)


class PasskeyRename(Input):
    name: str = Field(min_length=1, max_length=64)


class DeleteAccount(Input):
    password: str = PasswordIn


class UserOut(Output):
    id: IdStr
    username: str
    email: str | None
    created_at: Timestamp
    is_admin: bool
    two_factor_enabled: bool = False
    deletion_scheduled_for: Timestamp | None = None


class PublicUserOut(Output):
    id: IdStr
    username: str
    created_at: Timestamp


class SessionCreated(Output):
    token: str
    user: UserOut
    csrf_token: str


class MfaRequired(Output):
    mfa_required: Literal[True] = True
    mfa_token: str
    methods: list[str]


class CeremonyOut(Output):
    challenge_id: IdStr
    public_key: dict[str, Any]


class TotpEnrollment(Output):
    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodes(Output):
    recovery_codes: list[str]


class DeviceOut(Output):
    id: IdStr
    created_at: Timestamp
    last_seen_at: Timestamp
    expires_at: Timestamp
    method: str
    user_agent: str
    ip: str
    current: bool

    @classmethod
    def of(cls, session: Any, *, current_id: int) -> DeviceOut:
        """A stored session as a device, marked ``current`` for the caller's own."""
        fields = {name: getattr(session, name) for name in cls.model_fields if name != "current"}
        return cls.model_validate({**fields, "current": session.id == current_id})


class PasskeyOut(Output):
    id: IdStr
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    backed_up: bool


class PasskeyAdded(PasskeyOut):
    """A new passkey; ``recovery_codes`` is set, once, when it was the first factor."""

    recovery_codes: list[str] | None = None


class SecurityEventOut(Output):
    id: IdStr
    kind: str
    ip: str
    user_agent: str
    details: dict[str, Any]
    created_at: Timestamp


class FactorsOut(Output):
    totp: bool
    passkeys: int
    recovery_codes_left: int
    step_up_valid_until: Timestamp | None
