#!/usr/bin/python3
"""Controller compile + sign + publish for K nodes (issue 5), on loopback.

  bench/ctl_publish.py [--build DIR] [--runs N] [--nodes K] [--sites S]
                       [--out FILE]

A real minecast-controller (started by the controller integration-test
harness, tests/integration/controller/ctlharness.py: its own mosquitto,
a fresh database, users of every role with API tokens) holding K nodes
over S sites, every seventh node tagged "nha-an", and an approved
schedule made through the API as staff make it: one company-wide entry,
one entry per site and one for the tag, each with its own slogan and
playlist.  The nodes fall into 2 × S distinct audiences, so a publish
compiles 2 × S manifests and signs K pointers.

Measured, each N times:

  first   the first publish: every manifest new, every node a pointer
  force   POST /v1/publish {"force": true}: every pointer re-signed with
          a new version, manifests unchanged
  edit    one site's slogan edited and re-approved, then a publish: only
          that site's nodes get a new pointer
  same    a publish with nothing changed: compile and compare only

For each: the controller's own duration_ms (compile, sign, store in one
transaction, hand every pointer to the broker; from the answer of POST
/v1/publish, with its phases), the client's time around the POST, and
the time until a subscriber on minecast/v1/node/+/desired has received
every new pointer through mosquitto (what the nodes would see).

Reported as median and min..max.  Writes JSON to --out (default
bench/out/ctl_publish.json) and prints Markdown rows for
docs/benchmarks.md.  Not a test: nothing here asserts a time.  Target
(DESIGN.md, issue 5): compile + sign + publish, 10,000 nodes, ≤ 2 s.
"""

import argparse
import http.client
import json
import os
import threading
import time

import paho.mqtt.client as mqtt

from benchlib import HERE, SRC, harness, summary


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with a release "
                    "minecast-controller")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "ctl_publish.json"))
    return ap.parse_args()


ARGS = parse_args()
harness(ARGS.build, "minecast-bench-publish-")
from controller import ctlharness as ch  # noqa: E402  (needs the env)

DESIRED = ch.ROOT + "node/+/desired"


class Api:
    """One keep-alive connection (creating 10,000 nodes one request
    each)."""

    def __init__(self, rig):
        self.rig = rig
        self.conn = http.client.HTTPConnection(ch.HOST, rig.port,
                                               timeout=120)

    def call(self, method, path, body=None, token="admin",
             expect=(200, 201)):
        h = {"Authorization": "Bearer " + self.rig.tokens[token]}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status not in expect:
            raise AssertionError("%s %s: %d %s" % (method, path, r.status,
                                                   raw[:300]))
        return json.loads(raw) if raw else None


class Pointers:
    """A subscriber counting the pointers the broker delivers."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.times = []  # time.monotonic() of each non-empty pointer
        self.ready = threading.Event()
        self.client = mqtt.Client(client_id="bench-%d" % os.getpid(),
                                  clean_session=True,
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, m, g: self.ready.set()
        self.client.connect(ch.HOST, port, keepalive=30)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise AssertionError("the subscriber did not subscribe")

    def _on_connect(self, client, userdata, flags, rc):
        client.subscribe(DESIRED, qos=0)

    def _on_message(self, client, userdata, msg):
        if msg.retain or not msg.payload:
            return  # what the broker held from before
        with self.cond:
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def mark(self):
        with self.lock:
            return len(self.times)

    def wait(self, start, n, timeout=120):
        """Monotonic time when n pointers after index start arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.times) < start + n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("only %d of %d pointers arrived"
                                         % (len(self.times) - start, n))
                self.cond.wait(left)
            return self.times[start + n - 1]

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def slogan(cid, text):
    return {"id": cid, "type": "slogan", "name": cid, "text": text,
            "style": {"fg": "#FFD700", "bg": "#B71C1C"}, "submit": True}


def approve(api, kind, oid):
    api.call("POST", "/v1/%s/%s/approve" % (kind, oid), {},
             token="approver")


