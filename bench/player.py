#!/usr/bin/python3
"""Player benchmarks (issue: player core), measured on loopback.

  bench/player.py [--build DIR] [--runs N] [--seconds S] [--out FILE]

1. Resident memory and CPU of minecast-player with the log output while it
   cycles a 200-item manifest (1 s per item on the screen, a speech item
   on the speaker): after the sync, RSS (VmRSS, sampled every second; the
   maximum is reported) and CPU (utime + stime over the window, as a
   percentage of one core) over S seconds.
2. Bytes synced when 1 of 200 assets changes: a 200-asset manifest
   (64 KiB each) is synced, then a new manifest differing in one asset is
   published; the bytes the HTTP server sent for the second sync are
   compared with that asset plus the new manifest.

Every figure is repeated N times and reported as median and min..max.
Uses the release build (default build/gcc) and the integration-test
harness (tests/integration/player/mcharness.py): a real mosquitto, the
test HTTP server, signed pointers, the real player.  Writes JSON to
--out (default bench/out/player.json) and prints Markdown rows for
docs/benchmarks.md.  Not a test: nothing here asserts a time.
"""

import argparse
import json
import os
import time

from benchlib import HERE, SRC, Bench, harness, proc_stat, summary  # noqa: F401


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with a release minecast-player")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=60,
                    help="measurement window of the memory/CPU run")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "player.json"))
    return ap.parse_args()


ARGS = parse_args()
h = harness(ARGS.build, "minecast-bench-")




def manifest_200(rig, tag, item_s=1, size=2048, changed=None):
    """200 image items on a standing screen loop, one speech item."""
    sizes = {i: size for i in range(200)}
    doc = rig.simple_manifest(tag="b", item_s=item_s, images=200,
                              sizes=sizes)
    if changed is not None:
        # A different asset for item `changed`, everything else equal.
        c = doc["content"][changed]
        fresh = rig.image(c["id"], tag="changed-%s" % tag, size=size)
        doc["content"][changed] = fresh
    return doc


def run_memory(n):
    rig = h.Rig(Bench("memory-%d" % n), node="pi-bench-%d" % n)
    try:
        rig.start_network()
        rig.write_config(extra={"log": {"level": "warn"},
                                "health": {"interval": "30s"}})
        rig.start_player()
        rig.desire(1, rig.put_manifest(manifest_200(rig, "m")))
        rig.wait_applied(1, timeout=60)
        pid = rig.player.pid
        hz = os.sysconf("SC_CLK_TCK")
        rss_max, (rss0, t0) = 0, proc_stat(pid)
        w0 = time.monotonic()
        for _ in range(ARGS.seconds):
            time.sleep(1)
            rss, _ = proc_stat(pid)
            rss_max = max(rss_max, rss)
        _, t1 = proc_stat(pid)
        wall = time.monotonic() - w0
        items = len(rig.starts(since_ms=int((time.time() - wall) * 1000),
                               channel="screen"))
        return {"rss_max_kb": rss_max,
                "cpu_percent": 100.0 * (t1 - t0) / hz / wall,
                "screen_items_started": items}
    finally:
        rig.close()


def served_bytes(rig, since):
    return sum(r.get("bytes", 0) for r in rig.http.requests()
               if r.get("start", 0) >= since)


def run_sync(n):
    rig = h.Rig(Bench("sync-%d" % n), node="pi-bench-sync-%d" % n)
    try:
        rig.start_network()
        rig.write_config(extra={"log": {"level": "warn"}})
        rig.start_player()
        size = 64 * 1024
        rig.desire(1, rig.put_manifest(manifest_200(rig, "s1", size=size)))
        rig.wait_applied(1, timeout=120)
        time.sleep(1)
        since = time.time()
        man = rig.put_manifest(manifest_200(rig, "s2", size=size,
                                            changed=7))
        rig.desire(2, man)
        rig.wait_applied(2, timeout=60)
        time.sleep(1.5)  # the server logs a request after its last byte
        got = served_bytes(rig, since)
        ideal = size + man[1]
        return {"bytes_served": got, "ideal_bytes": ideal,
                "overhead_percent": 100.0 * (got - ideal) / ideal}
    finally:
        rig.close()



def main():
    mem = [run_memory(i) for i in range(ARGS.runs)]
    syn = [run_sync(i) for i in range(ARGS.runs)]
    out = {
        "machine": os.uname().machine, "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "window_s": ARGS.seconds,
        "rss_max_mb": summary([m["rss_max_kb"] / 1024 for m in mem]),
        "cpu_percent": summary([m["cpu_percent"] for m in mem]),
        "screen_items_started": [m["screen_items_started"] for m in mem],
        "sync_bytes_served": summary([s["bytes_served"] for s in syn]),
        "sync_ideal_bytes": syn[0]["ideal_bytes"],
        "sync_overhead_percent": summary([s["overhead_percent"]
                                          for s in syn]),
    }
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1)

    def fmt(s, unit, digits=1):
        return "%.*f %s (%.*f–%.*f)" % (digits, s["median"], unit, digits,
                                         s["min"], digits, s["max"])
    print("| player resident memory, log output, 200-item loop | %s |"
          % fmt(out["rss_max_mb"], "MB"))
    print("| player CPU, log output, 1 item/s | %s |"
          % fmt(out["cpu_percent"], "%", 2))
    print("| bytes synced when 1 of 200 assets changes | %s; ideal %d B; "
          "overhead %s |" % (fmt(out["sync_bytes_served"], "B", 0),
                             out["sync_ideal_bytes"],
                             fmt(out["sync_overhead_percent"], "%", 2)))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
