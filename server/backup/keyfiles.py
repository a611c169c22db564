"""Which key files may travel in a backup: every private key encrypted with CHECKPASS_KEY_PASSPHRASE, or none.

A backup is a file that gets copied to other disks and machines; a private key in it in clear would make every
copy a way to sign passes (issuer, root) or to open the ID numbers sealed in the database (data keys). So a key
file goes in only when it is encrypted AND opens with this installation's passphrase (a key encrypted under a
forgotten passphrase would make a backup that restores nothing). Files without private material (the root's
public key, the data-key pointer, certificates) go in as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from passcore.errors import InputError
from server.keyring import datakeys

__all__ = ["check", "files"]

_PLAIN_PEM = re.compile(rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----")
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_DATA_KEY = re.compile(r"data-[0-9a-f]{8}\.key")


def files(keys_dir: Path) -> list[Path]:
    """Every regular file under ``keys_dir`` (symbolic links are not followed: they may point anywhere)."""
    if not keys_dir.is_dir():
        return []
    return sorted(p for p in keys_dir.rglob("*") if p.is_file() and not p.is_symlink())


def _refuse(message: str) -> InputError:
    return InputError(message, code="KEY_NOT_ENCRYPTED")


def check(keys_dir: Path, passphrase: bytes | None) -> list[Path]:
    """The key files of ``keys_dir``, once each private key in them is known to be encrypted and to open with
    ``passphrase``; otherwise one clear refusal naming the first file that is not."""
    found = files(keys_dir)
    if passphrase is None:
        raise _refuse(
            "keys go into a backup only encrypted with CHECKPASS_KEY_PASSPHRASE, and it is not set "
            "(back up without --with-keys, and keep the keys/ directory safe by other means)"
        )
    for path in found:
        data = path.read_bytes()
        name = path.relative_to(keys_dir).as_posix()
        if _PLAIN_PEM.search(data):
            raise _refuse(f"keys/{name} holds a private key in clear: refused (keys go in only encrypted)")
        if _ENCRYPTED_PEM in data:
            try:
                load_pem_private_key(data, password=passphrase)
            except (ValueError, TypeError) as err:
                raise _refuse(f"keys/{name} does not open with CHECKPASS_KEY_PASSPHRASE: refused") from err
        elif _DATA_KEY.fullmatch(path.name):
            try:
                body = json.loads(data)
            except ValueError as err:
                raise _refuse(f"keys/{name} is not a readable data key: refused") from err
            if not isinstance(body, dict) or "wrapped" not in body or "secret" in body:
                raise _refuse(f"keys/{name} is a data key in clear: refused (keys go in only encrypted)")
    # Each data key unwrapped once with the passphrase: a wrong one fails here, before anything is written.
    datakeys.DataKeys(keys_dir, passphrase).person_hashes("backup check")
    return found
