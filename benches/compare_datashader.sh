#!/usr/bin/env bash
# Side-by-side benchmark: pointillist vs Datashader 0.19.1 on the same
# synthetic census-like Parquet file. See benches/README.md.
#
#   bash benches/compare_datashader.sh [--rows N] [--quick] [--reps N] [--seed N] [--max-wait S] [--data FILE]
#
# --data FILE: benchmark an existing Parquet file (x, y, val, cat columns,
# e.g. one written by benches/writers.py) instead of `pointillist synth`
# output; --rows and --seed are then ignored.
#
# --max-wait S: before each timed run wait up to S seconds (default 600) for
# other processes to go quiet, and repeat runs they disturbed; 0 = never.
#
# Environment:
#   POINTILLIST_BENCH_DIR   data, PNGs and results (default /tmp/pointillist-bench)
#   POINTILLIST_BENCH_VENV  Python venv with datashader==0.19.1 (default benches/.venv)
#   PYTHON                  interpreter used to create the venv (default python3)
#   CARGO_TARGET_DIR        honoured by the build, as usual
set -euo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

die() {
    echo "compare_datashader: error: $*" >&2
    exit 1
}

ORIG_ARGS="$*"
ROWS=100000000
ROWS_SET=0
QUICK=0
REPS=3
SEED=42
MAX_WAIT=600
GIVEN_DATA=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) [[ $# -ge 2 ]] || die "--rows needs a value"; ROWS="$2"; ROWS_SET=1; shift 2 ;;
        --rows=*) ROWS="${1#*=}"; ROWS_SET=1; shift ;;
        --quick) QUICK=1; shift ;;
        --reps) [[ $# -ge 2 ]] || die "--reps needs a value"; REPS="$2"; shift 2 ;;
        --reps=*) REPS="${1#*=}"; shift ;;
        --seed) [[ $# -ge 2 ]] || die "--seed needs a value"; SEED="$2"; shift 2 ;;
        --seed=*) SEED="${1#*=}"; shift ;;
        --max-wait) [[ $# -ge 2 ]] || die "--max-wait needs a value"; MAX_WAIT="$2"; shift 2 ;;
        --max-wait=*) MAX_WAIT="${1#*=}"; shift ;;
        --data) [[ $# -ge 2 ]] || die "--data needs a file"; GIVEN_DATA="$2"; shift 2 ;;
        --data=*) GIVEN_DATA="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done
if [[ $QUICK -eq 1 && $ROWS_SET -eq 0 ]]; then
    ROWS=10000000
fi
[[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -gt 0 ]] || die "--rows '$ROWS' is not a positive integer"
[[ "$REPS" =~ ^[0-9]+$ && "$REPS" -gt 0 ]] || die "--reps '$REPS' is not a positive integer"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed '$SEED' is not a non-negative integer"
[[ "$MAX_WAIT" =~ ^[0-9]+$ ]] || die "--max-wait '$MAX_WAIT' is not a whole number of seconds"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="${POINTILLIST_BENCH_DIR:-/tmp/pointillist-bench}"
VENV="${POINTILLIST_BENCH_VENV:-$REPO/benches/.venv}"
PYTHON="${PYTHON:-python3}"
COMMAND_LINE="bash benches/compare_datashader.sh${ORIG_ARGS:+ $ORIG_ARGS}"

# ---- prerequisites --------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found: install GNU time (apt-get install time)"
/usr/bin/time -v true 2>/dev/null || die "/usr/bin/time does not accept -v: GNU time is needed"
mkdir -p "$BENCH_DIR"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"

# Nothing of ours outlives the script: partial data files go, children die.
TMP_DATA=""
ORCH=""
cleanup() {
    local rc=$?
    [[ -n "$TMP_DATA" ]] && rm -f "$TMP_DATA"
    # The orchestrator, on SIGTERM, kills the measured process it is running.
    if [[ -n "$ORCH" ]] && kill -0 "$ORCH" 2>/dev/null; then
        kill -TERM "$ORCH" 2>/dev/null || true
        wait "$ORCH" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. build -------------------------------------------------------------
echo "== building pointillist (release) in $REPO" >&2
(cd "$REPO" && cargo build --release --bin pointillist --example decode_floor) \
    || die "cargo build --release failed"
TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')" \
    || die "cannot find cargo's target directory"
PT="$TARGET_DIR/release/pointillist"
DECODE="$TARGET_DIR/release/examples/decode_floor"
[[ -x "$PT" ]] || die "built binary not found at $PT"
[[ -x "$DECODE" ]] || die "decode_floor example not found at $DECODE"

# ---- venv -----------------------------------------------------------------
venv_ok() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c \
        'import datashader, pyarrow, pandas, colorcet, PIL, numpy; assert datashader.__version__ == "0.19.1", datashader.__version__' \
        2>/dev/null
}
if ! venv_ok; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 (or set PYTHON)"
    echo "== creating venv $VENV with datashader==0.19.1 pyarrow" >&2
    "$PYTHON" -m venv "$VENV" || die "cannot create venv at $VENV ($PYTHON -m venv failed; is python3-venv installed?)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip \
        || die "pip upgrade failed in $VENV"
    "$VENV/bin/python" -m pip install --quiet "datashader==0.19.1" pyarrow pillow \
        || die "pip install datashader==0.19.1 pyarrow pillow failed"
    venv_ok || die "venv $VENV still cannot import datashader 0.19.1, pyarrow and PIL"
fi
PY="$VENV/bin/python"

# ---- 2. data --------------------------------------------------------------
DATA="$BENCH_DIR/synth-r${ROWS}-s${SEED}-f32-rg1048576-snappy.parquet"
synth_meta() {
    "$PY" -c 'import sys, pyarrow.parquet as pq
md = pq.ParquetFile(sys.argv[1]).metadata
kv = md.metadata or {}
print(kv.get(b"pointillist.synth", b"").decode(), "num_rows=%d" % md.num_rows)' "$1"
}
if [[ -n "$GIVEN_DATA" ]]; then
    [[ -f "$GIVEN_DATA" ]] || die "--data $GIVEN_DATA: no such file"
    DATA="$(cd "$(dirname "$GIVEN_DATA")" && pwd)/$(basename "$GIVEN_DATA")"
    ROWS="$("$PY" -c 'import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)' "$DATA")" \
        || die "--data $GIVEN_DATA: not a Parquet file pyarrow can read"
    echo "== using $DATA ($ROWS rows)" >&2
elif [[ -f "$DATA" ]] && synth_meta "$DATA" 2>/dev/null | grep -q "seed=$SEED rows=$ROWS precision=f32 .*num_rows=$ROWS\$"; then
    echo "== reusing $DATA" >&2
else
    echo "== generating $DATA ($ROWS rows, seed $SEED)" >&2
    TMP_DATA="$DATA.tmp.$$"
    "$PT" synth -o "$TMP_DATA" --rows "$ROWS" --seed "$SEED" \
        --row-group-rows 1048576 --compression snappy || die "pointillist synth failed"
    mv "$TMP_DATA" "$DATA"
    TMP_DATA=""
fi
SYNTH_META="$(synth_meta "$DATA")" || die "cannot read the metadata of $DATA"
echo "   $SYNTH_META" >&2

# ---- 3-4. scenarios, table, JSON ------------------------------------------
OUT="$BENCH_DIR/out-$ROWS${GIVEN_DATA:+-$(basename "$DATA" .parquet)}"
mkdir -p "$OUT"
echo "== running scenarios ($REPS repetitions each; Datashader needs several GB of RAM at 100M rows)" >&2
# In the background with `wait`, so that a signal to this script runs the
# trap at once (bash defers traps while a foreground child runs).
"$PY" "$REPO/benches/compare_datashader.py" bench \
    --data "$DATA" --rows "$ROWS" --pointillist "$PT" --decode-floor "$DECODE" \
    --outdir "$OUT" --results-dir "$BENCH_DIR" --repo "$REPO" --reps "$REPS" --max-wait "$MAX_WAIT" \
    --synth-meta "$SYNTH_META" --command-line "$COMMAND_LINE" &
ORCH=$!
wait "$ORCH"
