"""Synthetic user_data exports (CSV: Username, Identifier, First name, Last name), as an application writes them.

The users dataset has no key: a file under ``users/append/`` adds its rows, one under ``users/truncate/``
replaces the table with them. Bad rows, one of each kind the contract rejects, are counted.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from etl.generator import GenerationStats, write_csv_export

HEADER = ("Username", "Identifier", "First name", "Last name")
FIRST = ("Ann", "Bob", "Chloé", "Dev", "Eun-ji", "Farah", "Grete", "Hamid", "Ines", "Jonas", "Kaito", "Lena")
LAST = ("Andersen", "Baker", "Chen", "D'Souza", "Eriksson", "Fischer", "García", "Haddad", "Ito", "Jones")
# Rows the contract refuses: an identifier that is not a number, one below 1, a username with a space, no username,
# a missing column.
BAD_ROWS = (("ann.x", "abc", "Ann", "X"), ("bob.y", "0", "Bob", "Y"), ("c d", "7", "C", "D"), ("", "8", "E", "F"),
            ("g.h", "9", "G"))


def user_rows(records: int, *, seed: int = 0, bad_rate: float = 0.0) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(kind, row) pairs: ``records`` users, then ``bad_rate`` of that many bad rows mixed in."""
    rng = np.random.default_rng(seed)
    bad = round(records * bad_rate)
    bad_at = set(rng.choice(records + bad, size=bad, replace=False).tolist()) if bad else set()
    user = 0
    for position in range(records + bad):
        if position in bad_at:
            yield "bad", BAD_ROWS[position % len(BAD_ROWS)]
            continue
        user += 1
        first, last = FIRST[rng.integers(len(FIRST))], LAST[rng.integers(len(LAST))]
        identifier = 100_000 + seed * 1_000_000 + user
        username = f"{_ascii(first)}.{_ascii(last)}{user}"
        yield "user", (username, str(identifier), first, last)


def _ascii(name: str) -> str:
    """A name as a username part: accents dropped, lowercase, letters, digits and '-' only."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(c for c in plain if c.isalnum() or c == "-")


def write_users_file(path: Path, records: int, *, seed: int = 0, bad_rate: float = 0.0,
                     duplicate_rate: float = 0.0) -> GenerationStats:
    """Write the export to a new file ``path`` through a hidden file beside it (a watcher never sees half a file).

    ``duplicate_rate`` is accepted for the CLI's sake and ignored: rows without a key have no corrections.
    """
    rows = user_rows(records, seed=seed, bad_rate=bad_rate)
    written = write_csv_export(path, HEADER, rows, line_terminator="\r\n")  # as spreadsheet exports write it
    return GenerationStats(records=records, duplicates=0, bad_lines=written.get("bad", 0), path=path)


def users_file_name(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return f"user_data-{moment:%Y%m%dT%H%M%S}-{moment.microsecond:06d}.csv"
