"""Publishing through the controller (controller/daemon/publish.c) to
real players (log output): provision → publish → every node applied;
a republish with nothing changed publishes nothing; an edit, re-review
and republish changes only the nodes whose manifest changed; nodes that
play alike share one manifest; the refusals."""

import hashlib
import json
import os
import time

from controller.ctlharness import (ROOT, CtlTest, http_request, now_ms,
                                   wait_for)


def slogan(cid, text):
    return {"id": cid, "type": "slogan", "name": cid, "text": text,
            "style": {"fg": "#FFD700", "bg": "#B71C1C"}}


class Schedule:
    """Authoring as staff do it: an editor writes and submits, an
    approver approves (nobody approves their own work)."""

    def __init__(self, rig):
        self.rig = rig

    def approve(self, kind, oid):
        self.rig.ok("POST", "/v1/%s/%s/approve" % (kind, oid),
                    token="approver")

    def content(self, doc, edit=False):
        body = dict(doc, submit=True)
        if edit:
            self.rig.ok("PUT", "/v1/content/%s" % doc["id"], body,
                        token="editor")
        else:
            self.rig.ok("POST", "/v1/content", body, token="editor",
                        expect=201)
        self.approve("content", doc["id"])

    def playlist(self, pid, items, edit=False):
        body = {"id": pid, "name": pid, "items": items, "submit": True}
        if edit:
            self.rig.ok("PUT", "/v1/playlists/%s" % pid, body,
                        token="editor")
        else:
            self.rig.ok("POST", "/v1/playlists", body, token="editor",
                        expect=201)
        self.approve("playlists", pid)

    def entry(self, doc, edit=False, approve=True):
        body = dict(doc, submit=True)
        if edit:
            self.rig.ok("PUT", "/v1/entries/%s" % doc["id"], body,
                        token="editor")
        else:
            self.rig.ok("POST", "/v1/entries", body, token="editor",
                        expect=201)
        if approve:
            self.approve("entries", doc["id"])


