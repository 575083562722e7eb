#!/usr/bin/env bash
# Batch `vigil version compare` throughput, end to end through the CLI (stdin → stdout).
# Usage: bench/version-compare.sh [PAIRS]   (default 2,000,000 pairs per ecosystem)
# Prints pairs/s per ecosystem; the target (issue 2) is >= 1M pairs/s for npm, PyPI and Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-2000000}
cargo build --release -q -p vigil-cli
bin=target/release/vigil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$pairs" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
def r(k): return rnd.randrange(k)
def npm():
    a, b, c = r(30), r(40), r(60); p = r(6)
    return f"{a}.{b}.{c}-beta.{r(10)}" if p == 0 else f"{a}.{b}.{c}-rc.1" if p == 1 else f"{a}.{b}.{c}"
def pypi():
    a, b, c = r(30), r(40), r(60); p = r(6)
    return f"{a}.{b}.{c}rc{r(4)}" if p == 0 else f"{a}.{b}.post{r(4)}" if p == 1 else f"{a}.{b}" if p == 2 else f"{a}.{b}.{c}"
def debian():
    a, b, c = r(30), r(40), r(60); p = r(6)
    if p == 0: return f"{r(3)}:{a}.{b}.{c}-{r(9)}"
    if p == 1: return f"{a}.{b}~rc{r(4)}-{r(9)}"
    if p == 2: return f"{a}.{b}.{c}+dfsg-{r(9)}ubuntu{r(5)}"
    return f"{a}.{b}.{c}-{r(9)}"
for name, gen in (("npm", npm), ("PyPI", pypi), ("Debian", debian)):
    with open(f"{work}/{name}.txt", "w") as f:
        f.write("".join(f"{gen()} {gen()}\n" for _ in range(n)))
PY

printf '%-8s %10s %8s %14s\n' ecosystem pairs seconds pairs/s
for eco in npm PyPI Debian; do
    "$bin" version compare "$eco" < "$work/$eco.txt" > /dev/null   # warm-up (page cache)
    start=$(date +%s.%N)
    "$bin" version compare "$eco" < "$work/$eco.txt" > "$work/out.txt"
    end=$(date +%s.%N)
    lines=$(wc -l < "$work/out.txt")
    [ "$lines" -eq "$pairs" ] || { echo "expected $pairs results, got $lines" >&2; exit 1; }
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'{sys.argv[4]:<8} {n:>10,} {s:>8.3f} {n/s:>14,.0f}')" "$start" "$end" "$pairs" "$eco"
done
