"""The fleet side of minecast-controller over a real mosquitto, real HTTP
and real players (docs/api.md, docs/protocol.md §3, §6):
MQTT messages that are malformed, oversized, on unknown topics, forged
(the body names another node) or from unregistered nodes are dropped,
logged and change nothing; node status and its flags from injected
health; offline through the will of a killed player; a real player's
proof of play is acknowledged, deleted from its outbox and counted once
in the CSV report; commands with results, a real screenshot upload, and
the screenshot endpoint's refusals."""

import base64
import csv
import datetime
import io
import json
import os
import sqlite3
import subprocess
import zoneinfo

from controller.ctlharness import (ROOT, CtlTest, ctl_bin, now_ms, parse_ini,
                                   wait_for)
from player.mcharness import HttpServer, sha256

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def tiny_png(width=2, height=1):
    """A syntactically valid PNG header (signature + IHDR) and padding:
    the controller checks the signature and IHDR, not the pixels."""
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    out = PNG_SIG + struct.pack(">I", len(ihdr)) + chunk + struct.pack(
        ">I", zlib.crc32(chunk) & 0xffffffff)
    raw = b"\x00" + b"\x00\x00\x00" * width
    idat = zlib.compress(raw * height)
    out += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(
        ">I", zlib.crc32(b"IDAT" + idat) & 0xffffffff)
    out += struct.pack(">I", 0) + b"IEND" + struct.pack(
        ">I", zlib.crc32(b"IEND") & 0xffffffff)
    return out


def state_doc(node, online=True, **kw):
    d = {"v": 1, "node": node, "online": online, "boot": 3,
         "applied_version": 0, "sync": "idle", "at_ms": now_ms(),
         "software": "test-node 1"}
    d.update(kw)
    return d


def health_doc(node, **kw):
    d = {"v": 1, "node": node, "at_ms": now_ms(), "uptime_s": 100,
         "load1": 0.5, "disk_total_bytes": 1000000000,
         "disk_free_bytes": 600000000, "cpu_temp_c": 50.0, "throttled": 0,
         "clock_synced": True, "clock_offset_ms": 1.5}
    d.update(kw)
    return d


def pop_record(node, seq, content="slogan-x", start=None, length_ms=10000,
               **kw):
    start = start if start is not None else now_ms() - 60000
    d = {"id": "%s-7-%d" % (node, seq), "content": content,
         "channel": "screen", "start_ms": start,
         "end_ms": start + length_ms, "completed": True, "count": 1}
    d.update(kw)
    return d


def local_today(zone="Asia/Ho_Chi_Minh"):
    return datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date()


class Fixture:
    """Helpers over a rig: a site and nodes, the harness MQTT client, and
    a marker that proves the controller handled everything published
    before it."""

    def __init__(self, rig, nodes, site="cua-lo"):
        self.rig = rig
        rig.add_site(site)
        for n in nodes:
            rig.add_node(n, site)
        self.mq = rig.mqtt_client(subscribe=[ROOT + "node/+/pop/ack",
                                             ROOT + "node/+/cmd"])
        self.marks = 0

    def topic(self, node, suffix):
        return ROOT + "node/%s/%s" % (node, suffix)

    def pub(self, node, suffix, payload, qos=1):
        self.mq.publish(self.topic(node, suffix), payload, qos=qos)

    def status(self, node):
        return self.rig.ok("GET", "/v1/nodes/%s/status" % node,
                           token="technician")

    def mark(self, node):
        """Publish a health with a unique uptime on node (a registered
        control node) and wait until the controller stored it: MQTT keeps
        the order of one client's messages, so whatever was published
        before is handled by then."""
        self.marks += 1
        up = 900000 + self.marks
        self.pub(node, "health", health_doc(node, uptime_s=up))
        wait_for(lambda: (self.status(node).get("health") or {}).get(
            "uptime_s") == up, 20, "the marker health of %s" % node)

    def wait_log(self, text, what=None):
        return wait_for(lambda: text in self.rig.log_text(), 20,
                        what or "controller log line with %r" % text)

    def counter(self, name):
        st, body, _ = self.rig.api("GET", "/metrics")
        assert st == 200, st
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None


