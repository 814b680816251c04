#!/usr/bin/python3
"""Start skew between two players on one host for the same at-time bulletin.

  bench/audio_skew.py [--build DIR] [--runs N] [--spacing S] [--out FILE]

Two real minecast-player processes (nodes pi-skew-a and pi-skew-b, each
with its own broker and HTTP server from the integration-test harness,
tests/integration/player/mcharness.py) run the gstreamer speaker output
with the fake sink ([audio] sink = fake: a fakesink synchronised on the
pipeline clock, no sound card).  Both get the same manifest: one 2 s WAV
bulletin and N at-time ("once") entries, S seconds apart, starting a few
seconds after the sync.  Each player logs, for every start, the
wall-clock instant at which position 0 of the bulletin rendered ("audio:
ban-tin-skew started at <ms>.<µs>", measured in the sink's handoff after
the clock wait, minus the position of the first buffer).  The skew of a
start is the difference between the two players' instants; the offset is
each player's instant minus the scheduled one.

Reports median, 90th percentile and maximum of |skew| and |offset| over
the N starts (target: |skew| <= 1 ms).  Both players share the host's
CLOCK_REALTIME, so this measures the players' own machinery (timeline
wake-up, pipeline build and seek, clock wait), not NTP; across a site add
the nodes' clock disagreement (chrony on a LAN: well under 1 ms).  Writes
JSON to --out (default bench/out/audio_skew.json) and prints a Markdown
row for docs/benchmarks.md.  Not a test: nothing here asserts a time.
"""

import argparse
import io
import json
import math
import os
import re
import statistics
import struct
import time
import wave

from benchlib import HERE, SRC, Bench, harness, proc_stat, summary  # noqa: F401


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with minecast-player")
    ap.add_argument("--runs", type=int, default=20,
                    help="at-time starts measured")
    ap.add_argument("--spacing", type=int, default=3,
                    help="seconds between two starts (the bulletin "
                         "lasts 2 s)")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "audio_skew.json"))
    return ap.parse_args()


ARGS = parse_args()
h = harness(ARGS.build, "minecast-bench-")

CONTENT = "ban-tin-skew"
STARTED = re.compile(r"audio: %s started at ([0-9]+\.[0-9]+)" % CONTENT)



def sine_wav(seconds=2.0, rate=48000, freq=440.0):
    """A mono 16-bit WAV of a half-scale sine."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(16383 * math.sin(2 * math.pi * freq * i
                                                   / rate)))
            for i in range(n)))
    return buf.getvalue()


def stamp(ms):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ms / 1000))


def manifest(rig, wav, starts):
    h_, n = rig.put_asset("skew", data=wav)
    content = [{"id": CONTENT, "type": "audio", "name": "Bản tin đo lệch",
                "sha256": h_, "size": n, "url": "/v1/content/" + h_,
                "mime": "audio/wav", "duration_ms": 2000, "gain_db": 0}]
    playlists = [{"id": "pl-skew", "items": [{"content": CONTENT}]}]
    entries = [{"id": "e-skew-%d" % k, "playlist": "pl-skew",
                "channel": "speaker", "priority": 60, "mode": "once",
                "dtstart": stamp(at)} for k, at in enumerate(starts)]
    return rig.put_manifest({"name": "audio skew bench",
                             "content": content, "playlists": playlists,
                             "entries": entries,
                             "fallback": {"screen": None, "speaker": None}})


def instants(rig):
    return [float(m.group(1)) for m in STARTED.finditer(
        rig.player_log_text())]


def nearest(values, at, within=1000.0):
    best = min(values, key=lambda v: abs(v - at), default=None)
    return best if best is not None and abs(best - at) <= within else None


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1)]


def summary(values):
    return {"median": statistics.median(values), "p90": pct(values, 90),
            "max": max(values), "min": min(values), "n": len(values)}


def main():
    wav = sine_wav()
    rigs = [h.Rig(Bench("skew-a"), node="pi-skew-a"),
            h.Rig(Bench("skew-b"), node="pi-skew-b")]
    try:
        for r in rigs:
            r.start_network()
            r.write_config(extra={
                "channels": {"screen": "no", "speaker": "yes",
                             "speaker_output": "gstreamer"},
                "audio": {"sink": "fake"},
                "log": {"level": "info"}})
            r.start_player()
        # Whole seconds (dtstart has no fraction), after the sync.
        first = (int(time.time()) + 8) * 1000
        starts = [first + k * ARGS.spacing * 1000 for k in range(ARGS.runs)]
        for r in rigs:
            r.desire(1, manifest(r, wav, starts))
        for r in rigs:
            r.wait_applied(1, timeout=30)
        if time.time() * 1000 > first - 1000:
            raise SystemExit("the players synced too late for the first "
                             "start; nothing measured")
        h.wait_for(lambda: all(len(instants(r)) >= ARGS.runs
                               for r in rigs),
                   (starts[-1] - time.time() * 1000) / 1000 + 10,
                   "%d starts on both players" % ARGS.runs)
        got = [instants(r) for r in rigs]
        skews, offsets, rows = [], [], []
        for at in starts:
            a, b = nearest(got[0], at), nearest(got[1], at)
            if a is None or b is None:
                continue
            skews.append(abs(a - b))
            offsets += [abs(a - at), abs(b - at)]
            rows.append({"scheduled_ms": at, "a_ms": a, "b_ms": b,
                         "skew_ms": a - b})
        late = sum("joined" in line for r in rigs
                   for line in r.player_log_text().splitlines()
                   if CONTENT + " started at" in line)
    finally:
        for r in rigs:
            r.close()
    if not skews:
        raise SystemExit("no start seen on both players")
    out = {
        "machine": os.uname().machine, "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "starts": len(skews), "late_joins": late,
        "abs_skew_ms": summary(skews),
        "abs_offset_from_schedule_ms": summary(offsets),
        "rows": rows,
    }
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1)
    s, o = out["abs_skew_ms"], out["abs_offset_from_schedule_ms"]
    print("| start skew, two players, same at-time bulletin (gstreamer, "
          "fake sink), %d starts | median %.3f ms, p90 %.3f ms, max %.3f ms"
          " (offset from schedule: median %.3f ms, max %.3f ms) |"
          % (len(skews), s["median"], s["p90"], s["max"], o["median"],
             o["max"]))
    print(json.dumps({k: v for k, v in out.items() if k != "rows"},
                     indent=1))


if __name__ == "__main__":
    main()
