"""TOTP two-factor sign-in (RFC 6238, 30-second steps, 6 digits): secrets, QR codes, verification.

A user sets it up on /account/2fa/: a new secret is kept unconfirmed until they type a
code from their app; from then on sign-in asks for a code after the password. Each code
is accepted once (`last_totp_step`), and one step of clock drift either way is allowed.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import segno

from console.accounts.models import UserSecurity

ISSUER = "Berth"
STEP = 30


def security_of(user: Any) -> UserSecurity:
    found, _ = UserSecurity.objects.get_or_create(user=user)
    return found


def start_setup(user: Any) -> UserSecurity:
    """A fresh, unconfirmed secret (replacing an unconfirmed earlier one; a confirmed one stays until disabled)."""
    sec = security_of(user)
    if not sec.totp_enabled:
        sec.totp_secret, sec.totp_confirmed = pyotp.random_base32(), False
        sec.save(update_fields=["totp_secret", "totp_confirmed"])
    return sec


def provisioning_uri(user: Any, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (no external images, no scripts)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """Pure: the time step whose code is `code` (now, or one step before or after), else None."""
    code = "".join(code.split())
    if not (secret and code.isdigit() and len(code) == 6):
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now + drift * STEP
        if totp.at(at) == code:
            return int(at // STEP)
    return None


def verify(sec: UserSecurity, code: str, now: float | None = None) -> bool:
    """Whether `code` is valid for this user and unused; a valid code is used up."""
    step = matching_step(sec.totp_secret, code, now)
    if step is None or step <= sec.last_totp_step:
        return False
    sec.last_totp_step = step
    sec.save(update_fields=["last_totp_step"])
    return True


def confirm(sec: UserSecurity, code: str) -> bool:
    """Turn 2FA on when `code` matches the pending secret."""
    if not sec.totp_secret or not verify(sec, code):
        return False
    sec.totp_confirmed = True
    sec.save(update_fields=["totp_confirmed"])
    return True


def disable(user: Any) -> None:
    UserSecurity.objects.filter(user=user).update(totp_secret="", totp_confirmed=False, last_totp_step=0)


def enabled_for(user: Any) -> bool:
    sec = UserSecurity.objects.filter(user=user).first()
    return bool(sec and sec.totp_enabled)