class MqttDrops(CtlTest):
    """Every refused MQTT message is dropped with a technician-readable
    log line naming node, topic and reason, counted in /metrics, and
    changes nothing."""

    per_class = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = Fixture(cls.shared_rig, ["pi-a", "pi-b", "pi-c"])

    def assertUntouched(self, node):
        s = self.fx.status(node)
        self.assertEqual(s["status"], "never", s)
        self.assertIsNone(s["health"], s)
        self.assertIsNone(s["state"], s)

    def dropped(self, node, suffix, payload, reason_text, metric_reason):
        fx = self.fx
        label = 'minecast_mqtt_dropped_total{reason="%s"}' % metric_reason
        before = fx.counter(label) or 0
        fx.pub(node, suffix, payload)
        fx.mark("pi-c")
        head = "dropped a message from node %s on %s: " % (
            node, fx.topic(node, suffix))
        wait_for(lambda: any(head in ln and reason_text in
                             ln.split(head, 1)[1]
                             for ln in self.rig.log_text().splitlines()),
                 20, "a log line %r ... %r" % (head, reason_text))
        self.assertGreaterEqual(fx.counter(label), before + 1, label)

    def test_malformed_json(self):
        self.dropped("pi-b", "health", b'{"v":1,"node":"pi-b",',
                     "health: ", "malformed")
        self.assertUntouched("pi-b")

    def test_invalid_utf8_and_wrong_types(self):
        self.dropped("pi-b", "state",
                     b'{"v":1,"node":"pi-b","online":true,"at_ms":1,'
                     b'"software":"\xff\xfe"}', "state: ", "malformed")
        self.dropped("pi-b", "state",
                     json.dumps(state_doc("pi-b", online="yes")),
                     "state: online", "malformed")
        self.dropped("pi-b", "health",
                     json.dumps(health_doc("pi-b", cpu_temp_c=900)),
                     "health: cpu_temp_c", "malformed")
        self.assertUntouched("pi-b")

    def test_unsupported_version(self):
        self.dropped("pi-b", "state", json.dumps(state_doc("pi-b", v=2)),
                     "state: v: protocol version 2", "malformed")
        self.assertUntouched("pi-b")

    def test_oversized(self):
        doc = health_doc("pi-b")
        doc["errors"] = ["x" * 400] * 45  # ~18 KB: over 16384
        raw = json.dumps(doc).encode()
        self.assertGreater(len(raw), 16384)
        self.dropped("pi-b", "health", raw,
                     "%d bytes, over the 16384-byte limit" % len(raw),
                     "oversized")
        big = json.dumps({"v": 1, "node": "pi-b", "batch": "b1",
                          "records": []}) + " " * (256 * 1024)
        self.dropped("pi-b", "pop", big, "over the 262144-byte limit",
                     "oversized")
        self.assertUntouched("pi-b")

    def test_unknown_topics(self):
        self.dropped("pi-b", "state/extra", json.dumps(state_doc("pi-b")),
                     '"state/extra" is not a topic of the minecast '
                     'protocol', "unknown_topic")
        self.dropped("pi-b", "pop/ack",
                     json.dumps({"v": 1, "node": "pi-b", "batch": "b",
                                 "ids": []}),
                     '"pop/ack" is written by the controller',
                     "unknown_topic")
        self.assertUntouched("pi-b")

    def test_forged_node(self):
        """pi-b's topic, a body claiming to be pi-a: neither changes."""
        self.dropped("pi-b", "state", json.dumps(state_doc("pi-a")),
                     'its body claims to be another node ("node": "pi-a")',
                     "forged")
        self.dropped("pi-b", "health", json.dumps(health_doc("pi-a")),
                     "claims to be another node", "forged")
        batch = {"v": 1, "node": "pi-a", "batch": "forged-1",
                 "records": [pop_record("pi-a", 1)]}
        t0 = now_ms() / 1000.0
        self.dropped("pi-b", "pop", json.dumps(batch),
                     "claims to be another node", "forged")
        self.assertUntouched("pi-a")
        self.assertUntouched("pi-b")
        self.assertEqual(self.fx.mq.messages(ROOT + "node/pi-a/pop/ack",
                                             since=t0), [])
        self.assertEqual(self.fx.mq.messages(ROOT + "node/pi-b/pop/ack",
                                             since=t0), [])

    def test_unregistered_node(self):
        fx = self.fx
        t0 = now_ms() / 1000.0
        self.dropped("ghost-9", "state", json.dumps(state_doc("ghost-9")),
                     'no node "ghost-9" is registered', "unregistered")
        batch = {"v": 1, "node": "ghost-9", "batch": "g-1",
                 "records": [pop_record("ghost-9", 1)]}
        self.dropped("ghost-9", "pop", json.dumps(batch),
                     'no node "ghost-9" is registered', "unregistered")
        st, doc, _ = self.rig.api("GET", "/v1/nodes/ghost-9/status",
                                  token="technician")
        self.assertEqual(st, 404, doc)
        self.assertEqual(fx.mq.messages(ROOT + "node/ghost-9/pop/ack",
                                        since=t0), [])

    def test_bad_pop_batch_is_not_acknowledged(self):
        """A batch with one bad record is refused whole: no ack, no row."""
        fx = self.fx
        t0 = now_ms() / 1000.0
        good = pop_record("pi-b", 1)
        bad = pop_record("pi-b", 2)
        bad["end_ms"] = bad["start_ms"] - 1
        self.dropped("pi-b", "pop",
                     json.dumps({"v": 1, "node": "pi-b", "batch": "b-bad",
                                 "records": [good, bad]}),
                     "records[1].end_ms", "malformed")
        self.assertEqual(fx.mq.messages(ROOT + "node/pi-b/pop/ack",
                                        since=t0), [])
        day = local_today()
        rep = self.rig.ok("GET", "/v1/reports/pop", token="editor",
                          query={"from": str(day - datetime.timedelta(1)),
                                 "to": str(day + datetime.timedelta(1))})
        self.assertEqual(rep["items"], [], rep)

    def test_valid_messages_are_taken(self):
        """The control: the same kinds of messages, valid, are stored (so
        the tests above could fail)."""
        fx = self.fx
        fx.pub("pi-c", "state", json.dumps(state_doc("pi-c",
                                                     applied_version=4)))
        fx.mark("pi-c")
        s = fx.status("pi-c")
        self.assertEqual(s["status"], "online", s)
        self.assertEqual(s["state"]["applied_version"], 4, s)
        self.assertEqual(s["state"]["software"], "test-node 1", s)


