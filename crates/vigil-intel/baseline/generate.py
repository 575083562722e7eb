#!/usr/bin/env python3
"""Generate the bundled baseline intel from the 2025 incident list.

Usage:
    python3 generate.py INCIDENTS_JSON [OUTPUT]

INCIDENTS_JSON is the incident list (`incidents-2025.json`, kept in the project's shared data
folder, not in this repository). OUTPUT defaults to `incidents-2025.osv.json` beside this script.

For each advisory of the list whose affected versions or ranges were read from the advisory
itself (`retrieval == "read"`), one OSV record is written with facts only: id, aliases,
ecosystem, package name, versions and/or ranges, published/modified, CWE-506, and
`database_specific.source` naming the list, the incident key, the upstream origins and the
upstream commit the facts were read at. No summaries, no prose.

One deliberate edit, listed in OMITTED_RANGES and recorded in the record itself under
`database_specific.omitted`: MAL-2025-47141 (@ctrl/tinycolor) keeps only its `4.1.1 ..= 4.1.2`
range. The published record also carries `introduced: "0"` (every version); its import origins
show that range came from the first GHSA-qjqf-7j6f-82c4 import and was replaced a day later by
the narrowed 4.1.1 ..= 4.1.2 import, so it is a superseded placeholder, not a claim that every
tinycolor release is malicious. vigil applies the same refinement to full ossf records at
match time (vigil-core `OsvRecord::without_superseded_origins`).

The output is deterministic (input order, sorted keys, two-space indent, trailing newline), so
re-running the script on the same list leaves the file unchanged.
"""

import json
import os
import sys

LIST_NAME = "incidents-2025.json"

CWE_506 = {"cweId": "CWE-506", "name": "Embedded Malicious Code"}

CATCH_ALL = [{"introduced": "0"}]

OMITTED_RANGES = {
    "MAL-2025-47141": (
        "range introduced 0 omitted: it came from the first ghsa-malware import of "
        "GHSA-qjqf-7j6f-82c4 (modified 2025-09-15T23:42:50Z), superseded by the import of "
        "2025-09-16T01:14:51Z that gives 4.1.1..=4.1.2"
    ),
}


def record(entry):
    versions = entry.get("affected_versions") or []
    ranges = entry.get("affected_ranges") or []
    omitted = OMITTED_RANGES.get(entry["id"])
    if omitted:
        kept = [r for r in ranges if r.get("events") != CATCH_ALL]
        if len(kept) == len(ranges) or not kept:
            raise SystemExit(f"{entry['id']}: expected a catch-all range beside a specific one")
        ranges = kept
    if not versions and not ranges:
        raise SystemExit(f"{entry['id']}: no versions or ranges")
    affected = {
        "package": {"ecosystem": entry["ecosystem"], "name": entry["package"]},
        "database_specific": {"cwes": [CWE_506]},
    }
    if ranges:
        affected["ranges"] = ranges
    if versions:
        affected["versions"] = versions
    source = {
        "list": LIST_NAME,
        "incident": entry["incident"],
        "origins": entry.get("origins") or [],
        "upstream_commit": entry.get("upstream_commit_of_stored_version"),
    }
    specific = {"cwe_ids": ["CWE-506"], "source": source}
    if omitted:
        specific["omitted"] = omitted
    out = {
        "schema_version": "1.5.0",
        "id": entry["id"],
        "published": entry["published"],
        "modified": entry["modified"],
        "affected": [affected],
        "database_specific": specific,
    }
    if entry.get("aliases"):
        out["aliases"] = entry["aliases"]
    return out


def main(argv):
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    output = argv[2] if len(argv) == 3 else os.path.join(here, "incidents-2025.osv.json")
    with open(argv[1], encoding="utf-8") as f:
        incidents = json.load(f)
    entries = [e for e in incidents["advisories"] if e.get("retrieval") == "read"]
    records = [record(e) for e in entries]
    ids = [r["id"] for r in records]
    if len(set(ids)) != len(ids):
        raise SystemExit("duplicate ids in the incident list")
    with open(output, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(records)} records to {output}")


if __name__ == "__main__":
    main(sys.argv)
