#!/usr/bin/env python3
"""Adds the catalogue's data-expressible providers to the built-in preset table.

Usage: scripts/import_presets.py [CATALOGUE_JSON]

Entries already in shared/src/signature/presets.json (by id) are kept as they
are: hand-curated presets win. Re-running after a catalogue update adds only
what is new. The table is then checked by `cargo test -p hookhole-shared`
(it must parse, validate and round-trip through the signing side).
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "shared/src/signature/presets.json"
CATALOGUE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "shared/tests/fixtures/provider-catalogue.json"


def convert(entry):
    gp = entry["generic_preset"]
    preset = {
        "id": entry["id"],
        "name": entry["name"],
        "confidence": entry["confidence"],
        "secret_hint": entry["secret_format"],
        "header": gp["header"],
        "algorithm": gp["algorithm"],
        "encoding": gp["encoding"],
        "template": gp["template"],
        "key_decoding": gp["key_decoding"],
    }
    if gp.get("prefix"):
        preset["prefix"] = gp["prefix"]
    if gp.get("list"):
        lst = dict(gp["list"])
        if lst.get("ts_key") is None:
            lst.pop("ts_key", None)
        preset["list"] = lst
    if gp.get("timestamp"):
        ts = gp["timestamp"]
        unit = {"iso8601": "rfc3339"}.get(ts["unit"], ts["unit"])
        rule = {"source": ts["source"], "unit": unit, "tolerance_s": ts.get("tolerance_s")}
        rule["direction"] = ts.get("direction") or "past-only"
        preset["timestamp"] = rule
    elif "{timestamp}" in gp["template"] and gp.get("list", {}).get("ts_key"):
        # The list's "timestamp" is a nonce (NMI): signed, never checked for age.
        preset["timestamp"] = {"source": "list:" + gp["list"]["ts_key"], "unit": "raw", "tolerance_s": None}
    if gp.get("id_header"):
        preset["id_header"] = gp["id_header"]
    if entry.get("notes"):
        preset["notes"] = entry["notes"]
    return preset


def main():
    table = json.loads(TABLE.read_text())
    known = {p["id"] for p in table}
    catalogue = json.loads(CATALOGUE.read_text())
    new = [convert(e) for e in catalogue if e["generic_preset_expressible"] and e["id"] not in known]
    new.sort(key=lambda p: p["id"])
    table.extend(new)
    TABLE.write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    print(f"added {len(new)} presets; the table has {len(table)} entries")


if __name__ == "__main__":
    main()
