#!/usr/bin/python3
"""Fleet-scale figures with minecast-sim (issue 6), on loopback.

  bench/fleet.py [--build DIR] [--quick | --full] [--out FILE]
                 [--nodes N --publish-runs R --alert-runs A --soak-s S]
                 [--no-profile]

A session is: a real mosquitto (RLIMIT_NOFILE raised to the hard limit,
max_connections -1, the queue and packet limits of
firmware-notes/mosquitto/minecast.conf, anonymous: the simulator does
not provision 10,000 passwords), a real
minecast-controller (the controller integration-test harness,
tests/integration/controller/ctlharness.py: fresh database, users of
every role with API tokens; log level warn), an approved slogan shown
on every node by a company-wide entry, and minecast-sim holding N nodes
(--register: sites and nodes created through the API; health every
30 s; 2 proof-of-play records per node per minute; --share-verify: an
alert's signature checked once for all nodes, as a fleet checks in
parallel).  Then:

  publish  a first publish, waited for until every node applied it;
           then R times: the editor changes the slogan, the approver
           approves it and publishes; measured from the POST
           /v1/publish request to the last node's applied state as the
           controller recorded it (GET /v1/rollout, applied_ms)
  alert    A times: POST /v1/alerts to every node; per node the time
           from the alert's issued_ms to the controller's receipt of
           its "delivered" acknowledgement (GET /v1/alerts/{id}); p50,
           p99 and the last over the nodes; then the alert is cleared
  soak     S seconds of health and proof of play; the controller's CPU
           and VmRSS from /proc every 10 s; then the simulator stops
           cleanly (it drains its proof of play) and its report is
           compared with the controller's minecast_pop_records_total

and at the end of each session, the messages mosquitto dropped
($SYS/broker/publish/messages/dropped).

--quick: one session of 1,000 nodes: 3 publishes, 3 alerts, a 60 s
soak.  --full (default): 1,000 nodes with 10 publishes and 10 alerts;
then 10,000 nodes with 5 publishes, 3 alerts and a 600 s soak.  A
publish or alert figure whose median misses its target gets one more
run under `perf record` (controller, mosquitto and simulator; not
counted in the figure), summarised in the JSON (bench/perfsum.py).

Writes JSON to --out (default bench/out/fleet.json) with the figures in
bench/report.py's form, read by bench/run.  Not a test: nothing here
asserts a figure.
"""

import argparse
import http.client
import json
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

from benchlib import HERE, SRC, harness, proc_stat