def populate(api):
    for s in range(ARGS.sites):
        api.call("POST", "/v1/sites", {"id": "site-%02d" % s,
                                       "name": "Công trường số %d" % s})
    for n in range(ARGS.nodes):
        api.call("POST", "/v1/nodes", {
            "id": "pi-%05d" % n, "site": "site-%02d" % (n % ARGS.sites),
            "name": "Màn hình %d" % n,
            "tags": ["nha-an"] if n % 7 == 0 else []})
    groups = [("all", None)] + [("s%02d" % s, {"sites": ["site-%02d" % s]})
                                for s in range(ARGS.sites)] + \
        [("tag", {"tags": ["nha-an"]})]
    for i, (name, targets) in enumerate(groups):
        api.call("POST", "/v1/content",
                 slogan("slogan-" + name,
                        "Kỷ luật và Đồng tâm — %s" % name), token="editor")
        approve(api, "content", "slogan-" + name)
        api.call("POST", "/v1/playlists", {
            "id": "pl-" + name, "name": name, "submit": True,
            "items": [{"content": "slogan-" + name, "duration_s": 15}]},
            token="editor")
        approve(api, "playlists", "pl-" + name)
        e = {"id": "e-" + name, "name": name, "playlist": "pl-" + name,
             "channel": "screen", "priority": 10 + i, "submit": True}
        if targets:
            e["targets"] = targets
        api.call("POST", "/v1/entries", e, token="editor")
        approve(api, "entries", "e-" + name)


def one(api, ptr, body, expect_changed):
    start = ptr.mark()
    t0 = time.monotonic()
    rep = api.call("POST", "/v1/publish", body, token="approver")
    t1 = time.monotonic()
    if rep["changed"] != expect_changed:
        raise AssertionError("publish changed %d pointers, expected %d"
                             % (rep["changed"], expect_changed))
    out = {"duration_ms": rep["duration_ms"],
           "client_ms": 1000 * (t1 - t0), "phases_ms": rep["phases_ms"],
           "changed": rep["changed"], "manifests": rep["manifests"],
           "manifests_new": rep["manifests_new"]}
    if expect_changed:
        out["delivered_ms"] = 1000 * (ptr.wait(start, expect_changed) - t0)
    return out


def main():
    rig = ch.CtlRig("publish-bench",
                    config={"controller": {"log_level": "info"}})
    ptr = None
    results = {"first": [], "force": [], "edit": [], "same": []}
    try:
        api = Api(rig)
        t = time.monotonic()
        populate(api)
        setup_s = time.monotonic() - t
        ptr = Pointers(rig.broker.port)
        edit_nodes = len([n for n in range(ARGS.nodes)
                          if n % ARGS.sites == 3])
        for r in range(ARGS.runs):
            if r == 0:
                results["first"].append(one(api, ptr, {}, ARGS.nodes))
            results["force"].append(one(api, ptr, {"force": True},
                                        ARGS.nodes))
            api.call("PUT", "/v1/content/slogan-s03",
                     slogan("slogan-s03", "An toàn là trên hết %d" % r),
                     token="editor")
            approve(api, "content", "slogan-s03")
            results["edit"].append(one(api, ptr, {}, edit_nodes))
            results["same"].append(one(api, ptr, {}, 0))
            time.sleep(1)  # let the broker drain before the next run
        log = rig.log_text()
    finally:
        if ptr:
            ptr.stop()
        rig.close()

    def summ(kind, key):
        return summary([x[key] for x in results[kind]]) \
            if results[kind] and key in results[kind][0] else None

    out = {
        "machine": os.uname().machine, "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nodes": ARGS.nodes, "sites": ARGS.sites, "runs": ARGS.runs,
        "setup_s": setup_s,
        "manifests": results["force"][0]["manifests"],
        "raw": results,
    }
    for kind in results:
        out[kind] = {k: summ(kind, k) for k in ("duration_ms", "client_ms",
                                                "delivered_ms")}
        out[kind]["phases_ms"] = {
            p: summary([x["phases_ms"][p] for x in results[kind]])
            for p in results[kind][0]["phases_ms"]}
        out[kind]["changed"] = results[kind][0]["changed"]
    out["log_lines"] = [ln for ln in log.splitlines()
                        if " publish: publish " in ln][-3:]
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)

    def fmt(s, unit="ms"):
        if not s:
            return "-"
        return "%.0f %s (%.0f–%.0f)" % (s["median"], unit, s["min"],
                                        s["max"])
    labels = {"first": "first publish", "force": "forced republish",
              "edit": "one site edited", "same": "nothing changed"}
    for kind in ("first", "force", "edit", "same"):
        o = out[kind]
        print("| controller publish, %d nodes, %s (%d pointers, %d "
              "manifests) | %s server; %s client; all pointers at a "
              "subscriber %s |" % (ARGS.nodes, labels[kind], o["changed"],
                                   out["manifests"], fmt(o["duration_ms"]),
                                   fmt(o["client_ms"]),
                                   fmt(o["delivered_ms"])))
    print(json.dumps({k: out[k] for k in ("force", "same")}, indent=1))


if __name__ == "__main__":
    main()
