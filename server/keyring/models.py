"""Signing keys' public parts and status. The private parts are files under keys/ or objects in a PKCS#11 token
(``private_store``), never in the database."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ROLE_ROOT, ROLE_ISSUER = "root", "issuer"
# Where a key's private part lives: an (optionally encrypted) file under keys/, or a PKCS#11 token (issue 15).
STORE_FILE, STORE_PKCS11 = "file", "pkcs11"


class KeyRecord(SQLModel, table=True):
    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=16)  # hex of passcore.keys.kid_for
    role: str = Field(max_length=8)
    alg: str = Field(max_length=8)
    public_key_pem: str = Field(sa_type=Text)
    status: str = Field(max_length=10)  # passcore.trust.KEY_ACTIVE / KEY_PREVIOUS / KEY_RETIRED
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    private_store: str = Field(default=STORE_FILE, max_length=8)
    # The label of the token the key was generated in (a PKCS#11 label is at most 32 bytes): the server signs
    # only with a token of that label, so a key is never looked for in the wrong token.
    token_label: str | None = Field(default=None, max_length=32)