class PublishRollout(CtlTest):
    """Three provisioned players on two sites."""

    def setUp(self):
        super().setUp()
        r = self.rig
        r.add_site("s1")
        r.add_site("s2")
        for n, s in (("n1", "s1"), ("n2", "s1"), ("n3", "s2")):
            r.add_node(n, s)
        self.sched = Schedule(r)
        self.sched.content(slogan("slogan-all", "Kỷ luật và Đồng tâm"))
        self.sched.content(slogan("slogan-s1", "An toàn là trên hết"))
        self.sched.playlist("pl-all", [{"content": "slogan-all",
                                        "duration_s": 2}])
        self.sched.playlist("pl-s1", [{"content": "slogan-s1",
                                       "duration_s": 2}])
        self.sched.entry({"id": "e-all", "name": "Toàn công ty",
                          "playlist": "pl-all", "channel": "screen",
                          "priority": 10})
        self.sched.entry({"id": "e-s1", "name": "Công trường 1",
                          "playlist": "pl-s1", "channel": "screen",
                          "priority": 20, "targets": {"sites": ["s1"]}})
        self.watch = r.mqtt_client(subscribe=ROOT + "node/+/desired")
        self.players = {n: r.start_player(n) for n in ("n1", "n2", "n3")}

    def rollout(self):
        return self.rig.ok("GET", "/v1/rollout", token="technician")

    def by_node(self):
        return {i["node"]: i for i in self.rollout()["items"]}

    def wait_applied(self, versions, timeout=40):
        """Every node in versions reports that version applied."""
        def ok():
            for n in versions:
                self.players[n].assert_alive()
            items = self.by_node()
            for n, v in versions.items():
                i = items[n]
                if i["desired_version"] != v or i["applied_version"] != v \
                        or i["state"] != "applied":
                    return None
            return items
        return wait_for(ok, timeout, "versions %r applied" % versions)

    def desired(self, node):
        return self.rig.ok("GET", "/v1/nodes/%s/desired" % node,
                           token="technician")

    def pointers_since(self, t):
        return sorted({topic.split("/")[3] for _, topic, p, _ in
                       self.watch.messages(ROOT + "node/", t) if p})

    def test_publish_apply_republish(self):
        r = self.rig
        # Before any publish every node is unpublished.
        roll = self.rollout()
        self.assertEqual(roll["totals"]["unpublished"], 3)
        self.assertError(r.api("GET", "/v1/nodes/n1/desired",
                               token="technician"), 404)

        # minecastctl publish follows the rollout to the end.
        rc, out, err = r.ctl(["publish", "--wait", "60"], token="approver",
                             timeout=90)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("3 new pointers", out)
        self.assertIn("every online node applied", out)
        items = self.wait_applied({"n1": 1, "n2": 1, "n3": 1})
        totals = self.rollout()["totals"]
        self.assertEqual(totals["applied"], 3)
        self.assertEqual(totals["pending"], 0)
        self.assertEqual(totals["progress_percent"], 100)

        # n1 and n2 play alike: one manifest; n3 has its own.
        d1, d2, d3 = (self.desired(n) for n in ("n1", "n2", "n3"))
        self.assertEqual(d1["manifest_sha256"], d2["manifest_sha256"])
        self.assertNotEqual(d1["manifest_sha256"], d3["manifest_sha256"])
        self.assertEqual(d1["pointer"]["node"], "n1")
        self.assertEqual(d1["pointer"]["version"], 1)
        self.assertTrue(d1["published"])
        self.assertEqual(items["n1"]["manifest_sha256"],
                         d1["manifest_sha256"])
        env = json.loads(d1["envelope"])
        self.assertEqual(env["purpose"], "pointer")
        pubs = r.ok("GET", "/v1/publishes", token="editor")
        self.assertEqual(pubs["total"], 1)
        self.assertEqual(pubs["items"][0]["manifests"], 2)
        self.assertEqual(pubs["items"][0]["changed"], 3)
        self.assertEqual(pubs["items"][0]["user"], "approver")
        # The manifest is served by its hash, without a node in it.
        st, _, raw = http_request(r.port, "GET", "/v1/manifests/"
                                  + d1["manifest_sha256"])
        self.assertEqual(st, 200)
        self.assertEqual(hashlib.sha256(raw).hexdigest(),
                         d1["manifest_sha256"])
        self.assertEqual(len(raw), d1["pointer"]["manifest_size"])
        man = json.loads(raw)
        self.assertNotIn("node", man)
        self.assertEqual(sorted(e["id"] for e in man["entries"]),
                         ["e-all", "e-s1"])

        # What the players show: site 1 its own slogan, site 2 the
        # company's.
        for n in ("n1", "n2"):
            self.players[n].wait_start(20, content="slogan-s1",
                                       channel="screen")
        self.players["n3"].wait_start(20, content="slogan-all",
                                      channel="screen")
        self.assertEqual(self.players["n3"].starts(content="slogan-s1"), [])

        # Republish with nothing changed: nothing is signed or sent.
        t = time.time()
        rep = r.ok("POST", "/v1/publish", {}, token="approver")
        self.assertEqual(rep["changed"], 0)
        self.assertEqual(rep["manifests_new"], 0)
        self.assertEqual(rep["nodes"], 3)
        self.assertIn("duration_ms", rep)
        time.sleep(1)
        self.assertEqual(self.pointers_since(t), [])
        self.assertEqual(self.desired("n1")["version"], 1)

        # An edit waiting for review changes nothing on the fleet.
        r.ok("PUT", "/v1/content/slogan-s1",
             dict(slogan("slogan-s1", "An toàn là trên hết — ca 2"),
                  submit=True), token="editor")
        rep = r.ok("POST", "/v1/publish", token="approver")
        self.assertEqual(rep["changed"], 0)

        # Approved: only site 1's nodes get a new version.
        t = time.time()
        t_ms = now_ms()
        self.sched.approve("content", "slogan-s1")
        rep = r.ok("POST", "/v1/publish", {"force": False},
                   token="approver")
        self.assertEqual(rep["changed"], 2)
        self.assertEqual(rep["manifests_new"], 1)
        self.wait_applied({"n1": 2, "n2": 2, "n3": 1})
        time.sleep(0.5)
        self.assertEqual(self.pointers_since(t), ["n1", "n2"])
        self.assertEqual(self.desired("n3")["version"], 1)
        for n in ("n1", "n2"):
            st = self.players[n].wait_start(
                20, since_ms=t_ms, content="slogan-s1", channel="screen")
            self.assertEqual(st["text"], "An toàn là trên hết — ca 2")

        # An entry's targets edited and re-approved: n3 (site 2) gets
        # site 1's entry too; n1 and n2 keep their manifest (targets are
        # resolved by the controller, not part of it).
        self.sched.entry({"id": "e-s1", "name": "Công trường 1",
                          "playlist": "pl-s1", "channel": "screen",
                          "priority": 20,
                          "targets": {"sites": ["s1", "s2"]}}, edit=True)
        rep = r.ok("POST", "/v1/publish", token="approver")
        self.assertEqual(rep["changed"], 1)
        self.wait_applied({"n1": 2, "n2": 2, "n3": 2})
        d1, d3 = self.desired("n1"), self.desired("n3")
        self.assertEqual(d1["manifest_sha256"], d3["manifest_sha256"])
        self.players["n3"].wait_start(20, since_ms=t_ms,
                                      content="slogan-s1", channel="screen")

        # force: every node a new version, the same manifests.
        rep = r.ok("POST", "/v1/publish", {"force": True}, token="admin")
        self.assertEqual(rep["changed"], 3)
        self.assertEqual(rep["manifests_new"], 0)
        self.wait_applied({"n1": 3, "n2": 3, "n3": 3})

        # The rollout through minecastctl, and the audit trail.
        rc, out, err = r.ctl(["rollout"], token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("3 applied", out)
        audit = r.ok("GET", "/v1/audit", token="admin",
                     query={"kind": "publish"})
        self.assertGreaterEqual(len([a for a in audit["items"]
                                     if a["action"] == "publish"]), 6)

    def test_offline_node_and_unapproved_entry(self):
        r = self.rig
        self.wait_online()
        self.players["n3"].stop()
        wait_for(lambda: not self.by_node()["n3"]["online"], 20,
                 "n3 offline")
        # An entry whose playlist is only a draft cannot be approved, so
        # it never reaches the fleet.
        r.ok("POST", "/v1/playlists", {"id": "pl-draft", "items": [
            {"content": "slogan-all"}]}, token="editor", expect=201)
        self.sched.entry({"id": "e-draft", "playlist": "pl-draft",
                          "channel": "screen"}, approve=False)
        self.assertError(r.api("POST", "/v1/entries/e-draft/approve",
                               token="approver"), 409)
        rep = r.ok("POST", "/v1/publish", token="approver")
        self.assertEqual(rep["skipped"], [])
        self.assertEqual(rep["changed"], 3)
        self.wait_applied({"n1": 1, "n2": 1})
        st, _, raw = http_request(r.port, "GET", "/v1/manifests/"
                                  + self.desired("n1")["manifest_sha256"])
        self.assertEqual(st, 200)
        self.assertEqual(sorted(e["id"] for e in json.loads(raw)["entries"]),
                         ["e-all", "e-s1"])
        items = self.by_node()
        self.assertEqual(items["n3"]["state"], "offline")
        self.assertEqual(self.rollout()["totals"]["pending"], 0)
        # ctl publish returns once the online nodes applied.
        rc, out, err = r.ctl(["publish", "--wait", "30"], token="approver",
                             timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 offline", out)
        # n3 comes back and catches up from its retained pointer.
        self.players["n3"].start()
        self.wait_applied({"n3": 1})

    def wait_online(self):
        wait_for(lambda: all(i["online"] for i in self.rollout()["items"]),
                 30, "every node online")


class PublishRefusals(CtlTest):
    per_class = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared_rig.add_site("s1")
        cls.shared_rig.add_node("n1", "s1")

    def test_roles(self):
        r = self.rig
        self.assertError(r.api("POST", "/v1/publish", {}), 401)
        for who in ("editor", "technician"):
            self.assertError(r.api("POST", "/v1/publish", {}, token=who),
                             403, None, who)
        self.assertError(r.api("GET", "/v1/rollout"), 401)
        self.assertError(r.api("GET", "/v1/publishes"), 401)
        rc, out, err = r.ctl(["publish", "--wait", "0"], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: publish:", err)

    def test_malformed(self):
        r = self.rig
        for body, field in (({"force": "yes"}, "force"),
                            ({"force": 1}, "force"),
                            ({"forse": True}, "forse")):
            self.assertError(r.api("POST", "/v1/publish", body,
                                   token="approver"), 400, field)
        for raw in (b"{", b"[]", b"\"x\"", b"{\"force\":true,}",
                    b"\xff", b"{\"force\":true,\"force\":false}"):
            self.assertError(r.api("POST", "/v1/publish", raw=raw,
                                   token="approver"), 400, None, repr(raw))
        self.assertError(r.api("POST", "/v1/publish",
                               raw=b"{\"force\":" + b" " * 5000 + b"true}",
                               token="approver"), 413)
        for q, field in (({"state": "bogus"}, "state"),
                         ({"limit": "-1"}, "limit"),
                         ({"limit": "x"}, "limit"),
                         ({"site": "a/b"}, "site")):
            self.assertError(r.api("GET", "/v1/rollout", token="editor",
                                   query=q), 400, field, repr(q))
        self.assertError(r.api("GET", "/v1/publishes", token="editor",
                               query={"limit": "100000"}), 400, "limit")
        self.assertError(r.api("GET", "/v1/nodes/nope/desired",
                               token="editor"), 404)
        # Nothing of this published anything.
        self.assertEqual(r.ok("GET", "/v1/publishes",
                              token="editor")["total"], 0)
        rc, out, err = r.ctl(["publish", "--wait", "x"], token="approver")
        self.assertEqual(rc, 2)
        rc, out, err = r.ctl(["rollout", "--state", "bogus"],
                             token="approver")
        self.assertEqual(rc, 1)
        self.assertIn("state", err)


class BrokerAway(CtlTest):
    """Pointers and alerts made while the broker is away are kept and
    sent by the tick once it is back."""

    def test_pending_then_sent(self):
        r = self.rig
        r.add_site("s1")
        for n in ("n1", "n2"):
            r.add_node(n, "s1")
        Schedule(r).content(slogan("slogan-all", "Kỷ luật và Đồng tâm"))
        r.broker.stop()
        wait_for(lambda: r.ok("GET", "/healthz", token=None)["mqtt"]
                 is False, 15, "the controller to notice the broker gone")
        rep = r.ok("POST", "/v1/publish", token="approver")
        self.assertEqual(rep["changed"], 2)
        self.assertEqual(rep["published"], 0)
        self.assertEqual(rep["pending"], 2)
        items = r.ok("GET", "/v1/rollout", token="editor")["items"]
        self.assertEqual([i["published"] for i in items], [False, False])
        self.assertFalse(r.ok("GET", "/v1/nodes/n1/desired",
                              token="editor")["published"])
        al = r.ok("POST", "/v1/alerts", {"id": "al-away", "level": "info",
                                         "text": "Thử", "confirm": True},
                  token="technician", expect=201)
        self.assertFalse(al["published"])

        r.broker.start()
        w = r.mqtt_client(subscribe=[ROOT + "node/+/desired",
                                     ROOT + "alert/#"])

        def sent():
            got = {t for _, t, p, _ in w.messages(ROOT) if p}
            return got >= {ROOT + "node/n1/desired", ROOT + "node/n2/desired",
                           ROOT + "alert/al-away"} and got
        wait_for(sent, 30, "the pending pointers and alert at the broker")
        wait_for(lambda: r.ok("GET", "/v1/nodes/n2/desired",
                              token="editor")["published"], 10,
                 "n2's pointer marked published")
        wait_for(lambda: r.ok("GET", "/v1/alerts/al-away",
                              token="editor")["published"], 10,
                 "the alert marked published")
        # The pointers are the ones stored at the publish, unchanged.
        for n in ("n1", "n2"):
            d = r.ok("GET", "/v1/nodes/%s/desired" % n, token="editor")
            got = [p for _, t, p, _ in w.messages(ROOT + "node/%s/desired"
                                                  % n) if p]
            self.assertEqual(got[-1].decode(), d["envelope"])
            self.assertEqual(d["version"], 1)


class OverTls(CtlTest):
    """The broker's TLS listener, with a private CA: the controller
    connects with [mqtt] cafile; a node's bundle names mqtts:// and
    carries that CA; the player, as provisioned, connects and applies
    what is published.  (The harness's own client uses the plain
    listener.)"""

    rig_options = {"mqtt_auth": True, "tls": True}

    def test_provision_publish_apply(self):
        r = self.rig
        self.assertTrue(r.ok("GET", "/healthz", token=None)["mqtt"])
        r.add_site("s1")
        r.add_node("t1", "s1")
        files = r.provision("t1")
        self.assertEqual(sorted(files),
                         ["ca.pem", "player.conf", "trusted.pub"])
        with open(r.tls["ca"]) as fh:
            self.assertEqual(files["ca.pem"], fh.read())
        conf = files["player.conf"]
        self.assertIn("\nbroker = mqtts://127.0.0.1:%d\n"
                      % r.broker.tls_port, conf)
        self.assertIn("\nca_file = ca.pem\n", conf)

        sched = Schedule(r)
        sched.content(slogan("slogan-tls", "An toàn là trên hết"))
        sched.playlist("pl-tls", [{"content": "slogan-tls",
                                   "duration_s": 2}])
        sched.entry({"id": "e-tls", "name": "TLS", "playlist": "pl-tls",
                     "channel": "screen", "priority": 10})
        p = r.start_player("t1", bundle=files)
        since = now_ms()
        rep = r.ok("POST", "/v1/publish", token="approver")
        self.assertEqual(rep["published"], 1)

        def applied():
            p.assert_alive()
            items = r.ok("GET", "/v1/rollout", token="technician")["items"]
            return (items and items[0]["state"] == "applied"
                    and items[0]["applied_version"] ==
                    items[0]["desired_version"])
        wait_for(applied, 40, "t1 applied over TLS")
        p.wait_start(20, since, content="slogan-tls", channel="screen")
        self.assertIn("(TLS)", p.log_text())
        # Not the plain listener: the player's connection is TLS.
        self.assertNotIn("127.0.0.1:%d " % r.broker.port, p.log_text())

        # A CA file the controller cannot read: provisioning says so
        # and changes nothing.
        os.rename(r.tls["ca"], r.tls["ca"] + ".away")
        try:
            st, doc = r.api("POST", "/v1/nodes/t1/provision",
                            token="technician")[:2]
        finally:
            os.rename(r.tls["ca"] + ".away", r.tls["ca"])
        self.assertEqual(st, 500, doc)
        self.assertIn("cafile", json.dumps(doc, ensure_ascii=False))

        # minecastctl writes the CA beside the rest of the bundle.
        out = os.path.join(r.dir, "bundle-t1")
        rc, text, err = r.ctl(["node", "provision", "t1", "--out", out])
        self.assertEqual(rc, 0, err)
        self.assertIn("ca.pem (the CA of the broker's TLS certificate)",
                      text)
        self.assertIn("copy the three files", text)
        self.assertEqual(sorted(os.listdir(out)),
                         ["ca.pem", "player.conf", "trusted.pub"])
        self.assertEqual(os.stat(os.path.join(out, "ca.pem")).st_mode
                         & 0o777, 0o644)
        with open(os.path.join(out, "ca.pem")) as a, open(r.tls["ca"]) as b:
            self.assertEqual(a.read(), b.read())
