#!/usr/bin/env bash
# Two builds of oauth-broker, measured in one sitting, interleaved (A, B, A, B, ...), because
# separate runs on these shared machines differ by more than the effects worth knowing.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Each round runs scripts/bench.sh --only flows,idle --no-sample (ONLY= to change) for one
# build, then the other:
# sign-in flows at CONCURRENCY (default 64, confirm codes off and on) and idle sessions
# (SESSIONS, default 10000, held HOLD s, default 15). Prints, per build, every round's
# sign-ins/s, broker CPU per sign-in (µs) and idle KiB/session (slope), with their means.
# HOT_PATHS_OLD / HOT_PATHS_NEW: the two builds' criterion bench binaries (`cargo bench
# --no-run` prints them); when given, their hub row runs interleaved as well.
# OLD_OMIT_ENV: settings bench.sh sets that the old build does not know (see bench.sh).
# Needs the release examples (loadgen, mock_provider) in RELEASE_DIR (target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
OLD=$(realpath "$1"); NEW=$(realpath "$2"); ROUNDS=${3:-3}
OUT=${OUT:-target/bench/ab-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
export NO_BUILD=1 CONCURRENCY=${CONCURRENCY:-64} SESSIONS=${SESSIONS:-10000} HOLD=${HOLD:-15}

for round in $(seq 1 "$ROUNDS"); do
  for build in old new; do
    bin=$OLD; [ "$build" = new ] && bin=$NEW
    echo "== round $round: $build ($bin)" >&2
    omit=""; [ "$build" = old ] && omit=${OLD_OMIT_ENV:-}
    OMIT_ENV="$omit" OUT="$OUT/$round-$build" BROKER_BIN="$bin" LABEL_SUFFIX=" [$build]" \
      scripts/bench.sh --only "${ONLY:-flows,idle}" --no-experiments --no-sample > "$OUT/$round-$build.log" 2>&1
    if [ -n "${HOT_PATHS_OLD:-}" ] && [ -n "${HOT_PATHS_NEW:-}" ]; then
      hot=$HOT_PATHS_OLD; [ "$build" = new ] && hot=$HOT_PATHS_NEW
      "$hot" --bench "hub:" --noplot > "$OUT/$round-$build-hub.txt" 2>&1 || true
    fi
  done
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, pathlib, re, statistics, sys
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rows = {}
for build in ("old", "new"):
    for r in range(1, rounds + 1):
        for line in (out / f"{r}-{build}" / "results.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec["scenario"] == "flows":
                rate = rec["signins_per_s"]
                broker = sum(p["cores"] for p in rec["cpu"]["processes"] if p["label"].startswith("broker"))
                key = (rec["label"].replace(f" [{build}]", ""), "sign-ins/s", build)
                rows.setdefault(key, []).append(rate)
                key = (key[0], "broker CPU µs/sign-in", build)
                rows.setdefault(key, []).append(broker / rate * 1e6 if rate else float("nan"))
            elif rec["scenario"] == "idle":
                rows.setdefault(("idle sessions", "KiB/session (slope)", build), []).append(rec["slope_kib_per_session"])
        hub = out / f"{r}-{build}-hub.txt"
        if hub.exists():
            m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+)", hub.read_text())
            if m:
                unit = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3}[m.group(2)]
                rows.setdefault(("cargo bench hub row", "µs per delivery (median)", build), []).append(float(m.group(1)) * unit)
print("| scenario | measure | old (each round) | old mean | new (each round) | new mean | new / old |")
print("|---|---|---|---:|---|---:|---:|")
for (scenario, measure) in dict.fromkeys((k[0], k[1]) for k in rows):
    o, n = rows.get((scenario, measure, "old"), []), rows.get((scenario, measure, "new"), [])
    fmt = lambda v: ", ".join(f"{x:,.2f}" if x < 100 else f"{x:,.0f}" for x in v)
    mo, mn = (statistics.mean(o) if o else float("nan")), (statistics.mean(n) if n else float("nan"))
    print(f"| {scenario} | {measure} | {fmt(o)} | {mo:,.2f} | {fmt(n)} | {mn:,.2f} | {mn / mo:.3f} |")
PY
