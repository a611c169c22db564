"""The hash chain of crossing records: one canonical byte form of a record and its SHA-256.

Pure (standard library only): the checkpoint client writes records with it and the server checks them with it,
so both programs hash exactly the same bytes.

A record's ``hash`` is SHA-256 (lower-case hex) over the canonical JSON of the record without its ``hash`` key:
keys sorted, no insignificant whitespace, UTF-8 without ``\\u`` escapes for non-ASCII text, numbers as Python's
``json`` module writes them (integers as integers; 36.5 as ``36.5``). ``prev_hash`` is the previous record's ``hash``
on the same device, and 64 zeros for the device's first record (``seq`` 1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from passcore.errors import CheckpassError

__all__ = ["GENESIS", "ChainBroken", "canonical", "check_chain", "record_hash"]

GENESIS = "0" * 64


class ChainBroken(CheckpassError):
    """A device's records do not form an unbroken chain from seq 1: a gap, a broken link or an edited record."""

    code = "CHAIN_BROKEN"


def canonical(value: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed and stored. Raises ValueError for NaN/Infinity and unencodable text."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical form without its own ``hash``."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def check_chain(records: Iterable[Mapping[str, Any]]) -> int:
    """Verify records given in seq order: seq 1, 2, 3 … without gaps, each ``prev_hash`` the previous ``hash``,
    each ``hash`` recomputed from the content. Returns how many; raises ChainBroken at the first fault."""
    previous, count = GENESIS, 0
    for count, record in enumerate(records, 1):
        seq = record.get("seq")
        if seq != count:
            raise ChainBroken(f"record {count} of the chain has seq {seq}: a record is missing or repeated")
        if record.get("prev_hash") != previous:
            raise ChainBroken(f"seq {seq}: prev_hash does not link to the previous record")
        if record_hash(record) != record.get("hash"):
            raise ChainBroken(f"seq {seq}: the hash does not match the content (the record was changed)")
        previous = record["hash"]
    return count
