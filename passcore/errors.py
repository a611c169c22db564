"""One small exception tree for the pass core; each class carries a stable ``code``.

Codes are part of the product's contracts (CLI JSON, audit records): add new ones, never rename.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "BundleExpired",
    "BundleMalformed",
    "BundleRollback",
    "BundleSignatureInvalid",
    "BundleUnknownRoot",
    "CheckpassError",
    "InputError",
    "PassError",
    "PassExpired",
    "PassMalformed",
    "PassNotYetValid",
    "PassRevoked",
    "PassSignatureInvalid",
    "PassUnknownKey",
]


class CheckpassError(Exception):
    """Base of every error the pass core raises on purpose."""

    code = "CHECKPASS_ERROR"

    def __init__(self, message: str, *, code: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        # A finer stable code under ``code``, e.g. PASS_MALFORMED / ZLIB_TOO_LARGE.
        self.detail = detail

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class InputError(CheckpassError):
    """Bad input from a person or a file: a malformed plate, ID number, scenario or temperature."""

    code = "INPUT_INVALID"


class PassError(CheckpassError):
    """A QR text that is not a valid pass. ``code`` is one of the release-rule reason codes."""

    code = "PASS_MALFORMED"


class PassMalformed(PassError):
    code = "PASS_MALFORMED"


class PassSignatureInvalid(PassError):
    code = "PASS_SIGNATURE_INVALID"


class PassUnknownKey(PassError):
    code = "PASS_UNKNOWN_KEY"


class PassExpired(PassError):
    code = "PASS_EXPIRED"


class PassNotYetValid(PassError):
    code = "PASS_NOT_YET_VALID"


class PassRevoked(PassError):
    code = "PASS_REVOKED"


class BundleError(CheckpassError):
    """A trust bundle that must not be used."""

    code = "BUNDLE_INVALID"


class BundleMalformed(BundleError):
    code = "BUNDLE_MALFORMED"


class BundleSignatureInvalid(BundleError):
    code = "BUNDLE_SIGNATURE_INVALID"


class BundleUnknownRoot(BundleError):
    code = "BUNDLE_UNKNOWN_ROOT"


class BundleRollback(BundleError):
    code = "BUNDLE_ROLLBACK"


class BundleExpired(BundleError):
    code = "BUNDLE_EXPIRED"
