"""The report of bench/run: docs/benchmarks.md and a JSON file with the
same figures.

build(results) turns what bench/run collected — the machine, date and
commit, and for every part (one benchmark script) its command line, exit
status, JSON output and, where a figure missed, a profile — into a list
of figures, each beside its target and reference from DESIGN.md, with
a verdict; markdown(doc) writes the page and the JSON is the doc itself.

A figure is the median and spread (min–max) over repeated runs, with the
runs.  Verdicts: "meets", "misses" (on the median; "meets (median)" when
the worst run misses), "flat" / "not flat" for the soak's memory and
CPU, "—" where there is no target, "not measured" when the part did not
run or failed (its reason is said).  Nothing here measures anything.
"""

import json
import statistics

FORMAT = "minecast-benchmarks/1"

# ---- references of DESIGN.md ---------------------------------------------

REF_PUBLISH = ("a signage CMS whose players collect every 300 s; another "
               "whose schedule changes land within about 60 s")
REF_ALERT = "EN 54-16 voice alarm: 3 s"

# The sections, in page order, each with the parts that feed it and the
# method, said once.
SECTIONS = [
    ("fleet", "Fleet: simulated nodes", ["fleet"], """\
`bench/fleet.py`: a real mosquitto (RLIMIT_NOFILE raised to the hard
limit, `max_connections -1`, the queue and packet limits of
firmware-notes/mosquitto/minecast.conf; anonymous: the simulator does
not provision thousands of passwords, so the ACL is not exercised) and a
real `minecast-controller` (release build, log level warn) on loopback,
and `minecast-sim --register` holding N simulated nodes in one process,
one MQTT connection each, speaking the real protocol with the real
common code: signature and version checks, the manifest fetched over
HTTP by every node and checked, applied-version state, alert and
proof-of-play acknowledgements, health (docs/sim.md). **Publish →
applied**: after a first publish has settled, an editor edits the
approved slogan every node shows, an approver approves it and publishes;
the figure is the time from the `POST /v1/publish` request to the last
node's applied state as the controller recorded it (`GET /v1/rollout`,
`applied_ms`); the simulator's own clock is given beside it.
**Alert**: `POST /v1/alerts` to every node; per node the time from the
alert's `issued_ms` to the controller's receipt of its `delivered`
acknowledgement (`GET /v1/alerts/{id}`, `nodes[].delivered_ms`); p50 and
p99 over the nodes, the median of those over repeated alerts. The
simulator handles its nodes one after another on one thread and shares
the machine's cores with the broker and the controller, where each real
node has its own CPU: the spread from the first to the last node is the
simulator's as much as the system's. So that it does not add one
ed25519 check per node in turn, it checks an alert's signature once for
all its nodes (`--share-verify`; every node still parses and checks the
alert itself). **Soak**: the nodes report health every 30 s and proof
of play at 2 records per node per minute; at the end the simulator stops
cleanly (it waits for the acknowledgements of what it sent) and its
report is compared with the records the controller stored
(`minecast_pop_records_total`); the controller's CPU (utime + stime) and
resident memory (VmRSS) are read from /proc every 10 s. Memory and CPU
count as flat when the least-squares slope over the second half of the
samples, times the soak's length, stays within 2 MB (or 2 % of the
median) and 2 % of a core. **Dropped**: the broker's
`$SYS/broker/publish/messages/dropped` at the end of each session (a
state or an alert acknowledgement dropped for the controller's session
is never sent again)."""),
    ("controller", "Controller", ["ctl_publish", "ctl_ingest", "ctl_api"],
     """\
`bench/ctl_publish.py`: a controller holding 10,000 nodes over 20
sites and an approved schedule of 22 entries (40 distinct manifests);
the controller's own `duration_ms` of `POST /v1/publish` (compile, sign,
store in one transaction, hand every pointer to the broker; its phases
from the answer) and the time until a subscriber on `node/+/desired` has
every pointer. `bench/ctl_ingest.py`: 4 paho clients publish
proof-of-play batches of 1,000 records (QoS 1) on the topics of 100
nodes (300 batches a run; 60 with `--quick`); records stored and
acknowledged per second, from the first publish to the last
acknowledgement. `bench/ctl_api.py`: 50 keep-alive clients in a closed
loop (`mc-apiload`, libcurl multi; each sends its next request when the
answer arrives) with a console's mix (`/v1/auth/me`, nodes, sites,
fleet, rollout, tokens; one write in ten) against 200 nodes; latency per
request as the client sees it, and the server's own histogram."""),
    ("player", "Player: screen, loudspeaker, sync",
     ["screen", "audio_skew", "player"], """\
`bench/screen.py`: a real player at 1920×1080 on SDL's offscreen video
driver with the software renderer (no GPU here), through the
integration-test harness (real mosquitto, the test HTTP server, signed
pointers): memory (VmRSS, maximum) while cycling 4 panos and 4 slogans
with crossfades, CPU on a static slide, the first frame from cache after
a restart (exec to first present). `bench/audio_skew.py`: two players
with the GStreamer output and a clock-synchronised fake sink play the
same at-time bulletin; the skew is the difference of their start
instants (no sound card here). `bench/player.py`: the player with the
log output cycling a 200-item manifest (memory, CPU) and the bytes
synced when 1 of 200 assets (64 KiB each) changes (HTTP bodies)."""),
]

