#!/usr/bin/python3
"""Screen benchmarks (issue: the screen and loudspeaker outputs).

  bench/screen.py [--build DIR] [--runs N] [--seconds S] [--out FILE]
                  [--ticker-runs N]
                  [--render-driver software|opengl|opengles2]

A real minecast-player with screen_output = sdl at 1920x1080 on SDL's
offscreen video driver (no display needed; --video-driver dummy for the
plain framebuffer driver, without the Mesa EGL stack offscreen loads), the speaker channel off, run
through the integration-test harness (tests/integration/player/
mcharness.py: real mosquitto, the test HTTP server, signed pointers):

1. Resident memory while cycling slogans and images: 4 real 1920x1080
   PNG panos and 4 slogans (one on a pano) at 2 s each with crossfades;
   VmRSS sampled every second over S seconds, the maximum reported.
   Target <= 60 MB.
2. CPU on a static slide: one slogan standing; utime + stime over S
   seconds as a percentage of one core.  Target <= 3 %.
3. First frame from cache after process start: the player of (1) is
   stopped and started again with its cache full; from just before exec
   to the monotonic instant the sdl output logs for its first item frame
   ("first item frame presented ... at monotonic T ms").  Target <= 1 s.
4. Ticker frame pacing: one ticker slogan for max(S, 65) seconds; the sdl
   output logs, once a minute, its animated frames and the refreshes it
   missed (a gap between presents of n refreshes misses n - 1).  Reported
   as missed frames per minute.  --ticker-runs N (default: --runs) sets
   how many; 0 leaves the ticker out (a run lasts over a minute).

The offscreen driver has no vsync: frames are paced by the player's main
loop alone, which is the harder case.  --render-driver picks SDL's
renderer (SDL_RENDER_DRIVER); the default, software, is what a board
without a GPU driver uses; a Pi with vc4-kms-v3d uses opengles2 on the
GPU, whose memory is not in the process's RSS.

Every figure is repeated N times (median, min..max).  Writes JSON to
--out (default bench/out/screen.json) and prints Markdown rows for
docs/benchmarks.md.  Not a test: nothing here asserts a figure.
"""

import argparse
import json
import os
import re
import struct
import time
import zlib

from benchlib import HERE, SRC, Bench, harness, proc_stat, summary  # noqa: F401


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build", "gcc"),
                    help="build directory with a release minecast-player")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=60,
                    help="measurement window of each run")
    ap.add_argument("--ticker-runs", type=int, default=None,
                    help="ticker runs (default --runs; 0: none)")
    ap.add_argument("--render-driver", default="software")
    ap.add_argument("--video-driver", default="offscreen",
                    help="offscreen (loads Mesa's EGL, and with it LLVM "
                    "here) or dummy (a plain framebuffer)")
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "screen.json"))
    return ap.parse_args()


ARGS = parse_args()
h = harness(ARGS.build, "minecast-bench-screen-")

W, H = 1920, 1080
ENV = {"SDL_VIDEODRIVER": ARGS.video_driver,
       "SDL_RENDER_DRIVER": ARGS.render_driver,
       # Offscreen would otherwise show its window surface through an
       # OpenGL texture, i.e. Mesa's llvmpipe (LLVM loaded: +100 MB RSS,
       # 8 ms of CPU a frame), which no node has.
       "SDL_FRAMEBUFFER_ACCELERATION": "0"}



def png(w, ht, seed):
    """A real w x ht RGB PNG: a gradient with bands, different per seed
    (compresses like a photo far less than a flat fill would)."""
    rows = []
    for y in range(ht):
        base = [((x * (seed + 3) + y * 2 + seed * 40) & 0xff,
                 (x + y * (seed + 1)) & 0xff,
                 ((x ^ y) + seed * 70) & 0xff) for x in range(0, w, 16)]
        line = b"".join(bytes(px) * 16 for px in base)[:w * 3]
        rows.append(b"\x00" + line)
    raw = b"".join(rows)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (h.PNG_SIGNATURE
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, ht, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))



