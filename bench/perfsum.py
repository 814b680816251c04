"""Profiles for figures that miss their target: `perf record` around a
run, summarised as the share of CPU samples per process and the hottest
symbols, so that docs/benchmarks.md can say what limits a figure from a
measurement rather than a guess.

Two ways to record (no call graphs: the release build has no frame
pointers, and flat symbols already name the hot code; 499 Hz, or more
for a short window):

  Recorder(pids=[...])     the given processes only (perf record -p),
                           started and stopped around a window
  Recorder(pids=None)      every CPU (perf record -a), for scripts that
                           start their own processes; other people's
                           processes on a shared machine show up too,
                           which is part of the answer

summarise(path, cores) reads the file with `perf report` and returns a
JSON-able dict; text(summary) turns it into one paragraph.  Not a test:
nothing here asserts anything.
"""

import os
import shutil
import signal
import subprocess
import time

FREQ = 499


def available():
    """Why perf cannot be used here, or None when it can."""
    if not shutil.which("perf"):
        return "perf is not installed (Debian: linux-perf)"
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as fh:
            paranoid = int(fh.read())
    except (OSError, ValueError):
        paranoid = 2
    if os.geteuid() != 0 and paranoid > 1:
        return ("perf may not profile other processes "
                "(kernel.perf_event_paranoid = %d; run as root or "
                "lower it)" % paranoid)
    return None


class Recorder:
    """perf record in the background until stop()."""

    def __init__(self, path, pids=None, freq=FREQ):
        self.path = path
        self.pids = pids
        self.freq = freq
        self.proc = None
        self.t0 = None

    def start(self):
        cmd = ["perf", "record", "-F", str(self.freq), "-o", self.path,
               "-q"]
        if self.pids:
            cmd += ["-p", ",".join(str(p) for p in self.pids)]
        else:
            cmd += ["-a"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        time.sleep(0.3)  # perf attaches before the window opens
        self.t0 = time.monotonic()
        return self

    def stop(self):
        """Stop recording; returns the window in seconds (None when perf
        had failed)."""
        if self.proc is None:
            return None
        wall = time.monotonic() - self.t0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.proc = None
        if not os.path.exists(self.path):
            self.error = (err or b"").decode(errors="replace").strip()
            return None
        return wall


def _report(path, sort):
    p = subprocess.run(["perf", "report", "-i", path, "--stdio",
                        "--no-children", "--sort", sort, "-q"],
                       capture_output=True, text=True, timeout=300)
    rows = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if not parts or not parts[0].endswith("%"):
            continue
        try:
            pct = float(parts[0][:-1])
        except ValueError:
            continue
        rows.append((pct, parts[1:]))
    return rows


def summarise(path, cores=None, window_s=None, top=8):
    """{"processes": [[comm, percent of samples, cores busy]],
    "symbols": [[comm, dso, symbol, percent]], "idle_percent",
    "window_s"} of a perf data file (percent of all samples; with -a
    the idle task is "swapper")."""
    cores = cores or os.cpu_count() or 1
    procs = []
    idle = 0.0
    for pct, rest in _report(path, "comm"):
        comm = " ".join(rest)
        if comm == "swapper":
            idle = pct
            continue
        procs.append([comm, pct])
    merged = {}
    for pct, rest in _report(path, "comm,dso,sym"):
        if len(rest) < 3 or rest[0] == "swapper":
            continue
        # comm dso [.] symbol...  (the symbol may hold spaces)
        comm, dso = rest[0], os.path.basename(rest[1])
        sym = " ".join(rest[3:]) if rest[2] in ("[.]", "[k]") else \
            " ".join(rest[2:])
        if sym.startswith("0x"):
            # A library without symbols here: its addresses as one.
            sym = "(no symbols)"
        key = (comm, dso, sym)
        merged[key] = merged.get(key, 0.0) + pct
    syms = [[c, d, sym, round(p, 2)] for (c, d, sym), p in sorted(
        merged.items(), key=lambda kv: -kv[1])[:top]]
    out = {"how": "perf record (no call graphs), perf report "
                  "--sort comm / comm,dso,sym",
           "processes": procs[:top], "symbols": syms,
           "idle_percent": idle, "cores": cores, "window_s": window_s}
    return out


# Thread names perf shows, as a reader knows the processes (comm is the
# thread's name, cut at 15 characters).
NAMES = {"minecast-contro": "minecast-controller",
         "MHD-worker": "minecast-controller's HTTP threads",
         "MHD-listen": "minecast-controller's HTTP listener"}


def name(comm):
    return NAMES.get(comm, comm)


def text(s):
    """One paragraph from summarise()'s dict."""
    if not s:
        return ""
    if s.get("error"):
        return "No profile: %s." % s["error"]
    bits = []
    if s.get("system_wide"):
        busy = 100.0 - s.get("idle_percent", 0.0)
        bits.append("the %d cores were %.0f %% busy" % (s["cores"], busy))
    if s.get("processes"):
        bits.append("CPU samples by thread: " + ", ".join(
            "%s %.0f %%" % (name(c), p) for c, p in s["processes"][:5]))
    if s.get("symbols"):
        bits.append("hottest symbols: " + ", ".join(
            ("%s (%s, no symbols) %.1f %%" % (dso, name(comm), p))
            if sym == "(no symbols)" else
            ("%s (%s, %s) %.1f %%" % (sym, name(comm), dso, p))
            for comm, dso, sym, p in s["symbols"][:5]))
    if s.get("cpu_s"):
        w = s.get("window_s") or 0
        bits.append("CPU time over the %.1f s window: " % w + ", ".join(
            "%s %.2f s" % (k, v) for k, v in sorted(
                s["cpu_s"].items(), key=lambda kv: -kv[1])))
    where = " (%s)" % s["where"] if s.get("where") else ""
    return "Profile%s: %s." % (where, "; ".join(bits))


def record_command(path, cmd, timeout, env=None, log=None):
    """Run cmd under `perf record -a`; returns (returncode, summary)."""
    why = available()
    if why:
        return None, {"error": why}
    rec = ["perf", "record", "-F", str(FREQ), "-a", "-q", "-o", path,
           "--"] + list(cmd)
    t0 = time.monotonic()
    with open(log or os.devnull, "ab") as fh:
        p = subprocess.Popen(rec, stdout=fh, stderr=fh, env=env,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            # perf, the script and what it started: one process group.
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    wall = time.monotonic() - t0
    if not os.path.exists(path):
        return p.returncode, {"error": "perf record wrote nothing"}
    s = summarise(path, window_s=wall)
    s["system_wide"] = True
    return p.returncode, s