import perfsum


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with a release minecast-sim "
                    "and minecast-controller")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    ap.add_argument("--nodes", type=int, help="one session of N nodes "
                    "instead of the --quick/--full sessions")
    ap.add_argument("--publish-runs", type=int, default=3)
    ap.add_argument("--alert-runs", type=int, default=3)
    ap.add_argument("--soak-s", type=float, default=0)
    ap.add_argument("--sites", type=int, default=0,
                    help="sites the nodes are spread over (default "
                    "N / 50, at least 1)")
    ap.add_argument("--broker-queue", type=int, default=None,
                    help="mosquitto's max_queued_messages per client "
                    "(default: firmware-notes/mosquitto/minecast.conf's)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "fleet.json"))
    a = ap.parse_args()
    if a.nodes is not None and a.nodes < 1:
        ap.error("--nodes must be at least 1")
    return a


ARGS = parse_args()
harness(ARGS.build, "minecast-bench-fleet-")
from controller import ctlharness as ch  # noqa: E402  (needs the env)

TARGETS = {"publish": {1000: 1000.0, 10000: 5000.0}, "alert_p99": 250.0}
SAMPLE_S = 10


def log(msg):
    print("fleet: " + msg, flush=True)


def sim_bin():
    return os.path.join(ARGS.build, "sim", "minecast-sim")


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return None
    return s[max(0, min(len(s) - 1, int(math.ceil(p / 100.0 * len(s)))
                        - 1))]


def stat(values, **params):
    values = [v for v in values if v is not None]
    if not values:
        return None
    out = {"median": statistics.median(values), "min": min(values),
           "max": max(values), "n": len(values), "runs": values}
    if params:
        out["params"] = params
    return out


def slope(points):
    """Least-squares slope of [(x, y)]; 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    den = sum((x - mx) ** 2 for x, _ in points)
    if den == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / den


# ---- the broker ----------------------------------------------------------


PRODUCTION = os.path.join(SRC, "firmware-notes", "mosquitto",
                          "minecast.conf")
# The production broker's limits the bench keeps (the listeners, TLS,
# passwords and ACL it leaves out).
LIMITS = ("max_queued_messages", "max_queued_bytes", "queue_qos0_messages",
          "max_inflight_messages", "max_packet_size", "autosave_interval")


def production_limits():
    """{key: value} of LIMITS as firmware-notes/mosquitto/minecast.conf
    sets them."""
    out = {}
    with open(PRODUCTION) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2 and parts[0] in LIMITS:
                out[parts[0]] = parts[1]
    missing = [k for k in LIMITS if k not in out]
    if missing:
        raise SystemExit("%s does not set %s" % (PRODUCTION,
                                                 ", ".join(missing)))
    return out


class FleetBroker(ch.CtlBroker):
    """mosquitto for thousands of clients: no connection limit, the
    production config's queue and packet limits
    (firmware-notes/mosquitto/minecast.conf), $SYS every second (the
    dropped-message counter), notices and warnings in its log."""

    def __init__(self, directory, limits):
        super().__init__(directory)
        self.limits = limits

    def dropped(self):
        """$SYS/broker/publish/messages/dropped: messages the broker
        dropped since it started (a client's full queue).  mosquitto
        publishes it (retained) only once it is not 0, so it is read
        beside $SYS/broker/uptime, which is always there."""
        import paho.mqtt.client as mqtt
        got = {}
        c = mqtt.Client(client_id="bench-sys-%d" % os.getpid(),
                        clean_session=True)
        c.on_message = lambda cl, u, m: got.setdefault(
            m.topic, m.payload.decode())
        c.connect(ch.HOST, self.port, keepalive=30)
        c.subscribe([("$SYS/broker/publish/messages/dropped", 0),
                     ("$SYS/broker/uptime", 0)])
        c.loop_start()
        try:
            ch.wait_for(lambda: "$SYS/broker/uptime" in got, 15,
                        "$SYS/broker/uptime from mosquitto")
            time.sleep(0.3)  # the retained ones come together
        finally:
            c.disconnect()
            c.loop_stop()
        return int(float(got.get("$SYS/broker/publish/messages/dropped",
                                 0)))

    def drop_lines(self):
        try:
            with open(self.log, errors="replace") as fh:
                return [ln.strip() for ln in fh
                        if "being dropped" in ln]
        except OSError:
            return []

    def _start(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [
            "listener %d %s" % (self.port, ch.HOST),
            "allow_anonymous true",
            "max_connections -1",
            "persistence true",
            "persistence_location %s/" % self.dir,
            "sys_interval 1",
        ] + ["%s %s" % kv for kv in self.limits.items()] + [
            "log_dest file %s" % self.log,
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages false",
        ]
        if os.geteuid() == 0:
            import pwd
            lines.append("user %s" % pwd.getpwuid(os.getuid()).pw_name)
        with open(conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        out = open(os.path.join(self.dir, "mosquitto.out"), "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf],
                                     stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL)
        out.close()

        def up():
            if self.proc.poll() is not None:
                self._why = "exited"
                raise AssertionError("mosquitto exited at start:\n"
                                     + ch.tail(self.log))
            return ch.accepting(self.port)
        ch.wait_for(up, 10, "mosquitto on port %d" % self.port)


def raise_nofile():
    """Every process started from here (mosquitto, the controller, the
    simulator) inherits the raised limit, as from `ulimit -n`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---- the API -------------------------------------------------------------


class Api:
    """One keep-alive connection to the controller."""

    def __init__(self, rig):
        self.rig = rig
        self.conn = None

    def call(self, method, path, body=None, token="admin",
             expect=(200, 201)):
        h = {"Authorization": "Bearer " + self.rig.tokens[token]}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            h["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    ch.HOST, self.rig.port, timeout=120)
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status not in expect:
            raise AssertionError("%s %s: %d %s" % (method, path, r.status,
                                                   raw[:300]))
        return json.loads(raw) if raw else None


def slogan(text):
    return {"id": "slogan-fleet", "type": "slogan", "name": "slogan-fleet",
            "text": text, "style": {"fg": "#FFD700", "bg": "#B71C1C"},
            "submit": True}


def schedule(api):
    """An approved slogan on every node: content, playlist, entry."""
    api.call("POST", "/v1/content", slogan("Kỷ luật và Đồng tâm"),
             token="editor")
    api.call("POST", "/v1/content/slogan-fleet/approve", {},
             token="approver")
    api.call("POST", "/v1/playlists", {
        "id": "pl-fleet", "name": "fleet", "submit": True,
        "items": [{"content": "slogan-fleet", "duration_s": 15}]},
        token="editor")
    api.call("POST", "/v1/playlists/pl-fleet/approve", {}, token="approver")
    api.call("POST", "/v1/entries", {
        "id": "e-fleet", "name": "fleet", "playlist": "pl-fleet",
        "channel": "screen", "priority": 10, "submit": True},
        token="editor")
    api.call("POST", "/v1/entries/e-fleet/approve", {}, token="approver")


def metric(rig, name):
    st, body, _ = rig.api("GET", "/metrics", token="admin")
    if st != 200:
        raise AssertionError("GET /metrics: %d" % st)
    total = 0.0
    for line in body.decode().splitlines():
        m = re.match(r"^%s(\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name),
                     line)
        if m:
            total += float(m.group(2))
    return total


# ---- the simulator -------------------------------------------------------


class Sim:
    """minecast-sim as a child process, with its report file."""

    def __init__(self, rig, nodes, sites, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.report_path = os.path.join(directory, "sim-report.json")
        self.ready = os.path.join(directory, "sim-ready")
        self.log = os.path.join(directory, "sim.log")
        self.cmd = [sim_bin(), "--nodes", str(nodes),
                    "--broker", "%s:%d" % (ch.HOST, rig.broker.port),
                    "--controller", rig.base,
                    "--token", rig.tokens["admin"],
                    "--trusted", rig.key + ".pub",
                    "--prefix", "sim-", "--sites", str(sites),
                    "--register", "--share-verify",
                    "--health-s", "30", "--pop-rate", "2",
                    "--report", self.report_path,
                    "--ready-file", self.ready, "--progress-s", "10"]
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=fh, stderr=fh,
                                     stdin=subprocess.DEVNULL)
        fh.close()

    def short(self):
        """The options a reader needs to repeat the session (the rig's
        addresses, token and files left out)."""
        skip = {"--broker", "--controller", "--token", "--trusted",
                "--report", "--ready-file"}
        out, it = ["minecast-sim"], iter(self.cmd[1:])
        for a in it:
            if a in skip:
                next(it)
                continue
            out.append(a)
        return " ".join(out)

    def shown(self):
        c = [os.path.basename(self.cmd[0])] + self.cmd[1:]
        i = c.index("--token")
        c[i + 1] = "TOKEN"
        return " ".join(c)

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout):
        def ok():
            if not self.alive():
                raise AssertionError("minecast-sim exited (%s):\n%s" % (
                    self.proc.returncode, ch.tail(self.log)))
            return os.path.exists(self.ready)
        ch.wait_for(ok, timeout, "every simulated node connected and "
                    "subscribed", interval=0.5)

    def snapshot(self, timeout=30):
        """Ask for the report now (SIGUSR1) and read it."""
        before = os.stat(self.report_path).st_mtime_ns \
            if os.path.exists(self.report_path) else 0
        self.proc.send_signal(signal.SIGUSR1)
        ch.wait_for(lambda: os.path.exists(self.report_path) and
                    os.stat(self.report_path).st_mtime_ns != before,
                    timeout, "the simulator's report")
        time.sleep(0.2)
        return self.read()

    def read(self):
        with open(self.report_path) as fh:
            return json.load(fh)

    def stop(self, timeout=120):
        """The clean stop: SIGTERM, then the report written at exit."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("minecast-sim did not stop within "
                                     "%d s" % timeout)
        return self.proc.returncode


# ---- measurements --------------------------------------------------------


def rollout_totals(api):
    return api.call("GET", "/v1/rollout?limit=0", token="technician")[
        "totals"]


def wait_applied(api, nodes, timeout):
    deadline = time.monotonic() + timeout
    while True:
        t = rollout_totals(api)
        if t["applied"] >= nodes and t["pending"] == 0:
            return t
        if time.monotonic() > deadline:
            raise AssertionError("publish: only %d of %d nodes applied "
                                 "after %d s (%s)" % (t["applied"], nodes,
                                                      timeout, t))
        time.sleep(0.2)


def one_publish(api, nodes, r, timeout, mark=lambda: None):
    api.call("PUT", "/v1/content/slogan-fleet",
             slogan("An toàn là trên hết — lần %d" % r), token="editor")
    api.call("POST", "/v1/content/slogan-fleet/approve", {},
             token="approver")
    mark()
    t0 = time.time()
    rep = api.call("POST", "/v1/publish", {}, token="approver")
    if rep["changed"] != nodes:
        raise AssertionError("publish changed %d pointers, expected %d"
                             % (rep["changed"], nodes))
    wait_applied(api, nodes, timeout)
    mark()
    items = api.call("GET", "/v1/rollout", token="technician")["items"]
    lat = [it["applied_ms"] - t0 * 1000 for it in items
           if it.get("applied_ms") is not None]
    if len(lat) < nodes:
        raise AssertionError("rollout: %d nodes with applied_ms, expected "
                             "%d" % (len(lat), nodes))
    return {"last_ms": max(lat), "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99), "server_ms": rep["duration_ms"],
            "phases_ms": rep.get("phases_ms"), "t0_ms": t0 * 1000,
            "versions": sorted({it["desired_version"] for it in items})}


def one_alert(api, nodes, r, timeout=60, mark=lambda: None):
    aid = "bench-%d-%d" % (os.getpid(), r)
    mark()
    a = api.call("POST", "/v1/alerts", {
        "id": aid, "level": "danger", "confirm": True, "ttl_s": 600,
        "text": "Kiểm tra hệ thống cảnh báo lần %d" % r},
        token="technician")
    if a["targeted"] != nodes:
        raise AssertionError("alert targeted %d nodes, expected %d"
                             % (a["targeted"], nodes))
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.25)
        d = api.call("GET", "/v1/alerts/" + aid, token="technician")
        c = d["counts"]
        if c["delivered"] + c["started"] >= nodes and \
                all(n.get("delivered_ms") for n in d["nodes"]):
            break
        if time.monotonic() > deadline:
            raise AssertionError("alert: %s after %d s" % (c, timeout))
    mark()
    # The started acks follow at start_at_ms.
    time.sleep(max(0, (d["start_at_ms"] - time.time() * 1000) / 1000) + 1)
    d = api.call("GET", "/v1/alerts/" + aid, token="technician")
    issued = d["issued_ms"]
    deliv = [n["delivered_ms"] - issued for n in d["nodes"]
             if n.get("delivered_ms")]
    started = [n["started_ms"] - issued for n in d["nodes"]
               if n.get("started_ms")]
    api.call("POST", "/v1/alerts/%s/clear" % aid, {}, token="technician")
    return {"id": aid, "p50_ms": pct(deliv, 50), "p99_ms": pct(deliv, 99),
            "last_ms": max(deliv), "delivered": len(deliv),
            "started": len(started),
            "started_p99_ms": pct(started, 99) if started else None,
            "lead_ms": d["start_at_ms"] - issued,
            "start_spread_ms": d.get("start_spread_ms")}


def cpu_times(pids):
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = proc_stat(pid)[1]
        except OSError:
            out[name] = None
    return out


def profiled(what, pids, fn, out_dir):
    """fn(mark) once more under perf record -p, with the processes' CPU
    time over the window; fn calls mark() just before the request that
    is measured and again when its figure is complete, so that the
    window holds the measured part only (not the edit before a publish
    or the lead time after an alert)."""
    why = perfsum.available()
    if why:
        return None, {"error": why}
    path = os.path.join(out_dir, "%s.perf.data" % what)
    hz = os.sysconf("SC_CLK_TCK")
    # A publish or an alert lasts a fraction of a second: sample often.
    rec = perfsum.Recorder(path, list(pids.values()), freq=1999)
    state = {}

    def mark():
        if "c0" not in state:
            rec.start()
            state["c0"] = cpu_times(pids)
        elif "c1" not in state:
            state["c1"] = cpu_times(pids)
            state["wall"] = rec.stop()
    try:
        res = fn(mark)
    finally:
        if "c0" in state and "c1" not in state:
            mark()
    c0, c1, wall = state.get("c0"), state.get("c1"), state.get("wall")
    if wall is None:
        return res, {"error": "perf record failed: %s"
                     % getattr(rec, "error", "no window")}
    s = perfsum.summarise(path, window_s=wall)
    s["cpu_s"] = {k: (c1[k] - c0[k]) / hz for k in pids
                  if c0.get(k) is not None and c1.get(k) is not None}
    s["where"] = "one more %s, not counted, under `perf record -p` of " \
        "the controller, mosquitto and minecast-sim, from the request " \
        "until every node had answered" % what
    return res, s


def limit_of(s, target_text, cores):
    """The plain sentence before the profile: which process took the
    CPU, and whether the machine's cores were full."""
    if not s or s.get("error") or not s.get("cpu_s"):
        return perfsum.text(s) if s else ""
    w = s["window_s"] or 1
    used = sum(s["cpu_s"].values())
    top = max(s["cpu_s"].items(), key=lambda kv: kv[1])
    bits = ["Over the profiled run the three processes used %.2f of the "
            "%d cores (%.0f %% of the machine)" % (used / w, cores,
                                                  100 * used / w / cores),
            "%s the most (%.2f cores)" % (top[0], top[1] / w)]
    if used / w > 0.8 * cores:
        bits.append("the cores were saturated, so the figure is bound by "
                    "CPU on this machine, with the simulated nodes "
                    "competing with the controller and the broker")
    return "; ".join(bits) + ". " + perfsum.text(s)


# ---- a session -----------------------------------------------------------


def start(nodes, res, tag=""):
    """Broker, controller, schedule, the simulator with every node
    connected: (rig, api, sim).  The caller closes the rig and stops
    the simulator (also when this raises: see res["_rig"])."""
    sites = ARGS.sites or max(1, nodes // 50)
    rig = ch.CtlRig("fleet-%d%s" % (nodes, tag),
                    config={"controller": {"log_level": "warn"}},
                    start=False)
    limits = production_limits()
    if ARGS.broker_queue is not None:
        limits["max_queued_messages"] = str(ARGS.broker_queue)
    rig.broker = FleetBroker(os.path.join(rig.dir, "mqtt"), limits)
    res.update({"nodes": nodes, "sites": sites, "broker": limits,
                "_rig": rig})
    rig.start()
    api = Api(rig)
    schedule(api)
    t = time.monotonic()
    sim = Sim(rig, nodes, sites, rig.dir)
    res["_sim"] = sim
    res["sim_cmd"] = sim.shown()
    res["sim_args"] = sim.short()
    log("%d nodes: %s" % (nodes, res["sim_cmd"]))
    sim.wait_ready(120 + nodes / 50)
    res["ready_s"] = time.monotonic() - t
    log("%d nodes registered, connected and subscribed in %.1f s"
        % (nodes, res["ready_s"]))
    return rig, api, sim


def finish(res):
    """Stop what start() started."""
    sim, rig = res.pop("_sim", None), res.pop("_rig", None)
    if sim is not None and sim.alive():
        sim.proc.kill()
        sim.proc.wait()
    if rig is not None:
        rig.close()


def session(nodes, publish_runs, alert_runs, soak_s, out):
    res = {}
    out["sessions"].append(res)  # kept also when the session fails
    pids = {}
    try:
        rig, api, sim = start(nodes, res)
        pids = {"minecast-controller": rig.proc.pid,
                "mosquitto": rig.broker.proc.pid,
                "minecast-sim": sim.proc.pid}
        tmo = 60 + nodes / 100
        t = time.monotonic()
        rep = api.call("POST", "/v1/publish", {}, token="approver")
        wait_applied(api, nodes, tmo)
        res["first_publish"] = {"server_ms": rep["duration_ms"],
                                "applied_s": time.monotonic() - t}
        log("first publish applied by every node in %.1f s"
            % res["first_publish"]["applied_s"])
        if publish_runs:
            runs = []
            for r in range(publish_runs):
                runs.append(one_publish(api, nodes, r + 1, tmo))
                log("publish %d: last node applied after %.0f ms "
                    "(p50 %.0f ms; the publish itself %d ms)" % (
                        r + 1, runs[-1]["last_ms"], runs[-1]["p50_ms"],
                        runs[-1]["server_ms"]))
                time.sleep(1)
            res["publish"] = runs
            med = statistics.median(x["last_ms"] for x in runs)
            tgt = TARGETS["publish"].get(nodes)
            if tgt and med > tgt and not ARGS.no_profile:
                log("publish misses %.0f ms; profiling one more" % tgt)
                extra, prof = profiled(
                    "publish", pids, lambda mark: one_publish(
                        api, nodes, publish_runs + 1, tmo, mark), rig.dir)
                res["publish_profile"] = prof
                res["publish_profiled_run"] = extra
        if alert_runs:
            runs = []
            for r in range(alert_runs):
                runs.append(one_alert(api, nodes, r + 1))
                log("alert %d: p50 %.1f ms, p99 %.1f ms, last %.1f ms"
                    % (r + 1, runs[-1]["p50_ms"], runs[-1]["p99_ms"],
                       runs[-1]["last_ms"]))
                time.sleep(1)
            res["alert"] = runs
            med = statistics.median(x["p99_ms"] for x in runs)
            if med > TARGETS["alert_p99"] and nodes != 10000 and \
                    not ARGS.no_profile:
                log("alert p99 misses; profiling one more")
                extra, prof = profiled(
                    "alert", pids, lambda mark: one_alert(
                        api, nodes, alert_runs + 1, mark=mark), rig.dir)
                res["alert_profile"] = prof
                res["alert_profiled_run"] = extra
        if soak_s:
            res["soak"] = soak(rig, api, sim, nodes, soak_s, pids)
        rc = sim.stop()
        res["sim_exit"] = rc
        rep = sim.read()
        res["sim_report"] = trim_report(rep)
        res["pop"] = pop_counts(rep, rig)
        cross_check(res, rep)
        log("proof of play: %s" % res["pop"])
        if "soak" in res:
            res["soak"]["pop"] = res["pop"]
        res["broker_dropped"] = rig.broker.dropped()
        res["broker_drop_lines"] = rig.broker.drop_lines()[:5]
    finally:
        finish(res)
    return res


def soak(rig, api, sim, nodes, seconds, pids):
    hz = os.sysconf("SC_CLK_TCK")
    log("soak: %d nodes for %d s" % (nodes, seconds))
    samples = []
    t0 = time.monotonic()
    last = {k: proc_stat(p) for k, p in pids.items()}
    last_t = t0
    while time.monotonic() - t0 < seconds:
        time.sleep(min(SAMPLE_S, max(0.1, seconds -
                                     (time.monotonic() - t0))))
        now = time.monotonic()
        row = {"t_s": now - t0}
        for k, p in pids.items():
            rss, ticks = proc_stat(p)
            cpu = 100.0 * (ticks - last[k][1]) / hz / (now - last_t)
            last[k] = (rss, ticks)
            if k == "minecast-controller":
                row["cpu_percent"], row["rss_mb"] = cpu, rss / 1024
            else:
                row[k] = {"cpu_percent": cpu, "rss_mb": rss / 1024}
        last_t = now
        samples.append(row)
        if not sim.alive():
            raise AssertionError("minecast-sim exited during the soak:\n"
                                 + ch.tail(sim.log))
    fleet = api.call("GET", "/v1/fleet?flag=stale", token="technician")
    return {"seconds": seconds, "interval_s": SAMPLE_S, "samples": samples,
            "fleet_counts": fleet["counts"], "stale": fleet["total"]}


def cross_check(res, rep):
    """The simulator's own view of each measured publish and alert: the
    last node's applied state and the alert acks by the nodes' clock
    (the same host's), beside the controller's."""
    vers = {v["version"]: v for v in rep.get("versions", [])}
    for run in res.get("publish", []) + (
            [res["publish_profiled_run"]]
            if res.get("publish_profiled_run") else []):
        v = [vers[x] for x in run.get("versions", []) if x in vers]
        if v:
            run["sim_last_ms"] = max(x["last_applied_ms"] for x in v) - \
                run["t0_ms"]
            run["sim_nodes"] = sum(x["nodes"] for x in v)
    alerts = {(a["id"], a["seq"]): a for a in rep.get("alerts", [])}
    for run in res.get("alert", []):
        a = alerts.get((run["id"], 1))
        if a and a.get("issued_to_delivered_ms"):
            run["sim_p99_ms"] = a["issued_to_delivered_ms"]["p99"]
            run["sim_min_ms"] = a["issued_to_delivered_ms"]["min"]
            run["sim_delivered"] = a["delivered"]


def trim_report(rep):
    """The simulator's report without its per-node part."""
    if isinstance(rep, dict):
        return {k: v for k, v in rep.items() if k not in ("nodes",)}
    return rep


def find(doc, *paths):
    """The first of several key paths present in doc (the simulator's
    report, docs/sim.md)."""
    for path in paths:
        cur = doc
        for k in path.split("."):
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            else:
                cur = None
                break
        if cur is not None:
            return cur
    return None


def pop_counts(rep, rig):
    """The simulator's proof-of-play counts (its report's summary.pop,
    docs/sim.md) beside what the controller stored."""
    p = find(rep, "summary.pop") or {}
    sent, acked = p.get("sent"), p.get("acked")
    stored = int(metric(rig, "minecast_pop_records_total"))
    return {"records": p.get("records"), "sent": sent,
            "resent": p.get("resent"), "acked": acked,
            "outstanding": p.get("outstanding"), "stored": stored,
            "final": rep.get("final"),
            "lost_acks": (sent - acked) if None not in (sent, acked)
            else None,
            "lost_records": (sent - stored) if sent is not None
            else None}


# ---- figures -------------------------------------------------------------


def figures(out):
    figs = {}
    cores = os.cpu_count() or 1
    for s in out["sessions"]:
        n = s["nodes"]
        if s.get("publish"):
            f = stat([x["last_ms"] for x in s["publish"]], nodes=n)
            f["detail"] = (
                "per publish, the median node applied after %.0f ms, the "
                "99th percentile after %.0f ms; the publish itself "
                "(compile, sign, store, hand to the broker) took %.0f ms; "
                "%s nodes registered, connected and subscribed in %.1f s"
                % (statistics.median(x["p50_ms"] for x in s["publish"]),
                   statistics.median(x["p99_ms"] for x in s["publish"]),
                   statistics.median(x["server_ms"] for x in s["publish"]),
                   fmt_n(n), s.get("ready_s", 0)))
            sim_last = [x["sim_last_ms"] for x in s["publish"]
                        if "sim_last_ms" in x]
            if sim_last:
                f["detail"] += (
                    "; by the simulator's clock the last node published "
                    "its applied state %.0f ms after the request (median)"
                    % statistics.median(sim_last))
            if s.get("broker_dropped"):
                f["detail"] += ("; mosquitto dropped %d messages in this "
                                "session" % s["broker_dropped"])
            if s.get("publish_profile"):
                f["profile"] = s["publish_profile"]
                f["limit"] = limit_of(s["publish_profile"], "", cores)
            figs["fleet.publish.%d" % n] = f
        if s.get("alert") and n == 10000:
            # Beside the target's 1,000 nodes: the whole fleet.
            a = s["alert"]
            figs["fleet.alert.p99.10000"] = stat(
                [x["p99_ms"] for x in a], nodes=fmt_n(n))
            figs["fleet.alert.last.10000"] = stat(
                [x["last_ms"] for x in a], nodes=fmt_n(n))
        elif s.get("alert"):
            a = s["alert"]
            figs["fleet.alert.p50"] = stat([x["p50_ms"] for x in a],
                                           nodes=fmt_n(n))
            figs["fleet.alert.p99"] = stat([x["p99_ms"] for x in a],
                                           nodes=fmt_n(n))
            figs["fleet.alert.last"] = stat([x["last_ms"] for x in a],
                                            nodes=fmt_n(n))
            sp = [x["sim_p99_ms"] for x in a if "sim_p99_ms" in x]
            if sp:
                figs["fleet.alert.p99"]["detail"] = (
                    "the simulator sent its nodes' acknowledgements from "
                    "%.0f ms (the first node) to %.0f ms (p99) after issue "
                    "(medians over the alerts); the rest is the way back "
                    "through mosquitto into the controller" % (
                        statistics.median(x["sim_min_ms"] for x in a
                                          if "sim_min_ms" in x),
                        statistics.median(sp)))
            st = [x["started_p99_ms"] for x in a
                  if x.get("started_p99_ms") is not None]
            if st:
                figs["fleet.alert.started_p99"] = stat(st, nodes=fmt_n(n))
                spreads = [x["start_spread_ms"] for x in a
                           if x.get("start_spread_ms") is not None]
                figs["fleet.alert.started_p99"]["detail"] = (
                    "the alerts start %d ms after issue (the controller's "
                    "alert_lead_ms); within an alert the nodes' start "
                    "instants (start_ms) differed by at most %s ms" % (
                        a[0]["lead_ms"], max(spreads) if spreads else "?"))
            if s.get("alert_profile"):
                f = figs["fleet.alert.p99"]
                f["profile"] = s["alert_profile"]
                f["limit"] = limit_of(s["alert_profile"], "", cores)
        if s.get("soak"):
            figs.update(soak_figures(s))
    drops = [(x["nodes"], x["broker_dropped"]) for x in out["sessions"]
             if x.get("broker_dropped") is not None]
    if drops:
        total = sum(d for _, d in drops)
        q = out["sessions"][0].get("broker", {})
        f = {"median": total, "min": total, "max": total, "n": 1,
             "runs": [total],
             "params": {"queue": "{:,}".format(
                 int(q.get("max_queued_messages", 0)))},
             "text": "%s (%s)" % ("{:,}".format(total), "; ".join(
                 "%s at %s nodes" % ("{:,}".format(d), fmt_n(n))
                 for n, d in drops))}
        if total:
            lines = [ln for x in out["sessions"]
                     for ln in x.get("broker_drop_lines", [])]
            f["limit"] = (
                "mosquitto drops a client's messages beyond "
                "max_queued_messages while the client reads slower than "
                "they come (its log: \"%s\"); a node publishes its state "
                "and its alert acknowledgements once (docs/protocol.md "
                "§3.1), so what the controller's session loses this way "
                "is not sent again" % (
                    (lines or ["?"])[0].split(": ", 1)[-1]))
        figs["fleet.dropped"] = f
    plan = out.get("plan", [])
    why = "not in this run's plan (%s)" % ", ".join(
        "%s nodes" % fmt_n(p[0]) for p in plan) if plan else "no session"
    failed = "the fleet run failed: %s" % out["error"] \
        if out.get("error") else why
    wanted = {
        "fleet.publish.1000": any(p[0] == 1000 and p[1] for p in plan),
        "fleet.publish.10000": any(p[0] == 10000 and p[1] for p in plan),
        "fleet.alert.p99.10000": any(p[0] == 10000 and p[2] for p in plan),
        "fleet.alert.last.10000": any(p[0] == 10000 and p[2]
                                      for p in plan),
        "fleet.alert.": any(p[0] != 10000 and p[2] for p in plan),
        "fleet.soak.": any(p[3] for p in plan)}
    for key in ("fleet.publish.1000", "fleet.publish.10000",
                "fleet.alert.p50", "fleet.alert.p99", "fleet.alert.last",
                "fleet.alert.started_p99", "fleet.alert.p99.10000",
                "fleet.alert.last.10000", "fleet.soak.lost_acks",
                "fleet.soak.lost_records", "fleet.soak.rss",
                "fleet.soak.cpu"):
        w = [v for k, v in wanted.items() if k == key] or \
            [v for k, v in wanted.items()
             if k.endswith(".") and key.startswith(k)]
        figs.setdefault(key, {"why": failed if w and w[0] else why})
    figs.setdefault("fleet.dropped", {"why": failed})
    return figs


def fmt_n(n):
    return "{:,}".format(n)


def soak_figures(s):
    k = s["soak"]
    p = k.get("pop") or {}
    params = {"nodes": fmt_n(s["nodes"]),
              "minutes": "%g" % round(k["seconds"] / 60.0, 1)}
    out = {}
    for key, field in (("fleet.soak.lost_acks", "lost_acks"),
                       ("fleet.soak.lost_records", "lost_records")):
        v = p.get(field)
        if v is None:
            out[key] = {"why": "the simulator's report has no proof-of-"
                        "play counts"}
            continue
        out[key] = {"median": v, "min": v, "max": v, "n": 1, "runs": [v],
                    "params": params,
                    "text": "%s of %s records sent (%s acknowledged, %s "
                    "stored by the controller)" % tuple(
                        "{:,}".format(x) if isinstance(x, int) else str(x)
                        for x in (v, p["sent"], p.get("acked"),
                                  p["stored"]))}
        if v:
            out[key]["limit"] = (
                "The simulator's report: %s; the controller stored %d "
                "records (minecast_pop_records_total). See its log in "
                "the bench output." % (json.dumps(
                    {kk: p[kk] for kk in ("records", "sent", "acked",
                                          "outstanding")}), p["stored"]))
    smp = k["samples"]
    if smp:
        length = k["seconds"]
        half = smp[len(smp) // 2:] if len(smp) >= 4 else smp
        for key, field, unit, tol in (
                ("fleet.soak.rss", "rss_mb", "MB", None),
                ("fleet.soak.cpu", "cpu_percent", "%", 2.0)):
            vals = [x[field] for x in smp]
            sl = slope([(x["t_s"], x[field]) for x in half])
            drift = sl * length
            med = statistics.median(vals)
            lim = tol if tol is not None else max(2.0, 0.02 * med)
            flat = abs(drift) <= lim
            sp = " "
            f = stat(vals, **params)
            f.update({
                "flat": flat, "slope_per_hour": sl * 3600,
                "start": vals[0], "end": vals[-1],
                "text": "start %.1f%s%s, end %.1f%s%s, max %.1f%s%s; "
                "the trend of the second half comes to %+.2f%s%s over "
                "the soak (flat within %.1f%s%s)" % (
                    vals[0], sp, unit, vals[-1], sp, unit, max(vals), sp,
                    unit, drift, sp, unit, lim, sp, unit)})
            if not flat:
                f["limit"] = (
                    "Not profiled: a drift over a soak is a trend, not a "
                    "hot spot; the samples are in the JSON (soak.samples)")
            out[key] = f
    return out


def main():
    hard = raise_nofile()
    if not os.access(sim_bin(), os.X_OK):
        raise SystemExit("%s: not built (cmake --build %s)" % (
            sim_bin(), ARGS.build))
    if ARGS.nodes:
        plan = [(ARGS.nodes, ARGS.publish_runs, ARGS.alert_runs,
                 ARGS.soak_s)]
    elif ARGS.quick:
        plan = [(1000, 3, 3, 60)]
    else:
        plan = [(1000, 10, 10, 0), (10000, 5, 3, 600)]
    out = {"machine": os.uname().machine, "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "nofile_limit": hard, "plan": plan, "sessions": []}
    log("RLIMIT_NOFILE %d; plan (nodes, publishes, alerts, soak s): %s"
        % (hard, plan))
    err = None
    try:
        for p in plan:
            session(*p, out=out)
    except Exception as e:  # write what was measured, then fail
        err = e
        out["error"] = "%s: %s" % (type(e).__name__, e)
    out["figures"] = figures(out)
    soak_s = [s for s in out["sessions"] if s.get("soak")]
    if soak_s:
        out["soak"] = soak_s[-1]["soak"]
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
    for k, f in sorted(out["figures"].items()):
        if "median" in f:
            log("%s: %s" % (k, f.get("text") or "median %.1f (%.1f–%.1f, "
                            "%d runs)" % (f["median"], f["min"], f["max"],
                                          f["n"])))
    if err is not None:
        raise err


if __name__ == "__main__":
    sys.exit(main())
