#!/usr/bin/env bash
# Load test of `pointillist serve` on an indexed 100M-point file over
# loopback: random tiles at concurrency 64, cached throughput, 1,000
# half-open clients and a malformed-request fuzz, with the server's RSS
# sampled throughout (examples/tile_load.rs does the asking).
#
#   bash benches/load_test.sh                      # 100M census-like rows
#   bash benches/load_test.sh --rows 10000000      # a quicker run
#   bash benches/load_test.sh --parquet FILE       # your own file (x, y in Web Mercator metres)
#   bash benches/load_test.sh -- --requests 200000 # flags after -- go to tile_load
#
# Without --parquet the data come from benches/census_like.py (pandas and
# pyarrow with their defaults; $PYTHON must import both, default
# target/py-venv/bin/python, else python3). Files go to
# $POINTILLIST_BENCH_DIR (default /tmp/pointillist-bench) and are reused.
# The report is printed and saved there as load-<rows>-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=100000000
parquet=""
port=8097
memory_mb=256
serve_args=()
load_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) rows="$2"; shift 2 ;;
        --parquet) parquet="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --memory-mb) memory_mb="$2"; shift 2 ;;
        --serve-arg) serve_args+=("$2"); shift 2 ;;
        --) shift; load_args=("$@"); break ;;
        *) echo "load_test.sh: unknown flag '$1'; see the header of $0" >&2; exit 2 ;;
    esac
done

dir="${POINTILLIST_BENCH_DIR:-/tmp/pointillist-bench}"
mkdir -p "$dir"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin pointillist --example tile_load
bin="$target/release/pointillist"
load="$target/release/examples/tile_load"

if [[ -z "$parquet" ]]; then
    py="${PYTHON:-target/py-venv/bin/python}"
    [[ -x "$py" ]] || py=python3
    parquet="$dir/census-$rows.parquet"
    if [[ ! -s "$parquet" ]]; then
        echo "writing $parquet ($rows rows, pandas + pyarrow defaults)"
        "$py" benches/census_like.py --rows "$rows" -o "$parquet.tmp"
        mv "$parquet.tmp" "$parquet"
    fi
fi
indexed="$dir/$(basename "${parquet%.parquet}").indexed.parquet"
report="$dir/load-$(basename "${parquet%.parquet}")-$(date +%Y%m%d-%H%M).md"
{
    echo "# pointillist serve load test, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "input: $parquet; $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$report"

if [[ ! -s "$indexed" || "$indexed" -ot "$parquet" ]]; then
    /usr/bin/time -f "%e s wall, %M KB peak RSS" -o "$dir/index-time.txt" \
        "$bin" index "$parquet" -o "$indexed" --memory-mb "$memory_mb"
    echo "index at --memory-mb $memory_mb: $(cat "$dir/index-time.txt")" | tee -a "$report"
fi

"$bin" serve "$indexed" --port "$port" --max-zoom 16 "${serve_args[@]}" >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# Ready when /health says the warm-up (pyramid, per-zoom spans) is done.
for _ in $(seq 1 600); do
    sleep 1
    h=$(curl -s "http://127.0.0.1:$port/health" || true)
    if [[ -n "$h" && "$h" != *'"warm_up_seconds":null'* ]]; then
        break
    fi
done
echo "server up: $(curl -s "http://127.0.0.1:$port/health")" | tee -a "$report"
"$load" "127.0.0.1:$port" --pid "$server" "${load_args[@]}" | tee -a "$report"
echo "after: $(curl -s "http://127.0.0.1:$port/health")" | tee -a "$report"
echo "report: $report"
