#!/bin/sh
# Derives crates/protocol/data/communes.csv (code,departement,type,population) from the official
# commune list, either as published by the npm package @etalab/decoupage-administratif
# (data/communes.json) or flattened to CSV with at least the columns code, departement, type and
# population (extra columns such as name or region are dropped). See README.md beside this file.
#
# Usage: crates/protocol/data/refresh-communes.sh SOURCE.(json|csv) [OUT.csv]
set -eu
source_file=${1:?usage: refresh-communes.sh SOURCE.(json|csv) [OUT.csv]}
out=${2:-$(dirname "$0")/communes.csv}

python3 - "$source_file" "$out" <<'PY'
import csv, json, sys

source, out = sys.argv[1], sys.argv[2]
if source.endswith(".json"):
    with open(source, encoding="utf-8") as f:
        rows = json.load(f)
else:
    with open(source, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))

kept = []
for row in rows:
    population = row.get("population")
    kept.append((row["code"], row["departement"], row["type"], "" if population in (None, "") else str(population)))

with open(out, "w", encoding="utf-8", newline="") as f:
    f.write("code,departement,type,population\n")
    for row in kept:
        f.write(",".join(row) + "\n")
print(f"{out}: {len(kept)} communes", file=sys.stderr)
PY
