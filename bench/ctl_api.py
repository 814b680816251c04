#!/usr/bin/python3
"""Controller API latency under concurrent clients (issue 5), on loopback.

  bench/ctl_api.py [--build DIR] [--runs N] [--clients C] [--requests R]
                   [--seconds S] [--nodes K] [--out FILE]

A real minecast-controller (started by the controller integration-test
harness, tests/integration/controller/ctlharness.py: its own mosquitto,
a fresh database, users of every role with API tokens) holding an
organisation of K nodes over 20 sites.  C client threads, each with its
own keep-alive HTTP/1.1 connection and its own user's token, send R
requests each (or until S seconds have passed), picked in turn from a
mix a console and minecastctl make:

  GET  /v1/auth/me            every role
  GET  /v1/nodes              the node list (K rows)
  GET  /v1/sites              20 rows
  GET  /v1/fleet              node status summary
  GET  /v1/rollout            rollout progress
  GET  /v1/tokens             the caller's tokens
  PATCH /v1/users/{self}      a write: the caller's display name (one
                              in ten requests; a transaction with its
                              audit row)

Latency is measured by the client around each whole request (send,
answer, body read); the client is Python, so these figures include its
own scheduling (the switch interval is lowered to 0.5 ms; --procs
spreads the threads over processes, which on a 2-core machine only adds
contention) and on a small machine the client's CPU competes with the
server's.  The
server's own view is read from its /metrics histogram
(minecast_http_request_duration_seconds) before and after each run: the
p99 bucket bound of the run's requests.

Every figure is repeated N times (a fresh controller per run) and
reported as median and min..max.  Writes JSON to --out (default
bench/out/ctl_api.json) and prints Markdown rows for docs/benchmarks.md.
Not a test: nothing here asserts a time.  Target (DESIGN.md, issue 5):
API p99 latency ≤ 50 ms under 50 concurrent clients.
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import threading
import time

from benchlib import HERE, SRC, harness, summary


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with a release "
                    "minecast-controller")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=200,
                    help="requests per client per run")
    ap.add_argument("--seconds", type=float, default=60,
                    help="a run stops after this long even if the "
                    "requests are not all sent")
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--procs", type=int, default=1,
                    help="client processes the threads are spread over "
                    "(fewer threads per interpreter lock)")
    ap.add_argument("--http-threads", type=int, default=0,
                    help="the controller's [controller] http_threads "
                    "(0 = its default)")
    ap.add_argument("--client", choices=("c", "python"), default="c",
                    help="c: bench/apiload.c (mc-apiload, libcurl multi "
                    "in one thread; default); python: client threads")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "ctl_api.json"))
    return ap.parse_args()


ARGS = parse_args()
harness(ARGS.build, "minecast-bench-api-")
from controller import ctlharness as ch  # noqa: E402  (needs the env)

MIX = [
    ("GET", "/v1/auth/me"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/sites"),
    ("GET", "/v1/fleet"),
    ("GET", "/v1/rollout"),
    ("GET", "/v1/tokens"),
    ("GET", "/v1/auth/me"),
    ("GET", "/v1/nodes"),
    ("GET", "/v1/fleet"),
    ("PATCH", "/v1/users/{self}"),
]

HIST = "minecast_http_request_duration_seconds"


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1,
                   int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def server_buckets(rig):
    """{le: count} summed over every route of the latency histogram."""
    st, body, _ = rig.api("GET", "/metrics", token="admin")
    if st != 200:
        raise AssertionError("GET /metrics: %d" % st)
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r'^%s_bucket\{.*le="([^"]+)"\} ([0-9.e+]+)$' % HIST,
                     line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            out[le] = out.get(le, 0) + float(m.group(2))
    return out


def bucket_percentile(before, after, p):
    """The smallest bucket bound holding p % of the requests between two
    readings (seconds; inf when only +Inf holds them)."""
    diff = sorted((le, after.get(le, 0) - before.get(le, 0))
                  for le in after)
    total = diff[-1][1] if diff else 0
    for le, n in diff:
        if total and n >= total * p / 100.0:
            return le
    return float("nan")


def populate(rig):
    for s in range(20):
        rig.add_site("site-%02d" % s, "Công trường số %d" % s)
    for n in range(ARGS.nodes):
        rig.add_node("pi-%04d" % n, "site-%02d" % (n % 20),
                     tags=["nha-an"] if n % 3 == 0 else ["cong-chinh"])


def client(port, token, who, n_req, limit, start, lat, errors, idx):
    conn = http.client.HTTPConnection(ch.HOST, port, timeout=30)
    hdr = {"Authorization": "Bearer " + token}
    mine = []
    start.wait()
    for i in range(n_req):
        if time.monotonic() > limit[0]:
            break
        method, path = MIX[(i + idx) % len(MIX)]
        body = None
        h = dict(hdr)
        if "{self}" in path:
            path = path.replace("{self}", who)
            body = json.dumps({"display_name": "Người dùng %s %d"
                               % (who, i)}).encode()
            h["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            r.read()
            ok = 200 <= r.status < 300
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(ch.HOST, port, timeout=30)
        dt = time.perf_counter() - t0
        if ok:
            mine.append((dt, MIX[(i + idx) % len(MIX)][0] + " "
                         + MIX[(i + idx) % len(MIX)][1]))
        else:
            errors.append((method, path))
    conn.close()
    lat.extend(mine)  # list.extend is atomic under the GIL


def proc_main(port, jobs, go, seconds, out):
    """One client process: a thread per (who, token, idx) job, started
    together when go is set; sends (latencies, errors) to out."""
    sys.setswitchinterval(0.0005)
    lat, errors = [], []
    start = threading.Event()
    limit = [float("inf")]
    threads = [threading.Thread(target=client, args=(
        port, tok, who, ARGS.requests, limit, start, lat, errors, idx))
        for who, tok, idx in jobs]
    for t in threads:
        t.start()
    go.wait()
    limit[0] = time.monotonic() + seconds
    start.set()
    for t in threads:
        t.join(seconds + 60)
    out.put((lat, errors))


def py_clients(rig):
    """The Python client threads: (latencies, errors, wall seconds)."""
    jobs = [("bench-%02d" % i, rig.tokens["bench-%02d" % i], i)
            for i in range(ARGS.clients)]
    go = mp.Event()
    q = mp.Queue()
    procs = [mp.Process(target=proc_main, args=(
        rig.port, jobs[k::ARGS.procs], go, ARGS.seconds, q))
        for k in range(min(ARGS.procs, ARGS.clients))]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every thread waiting on its start event
    w0 = time.monotonic()
    go.set()
    lat, errors = [], []
    for _ in procs:
        a, e = q.get(timeout=ARGS.seconds + 120)
        lat.extend(a)
        errors.extend(e)
    wall = time.monotonic() - w0
    for p in procs:
        p.join(30)
    return lat, errors, wall


def c_clients(rig):
    """bench/apiload.c (mc-apiload): one thread, libcurl multi, a
    keep-alive connection per client, so that the client's own CPU
    barely competes with the server on a small machine."""
    tool = os.path.join(ARGS.build, "bench", "mc-apiload")
    if not os.access(tool, os.X_OK):
        raise SystemExit("%s: not built (cmake --build %s --target "
                         "mc-apiload)" % (tool, ARGS.build))
    d = rig.dir
    with open(os.path.join(d, "mix.txt"), "w") as fh:
        for method, path in MIX:
            if "{self}" in path:
                fh.write('%s /v1/users/{user} {"display_name": '
                         '"Người dùng {user}"}\n' % method)
            else:
                fh.write("%s %s\n" % (method, path))
    with open(os.path.join(d, "tokens.txt"), "w") as fh:
        for i in range(ARGS.clients):
            who = "bench-%02d" % i
            fh.write("%s %s\n" % (who, rig.tokens[who]))
    w0 = time.monotonic()
    out = subprocess.run(
        [tool, "--url", "http://%s:%d" % (ch.HOST, rig.port),
         "--mix", os.path.join(d, "mix.txt"),
         "--tokens", os.path.join(d, "tokens.txt"),
         "--clients", str(ARGS.clients), "--requests", str(ARGS.requests),
         "--seconds", str(ARGS.seconds)],
        check=True, capture_output=True, text=True,
        timeout=ARGS.seconds + 120)
    wall = time.monotonic() - w0
    doc = json.loads(out.stdout)
    lat = [(ms / 1000.0, doc["mix"][line]) for ms, line in doc["samples"]]
    return lat, [None] * doc["failed"], wall


def run(n):
    extra = ({"controller": {"http_threads": str(ARGS.http_threads)}}
             if ARGS.http_threads else None)
    rig = ch.CtlRig("api-%d" % n, config=extra)
    try:
        # A user per client (its own token; the PATCH changes its own
        # display name).
        for c in range(ARGS.clients):
            rig.add_user("bench-%02d" % c, ["editor"])
        populate(rig)
        before = server_buckets(rig)
        if ARGS.client == "c":
            lat, errors, wall = c_clients(rig)
        else:
            lat, errors, wall = py_clients(rig)
        after = server_buckets(rig)
        by_route = {}
        for dt, route in lat:
            by_route.setdefault(route, []).append(dt)
        lat = sorted(dt for dt, _ in lat)
        routes = {}
        for route, v in sorted(by_route.items()):
            v.sort()
            routes[route] = {"n": len(v),
                             "p50_ms": 1000 * percentile(v, 50),
                             "p99_ms": 1000 * percentile(v, 99)}
        return {
            "routes": routes,
            "requests": len(lat), "errors": len(errors),
            "wall_s": wall, "throughput_rps": len(lat) / wall,
            "p50_ms": 1000 * percentile(lat, 50),
            "p90_ms": 1000 * percentile(lat, 90),
            "p99_ms": 1000 * percentile(lat, 99),
            "max_ms": 1000 * lat[-1] if lat else float("nan"),
            "server_p99_bucket_ms": 1000 * bucket_percentile(before, after,
                                                             99),
        }
    except Exception:
        rig.dump()
        raise
    finally:
        rig.close()


def main():
    sys.setswitchinterval(0.0005)
    runs = [run(i) for i in range(ARGS.runs)]
    out = {
        "machine": os.uname().machine, "cpus": os.cpu_count(),
        "loadavg_after": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "clients": ARGS.clients, "requests_per_client": ARGS.requests,
        "nodes": ARGS.nodes,
        "p50_ms": summary([r["p50_ms"] for r in runs]),
        "p90_ms": summary([r["p90_ms"] for r in runs]),
        "p99_ms": summary([r["p99_ms"] for r in runs]),
        "max_ms": summary([r["max_ms"] for r in runs]),
        "throughput_rps": summary([r["throughput_rps"] for r in runs]),
        "server_p99_bucket_ms": [r["server_p99_bucket_ms"] for r in runs],
        "errors": [r["errors"] for r in runs],
        "runs": runs,
    }
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1)

    def fmt(s, unit, digits=1):
        return "%.*f %s (%.*f–%.*f)" % (digits, s["median"], unit, digits,
                                         s["min"], digits, s["max"])
    print("| API p99 latency, %d concurrent clients (client-observed, %s "
          "client) | ≤ 50 ms | %s |" % (ARGS.clients, ARGS.client,
                                        fmt(out["p99_ms"], "ms")))
    print("| API p50 latency, same load | | %s |"
          % fmt(out["p50_ms"], "ms", 2))
    print("| API throughput, same load | | %s |"
          % fmt(out["throughput_rps"], "req/s", 0))
    print("| API p99, server's own histogram (bucket bound) | | %s ms |"
          % ", ".join("≤ %g" % v for v in out["server_p99_bucket_ms"]))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
