"""The identity HTTP API: accounts, sessions, second factors, devices and the log.

No `from __future__ import annotations` here: FastAPI must see the real types of
the `Annotated` aliases defined inside `build_router`.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response, status

from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Page
from plaza.identity import schemas as s
from plaza.identity.auth import DEVICE_COOKIE, SESSION_COOKIE, Authenticator
from plaza.identity.lifecycle import AccountLifecycle
from plaza.identity.security import SecuritySettings
from plaza.identity.service import IdentityService, Principal, SignInResult

DEVICE_COOKIE_SECONDS = 400 * 86_400


def _passkey(p: s.PasskeyAssertion | None) -> tuple[int, dict[str, Any]] | None:
    return (p.challenge_id, p.credential) if p else None


def build_router(
    identity: IdentityService,
    security: SecuritySettings,
    lifecycle: AccountLifecycle,
    auth: Authenticator,
    *,
    cookie_secure: bool,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["identity"])
    Me = Annotated[Principal, Depends(auth.required)]

    def user_out(principal_or_user: Any, two_factor: bool) -> s.UserOut:
        out = s.UserOut.model_validate(principal_or_user)
        out.two_factor_enabled = two_factor
        return out

    def session_created(
        request: Request, response: Response, result: SignInResult
    ) -> s.SessionCreated:
        assert result.token is not None
        assert result.token_hash is not None
        response.set_cookie(
            SESSION_COOKIE,
            result.token,
            max_age=int(identity.policy.session_absolute.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=cookie_secure,
            path="/",
        )
        device = auth.client(request).device
        if identity.known_device(result.user.username_key, device) is None:
            response.set_cookie(
                DEVICE_COOKIE,
                identity.device_token(result.user.username_key),
                max_age=DEVICE_COOKIE_SECONDS,
                httponly=True,
                samesite="lax",
                secure=cookie_secure,
                path="/api/v1/sessions",
            )
        return s.SessionCreated(
            token=result.token,
            user=user_out(result.user, result.two_factor_enabled),
            csrf_token=auth.keys.csrf_token(result.token_hash),
        )

    @router.post(
        "/accounts",
        status_code=status.HTTP_201_CREATED,
        response_model=s.UserOut,
        responses={409: {"description": "Username taken"}},
    )
    async def sign_up(body: s.SignUp, request: Request) -> s.UserOut:
        """Create an account with a username and password. No phone number, ever."""
        user = await identity.register(
            username=body.username,
            password=body.password,
            email=body.email,
            client=auth.client(request),
        )
        return user_out(user, False)

    @router.post(
        "/sessions",
        status_code=status.HTTP_201_CREATED,
        response_model=s.SessionCreated | s.MfaRequired,
        responses={
            200: {"model": s.MfaRequired, "description": "Second factor due"},
            401: {"description": "Wrong credentials"},
            429: {"description": "Throttled"},
        },
    )
    async def sign_in(body: s.SignIn, request: Request, response: Response) -> Any:
        """Sign in with a password; answers 200 with an MFA token when a second factor is due."""
        result = await identity.sign_in(
            username=body.username, password=body.password, client=auth.client(request)
        )
        if result.mfa_token:
            response.status_code = status.HTTP_200_OK
            return s.MfaRequired(mfa_token=result.mfa_token, methods=result.methods)
        return session_created(request, response, result)

    @router.post(
        "/sessions/mfa", status_code=status.HTTP_201_CREATED, response_model=s.SessionCreated
    )
    async def complete_mfa(
        body: s.MfaVerify, request: Request, response: Response
    ) -> s.SessionCreated:
        """Finish signing in with a TOTP code, a recovery code or a passkey."""
        result = await identity.complete_mfa(
            mfa_token=body.mfa_token,
            totp_code=body.totp_code,
            recovery_code=body.recovery_code,
            passkey=_passkey(body.passkey),
            rp=auth.relying_party(request),
            client=auth.client(request),
        )
        return session_created(request, response, result)

    @router.post("/sessions/mfa/passkey-options", response_model=s.CeremonyOut)
    async def mfa_passkey_options(body: s.MfaToken, request: Request) -> s.CeremonyOut:
        """WebAuthn options to use a passkey as the second factor of this sign-in."""
        options = await identity.passkey_options(auth.relying_party(request), body.mfa_token)
        return s.CeremonyOut(challenge_id=options.challenge_id, public_key=options.public_key)

    @router.post("/sessions/passkey-options", response_model=s.CeremonyOut)
    async def passkey_options(request: Request) -> s.CeremonyOut:
        """WebAuthn options to sign in with any passkey, without a password."""
        options = await identity.passkey_options(auth.relying_party(request))
        return s.CeremonyOut(challenge_id=options.challenge_id, public_key=options.public_key)

    @router.post(
        "/sessions/passkey", status_code=status.HTTP_201_CREATED, response_model=s.SessionCreated
    )
    async def passkey_sign_in(
        body: s.PasskeyAssertion, request: Request, response: Response
    ) -> s.SessionCreated:
        result = await identity.sign_in_with_passkey(
            rp=auth.relying_party(request),
            challenge_id=body.challenge_id,
            credential=body.credential,
            client=auth.client(request),
        )
        return session_created(request, response, result)

    @router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
    async def sign_out(me: Me) -> Response:
        await identity.sign_out(me)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/me", response_model=s.UserOut)
    async def get_me(me: Me) -> s.UserOut:
        """The signed-in account. Never includes a secret."""
        return user_out(me.user, me.two_factor_enabled)

    @router.get("/me/sessions", response_model=Page[s.DeviceOut])
    async def list_devices(me: Me) -> Page[s.DeviceOut]:
        """Signed-in devices, most recently used first."""
        rows = await identity.list_sessions(me)
        return Page(data=[s.DeviceOut.of(r, current_id=me.session.id) for r in rows])

    @router.delete("/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def revoke_device(session_id: IdPath, me: Me, request: Request) -> Response:
        await identity.revoke_session(me, session_id, auth.client(request))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/me/step-up", response_model=dict[str, str])
    async def step_up(body: s.StepUp, me: Me, request: Request) -> dict[str, str]:
        """Re-prove this session before a sensitive change (second factor, else password)."""
        until = await identity.step_up(
            me,
            password=body.password,
            totp_code=body.totp_code,
            recovery_code=body.recovery_code,
            passkey=_passkey(body.passkey),
            rp=auth.relying_party(request),
            client=auth.client(request),
        )
        return {"valid_until": until.isoformat().replace("+00:00", "Z")}

    @router.post("/me/step-up/passkey-options", response_model=s.CeremonyOut)
    async def step_up_passkey_options(me: Me, request: Request) -> s.CeremonyOut:
        options = await security.step_up_passkey_options(me, auth.relying_party(request))
        return s.CeremonyOut(challenge_id=options.challenge_id, public_key=options.public_key)

    @router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
    async def change_password(body: s.PasswordChange, me: Me, request: Request) -> Response:
        await identity.change_password(
            me, current=body.current_password, new=body.new_password, client=auth.client(request)
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/me/factors", response_model=s.FactorsOut)
    async def factors_summary(me: Me) -> s.FactorsOut:
        summary = await security.summary(me)
        return s.FactorsOut.model_validate(summary, from_attributes=True)

    @router.post("/me/totp", status_code=status.HTTP_201_CREATED, response_model=s.TotpEnrollment)
    async def begin_totp(me: Me) -> s.TotpEnrollment:
        """A new TOTP secret with its QR code; inactive until confirmed with a code."""
        enrollment = await security.begin_totp(me)
        return s.TotpEnrollment.model_validate(enrollment, from_attributes=True)

    @router.post("/me/totp/confirm", response_model=s.RecoveryCodes)
    async def confirm_totp(body: s.TotpConfirm, me: Me, request: Request) -> s.RecoveryCodes:
        codes = await security.confirm_totp(me, body.code, auth.client(request))
        return s.RecoveryCodes(recovery_codes=codes)

    @router.delete("/me/totp", status_code=status.HTTP_204_NO_CONTENT)
    async def disable_totp(me: Me, request: Request) -> Response:
        await security.disable_totp(me, auth.client(request))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/me/recovery-codes", status_code=status.HTTP_201_CREATED, response_model=s.RecoveryCodes
    )
    async def new_recovery_codes(me: Me, request: Request) -> s.RecoveryCodes:
        codes = await security.regenerate_recovery_codes(me, auth.client(request))
        return s.RecoveryCodes(recovery_codes=codes)

    @router.get("/me/passkeys", response_model=Page[s.PasskeyOut])
    async def list_passkeys(me: Me) -> Page[s.PasskeyOut]:
        rows = await security.list_passkeys(me)
        return Page(data=[s.PasskeyOut.model_validate(r) for r in rows])

    @router.post("/me/passkeys/options", response_model=s.CeremonyOut)
    async def passkey_registration_options(me: Me, request: Request) -> s.CeremonyOut:
        options = await security.passkey_registration_options(me, auth.relying_party(request))
        return s.CeremonyOut(challenge_id=options.challenge_id, public_key=options.public_key)

    @router.post("/me/passkeys", status_code=status.HTTP_201_CREATED, response_model=s.PasskeyAdded)
    async def add_passkey(body: s.PasskeyRegistration, me: Me, request: Request) -> s.PasskeyAdded:
        """Register a passkey; the first factor of an account also brings recovery codes."""
        passkey, codes = await security.add_passkey(
            me,
            auth.relying_party(request),
            challenge_id=body.challenge_id,
            credential=body.credential,
            name=body.name,
            client=auth.client(request),
        )
        added = s.PasskeyAdded.model_validate(passkey)
        added.recovery_codes = codes
        return added

    @router.patch("/me/passkeys/{passkey_id}", response_model=s.PasskeyOut)
    async def rename_passkey(passkey_id: IdPath, body: s.PasskeyRename, me: Me) -> s.PasskeyOut:
        return s.PasskeyOut.model_validate(await security.rename_passkey(me, passkey_id, body.name))

    @router.delete("/me/passkeys/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def remove_passkey(passkey_id: IdPath, me: Me, request: Request) -> Response:
        await security.remove_passkey(me, passkey_id, auth.client(request))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/me/security-log", response_model=Page[s.SecurityEventOut])
    async def security_log(
        me: Me, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
    ) -> Page[s.SecurityEventOut]:
        """Sign-ins, new devices and factor changes on this account, newest first."""
        rows = await identity.security_log(me, limit=limit + 1, before_id=decode_cursor(cursor))
        page = rows[:limit]
        return Page(
            data=[s.SecurityEventOut.model_validate(r) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    @router.get("/me/export", responses={200: {"content": {"application/json": {}}}})
    async def export(me: Me) -> Response:
        """All of the user's data as one JSON document (a download)."""
        data = await lifecycle.export(me)
        return Response(
            orjson.dumps(data, option=orjson.OPT_INDENT_2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="plaza-{me.user.username}.json"'
            },
        )

    @router.post(
        "/me/deletion", status_code=status.HTTP_202_ACCEPTED, response_model=dict[str, str]
    )
    async def delete_account(body: s.DeleteAccount, me: Me, request: Request) -> Any:
        """Schedule deletion after the grace period and sign out everywhere."""
        when = await lifecycle.schedule_deletion(
            me, password=body.password, client=auth.client(request)
        )
        return {"deletion_scheduled_for": when.isoformat().replace("+00:00", "Z")}

    @router.delete("/me/deletion", status_code=status.HTTP_204_NO_CONTENT)
    async def cancel_deletion(me: Me, request: Request) -> Response:
        """Undo a scheduled deletion within the grace period."""
        await lifecycle.cancel_deletion(me, auth.client(request))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
