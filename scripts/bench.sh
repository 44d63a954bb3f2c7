#!/usr/bin/env bash
# The dry run at the three standard sizes (issue 17, SPEC §11): wall time and
# peak RSS per stage and for the whole process, on a first run (empty
# database) and on the next day's run (the same files with one more day).
#
#   scripts/bench.sh [small|medium|large ...]      (default: all three)
#
#   small   1,000 products ×    100 campaigns × 120 days, CSV
#   medium 10,000 products ×  1,000 campaigns × 365 days, CSV
#   large 100,000 products × 10,000 campaigns × 365 days, Parquet
#   backfill `backfill` of the 90 days to DAY2 on the medium data (10k × 1k
#            × 365 CSV), into a new SQLite file: wall time and peak RSS,
#            the range's one validation and the median day
#   history  the API path's history writes (examples/bench_history.rs):
#            14 days of 10,000 products and 10,000 campaigns and 370,000
#            Impact actions into a new SQLite file, and into PostgreSQL
#            when DATABASE_URL names one; rows per second for each
#
# The data is generated once (`sandbox generate --order date`, a day's rows
# together as an export that appends days writes them) and kept in
# BENCH_DIR (default ~/.cache/campaign-pilot-bench). BIN is the binary to
# time (default: the release build, built when missing). Per stage: its
# milliseconds and the process's peak RSS when it ended (from the run's
# "stage done" log lines); total: `/usr/bin/time -v`.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$target/release/campaign-pilot}
if [ ! -x "$BIN" ]; then cargo build --release --bin campaign-pilot; fi
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/campaign-pilot-bench}
DAY1=2026-06-29
DAY2=2026-06-30
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(small medium large)

spec() {
  case $1 in
    small) echo "1000 100 120 csv" ;;
    medium) echo "10000 1000 365 csv" ;;
    large) echo "100000 10000 365 parquet" ;;
    *) echo "bench: unknown size '$1' (small, medium, large)" >&2; exit 2 ;;
  esac
}

# generate SIZE DAY: the data as it stands on DAY (the world runs to DAY2).
generate() {
  local size=$1 day=$2 products campaigns days format
  read -r products campaigns days format <<<"$(spec "$size")"
  local dir=$BENCH_DIR/$size/$day
  local key="$products $campaigns $days $format $day"
  if [ "$(cat "$dir/.bench" 2>/dev/null)" != "$key" ]; then
    rm -rf "$dir"
    echo "bench: generating $size as of $day in $dir" >&2
    "$BIN" sandbox generate --out "$dir" --seed 17 --products "$products" --campaigns "$campaigns" \
      --days $((days + 1)) --as-of "$DAY2" --until "$day" --order date --format "$format" >/dev/null
    echo "$key" >"$dir/.bench"
  fi
  echo "$dir"
}

# timed WORK NAME AS_OF: one dry run; prints a row of the table.
timed() {
  local work=$1 name=$2 as_of=$3 log=$1/$2.log
  local rc=0
  /usr/bin/time -v -o "$work/$name.time" "$BIN" --config "$work/pipeline.toml" --log-format json \
    run --dry-run --as-of "$as_of" >"$work/$name.out" 2>"$log" || rc=$?
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; printf "%.2f", s}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$work/$name.time")
  local stages
  stages=$(jq -r 'select(.fields.message == "stage done") | "\(.fields.stage) \(.fields.ms) ms \(.fields.peak_rss_mb) MiB"' "$log" | paste -sd ',' | sed 's/,/, /g')
  # After the stages: the report built; rendered and written to its files
  # beside its rows going into the database; its formats stored.
  stages+=$(jq -r 'select(.fields.message == "report done") | ", report \(.fields.built_ms)+\(.fields.beside_ms)+\(.fields.stored_ms) ms (built+rendered beside its rows+stored; rendered \(.fields.rendered_ms), written \(.fields.written_ms), rows \(.fields.rows_ms))"' "$log")
  printf '%-7s %-9s %7s s %7s MiB  exit %s  %s\n' "$size" "$name" "$wall" "$rss" "$rc" "$stages"
}

history() {
  cargo build --release --quiet --example bench_history
  "$target/release/examples/bench_history"
  if [[ "${DATABASE_URL:-}" == postgres* ]]; then "$target/release/examples/bench_history" "$DATABASE_URL"; fi
}

# config WORK DATA: WORK/pipeline.toml reading the files in DATA, a new
# SQLite file and reports in WORK.
config() {
  cat >"$1/pipeline.toml" <<TOML
[store]
path = "$2"
[ads]
path = "$2"
[database]
url = "sqlite:db.sqlite"
[report]
dir = "reports"
[demo]
enabled = false
TOML
}

# backfill: 90 days replayed as of each day up to DAY2 on the medium data.
backfill() {
  local data work
  data=$(generate medium "$DAY2")
  work=$(mktemp -d)
  config "$work" "$data"
  local from
  from=$(date -d "$DAY2 - 89 days" +%F)
  (cd "$work" && /usr/bin/time -v -o time.txt "$BIN" --config pipeline.toml --log-format json backfill --from "$from" --to "$DAY2" >out.txt 2>log.json)
  local wall rss once median
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; printf "%.2f", s}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$work/time.txt")
  once=$(jq -r 'select(.fields.message | startswith("validated the range")) | .fields.ms' "$work/log.json")
  median=$(jq -r 'select(.fields.message == "backfill day done") | .fields.ms' "$work/log.json" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf 'backfill 90 days (medium): %s s, %s MiB peak RSS; the range validated once in %s ms; a day %s ms (median)\n' "$wall" "$rss" "$once" "$median"
  rm -rf "$work"
}

printf '%-7s %-9s %9s %11s  %s\n' size run wall peak_rss "stages (ms, process peak RSS at the stage's end)"
for size in "${sizes[@]}"; do
  if [ "$size" = history ]; then history; continue; fi
  if [ "$size" = backfill ]; then backfill; continue; fi
  spec "$size" >/dev/null
  day1=$(generate "$size" "$DAY1")
  day2=$(generate "$size" "$DAY2")
  work=$(mktemp -d)
  mkdir -p "$work/data"
  cp "$day1"/*.csv "$day1"/*.parquet "$work/data/" 2>/dev/null || true
  config "$work" "$work/data"
  timed "$work" first "$DAY1"
  # The next day: the export rewrites its files with one more day.
  cp "$day2"/*.csv "$day2"/*.parquet "$work/data/" 2>/dev/null || true
  timed "$work" next-day "$DAY2"
  # The same day on an empty database: nothing carried over, every row
  # judged again. Its decisions must be the next-day run's, line for line.
  fresh=$(mktemp -d)
  config "$fresh" "$work/data"
  timed "$fresh" fresh-db "$DAY2"
  if cmp -s "$work/reports/$DAY2/decisions.csv" "$fresh/reports/$DAY2/decisions.csv"; then
    printf '%-7s decisions of the next day = a fresh database'"'"'s: %s campaigns, line for line\n' "$size" "$(($(wc -l <"$fresh/reports/$DAY2/decisions.csv") - 1))"
  else
    printf '%-7s DECISIONS DIFFER between the next day and a fresh database:\n' "$size"
    diff "$work/reports/$DAY2/decisions.csv" "$fresh/reports/$DAY2/decisions.csv" | head -5
    status=1
  fi
  rm -rf "$work" "$fresh"
done
exit "${status:-0}"