class StatusFlags(CtlTest):
    """Status and flags from injected state and health, with the
    thresholds of [fleet]; the fleet list, its filters and counts; the
    transitions logged once; minecastctl fleet and node status."""

    rig_options = {"config": {"fleet": {"stale_s": "5s", "hot_c": 70,
                                        "disk_low_pct": 15,
                                        "clock_offset_ms": 500}}}

    def setUp(self):
        super().setUp()
        # pi-mk only carries the markers (Fixture.mark).
        self.fx = Fixture(self.rig, ["pi-f1", "pi-f2", "pi-f3", "pi-mk"])
        self.rig.add_site("other")
        self.rig.add_node("pi-o1", "other")

    def flags(self, node):
        return sorted(self.fx.status(node)["flags"])

    def test_flags_from_health(self):
        fx = self.fx
        fx.pub("pi-f2", "state", json.dumps(state_doc("pi-f2")))
        fx.pub("pi-f2", "health", json.dumps(health_doc("pi-f2")))
        fx.mark("pi-mk")
        self.assertEqual(self.flags("pi-f2"), [])
        cases = [
            ({"cpu_temp_c": 71.5}, ["hot"]),
            ({"cpu_temp_c": 70.0}, ["hot"]),  # at the limit
            ({"cpu_temp_c": 69.9}, []),
            ({"disk_free_bytes": 100000000}, ["disk_low"]),
            ({"disk_free_bytes": 150000000}, []),  # exactly 15 %
            ({"clock_synced": False}, ["clock"]),
            ({"clock_offset_ms": -600.0}, ["clock"]),
            ({"clock_offset_ms": 499.0}, []),
            ({"throttled": 0x50005}, ["throttled"]),
            ({"throttled": 0x50000}, []),  # happened once, not now
            ({"throttled": -1}, []),
            ({"cpu_temp_c": 90, "clock_synced": False,
              "disk_free_bytes": 1}, ["clock", "disk_low", "hot"]),
            ({}, []),
        ]
        for kw, want in cases:
            fx.pub("pi-f2", "health", json.dumps(health_doc("pi-f2", **kw)))
            fx.mark("pi-mk")
            self.assertEqual(self.flags("pi-f2"), want, kw)
        # Health without a temperature sensor: never hot.
        h = health_doc("pi-f2")
        del h["cpu_temp_c"]
        fx.pub("pi-f2", "health", json.dumps(h))
        fx.mark("pi-mk")
        s = fx.status("pi-f2")
        self.assertNotIn("cpu_temp_c", s["health"])
        self.assertIsNone(s["cpu_temp_c"])

    def test_hot_logged_once_and_shown(self):
        fx = self.fx
        fx.pub("pi-f1", "state", json.dumps(state_doc("pi-f1")))
        fx.pub("pi-f1", "health", json.dumps(health_doc(
            "pi-f1", cpu_temp_c=85.25, throttled=0x1)))
        fx.mark("pi-mk")
        s = fx.status("pi-f1")
        self.assertEqual(s["health"]["cpu_temp_c"], 85.25)
        self.assertEqual(s["throttled_bits"], ["under_voltage"])
        self.assertEqual(sorted(s["flags"]), ["hot", "throttled"])
        line = "node pi-f1 (site cua-lo) is hot: CPU at 85.2"
        fx.wait_log(line)
        # Two later scans (seen by the transitions they log) do not log
        # pi-f1 again, though it stays hot.
        for node in ("pi-f3", "pi-o1"):
            fx.pub(node, "state", json.dumps(state_doc(node)))
            fx.pub(node, "health", json.dumps(health_doc(
                node, cpu_temp_c=99.0)))
            fx.pub("pi-f1", "health", json.dumps(health_doc(
                "pi-f1", cpu_temp_c=85.25, throttled=0x1)))
            fx.wait_log("node %s (site " % node + ("other" if node ==
                        "pi-o1" else "cua-lo") + ") is hot")
        self.assertEqual(self.rig.log_text().count(line), 1)
        self.assertIn("node pi-f1 (site cua-lo) is throttled",
                      self.rig.log_text())
        rc, out, err = self.rig.ctl(["node", "status", "pi-f1"],
                                    token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("85.2 °C", out)
        self.assertIn("under_voltage", out)
        rc, out, err = self.rig.ctl(["fleet", "--flag", "throttled"],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("pi-f1", out)
        self.assertIn("hot,throttled", out)
        self.assertNotIn("pi-f3", out)

    def test_stale_list_filters_and_counts(self):
        fx = self.fx
        # pi-f1 online with health; pi-f2 online and never reports health
        # (stale after stale_s); pi-f3 never seen; pi-o1 offline; pi-mk
        # online (the markers).
        fx.pub("pi-f1", "state", json.dumps(state_doc("pi-f1")))
        fx.pub("pi-f2", "state", json.dumps(state_doc("pi-f2")))
        fx.pub("pi-o1", "state", json.dumps(state_doc("pi-o1",
                                                      online=False)))
        fx.pub("pi-f1", "health", json.dumps(health_doc("pi-f1")))
        fx.mark("pi-mk")
        doc = self.rig.ok("GET", "/v1/fleet", token="editor")
        self.assertEqual(doc["counts"], {"online": 3, "offline": 1,
                                         "never": 1}, doc)
        self.assertEqual(doc["total"], 5)
        by = {i["id"]: i for i in doc["items"]}
        self.assertEqual(by["pi-f3"]["status"], "never")
        self.assertIsNone(by["pi-f3"]["since_ms"])
        self.assertEqual(by["pi-o1"]["status"], "offline")
        self.assertIsInstance(by["pi-o1"]["since_ms"], int)
        self.assertEqual(by["pi-f1"]["site"], "cua-lo")
        wait_for(lambda: "stale" in self.flags("pi-f2"), 30,
                 "pi-f2 to become stale")
        fx.pub("pi-f1", "health", json.dumps(health_doc("pi-f1")))
        fx.mark("pi-mk")  # health keeps pi-f1 and pi-mk fresh
        self.assertNotIn("stale", self.flags("pi-f1"))
        doc = self.rig.ok("GET", "/v1/fleet", token="editor",
                          query={"flag": "stale"})
        self.assertEqual([i["id"] for i in doc["items"]], ["pi-f2"], doc)
        doc = self.rig.ok("GET", "/v1/fleet", token="editor",
                          query={"site": "other"})
        self.assertEqual([i["id"] for i in doc["items"]], ["pi-o1"])
        self.assertEqual(doc["counts"], {"online": 0, "offline": 1,
                                         "never": 0})
        doc = self.rig.ok("GET", "/v1/fleet", token="editor",
                          query={"status": "never"})
        self.assertEqual([i["id"] for i in doc["items"]], ["pi-f3"])
        fx.wait_log("node pi-f2 (site cua-lo): no health for over 5 s")
        # Fresh health again just before the count: waiting for the log
        # line may take longer than stale_s on a slow (sanitizer) build.
        fx.pub("pi-f1", "health", json.dumps(health_doc("pi-f1")))
        fx.mark("pi-mk")
        metrics = self.rig.api("GET", "/metrics")[1].decode()
        self.assertIn('minecast_nodes{status="online"} 3', metrics)
        self.assertIn('minecast_nodes{status="never"} 1', metrics)
        self.assertIn('minecast_nodes_flagged{flag="stale"} 1', metrics)
        rc, out, err = self.rig.ctl(["fleet"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("3 online, 1 offline, 1 never seen", out)
        # Back online: since is the new transition, not the old one.
        off = by["pi-o1"]["since_ms"]
        fx.pub("pi-o1", "state", json.dumps(state_doc("pi-o1")))
        fx.mark("pi-mk")
        s = fx.status("pi-o1")
        self.assertEqual(s["status"], "online")
        self.assertGreaterEqual(s["since_ms"], off)

    def test_bad_queries(self):
        rig = self.rig
        for q, field, st in (({"status": "sleeping"}, "status", 400),
                             ({"flag": "warm"}, "flag", 400),
                             ({"site": "bad/id"}, "site", 400),
                             ({"site": "nowhere"}, "site", 404)):
            self.assertError(rig.api("GET", "/v1/fleet", token="editor",
                                     query=q), st, field, repr(q))
        self.assertError(rig.api("GET", "/v1/nodes/nobody/status",
                                 token="editor"), 404, "id")
        self.assertError(rig.api("GET", "/v1/fleet"), 401)
        rc, out, err = rig.ctl(["fleet", "--status", "sleeping"])
        self.assertEqual(rc, 1, out)
        self.assertIn("minecastctl: fleet: status:", err)
        # The report's query.
        good = {"from": "2023-11-01", "to": "2023-11-30"}
        for q, field in (({"to": "2023-11-30"}, "from"),
                         ({"from": "2023-11-01"}, "to"),
                         (dict(good, **{"from": "2023-11-31"}), "from"),
                         (dict(good, **{"from": "1.11.2023"}), "from"),
                         (dict(good, **{"to": "2023-10-31"}), "to"),
                         (dict(good, **{"from": "1990-01-01"}), "to"),
                         (dict(good, by="week"), "by"),
                         (dict(good, format="xlsx"), "format"),
                         (dict(good, site="a b"), "site"),
                         (dict(good, content="x/y"), "content")):
            self.assertError(rig.api("GET", "/v1/reports/pop",
                                     token="editor", query=q), 400, field,
                             repr(q))
        self.assertError(rig.api("GET", "/v1/reports/pop", query=good), 401)
        doc = rig.ok("GET", "/v1/reports/pop", token="approver", query=good)
        self.assertEqual(doc["items"], [])
        self.assertEqual(doc["timezone"], "Asia/Ho_Chi_Minh")
        rc, out, err = rig.ctl(["report", "pop", "--from", "2023-11-01"],
                               token="editor")
        self.assertEqual(rc, 2, out)


class LinkAndPresence(CtlTest):
    """The controller's retained presence, and a command signed while the
    broker is away: pending, then sent when the broker is back."""

    def test_presence_and_pending_command(self):
        rig = self.rig
        fx = Fixture(rig, ["pi-l1"])
        topic = ROOT + "controller/state"
        fx.mq.subscribe(topic)
        _, _, payload, retained = wait_for(
            lambda: fx.mq.messages(topic) and fx.mq.messages(topic)[-1],
            10, "the retained presence")
        doc = json.loads(payload)
        self.assertTrue(retained)
        self.assertIs(doc["online"], True, doc)
        self.assertTrue(doc["software"].startswith("minecast-controller"))
        self.assertEqual(doc["v"], 1)

        rig.broker.stop()
        wait_for(lambda: "lost the broker" in rig.log_text(), 20,
                 "the controller to notice the broker is gone")
        c = rig.ok("POST", "/v1/nodes/pi-l1/commands",
                   {"action": "resync", "ttl_s": 600}, token="technician",
                   expect=201)
        self.assertEqual(c["status"], "pending", c)
        rig.broker.start()
        wait_for(lambda: rig.ok("GET", "/v1/commands/" + c["id"],
                                token="technician")["status"] == "sent",
                 60, "the pending command to be sent")
        self.assertIn("command %s sent after the broker came back"
                      % c["id"], rig.log_text())

        # A clean stop publishes the offline presence (no will needed).
        fx.mq.connected.wait(20)
        wait_for(lambda: any(json.loads(m[2]).get("online") is True
                             for m in fx.mq.messages(topic)), 20,
                 "the presence after the reconnect")
        t0 = now_ms() / 1000.0
        rc = rig.stop_controller()
        self.assertEqual(rc, 0)
        wait_for(lambda: any(json.loads(m[2]).get("online") is False
                             for m in fx.mq.messages(topic, since=t0)), 20,
                 "the offline presence")


class PlayerFleet(CtlTest):
    """A real player: proof of play into the CSV report, commands with
    results, a real screenshot upload, offline through its will."""

    per_class = True
    # The broker as provisioning keeps it: password file and ACL; the
    # controller logs in as its own user, the player with its bundle.
    rig_options = {"mqtt_auth": True}
    NODE = "pi-pop-01"
    CONTENT = "slogan-ky-luat"
    NAME = 'Khẩu hiệu "Kỷ luật, Đồng tâm"'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rig = cls.shared_rig
        try:
            cls.fx = Fixture(rig, [cls.NODE, "pi-other"])
            rig.ok("POST", "/v1/content", {
                "id": cls.CONTENT, "type": "slogan", "name": cls.NAME,
                "text": "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!"},
                token="editor")
            cls.http = HttpServer(os.path.join(rig.dir, "httpd"),
                                  os.path.join(rig.dir, "www"))
            cls.http.start()
            cls.bundle = rig.provision(cls.NODE)
            cls.player = rig.start_player(cls.NODE, cls.bundle)
            cls.other = parse_ini(rig.provision("pi-other")["player.conf"])
        except Exception:
            cls.failed = True
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "http", None):
            cls.http.stop()
        super().tearDownClass()

    # -- helpers --

    def manifest(self, entries=True):
        doc = {"format": "minecast-manifest/1", "name": "fleet test",
               "timezone": "UTC", "node": self.NODE,
               "content": [{"id": self.CONTENT, "type": "slogan",
                            "name": self.NAME,
                            "text": "Kỷ luật và Đồng tâm"}],
               "playlists": [{"id": "pl", "items": [
                   {"content": self.CONTENT, "duration_s": 1}]}],
               "entries": [{"id": "e-standing", "playlist": "pl",
                            "channel": "screen", "priority": 10}]
               if entries else [],
               "fallback": {"screen": None, "speaker": None}}
        data = json.dumps(doc, ensure_ascii=False).encode()
        h = sha256(data)
        d = os.path.join(self.http.root, "v1", "manifests")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, h), "wb") as fh:
            fh.write(data)
        return h, len(data)

    def desire(self, version, manifest):
        h, n = manifest
        body = {"v": 1, "node": self.NODE, "version": version,
                "manifest_sha256": h, "manifest_size": n,
                "manifest_url": "%s/v1/manifests/%s" % (self.http.base, h),
                "issued_ms": now_ms() - 1000,
                "expires_ms": now_ms() + 3600 * 1000}
        p = subprocess.run([ctl_bin(), "sign", "--key",
                            self.rig.key + ".key", "--purpose", "pointer",
                            "-"], input=json.dumps(body),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.fx.mq.publish(ROOT + "node/%s/desired" % self.NODE,
                           p.stdout.strip(), retain=True)

    def outbox_count(self):
        path = os.path.join(self.player.dir, "state", "outbox.db")
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True,
                              timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        finally:
            con.close()

    def report(self, fmt="json", **q):
        day = local_today()
        query = {"from": str(day - datetime.timedelta(1)),
                 "to": str(day + datetime.timedelta(1))}
        query.update(q)
        if fmt == "csv":
            query["format"] = "csv"
        st, doc, h = self.rig.api("GET", "/v1/reports/pop", token="editor",
                                  query=query)
        self.assertEqual(st, 200, doc)
        return doc, h

    def totals(self):
        return self.report()[0]["totals"]

    def send_command(self, body, token="technician"):
        return self.rig.ok("POST", "/v1/nodes/%s/commands" % self.NODE,
                           body, token=token, expect=201)

    def wait_result(self, cid, timeout=30):
        def done():
            d = self.rig.ok("GET", "/v1/commands/" + cid,
                            token="technician")
            return d if d["status"] not in ("sent", "pending") else None
        return wait_for(done, timeout, "the result of " + cid)

    # -- tests (named in the order they run; the last kills the player) --

    def test_1_pop_round_trip_into_csv(self):
        fx, rig, p = self.fx, self.rig, self.player
        t0 = now_ms()
        self.desire(1, self.manifest())
        p.wait_start(30, since_ms=t0, content=self.CONTENT)
        # A few plays, then a manifest with nothing scheduled, so the
        # outbox stops growing and must drain.
        wait_for(lambda: len(p.starts(t0, content=self.CONTENT)) >= 4, 30,
                 "four plays of the slogan")
        self.desire(2, self.manifest(entries=False))
        wait_for(lambda: fx.status(self.NODE)["state"] and fx.status(
            self.NODE)["state"]["applied_version"] == 2, 30,
            "the player to apply version 2")
        wait_for(lambda: self.outbox_count() == 0, 40,
                 "the player's outbox to empty (every record acked)")
        plays = len(p.starts(t0, content=self.CONTENT))
        acks = fx.mq.json_messages(ROOT + "node/%s/pop/ack" % self.NODE)
        self.assertTrue(acks, "no pop/ack seen")
        acked = {i for _, a in acks for i in a["ids"]}
        self.assertEqual(len(acked), plays, acks)
        tot = self.totals()
        self.assertEqual(tot["plays"], plays, tot)
        self.assertGreaterEqual(tot["completed"], plays - 1, tot)
        self.assertGreaterEqual(tot["seconds"], plays - 2, tot)
        # The CSV the office sends: header, content name quoted (it
        # holds a comma and quotes), UTF-8, CRLF.
        raw, h = self.report("csv")
        self.assertTrue(h.get("Content-Type").startswith("text/csv"))
        self.assertIn("attachment", h.get("Content-Disposition"))
        text = raw.decode("utf-8")
        self.assertTrue(text.startswith(
            "day,content,content_name,site,site_name,plays,completed,"
            "seconds,summarised\r\n"), text)
        self.assertIn('"Khẩu hiệu ""Kỷ luật, Đồng tâm"""', text)
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        mine = [r for r in rows if r["content"] == self.CONTENT]
        self.assertEqual(sum(int(r["plays"]) for r in mine), plays, rows)
        self.assertEqual(mine[0]["content_name"], self.NAME)
        self.assertEqual(mine[0]["site"], "cua-lo")
        # minecastctl writes the same CSV.
        out = os.path.join(rig.dir, "report.csv")
        day = local_today()
        rc, so, se = rig.ctl(["report", "pop", "--from",
                              str(day - datetime.timedelta(1)), "--to",
                              str(day + datetime.timedelta(1)), "--csv",
                              out], token="editor")
        self.assertEqual(rc, 0, se)
        with open(out, encoding="utf-8", newline="") as fh:
            self.assertEqual(fh.read(), text)
        # By month: the same totals.
        doc, _ = self.report(by="month")
        self.assertEqual(doc["totals"]["plays"], plays)
        self.assertEqual(doc["by"], "month")

    def test_2_resent_batches_are_not_double_counted(self):
        fx = self.fx
        before = self.totals()["plays"]
        recs = [pop_record(self.NODE, 100 + i, content=self.CONTENT)
                for i in range(3)]
        batch = {"v": 1, "node": self.NODE, "batch": "resend-1",
                 "records": recs}
        topic = ROOT + "node/%s/pop/ack" % self.NODE
        for n in (1, 2):
            fx.pub(self.NODE, "pop", json.dumps(batch))
            wait_for(lambda: len([a for _, a in fx.mq.json_messages(topic)
                                  if a["batch"] == "resend-1"]) >= n, 20,
                     "ack %d of the batch" % n)
        acks = [a for _, a in fx.mq.json_messages(topic)
                if a["batch"] == "resend-1"]
        for a in acks:
            self.assertEqual(sorted(a["ids"]), sorted(r["id"] for r in recs))
        self.assertEqual(self.totals()["plays"], before + 3)
        # Two held, one new: all three acknowledged, one more play.
        recs2 = recs[1:] + [pop_record(self.NODE, 200,
                                       content=self.CONTENT, count=5,
                                       completed=False)]
        fx.pub(self.NODE, "pop", json.dumps(
            {"v": 1, "node": self.NODE, "batch": "resend-2",
             "records": recs2}))
        a = wait_for(lambda: [a for _, a in fx.mq.json_messages(topic)
                              if a["batch"] == "resend-2"], 20,
                     "ack of resend-2")[0]
        self.assertEqual(sorted(a["ids"]), sorted(r["id"] for r in recs2))
        tot = self.totals()
        self.assertEqual(tot["plays"], before + 3 + 5)
        self.assertEqual(tot["summarised"], 5)

    def test_3_commands_with_results(self):
        rig = self.rig
        c = self.send_command({"action": "identify"})
        self.assertTrue(c["id"].startswith("cmd-"), c)
        self.assertEqual(c["node"], self.NODE)
        self.assertIn(c["status"], ("sent", "pending"))
        # The node got a signed command envelope on its cmd topic.
        env = wait_for(lambda: [d for t, d in self.fx.mq.json_messages(
            ROOT + "node/%s/cmd" % self.NODE) if c["id"] in d.get(
                "body", "")], 10, "the command envelope")[0]
        self.assertEqual(env["purpose"], "command")
        self.assertEqual(json.loads(env["body"])["action"], "identify")
        r = self.wait_result(c["id"])
        self.assertEqual(r["status"], "ok", r)
        c = self.send_command({"action": "volume", "volume": 70})
        r = self.wait_result(c["id"])
        self.assertEqual(r["status"], "ok", r)
        self.assertIn("70", r["message"])
        self.assertEqual(r["args"], {"volume": 70})
        self.assertIn("volume 70", self.player.log_text() + r["message"])
        # minecastctl waits for the result and prints it.
        rc, out, err = rig.ctl(["command", self.NODE, "volume", "55",
                                "--wait", "30"], token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn(" ok ", out)
        self.assertIn("55", out)
        lst = rig.ok("GET", "/v1/nodes/%s/commands" % self.NODE,
                     token="technician")
        self.assertGreaterEqual(lst["total"], 3)
        self.assertEqual(lst["items"][0]["action"], "volume")
        audit = rig.ok("GET", "/v1/audit", token="admin",
                       query={"kind": "node", "id": self.NODE})
        self.assertIn("command.send", json.dumps(audit))

    def test_4_screenshot_from_the_player(self):
        rig = self.rig
        out = os.path.join(rig.dir, "shot.png")
        rc, so, se = rig.ctl(["command", self.NODE, "screenshot", "--out",
                              out, "--wait", "60"], token="technician",
                             timeout=90)
        plog = self.player.log_text()
        if rc != 0:
            # No renderer for the log output on this machine: the player
            # must then have said why in its result and its log.
            self.assertIn("screenshot", plog)
            self.fail("screenshot failed: %s %s" % (so, se))
        with open(out, "rb") as fh:
            data = fh.read()
        self.assertTrue(data.startswith(PNG_SIG))
        shots = rig.ok("GET", "/v1/nodes/%s/screenshots" % self.NODE,
                       token="technician")
        self.assertEqual(shots["total"], 1, shots)
        s = shots["items"][0]
        self.assertTrue(s["command"].startswith("cmd-"))
        self.assertEqual(s["size"], len(data))
        self.assertGreater(s["width"], 0)
        st, body, h = rig.api("GET", s["url"], token="technician")
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(h.get("Content-Type"), "image/png")
        self.assertIn("uploading", plog)

    def test_5_screenshot_endpoint_refusals(self):
        rig = self.rig
        mine = self.bundle_creds(parse_ini(self.bundle["player.conf"]))
        other = self.bundle_creds(self.other)
        path = "/v1/nodes/%s/screenshots" % self.NODE
        png = tiny_png()

        def up(data, creds, ctype="image/png", query=None, token=None):
            hdr = {"Content-Type": ctype}
            if creds:
                hdr["Authorization"] = "Basic " + base64.b64encode(
                    ("%s:%s" % creds).encode()).decode()
            return rig.api("POST", path, raw=data, headers=hdr,
                           token=token, query=query)

        self.assertError(up(png, other), 403, None, "another node")
        self.assertError(up(png, None, token="technician"), 403, None,
                         "a person")
        self.assertError(up(png, None), 401, None, "no credentials")
        self.assertError(up(png, (self.NODE, "wrong")), 401, None,
                         "a wrong password")
        self.assertError(up(b"GIF89a" + b"\0" * 100, mine), 415, "body",
                         "not a PNG")
        self.assertError(up(png[:20], mine), 415, "body", "truncated")
        self.assertError(up(png, mine, ctype="image/jpeg"), 415,
                         "Content-Type", "wrong type")
        big = png + b"\0" * (8 * 1024 * 1024)
        st, doc, _ = up(big, mine)
        self.assertEqual(st, 413, doc)
        self.assertError(up(png, mine, query={"command": "cmd-nope"}), 404,
                         "command")
        before = rig.ok("GET", path, token="technician")["total"]
        d = rig.ok("POST", path, raw=png, token=None, expect=201,
                   headers={"Content-Type": "image/png",
                            "Authorization": "Basic " + base64.b64encode(
                                ("%s:%s" % mine).encode()).decode()})
        self.assertEqual((d["width"], d["height"]), (2, 1))
        self.assertEqual(rig.ok("GET", path, token="technician")["total"],
                         before + 1)
        st, body, _ = rig.api("GET", d["url"], token="editor")
        self.assertEqual(st, 403)
        st, body, _ = rig.api("GET", d["url"], token="technician")
        self.assertEqual(body, png)

    def test_6_command_refusals(self):
        rig = self.rig
        path = "/v1/nodes/%s/commands" % self.NODE
        for body, field in (({}, "action"),
                            ({"action": "dance"}, "action"),
                            ({"action": 3}, "action"),
                            ({"action": "volume"}, "volume"),
                            ({"action": "volume", "volume": 101}, "volume"),
                            ({"action": "volume", "volume": "5"}, "volume"),
                            ({"action": "restart", "volume": 5}, "volume"),
                            ({"action": "screen_power"}, "power_on"),
                            ({"action": "screen_power", "power_on": 1},
                             "power_on"),
                            ({"action": "identify", "ttl_s": 0}, "ttl_s"),
                            ({"action": "identify", "ttl_s": 99999},
                             "ttl_s"),
                            ({"action": "identify", "colour": "red"},
                             "colour")):
            self.assertError(rig.api("POST", path, body,
                                     token="technician"), 400, field,
                             repr(body))
        self.assertError(rig.api("POST", path, raw="[1,2", token="admin"),
                         400, "body")
        self.assertError(rig.api("POST", path, {"action": "identify"},
                                 token="editor"), 403)
        self.assertError(rig.api("POST", path, {"action": "identify"}), 401)
        self.assertError(rig.api("POST", "/v1/nodes/nobody/commands",
                                 {"action": "identify"},
                                 token="technician"), 404, "id")
        self.assertError(rig.api("GET", "/v1/commands/cmd-nope",
                                 token="technician"), 404, "id")
        rc, out, err = rig.ctl(["command", self.NODE, "volume", "300"],
                               token="technician")
        self.assertEqual(rc, 2, out)

    def test_7_expired_without_result(self):
        """A command to a node that never answers (pi-other has no player)
        expires; a late result still counts."""
        rig = self.rig
        c = rig.ok("POST", "/v1/nodes/pi-other/commands",
                   {"action": "reboot", "ttl_s": 1}, token="technician",
                   expect=201)
        r = wait_for(lambda: rig.ok("GET", "/v1/commands/" + c["id"],
                                    token="technician")["status"] ==
                     "expired" or None, 20, "the command to expire")
        self.assertTrue(r)
        # A result for it from another node changes nothing.
        self.fx.pub(self.NODE, "cmd/result", json.dumps(
            {"v": 1, "id": c["id"], "node": self.NODE, "ok": True,
             "at_ms": now_ms()}))
        self.fx.mark("pi-other")
        self.fx.wait_log("which is not one of its open commands")
        self.assertEqual(rig.ok("GET", "/v1/commands/" + c["id"],
                                token="technician")["status"], "expired")

    def test_8_offline_through_the_will(self):
        """SIGKILL the player: the broker publishes its will, the node is
        offline since then, and the tick logs it once."""
        fx, p = self.fx, self.player
        s = fx.status(self.NODE)
        self.assertEqual(s["status"], "online", s)
        t0 = now_ms()
        p.kill()
        s = wait_for(lambda: (lambda d: d if d["status"] == "offline"
                              else None)(fx.status(self.NODE)), 30,
                     "the node to go offline by its will")
        self.assertGreaterEqual(s["since_ms"], t0 - 1000)
        fx.wait_log("node %s (site cua-lo) went offline" % self.NODE)

    def test_9_deleted_node_takes_its_screenshots(self):
        """A node's screenshot files go with the node (its rows go by
        cascade)."""
        rig = self.rig
        rig.add_node("pi-gone", "cua-lo")
        creds = self.bundle_creds(parse_ini(
            rig.provision("pi-gone")["player.conf"]))
        rig.ok("POST", "/v1/nodes/pi-gone/screenshots", raw=tiny_png(),
               token=None, expect=201,
               headers={"Content-Type": "image/png",
                        "Authorization": "Basic " + base64.b64encode(
                            ("%s:%s" % creds).encode()).decode()})
        d = os.path.join(rig.data_dir, "screenshots", "pi-gone")
        self.assertEqual(len([f for f in os.listdir(d)
                              if f.endswith(".png")]), 1)
        rig.ok("DELETE", "/v1/nodes/pi-gone", token="technician")
        self.assertFalse(os.path.exists(d), os.listdir(rig.data_dir))
        self.assertIn("screenshots of node pi-gone removed", rig.log_text())
        # The other nodes' screenshots stay.
        self.assertTrue(os.listdir(os.path.join(rig.data_dir, "screenshots",
                                                self.NODE)))

    @staticmethod
    def bundle_creds(conf):
        mq = conf["mqtt"]
        return (mq["username"][0], mq["password"][0])
