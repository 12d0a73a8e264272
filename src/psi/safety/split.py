"""Which rows of the safety data train psi's classifier and which are held out to judge it.

The split is a pure function of a row's `id`, so the training script and `psi bench
safety` agree on it without sharing a file:

    group = group_key(row_id)    # "bipia-train-email-7" for "...-email-7-clean" and "-start"
    held_out(row_id)             # sha256(group) read as an integer, mod 10, is 0, 1 or 2

About 30% of the groups are held out. Rows that are versions of one text (a BIPIA context
clean and with an attack inserted) share a group, so one never trains on the clean
version of a context whose attacked version is judged. What the split does not separate:
JailbreakBench's 100 behaviours recur across attack methods, so a held-out jailbreak
usually asks for a behaviour that a training row asked for in other words.
"""

from __future__ import annotations

import hashlib
import re

HELD_OUT_SHARE = 3  # tenths of the groups

_VERSION = re.compile(r"-(clean|start|middle|end)$")


def group_key(row_id: str) -> str:
    """The id with the suffix that marks a version of the same text removed."""
    return _VERSION.sub("", row_id)


def held_out(row_id: str) -> bool:
    """True for the rows kept out of training, which the bench judges by default."""
    digest = hashlib.sha256(group_key(row_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 10 < HELD_OUT_SHARE