def slogan(cid, text, fg="#FFD700", bg="#B71C1C", ticker=False,
           bg_image=None):
    style = {"fg": fg, "bg": bg, "align": "center", "effect": "outline",
             "ticker": ticker}
    if bg_image:
        style["bg_image"] = bg_image
    return {"id": cid, "type": "slogan", "name": cid, "text": text,
            "style": style}


TEXTS = [
    "Kỷ niệm 87 năm Ngày Truyền thống công nhân Vùng mỏ (1936–2023)",
    "An toàn là trên hết — Kỷ luật và Đồng tâm",
    "Thi đua lao động sản xuất, bảo đảm an toàn tuyệt đối",
    "Đeo đầy đủ bảo hộ lao động trước khi vào lò",
]


def manifest(rig, kind, item_s=2):
    """kind: "cycle" (4 panos + 4 slogans, crossfades), "static" (one
    slogan), "ticker" (one ticker slogan)."""
    content, items = [], []
    if kind == "cycle":
        for i in range(4):
            c = rig.image("pano-%d" % i, data=png(W, H, i))
            c["fit"] = "cover"
            content.append(c)
        for i, t in enumerate(TEXTS):
            content.append(slogan("slogan-%d" % i, t,
                                  bg_image="pano-0" if i == 3 else None))
        order = ["pano-0", "slogan-0", "pano-1", "slogan-1", "pano-2",
                 "slogan-2", "pano-3", "slogan-3"]
    elif kind == "static":
        content.append(slogan("slogan-0", TEXTS[0]))
        order = ["slogan-0"]
        item_s = 86400
    else:
        content.append(slogan("ticker-0", " ".join(TEXTS), fg="#FFFFFF",
                              bg="#0D47A1", ticker=True))
        order = ["ticker-0"]
        item_s = 86400
    for cid in order:
        items.append({"content": cid, "duration_s": item_s,
                      "transition": "crossfade"})
    content.append(slogan("slogan-fb", "Fallback"))
    return {"name": "bench screen " + kind, "content": content,
            "playlists": [{"id": "pl-screen", "items": items}],
            "entries": [{"id": "e-screen", "playlist": "pl-screen",
                         "channel": "screen", "priority": 10}],
            "fallback": {"screen": "slogan-fb", "speaker": None}}


def rig_for(name, kind):
    rig = h.Rig(Bench(name), node="pi-bench-" + name)
    rig.start_network()
    rig.write_config(extra={
        "log": {"level": "info"}, "health": {"interval": "30s"},
        "channels": {"speaker": "no", "screen_output": "sdl"},
        "screen": {"width": W, "height": H, "driver": "offscreen",
                   "crossfade": "600ms"}})
    rig.start_player(env=ENV)
    rig.desire(1, rig.put_manifest(manifest(rig, kind)))
    rig.wait_applied(1, timeout=120)
    return rig


def window(pid, seconds):
    hz = os.sysconf("SC_CLK_TCK")
    rss_max, (_, t0) = 0, proc_stat(pid)
    w0 = time.monotonic()
    for _ in range(seconds):
        time.sleep(1)
        rss, _ = proc_stat(pid)
        rss_max = max(rss_max, rss)
    _, t1 = proc_stat(pid)
    return rss_max, 100.0 * (t1 - t0) / hz / (time.monotonic() - w0)


FIRST = re.compile(r"first item frame presented \((\S+)\) at monotonic "
                   r"(\d+) ms")


def run_cycle(n):
    rig = rig_for("cycle-%d" % n, "cycle")
    try:
        time.sleep(3)
        rss_max, cpu = window(rig.player.pid, ARGS.seconds)
        # First frame from cache: restart with everything cached.
        rig.stop_player()
        t0 = time.monotonic()
        rig.start_player(env=ENV)
        m = h.wait_for(lambda: FIRST.search(rig.player_log_text()), 20,
                       "the first item frame")
        first = int(m.group(2)) / 1000.0 - t0
        return {"rss_max_kb": rss_max, "cpu_percent_cycling": cpu,
                "first_frame_s": first}
    finally:
        rig.close()


