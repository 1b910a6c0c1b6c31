"""Synthetic Electric Vehicle Population rows, as Washington State's data portal exports them (CSV).

The 17 columns of the export under their portal names; values drawn with NumPy from small pools
of real makes, models, places and utilities. Vehicles registered outside Washington have an empty
Legislative District; a range or price that was never researched is 0; several utilities are
joined by ``|``. Optional re-sent corrections (a later row for an earlier DOL Vehicle ID) and bad
rows (each of a kind the contract rejects) are counted, so tests can check totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from etl.generator import GenerationStats, write_csv_export

HEADER = (
    "VIN (1-10)", "County", "City", "State", "Postal Code", "Model Year", "Make", "Model", "Electric Vehicle Type",
    "Clean Alternative Fuel Vehicle (CAFV) Eligibility", "Electric Range", "Base MSRP", "Legislative District",
    "DOL Vehicle ID", "Vehicle Location", "Electric Utility", "2020 Census Tract",
)
BEV, PHEV = "Battery Electric Vehicle (BEV)", "Plug-in Hybrid Electric Vehicle (PHEV)"
ELIGIBLE = "Clean Alternative Fuel Vehicle Eligible"
LOW_RANGE = "Not eligible due to low battery range"
UNKNOWN = "Eligibility unknown as battery range has not been researched"
# (make, model, type, range in miles when researched, base MSRP or 0)
MODELS = (
    ("TESLA", "MODEL Y", BEV, 291, 0), ("TESLA", "MODEL 3", BEV, 220, 0), ("TESLA", "MODEL S", BEV, 270, 69900),
    ("TESLA", "MODEL X", BEV, 289, 0), ("NISSAN", "LEAF", BEV, 150, 0), ("CHEVROLET", "BOLT EV", BEV, 259, 0),
    ("CHEVROLET", "VOLT", PHEV, 53, 0), ("TOYOTA", "PRIUS PLUG-IN", PHEV, 6, 0), ("TOYOTA", "RAV4 PRIME", PHEV, 42, 0),
    ("BMW", "X5", PHEV, 30, 0), ("BMW", "I3", BEV, 153, 44100), ("FORD", "MUSTANG MACH-E", BEV, 230, 0),
    ("FORD", "FUSION", PHEV, 26, 0), ("KIA", "NIRO", BEV, 239, 0), ("JEEP", "WRANGLER", PHEV, 21, 0),
    ("RIVIAN", "R1S", BEV, 0, 0), ("VOLKSWAGEN", "ID.4", BEV, 0, 0), ("HYUNDAI", "IONIQ 5", BEV, 0, 0),
    ("PORSCHE", "TAYCAN", BEV, 203, 0), ("CHRYSLER", "PACIFICA", PHEV, 32, 0),
)
SEATTLE_TACOMA = "CITY OF SEATTLE - (WA)|CITY OF TACOMA - (WA)"
PSE = "PUGET SOUND ENERGY INC"
BPA = "BONNEVILLE POWER ADMINISTRATION|AVISTA CORP|INLAND POWER & LIGHT COMPANY"
# (county, city, state, postal code, longitude, latitude, legislative district or "", utility, census tract)
PLACES = (
    ("King", "Seattle", "WA", "98122", -122.30253, 47.64085, "43", SEATTLE_TACOMA, "53033007800"),
    ("King", "Bellevue", "WA", "98004", -122.20264, 47.61326, "48", PSE, "53033023804"),
    ("King", "Redmond", "WA", "98052", -122.12296, 47.67858, "45", PSE, "53033032323"),
    ("Snohomish", "Everett", "WA", "98201", -122.20203, 47.97842, "38", "PUD NO 1 OF SNOHOMISH COUNTY",
     "53061041000"),
    ("Pierce", "Tacoma", "WA", "98402", -122.44068, 47.25534, "27", "CITY OF TACOMA - (WA)", "53053061601"),
    ("Clark", "Vancouver", "WA", "98660", -122.68069, 45.63932, "49", "PACIFICORP", "53011041800"),
    ("Spokane", "Spokane", "WA", "99201", -117.43296, 47.65873, "3", BPA, "53063003500"),
    ("Thurston", "Olympia", "WA", "98501", -122.89166, 47.03956, "22", PSE, "53067010400"),
    ("Whatcom", "Bellingham", "WA", "98225", -122.48622, 48.75235, "42", PSE, "53073000500"),
    ("Fairfax", "Fairfax", "VA", "22030", -77.30637, 38.84621, "", "", "51059461100"),
    ("San Diego", "San Diego", "CA", "92101", -117.16171, 32.71568, "", "", "06073005400"),
)
FIRST_VEHICLE_ID = 100_000_000
VIN_CHARACTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O or Q in a VIN
Row = list[str]


def _replaced(row: Row, column: str, value: str) -> Row:
    changed = list(row)
    changed[HEADER.index(column)] = value
    return changed


# Each kind of bad row producers send, made from the good row it spoils, with the reason it is quarantined for.
BAD_ROW_KINDS: tuple[tuple[str, Callable[[Row], Row]], ...] = (
    ("too few columns", lambda r: r[:-2]),
    ("too many columns", lambda r: [*r, "extra"]),
    ("model year not a number", lambda r: _replaced(r, "Model Year", "20X1")),
    ("missing VIN", lambda r: _replaced(r, "VIN (1-10)", "")),
    ("unknown vehicle type", lambda r: _replaced(r, "Electric Vehicle Type", "Hydrogen Fuel Cell")),
    ("location not WKT", lambda r: _replaced(r, "Vehicle Location", "47.6, -122.3")),
    ("negative range", lambda r: _replaced(r, "Electric Range", "-5")),
    ("district 0", lambda r: _replaced(r, "Legislative District", "0")),
)


def ev_rows(records: int, *, seed: int = 0, duplicate_rate: float = 0.0, bad_rate: float = 0.0) -> Iterator[Row]:
    """The header, then ``records`` vehicles; re-sent corrections and bad rows mixed in at the given rates."""
    yield list(HEADER)
    for _, row in _tagged_rows(records, seed, duplicate_rate, bad_rate):
        yield row


def _tagged_rows(records: int, seed: int, duplicate_rate: float, bad_rate: float) -> Iterator[tuple[str, Row]]:
    """Each row with what it is: "vehicle", "correction" or "bad"."""
    rng = np.random.default_rng(seed)
    bad_kind = 0
    for index in range(records):
        yield "vehicle", _vehicle(rng, FIRST_VEHICLE_ID + index)
        if index and rng.random() < duplicate_rate:  # a corrected row for an earlier vehicle, sent again later
            earlier = _vehicle(rng, FIRST_VEHICLE_ID + int(rng.integers(0, index)))
            yield "correction", _replaced(earlier, "Base MSRP", str(int(rng.integers(30, 90)) * 1000))
        if rng.random() < bad_rate:
            spoil = BAD_ROW_KINDS[bad_kind % len(BAD_ROW_KINDS)][1]
            yield "bad", spoil(_vehicle(rng, FIRST_VEHICLE_ID + records + index))
            bad_kind += 1


def _vehicle(rng: np.random.Generator, vehicle_id: int) -> Row:
    make, model, kind, researched_range, msrp = MODELS[int(rng.integers(len(MODELS)))]
    county, city, state, postal, longitude, latitude, district, utility, tract = PLACES[
        int(rng.integers(len(PLACES)))]
    year = int(rng.integers(2011, 2026))
    electric_range = researched_range if year < 2021 else 0  # the portal has not researched newer models
    eligibility = UNKNOWN if electric_range == 0 else ELIGIBLE if kind == BEV or electric_range >= 30 else LOW_RANGE
    vin = "".join(VIN_CHARACTERS[i] for i in rng.integers(len(VIN_CHARACTERS), size=10))
    return [vin, county, city, state, postal, str(year), make, model, kind, eligibility, str(electric_range),
            str(msrp), district, str(vehicle_id), f"POINT ({longitude} {latitude})", utility, tract]


def write_ev_file(path: Path, records: int, *, seed: int = 0, duplicate_rate: float = 0.0,
                  bad_rate: float = 0.0) -> GenerationStats:
    """Write the rows to a new file ``path`` through a hidden file beside it, so a watcher never sees half a file.

    Raises FileExistsError when ``path`` exists: the final name is claimed atomically (a hard link), so
    two writers at once never replace each other's file.
    """
    rows = _tagged_rows(records, seed, duplicate_rate, bad_rate)
    written = write_csv_export(path, HEADER, rows, line_terminator="\n")
    return GenerationStats(records=records, duplicates=written.get("correction", 0), bad_lines=written.get("bad", 0),
                           path=path)


def ev_file_name(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return f"ev_population-{moment:%Y%m%dT%H%M%S}-{moment.microsecond:06d}.csv"
