#!/usr/bin/python3
"""Proof-of-play ingest of minecast-controller, in records per second.

Each run starts a fresh mosquitto and controller (the controller
integration harness, tests/integration/controller/ctlharness.py),
registers --nodes nodes, and has --clients paho clients publish
--batches batches of --batch records (protocol §6.6, QoS 1) on the
nodes' pop topics as fast as the broker takes them, each client from its
own thread.  One more client subscribes to node/+/pop/ack and counts the
record ids acknowledged: the controller sends an ack only after the
records are committed, so the figure is stored-and-acknowledged records
per second, from the first publish to the last ack.  Payloads are built
before the clock starts.

    bench/ctl_ingest.py [--build DIR] [--runs N] [--nodes N]
                        [--batches N] [--batch N] [--clients N] [--json]
                        [--out FILE]

Prints one line per run and the median, min and max (benchlib.summary);
--json prints the summary as JSON; the summary with the run's parameters
is also written to --out (default bench/out/ctl_ingest.json, read by
bench/run).  Not a test: nothing is asserted.
Target (DESIGN.md): >= 20,000 records/s.
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))


def rig_module(build):
    os.environ["MC_BUILD_DIR"] = os.path.abspath(build)
    os.environ["MC_SOURCE_DIR"] = benchlib.SRC
    os.environ.setdefault("MC_SCRATCH_DIR",
                          tempfile.mkdtemp(prefix="minecast-bench-ingest-"))
    sys.path.insert(0, os.path.join(benchlib.SRC, "tests", "integration"))
    from controller import ctlharness
    return ctlharness


def make_batches(run, nodes, batches, per_batch):
    """[(node, payload bytes, n)] with ids unique to this run."""
    t0 = int(time.time() * 1000) - 86400000
    contents = ["slogan-%02d" % i for i in range(20)]
    out = []
    seq = 0
    for b in range(batches):
        node = nodes[b % len(nodes)]
        recs = []
        for _ in range(per_batch):
            seq += 1
            start = t0 + seq * 10
            recs.append({"id": "%s-%d-%d" % (node, run, seq),
                         "content": random.choice(contents),
                         "entry": "e-standing", "channel": "screen",
                         "start_ms": start, "end_ms": start + 15000,
                         "completed": True, "count": 1})
        doc = {"v": 1, "node": node, "batch": "bench-%d-%d" % (run, b),
               "records": recs}
        out.append((node, json.dumps(doc, separators=(",", ":")).encode(),
                    per_batch))
    return out


def one_run(h, run, args):
    import paho.mqtt.client as mqtt

    rig = h.CtlRig("ingest-%d" % run, users=False)
    try:
        rig.add_site("bench")
        nodes = ["pi-bench-%04d" % i for i in range(args.nodes)]
        for n in nodes:
            rig.ok("POST", "/v1/nodes", {"id": n, "site": "bench",
                                          "name": n})
        batches = make_batches(run, nodes, args.batches, args.batch)
        total = sum(n for _, _, n in batches)
        acked = set()
        lock = threading.Lock()
        done = threading.Event()
        last_ack = [0.0]

        def on_ack(client, userdata, msg):
            ids = json.loads(msg.payload)["ids"]
            with lock:
                acked.update(ids)
                last_ack[0] = time.monotonic()
                if len(acked) >= total:
                    done.set()

        sub = mqtt.Client(client_id="bench-acks-%d" % run,
                          clean_session=True)
        sub.on_message = on_ack
        subscribed = threading.Event()
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.connect(h.HOST, rig.broker.port, keepalive=30)
        sub.loop_start()
        sub.subscribe(h.ROOT + "node/+/pop/ack", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("no SUBACK for the ack subscription")

        pubs = []
        for i in range(args.clients):
            c = mqtt.Client(client_id="bench-pub-%d-%d" % (run, i),
                            clean_session=True)
            c.max_inflight_messages_set(100)
            c.max_queued_messages_set(0)
            c.connect(h.HOST, rig.broker.port, keepalive=30)
            c.loop_start()
            pubs.append(c)
        shares = [batches[i::args.clients] for i in range(args.clients)]

        def publish(c, share):
            infos = [c.publish(h.ROOT + "node/%s/pop" % node, payload,
                               qos=1) for node, payload, _ in share]
            for info in infos:
                info.wait_for_publish(60)

        threads = [threading.Thread(target=publish, args=(c, s))
                   for c, s in zip(pubs, shares)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_pub = time.monotonic() - t0
        if not done.wait(args.timeout):
            raise RuntimeError("only %d of %d records acknowledged after "
                               "%d s" % (len(acked), total, args.timeout))
        elapsed = last_ack[0] - t0
        for c in pubs + [sub]:
            c.disconnect()
            c.loop_stop()
        rate = total / elapsed
        print("run %d: %d records in %d batches from %d clients: "
              "published in %.2f s, all acknowledged after %.2f s: "
              "%.0f records/s" % (run, total, len(batches), args.clients,
                                  t_pub, elapsed, rate), flush=True)
        return rate
    finally:
        rig.close()
        shutil.rmtree(rig.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(benchlib.SRC, "build"),
                    help="build directory (default: build/)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1000,
                    help="records per batch (protocol limit 1000)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "ctl_ingest.json"))
    args = ap.parse_args()
    if not 1 <= args.batch <= 1000:
        ap.error("--batch must be 1..1000")
    h = rig_module(args.build)
    rates = [one_run(h, r, args) for r in range(args.runs)]
    s = benchlib.summary([round(r) for r in rates])
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"machine": os.uname().machine, "cpus": os.cpu_count(),
                   "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                   "nodes": args.nodes, "batches": args.batches,
                   "batch": args.batch, "clients": args.clients,
                   "pop_ingest_records_per_s": s}, fh, indent=1)
    if args.json:
        print(json.dumps({"pop_ingest_records_per_s": s}))
    else:
        print("proof-of-play ingest: median %d records/s (min %d, max %d) "
              "over %d runs; target >= 20000" % (s["median"], s["min"],
                                                  s["max"], len(rates)))


if __name__ == "__main__":
    main()
