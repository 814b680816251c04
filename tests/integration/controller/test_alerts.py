"""Urgent alerts through the controller (controller/daemon/alerts.c):
POST /v1/alerts signs one retained alert for the whole fleet; real
players (log output) show it only where its targets select them and
acknowledge it; GET /v1/alerts/{id} shows who did; a clear stops it.
Also the refusals: roles, the missing confirmation, malformed bodies."""

import json
import time

from controller.ctlharness import ROOT, CtlTest, now_ms, wait_for


def alert_doc(**kw):
    d = {"level": "warning", "text": "Cảnh báo thử nghiệm", "confirm": True}
    d.update(kw)
    return d


class AlertSubset(CtlTest):
    """Three nodes on two sites, one with a tag; alerts to a site and to
    a tag reach exactly the nodes they name."""

    def setUp(self):
        super().setUp()
        r = self.rig
        r.add_site("s1")
        r.add_site("s2")
        r.add_node("n1", "s1")
        r.add_node("n2", "s1", tags=["loa-ngoai"])
        r.add_node("n3", "s2")
        self.watch = r.mqtt_client(subscribe=[ROOT + "node/+/alert/ack",
                                              ROOT + "alert/#"])
        self.players = {n: r.start_player(n) for n in ("n1", "n2", "n3")}
        # Every player is connected (its birth is retained on state).
        for n in self.players:
            wait_for(lambda n=n: self.online(n), 30,
                     "%s to come online" % n)

    def online(self, node):
        doc = self.rig.ok("GET", "/v1/rollout", token="technician")
        return any(i["node"] == node and i["online"] for i in doc["items"])

    def acks(self, alert_id, since=0):
        out = []
        for topic, doc in self.watch.json_messages(ROOT + "node/", since):
            if topic.endswith("/alert/ack") and doc.get("alert") == alert_id:
                out.append(doc)
        return out

    def acked(self, alert_id, status):
        return sorted({a["node"] for a in self.acks(alert_id)
                       if a.get("status") == status})

    def test_site_subset_and_clear(self):
        r = self.rig
        t0 = now_ms()
        doc = r.ok("POST", "/v1/alerts",
                   alert_doc(id="so-tan-s1", level="evacuate",
                             text="Sơ tán khẩn cấp khỏi lò số 3!",
                             tone="siren", repeat=2,
                             targets={"sites": ["s1"]}),
                   token="technician", expect=201)
        self.assertEqual(doc["id"], "so-tan-s1")
        self.assertEqual(doc["status"], "active")
        self.assertEqual(doc["counts"]["targeted"], 2)
        self.assertEqual([n["node"] for n in doc["nodes"]], ["n1", "n2"])
        self.assertTrue(doc["published"])
        self.assertGreaterEqual(doc["start_at_ms"], doc["issued_ms"])
        self.assertGreater(doc["expires_ms"], doc["issued_ms"])

        # One retained message, signed, on alert/<id>, carrying the
        # wire targets.
        msg = self.watch.wait_message(
            lambda t, p: t == ROOT + "alert/so-tan-s1" and p, 10,
            "the retained alert")
        env = json.loads(msg[2])
        self.assertEqual(env["purpose"], "alert")
        body = json.loads(env["body"])
        self.assertEqual(body["seq"], 1)
        self.assertEqual(body["targets"]["sites"], ["s1"])
        self.assertEqual(body["repeat"], 2)
        self.assertEqual(body["tone"], "siren")

        # Exactly n1 and n2 start it; n3 shows nothing and says nothing.
        for n in ("n1", "n2"):
            p = self.players[n]
            shown = wait_for(lambda p=p: p.outputs("alert"), 15,
                             "the alert on %s's log output" % n)[0]
            self.assertEqual(shown["alert"], "so-tan-s1")
            self.assertEqual(shown["text"], "Sơ tán khẩn cấp khỏi lò số 3!")
        wait_for(lambda: self.acked("so-tan-s1", "started") == ["n1", "n2"],
                 15, "started acks of n1 and n2")

        def recorded():
            d = r.ok("GET", "/v1/alerts/so-tan-s1", token="editor")
            return d if d["counts"]["started"] == 2 else None
        d = wait_for(recorded, 10, "the controller to record both starts")
        self.assertEqual(d["counts"]["delivered"], 2)
        self.assertEqual(d["counts"]["rejected"], 0)
        for n in d["nodes"]:
            self.assertEqual(n["state"], "started")
            self.assertGreaterEqual(n["delivered_ms"], t0)
            self.assertIsInstance(n["start_ms"], int)
        self.assertEqual(d["latency_ms"]["delivered"]["n"], 2)
        self.assertEqual(d["latency_ms"]["started"]["n"], 2)
        # Give n3 time to have acted, had it wrongly done so.
        time.sleep(1.5)
        self.assertEqual(self.players["n3"].outputs("alert"), [])
        self.assertEqual([a for a in self.acks("so-tan-s1")
                          if a["node"] == "n3"], [])

        # The list shows it.
        lst = r.ok("GET", "/v1/alerts", token="editor")
        self.assertEqual(lst["total"], 1)
        self.assertEqual(lst["items"][0]["id"], "so-tan-s1")
        self.assertEqual(lst["items"][0]["started"], 2)

        # Clear: seq 2, the alert ends on n1 and n2.
        t1 = now_ms()
        c = r.ok("POST", "/v1/alerts/so-tan-s1/clear", token="approver")
        self.assertEqual(c["status"], "cleared")
        self.assertEqual(c["seq"], 2)
        for n in ("n1", "n2"):
            p = self.players[n]
            wait_for(lambda p=p: p.outputs("alert_end", t1), 15,
                     "the alert's end on %s" % n)
        d = wait_for(lambda: (lambda d: d if d["counts"]["clear_delivered"]
                              == 2 else None)(
            r.ok("GET", "/v1/alerts/so-tan-s1", token="editor")), 10,
            "the clear delivered to both")
        self.assertEqual(d["counts"]["targeted"], 2)
        self.assertEqual(self.players["n3"].outputs("alert"), [])
        # Cleared twice: refused; the audit has both actions.
        self.assertError(r.api("POST", "/v1/alerts/so-tan-s1/clear",
                               token="approver"), 409)
        audit = r.ok("GET", "/v1/audit", token="admin",
                     query={"kind": "alert", "id": "so-tan-s1"})
        actions = sorted(a["action"] for a in audit["items"])
        self.assertEqual(actions, ["alert.clear", "alert.send"])

        # minecastctl shows it.
        rc, out, err = r.ctl(["alert", "show", "so-tan-s1"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("so-tan-s1", out)
        self.assertIn("n2", out)
        rc, out, err = r.ctl(["alert", "list"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("so-tan-s1", out)

    def test_tag_subset_with_ctl(self):
        r = self.rig
        rc, out, err = r.ctl(["alert", "send", "--text", "Loa ngoài trời",
                              "--level", "info", "--tag", "loa-ngoai",
                              "--id", "loa-1", "--yes"], token="approver")
        self.assertEqual(rc, 0, err)
        self.assertIn("loa-1", out)
        wait_for(lambda: self.acked("loa-1", "started") == ["n2"], 15,
                 "n2's started ack")
        time.sleep(1.5)
        self.assertEqual(self.acked("loa-1", "delivered"), ["n2"])
        for n in ("n1", "n3"):
            self.assertEqual(self.players[n].outputs("alert"), [], n)
        d = r.ok("GET", "/v1/alerts/loa-1", token="editor")
        self.assertEqual([n["node"] for n in d["nodes"]], ["n2"])
        # An ack from a node the alert was not for is not recorded.
        self.watch.publish(ROOT + "node/n3/alert/ack",
                           {"v": 1, "node": "n3", "alert": "loa-1",
                            "seq": 1, "status": "started",
                            "start_ms": now_ms(), "at_ms": now_ms()})
        # ... nor one that claims another node on n3's topic.
        self.watch.publish(ROOT + "node/n3/alert/ack",
                           {"v": 1, "node": "n1", "alert": "loa-1",
                            "seq": 1, "status": "started",
                            "start_ms": now_ms(), "at_ms": now_ms()})
        time.sleep(1)
        d = r.ok("GET", "/v1/alerts/loa-1", token="editor")
        self.assertEqual([n["node"] for n in d["nodes"]], ["n2"])
        self.assertEqual(d["counts"]["targeted"], 1)
        # Without --yes and without a terminal: refused, nothing sent.
        rc, out, err = r.ctl(["alert", "send", "--text", "x", "--level",
                              "info", "--id", "loa-2"], token="approver")
        self.assertEqual(rc, 2, out)
        self.assertIn("--yes", err)
        self.assertError(r.api("GET", "/v1/alerts/loa-2", token="editor"),
                         404)
        rc, out, err = r.ctl(["alert", "clear", "loa-1"], token="technician")
        self.assertEqual(rc, 0, err)
        wait_for(lambda: self.players["n2"].outputs("alert_end"), 15,
                 "the alert's end on n2")


class AlertRefusals(CtlTest):
    """Roles, confirmation and malformed bodies; nothing is stored or
    sent for any of them."""

    per_class = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.shared_rig
        r.add_site("s1")
        r.add_node("n1", "s1")

    def test_roles(self):
        r = self.rig
        self.assertError(r.api("POST", "/v1/alerts", alert_doc()), 401)
        self.assertError(r.api("POST", "/v1/alerts", alert_doc(),
                               token="editor"), 403)
        self.assertError(r.api("POST", "/v1/alerts", alert_doc(),
                               token="not-a-token"), 401)
        self.assertError(r.api("GET", "/v1/alerts"), 401)
        self.assertError(r.api("POST", "/v1/alerts/x/clear",
                               token="editor"), 403)

    def test_confirm(self):
        r = self.rig
        d = alert_doc()
        del d["confirm"]
        self.assertError(r.api("POST", "/v1/alerts", d, token="admin"),
                         400, "confirm")
        for v in (False, "true", 1, None):
            self.assertError(r.api("POST", "/v1/alerts",
                                   alert_doc(confirm=v), token="admin"),
                             400, "confirm", repr(v))
        rc, out, err = r.ctl(["alert", "send", "--text", "x", "--level",
                              "info"], token="admin")
        self.assertEqual(rc, 2)

    def test_malformed(self):
        r = self.rig
        before = r.ok("GET", "/v1/alerts", token="admin")["total"]
        cases = [
            (alert_doc(level="panic"), 400, "level"),
            (alert_doc(level=None), 400, "level"),
            (alert_doc(level=3), 400, "level"),
            (alert_doc(text=None), 400, "text"),
            (alert_doc(text=""), 400, "text"),
            (alert_doc(text="   \n"), 400, "text"),
            (alert_doc(text=42), 400, "text"),
            (alert_doc(text="ạ" * 1334), 400, "text"),  # 4002 bytes
            (alert_doc(text="a\u0007b"), 400, "text"),
            (alert_doc(repeat=0), 400, "repeat"),
            (alert_doc(repeat=11), 400, "repeat"),
            (alert_doc(repeat="2"), 400, "repeat"),
            (alert_doc(repeat=1.5), 400, "repeat"),
            (alert_doc(ttl_s=0), 400, "ttl_s"),
            (alert_doc(ttl_s=10 ** 9), 400, "ttl_s"),
            (alert_doc(tone="a/b"), 400, "tone"),
            (alert_doc(id="bad id"), 400, "id"),
            (alert_doc(id="x" * 65), 400, "id"),
            (alert_doc(id=7), 400, "id"),
            (alert_doc(extra=1), 400, "extra"),
            (alert_doc(targets={"sites": ["no-such-site"]}), 400, None),
            (alert_doc(targets={"sites": "s1"}), 400, None),
            (alert_doc(targets={"planets": ["x"]}), 400, None),
            (alert_doc(targets=[]), 400, None),
        ]
        for body, status, field in cases:
            got = r.api("POST", "/v1/alerts", body, token="admin")
            self.assertError(got, status, field, "body %r" % (body,))
        for raw in (b"", b"{", b"[]", b"\"x\"", b"{\"level\":\"info\",}",
                    b"\xff\xfe", b"{\"text\":\"a\",\"text\":\"b\"}"):
            self.assertError(r.api("POST", "/v1/alerts", raw=raw,
                                   token="admin"), 400, None, repr(raw))
        # Too large a body is refused before it is read.
        self.assertError(r.api("POST", "/v1/alerts",
                               raw=b"{\"text\":\"" + b"a" * 70000 + b"\"}",
                               token="admin"), 413)
        # Targets that make the signed alert too large.
        many = {"tags": ["t%04d-%s" % (i, "x" * 50) for i in range(200)]}
        self.assertError(r.api("POST", "/v1/alerts",
                               alert_doc(targets=many), token="admin"), 413)
        self.assertEqual(r.ok("GET", "/v1/alerts", token="admin")["total"],
                         before)
        self.assertError(r.api("GET", "/v1/alerts", token="admin",
                               query={"status": "bogus"}), 400, "status")
        self.assertError(r.api("GET", "/v1/alerts", token="admin",
                               query={"limit": "-1"}), 400, "limit")
        self.assertError(r.api("GET", "/v1/alerts/nope", token="admin"), 404)
        self.assertError(r.api("POST", "/v1/alerts/nope/clear",
                               token="admin"), 404)
        self.assertError(r.api("POST", "/v1/alerts/nope/clear",
                               raw=b"{\"x\":1}", token="admin"), 400)

    def test_duplicate_id_and_expiry(self):
        r = self.rig
        w = r.mqtt_client(subscribe=ROOT + "alert/#")
        r.ok("POST", "/v1/alerts", alert_doc(id="dup", ttl_s=2),
             token="admin", expect=201)
        self.assertError(r.api("POST", "/v1/alerts", alert_doc(id="dup"),
                               token="admin"), 409, "id")
        # After its expiry the tick deletes the retained message (an
        # empty payload) and marks it expired.
        w.wait_message(lambda t, p: t == ROOT + "alert/dup" and p == b"",
                       15, "the retained alert deleted")
        d = wait_for(lambda: (lambda d: d if d["status"] == "expired"
                              else None)(
            r.ok("GET", "/v1/alerts/dup", token="admin")), 10,
            "the alert marked expired")
        self.assertTrue(d["retained_deleted"])
        self.assertError(r.api("POST", "/v1/alerts/dup/clear",
                               token="admin"), 409)
        # A new subscriber gets no retained alert.
        w2 = r.mqtt_client(subscribe=ROOT + "alert/#")
        time.sleep(1)
        self.assertEqual([m for m in w2.messages(ROOT + "alert/dup")
                          if m[2]], [])