def run_static(n):
    rig = rig_for("static-%d" % n, "static")
    try:
        time.sleep(3)
        rss_max, cpu = window(rig.player.pid, ARGS.seconds)
        return {"cpu_percent_static": cpu, "rss_static_kb": rss_max}
    finally:
        rig.close()


PACING = re.compile(r"frame pacing: (\d+) animated frames, (\d+) refreshes "
                    r"missed in the last ([\d.]+) s \(refresh ([\d.]+) Hz\)")


def run_ticker(n):
    rig = rig_for("ticker-%d" % n, "ticker")
    try:
        pid = rig.player.pid
        _, t0 = proc_stat(pid)
        w0 = time.monotonic()
        m = h.wait_for(lambda: PACING.findall(rig.player_log_text()),
                       max(ARGS.seconds, 65) + 30, "a frame pacing line",
                       interval=1)
        _, t1 = proc_stat(pid)
        cpu = 100.0 * (t1 - t0) / os.sysconf("SC_CLK_TCK") / \
            (time.monotonic() - w0)
        frames, missed, secs, hz = m[-1]
        return {"frames": int(frames), "missed": int(missed),
                "window_s": float(secs), "refresh_hz": float(hz),
                "missed_per_min": int(missed) * 60.0 / float(secs),
                "cpu_percent_ticker": cpu}
    finally:
        rig.close()



def main():
    cyc = [run_cycle(i) for i in range(ARGS.runs)]
    sta = [run_static(i) for i in range(ARGS.runs)]
    n_tic = ARGS.runs if ARGS.ticker_runs is None else ARGS.ticker_runs
    tic = [run_ticker(i) for i in range(n_tic)]
    out = {
        "machine": os.uname().machine, "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "window_s": ARGS.seconds, "size": "%dx%d" % (W, H),
        "video_driver": ARGS.video_driver,
        "render_driver": ARGS.render_driver,
        "rss_max_mb": summary([c["rss_max_kb"] / 1024 for c in cyc]),
        "cpu_percent_cycling": summary([c["cpu_percent_cycling"]
                                        for c in cyc]),
        "first_frame_ms": summary([c["first_frame_s"] * 1000
                                   for c in cyc]),
        "cpu_percent_static": summary([s["cpu_percent_static"]
                                       for s in sta]),
    }
    if tic:
        out.update({
            "ticker_missed_per_min": summary([t["missed_per_min"]
                                              for t in tic]),
            "ticker_frames": [t["frames"] for t in tic],
            "ticker_refresh_hz": tic[0]["refresh_hz"],
            "cpu_percent_ticker": summary([t["cpu_percent_ticker"]
                                           for t in tic])})
    os.makedirs(os.path.dirname(ARGS.out), exist_ok=True)
    with open(ARGS.out, "w") as fh:
        json.dump(out, fh, indent=1)

    def fmt(s, unit, digits=1):
        return "%.*f %s (%.*f–%.*f)" % (digits, s["median"], unit, digits,
                                         s["min"], digits, s["max"])
    r = "sdl %dx%d, %s video, %s renderer" % (W, H, ARGS.video_driver,
                                              ARGS.render_driver)
    print("| player resident memory, %s, cycling panos and slogans | "
          "%s | ≤ 60 MB |" % (r, fmt(out["rss_max_mb"], "MB")))
    print("| player CPU, %s, static slide | %s | ≤ 3 %% |"
          % (r, fmt(out["cpu_percent_static"], "%", 2)))
    print("| first frame from cache after start, %s | %s | ≤ 1 s |"
          % (r, fmt(out["first_frame_ms"], "ms", 0)))
    if tic:
        print("| ticker frame pacing, %s, %.0f Hz, no vsync | %s "
              "missed/min (CPU %s) | — |"
              % (r, out["ticker_refresh_hz"],
                 fmt(out["ticker_missed_per_min"], "", 1)
                 .replace("  ", " "),
                 fmt(out["cpu_percent_ticker"], "%", 1)))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