# Every figure: where it comes from, what it is, its target and reference.
#   op: "<=", ">=", "==" (target value), "flat" (the part says), None
#   fmt: digits after the point
FIGURES = [
    # fleet
    dict(id="fleet.publish.1000", part="fleet", unit="ms", fmt=0,
         n_label="publish",
         what="publish → every node applied, 1,000 simulated nodes",
         op="<=", target=1000, target_text="≤ 1 s", reference=REF_PUBLISH),
    dict(id="fleet.publish.10000", part="fleet", unit="ms", fmt=0,
         n_label="publish",
         what="publish → every node applied, 10,000 simulated nodes",
         op="<=", target=5000, target_text="≤ 5 s", reference=REF_PUBLISH),
    dict(id="fleet.alert.p50", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → node acknowledged (delivered), p50 over "
              "{nodes} nodes",
         op=None, target_text="", reference=REF_ALERT),
    dict(id="fleet.alert.p99", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → node acknowledged (delivered), p99 over "
              "{nodes} nodes",
         op="<=", target=250, target_text="≤ 250 ms (p99, 1,000 nodes)",
         reference=REF_ALERT),
    dict(id="fleet.alert.last", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → every node acknowledged (the last of "
              "{nodes})",
         op=None, target_text="", reference=REF_ALERT),
    dict(id="fleet.alert.started_p99", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → \"started\" acknowledgement, p99 over "
              "{nodes} nodes (start instant = lead time after issue)",
         op=None, target_text="", reference=""),
    dict(id="fleet.soak.lost_acks", part="fleet", unit="records", fmt=0,
         what="soak, {nodes} nodes, {minutes} min: proof-of-play records "
              "never acknowledged",
         op="==", target=0, target_text="none lost", reference=""),
    dict(id="fleet.soak.lost_records", part="fleet", unit="records",
         fmt=0,
         what="soak, {nodes} nodes, {minutes} min: records sent but not "
              "stored by the controller",
         op="==", target=0, target_text="none lost", reference=""),
    dict(id="fleet.soak.rss", part="fleet", unit="MB", fmt=1,
         what="soak, {nodes} nodes, {minutes} min: controller resident "
              "memory",
         op="flat", target_text="flat", reference=""),
    dict(id="fleet.soak.cpu", part="fleet", unit="%", fmt=1,
         what="soak, {nodes} nodes, {minutes} min: controller CPU "
              "(% of one core)",
         op="flat", target_text="flat", reference=""),
    dict(id="fleet.alert.p99.10000", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → node acknowledged (delivered), p99 over "
              "10,000 nodes",
         op=None, target_text="", reference=REF_ALERT),
    dict(id="fleet.alert.last.10000", part="fleet", unit="ms", fmt=1,
         n_label="alert",
         what="urgent alert → every node acknowledged (the last of "
              "10,000)",
         op=None, target_text="", reference=REF_ALERT),
    dict(id="fleet.dropped", part="fleet", unit="messages", fmt=0,
         what="messages mosquitto dropped (a client's queue full; "
              "max_queued_messages {queue}, as in production)",
         op="==", target=0, target_text="none", reference=""),
    # controller
    dict(id="ctl.publish.force", part="ctl_publish", unit="ms", fmt=0,
         what="controller compile + sign + publish, {nodes} nodes "
              "(every pointer re-signed)",
         op="<=", target=2000, target_text="≤ 2 s (10,000 nodes)",
         reference=""),
    dict(id="ctl.publish.first", part="ctl_publish", unit="ms", fmt=0,
         n_label="publish",
         what="controller first publish, {nodes} nodes (every manifest "
              "new)",
         op="<=", target=2000, target_text="≤ 2 s (10,000 nodes)",
         reference=""),
    dict(id="ctl.publish.edit", part="ctl_publish", unit="ms", fmt=0,
         what="controller publish after one site's slogan changed "
              "({changed} pointers)",
         op=None, target_text="", reference=""),
    dict(id="ctl.publish.same", part="ctl_publish", unit="ms", fmt=0,
         what="controller publish with nothing changed (compile and "
              "compare only)",
         op=None, target_text="", reference=""),
    dict(id="ctl.publish.delivered", part="ctl_publish", unit="ms", fmt=0,
         what="every re-signed pointer received by a subscriber, "
              "{nodes} nodes",
         op=None, target_text="", reference=""),
    dict(id="ctl.ingest", part="ctl_ingest", unit="records/s", fmt=0,
         what="proof-of-play ingest (stored and acknowledged)",
         op=">=", target=20000, target_text="≥ 20,000 records/s",
         reference=""),
    dict(id="ctl.api.p99", part="ctl_api", unit="ms", fmt=1,
         what="API p99 latency, {clients} concurrent clients",
         op="<=", target=50, target_text="≤ 50 ms (issue 5)",
         reference=""),
    dict(id="ctl.api.p50", part="ctl_api", unit="ms", fmt=1,
         what="API p50 latency, same load",
         op=None, target_text="", reference=""),
    dict(id="ctl.api.throughput", part="ctl_api", unit="req/s", fmt=0,
         what="API throughput, same load",
         op=None, target_text="", reference=""),
    # player
    dict(id="player.rss.screen", part="screen", unit="MB", fmt=1,
         what="player resident memory, 1080p, cycling panos and slogans",
         op="<=", target=60, target_text="≤ 60 MB",
         reference="a browser-based Pi player: ~225 MB viewer alone"),
    dict(id="player.cpu.static", part="screen", unit="%", fmt=2,
         what="player CPU on a static slide (% of one core)",
         op="<=", target=3, target_text="≤ 3 %", reference=""),
    dict(id="player.first_frame", part="screen", unit="ms", fmt=0,
         what="first frame from cache after start",
         op="<=", target=1000, target_text="≤ 1 s",
         reference="IEC 60849: broadcast within 10 s of power"),
    dict(id="player.ticker_missed", part="screen", unit="frames/min",
         fmt=1, what="ticker frame pacing at 60 Hz (no vsync offscreen): "
                     "missed frames per minute",
         op=None, target_text="", reference=""),
    dict(id="player.cpu.ticker", part="screen", unit="%", fmt=1,
         what="player CPU while the ticker scrolls (software renderer)",
         op=None, target_text="", reference=""),
    dict(id="player.audio_skew", part="audio_skew", unit="ms", fmt=3,
         what="at-time audio start skew, two players, one host "
              "({n} starts)",
         op="<=", target=1, target_text="≤ 1 ms",
         reference="Snapcast: typically < 0.2 ms", n_label="start"),
    dict(id="player.sync_bytes", part="player", unit="%", fmt=2,
         what="bytes synced when 1 of 200 assets changes, over the "
              "changed asset + manifest",
         op="<=", target=5, target_text="within 5 %", reference=""),
    dict(id="player.rss.log", part="player", unit="MB", fmt=1,
         what="player resident memory, log output, 200-item loop",
         op=None, target_text="", reference=""),
    dict(id="player.cpu.log", part="player", unit="%", fmt=2,
         what="player CPU, log output, one item a second "
              "(% of one core)",
         op=None, target_text="", reference=""),
]

SPEC = {f["id"]: f for f in FIGURES}

# What a figure's text says where its run did not give the number.
PLACEHOLDERS = {"nodes": "N", "minutes": "M", "changed": "some",
                "clients": "C", "n": "N", "queue": "Q"}


# ---- reading the parts' JSON ---------------------------------------------


def stat(values):
    """{"median", "min", "max", "n", "runs"} of a list of numbers."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values), "runs": values}


def from_summary(s, **params):
    """benchlib.summary's {"median", "min", "max", "runs"} as a stat."""
    if not s:
        return None
    runs = s.get("runs")
    if runs is None:
        out = {"median": s["median"], "min": s["min"], "max": s["max"],
               "n": s.get("n", 1), "runs": []}
    else:
        out = stat(runs)
    if params:
        out["params"] = params
    return out


def ex_player(j):
    return {"player.rss.log": from_summary(j.get("rss_max_mb")),
            "player.cpu.log": from_summary(j.get("cpu_percent")),
            "player.sync_bytes": from_summary(
                j.get("sync_overhead_percent"))}


def ex_screen(j):
    return {"player.rss.screen": from_summary(j.get("rss_max_mb")),
            "player.cpu.static": from_summary(j.get("cpu_percent_static")),
            "player.first_frame": from_summary(j.get("first_frame_ms")),
            "player.ticker_missed": from_summary(
                j.get("ticker_missed_per_min")),
            "player.cpu.ticker": from_summary(j.get("cpu_percent_ticker"))}


def ex_audio(j):
    s = j.get("abs_skew_ms")
    if not s:
        return {}
    runs = [abs(r["skew_ms"]) for r in j.get("rows", [])]
    f = stat(runs) if runs else {"median": s["median"], "min": s["min"],
                                 "max": s["max"], "n": s["n"], "runs": []}
    f["params"] = {"n": f["n"]}
    o = j.get("abs_offset_from_schedule_ms") or {}
    f["detail"] = "p90 %.3f ms; each start %.3f ms (median) after its " \
        "scheduled instant, max %.3f ms" % (s.get("p90", s["max"]),
                                            o.get("median", 0),
                                            o.get("max", 0))
    return {"player.audio_skew": f}


def ex_ctl_publish(j):
    out = {}
    nodes = j.get("nodes")
    for key, kind, field in (("ctl.publish.force", "force", "duration_ms"),
                             ("ctl.publish.first", "first", "duration_ms"),
                             ("ctl.publish.edit", "edit", "duration_ms"),
                             ("ctl.publish.same", "same", "duration_ms"),
                             ("ctl.publish.delivered", "force",
                              "delivered_ms")):
        k = j.get(kind) or {}
        f = from_summary(k.get(field), nodes=nodes,
                         changed=k.get("changed"))
        if f and key != "ctl.publish.delivered" and k.get("phases_ms"):
            f["detail"] = "phases (median ms): " + ", ".join(
                "%s %.0f" % (p, v["median"])
                for p, v in k["phases_ms"].items())
        out[key] = f
    return out


def ex_ctl_ingest(j):
    return {"ctl.ingest": from_summary(j.get("pop_ingest_records_per_s"))}


def ex_ctl_api(j):
    c = j.get("clients")
    out = {"ctl.api.p99": from_summary(j.get("p99_ms"), clients=c),
           "ctl.api.p50": from_summary(j.get("p50_ms")),
           "ctl.api.throughput": from_summary(j.get("throughput_rps"))}
    if out["ctl.api.p99"] and j.get("server_p99_bucket_ms"):
        out["ctl.api.p99"]["detail"] = (
            "the server's own histogram puts p99 at ≤ %s ms"
            % ", ".join("%g" % v for v in j["server_p99_bucket_ms"]))
    return out


def ex_fleet(j):
    """bench/fleet.py writes its figures already in this form."""
    return dict(j.get("figures", {}))


EXTRACT = {"player": ex_player, "screen": ex_screen,
           "audio_skew": ex_audio, "ctl_publish": ex_ctl_publish,
           "ctl_ingest": ex_ctl_ingest, "ctl_api": ex_ctl_api,
           "fleet": ex_fleet}


# ---- figures and verdicts ------------------------------------------------


def verdict(spec, f):
    op = spec["op"]
    if op is None:
        return "—"
    if op == "flat":
        return "flat" if f.get("flat") else "not flat"
    t, m, worst = spec["target"], f["median"], None
    if op == "<=":
        ok, worst = m <= t, f["max"] <= t
    elif op == ">=":
        ok, worst = m >= t, f["min"] >= t
    else:
        ok, worst = m == t, f["max"] == t and f["min"] == t
    if not ok:
        return "misses"
    return "meets" if worst else "meets (median)"


def missed(v):
    return v in ("misses", "not flat")


def build(results):
    """The report document (also the JSON file) from bench/run's
    results: {"meta": {...}, "parts": {name: {"cmd", "status", "seconds",
    "json", "error", "profile"}}}."""
    parts = results.get("parts", {})
    got = {}
    for name, p in parts.items():
        if p.get("json") and name in EXTRACT:
            try:
                got.update({k: v for k, v in EXTRACT[name](p["json"])
                            .items() if v})
            except (KeyError, TypeError, ValueError) as e:
                p["error"] = "%s's JSON could not be read: %r" % (name, e)
    figures = []
    for spec in FIGURES:
        f = dict(got.get(spec["id"]) or {})
        p = parts.get(spec["part"], {})
        params = f.get("params", {})
        what = spec["what"].format(**dict(PLACEHOLDERS, **{
            k: "{:,}".format(v) if isinstance(v, int) else v
            for k, v in params.items()}))
        fig = {"id": spec["id"], "section": section_of(spec["part"]),
               "part": spec["part"], "what": what, "unit": spec["unit"],
               "target": spec.get("target"), "op": spec["op"],
               "target_text": spec["target_text"],
               "reference": spec["reference"]}
        if "median" in f:
            fig.update({k: f[k] for k in ("median", "min", "max", "n",
                                          "runs") if k in f})
            for k in ("text", "detail", "flat", "params", "limit"):
                if k in f:
                    fig[k] = f[k]
            fig["verdict"] = verdict(spec, f)
        else:
            fig["verdict"] = "not measured"
            fig["why"] = f.get("why") or why_not(p)
        if missed(fig["verdict"]):
            prof = f.get("profile") or p.get("profile")
            fig["profile"] = prof
            fig["limit"] = f.get("limit") or limit_text(prof, p)
        figures.append(fig)
    counts = {}
    for fig in figures:
        v = fig["verdict"]
        key = "miss" if missed(v) else "not measured" \
            if v == "not measured" else "meet" if v in (
                "meets", "meets (median)", "flat") else "info"
        counts[key] = counts.get(key, 0) + 1
    return {"format": FORMAT, "meta": results.get("meta", {}),
            "counts": counts, "figures": figures,
            "parts": {n: {k: v for k, v in p.items() if k != "json"}
                      for n, p in parts.items()},
            "raw": {n: p.get("json") for n, p in parts.items()}}


def section_of(part):
    for key, _, ps, _ in SECTIONS:
        if part in ps:
            return key
    return "other"


def why_not(p):
    if not p:
        return "not run"
    st = p.get("status")
    if st == "skipped":
        return p.get("error") or "skipped"
    if st in ("failed", "timeout"):
        return "the run %s: %s" % ("timed out" if st == "timeout"
                                   else "failed", (p.get("error") or "")
                                   .strip().splitlines()[-1:] or "")
    if p.get("error"):
        return p["error"]
    if p.get("json") is not None:
        return "not in the quick suite" if p.get("quick") else \
            "not in this run's configuration"
    return "no figure"


def limit_text(prof, part):
    if prof:
        from perfsum import text
        return text(prof)
    if part and part.get("profile_skipped"):
        return "Not profiled: %s." % part["profile_skipped"]
    return "Not profiled in this run."


# ---- markdown ------------------------------------------------------------


def num(v, digits):
    if v is None:
        return "—"
    if isinstance(v, float) and v != v:
        return "nan"
    s = "%.*f" % (digits, v)
    if digits == 0 and abs(v) >= 1000:
        s = "{:,}".format(int(round(v)))
    return s


def measured(fig, digits):
    if fig["verdict"] == "not measured":
        return "not measured: " + str(fig.get("why", ""))
    if fig.get("text"):
        return fig["text"]
    m = num(fig["median"], digits) + " " + fig["unit"]
    n = fig.get("n", 1)
    label = SPEC[fig["id"]].get("n_label", "run")
    if n <= 1:
        return "%s (1 %s)" % (m, label)
    plural = label + ("es" if label.endswith("sh") else "s")
    return "%s (%s–%s, %d %s)" % (m, num(fig["min"], digits),
                                  num(fig["max"], digits), n, plural)


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown(doc):
    meta = doc.get("meta", {})
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Measured figures beside the targets and references of DESIGN.md, "
      "written by `bench/run` (do not edit this file by hand: run "
      "`bench/run` again). Every figure is the median over repeated "
      "runs with its spread (min–max); the JSON with the same figures "
      "and every run is `%s`." % meta.get("out_json",
                                          "bench/out/benchmarks.json"))
    w("")
    mach = meta.get("machine", {})
    w("- **Run**: `%s`%s, %s, commit %s%s; the suite took %s." % (
        meta.get("command", "bench/run"),
        " (the reduced suite: fewer runs, 1,000 nodes instead of 10,000, "
        "a 1-minute soak, short player runs)" if meta.get("quick") else "",
        meta.get("date", "?"), meta.get("commit", "?"),
        " with uncommitted changes" if meta.get("dirty") else "",
        duration(meta.get("duration_s"))))
    w("- **Machine**: %s, %s cores, %s GiB memory, %s, Linux %s%s." % (
        mach.get("cpu", "?"), mach.get("cores", "?"),
        mach.get("mem_gib", "?"), mach.get("os", "?"),
        mach.get("kernel", "?"),
        " (virtual machine)" if mach.get("virtual") else ""))
    la0, la1 = meta.get("loadavg_start"), meta.get("loadavg_end")
    cpu = meta.get("cpu")
    if cpu:
        other = cpu["other_percent"]
        w("- **Other work on the machine** while the suite ran: %.1f %% of "
          "its CPU time (the suite itself: %.1f %%), so the machine was %s."
          " Load average %s at the start, %s at the end." % (
              other, cpu["suite_percent"],
              "quiet" if other < 5 else "not quiet: the figures are "
              "longer and more spread than on a quiet machine",
              "%.2f" % la0[0] if la0 else "?",
              "%.2f" % la1[0] if la1 else "?"))
    elif la0:
        w("- **Load** (1-minute load average): %.2f at the start, %s at "
          "the end." % (la0[0], "%.2f" % la1[0] if la1 else "?"))
    if meta.get("build"):
        w("- **Build**: `%s` (%s), everything on loopback." % (
            meta["build"], meta.get("build_type", "?")))
    c = doc.get("counts", {})
    w("")
    w("%d figures meet their targets, %d miss, %d have no target of "
      "their own, %d were not measured." % (
          c.get("meet", 0), c.get("miss", 0), c.get("info", 0),
          c.get("not measured", 0)))
    figs = doc.get("figures", [])
    for key, title, parts, method in SECTIONS:
        mine = [f for f in figs if f["section"] == key]
        if not mine:
            continue
        w("")
        w("## " + title)
        w("")
        w("| what | target | reference | measured: median (min–max) | "
          "verdict |")
        w("| --- | --- | --- | --- | --- |")
        for f in mine:
            d = SPEC[f["id"]]["fmt"]
            w("| %s | %s | %s | %s | %s |" % (
                cell(f["what"]), cell(f["target_text"] or "—"),
                cell(f["reference"] or ""), cell(measured(f, d)),
                cell(f["verdict"])))
        details = [f for f in mine if f.get("detail")]
        if details:
            w("")
            for f in details:
                w("- %s: %s." % (f["what"], f["detail"].rstrip(".")))
        w("")
        w(method)
        cmds = [(p, doc["parts"][p]) for p in parts if p in doc["parts"]]
        if cmds:
            w("")
            w("Commands of this run:")
            w("")
            for p, info in cmds:
                st = info.get("status", "?")
                w("    %s    # %s%s" % (info.get("cmd", p), st,
                                        ", %s" % duration(info["seconds"])
                                        if info.get("seconds") else ""))
        extra = doc.get("raw", {}).get("fleet") if key == "fleet" else None
        sims = [x for x in (extra or {}).get("sessions", [])
                if x.get("sim_args")]
        if sims:
            w("")
            w("The simulator in each session (besides the broker, the "
              "controller, an admin token, the trusted keys and its report "
              "file):")
            w("")
            for x in sims:
                w("    " + x["sim_args"])
            lim = sims[0].get("broker") or {}
            if lim:
                w("")
                w("mosquitto's limits, as firmware-notes/mosquitto/"
                  "minecast.conf sets them: %s." % ", ".join(
                      "`%s %s`" % kv for kv in sorted(lim.items())))
        if extra and extra.get("soak", {}).get("samples"):
            w("")
            w(soak_table(extra["soak"]))
    misses = [f for f in figs if missed(f["verdict"])]
    w("")
    w("## Where a figure misses its target")
    w("")
    if not misses:
        w("Every measured figure meets its target in this run.")
    for f in misses:
        d = SPEC[f["id"]]["fmt"]
        w("- **%s misses its target**: %s against %s. %s" % (
            f["what"], measured(f, d), f["target_text"],
            f.get("limit") or "Not profiled in this run."))
    nm = [f for f in figs if f["verdict"] == "not measured"]
    if nm:
        w("")
        w("## Not measured in this run")
        w("")
        for f in nm:
            w("- %s: %s" % (f["what"], f.get("why", "")))
    w("")
    return "\n".join(out)


def soak_table(soak):
    rows = ["Controller during the soak (sampled every %g s):" %
            soak.get("interval_s", 10), "",
            "| at | CPU (% of one core) | resident memory |",
            "| --- | --- | --- |"]
    samples = soak["samples"]
    step = max(1, len(samples) // 12)
    for s in samples[::step]:
        rows.append("| %d s | %.1f %% | %.1f MB |" % (
            s["t_s"], s["cpu_percent"], s["rss_mb"]))
    return "\n".join(rows)


def duration(s):
    if s is None:
        return "?"
    s = int(round(s))
    if s < 120:
        return "%d s" % s
    return "%d min %02d s" % (s // 60, s % 60)


def write(doc, md_path, json_path):
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(markdown(doc))
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
