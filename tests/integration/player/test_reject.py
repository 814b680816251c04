"""Bad input: a hash mismatch, a rollback and bad desired-state pointers."""

import json
import time
import unittest

from player.mcharness import PlayerTest, now_ms, wait_for
from player.test_sync import first_sync


def sync_errors(h, since_errors):
    """Errors of health h that were not in an earlier errors list."""
    return [e for e in h.get("errors", []) if e not in since_errors]


class HashMismatch(PlayerTest):

    def test_hash_mismatch_keeps_old_version(self):
        r = self.rig
        first_sync(self, r)
        r.wait_start(10, content="img-v1-1")

        # Version 2: one new image on the screen, served with wrong bytes.
        doc2 = r.simple_manifest("v2", images=1)
        bad = doc2["content"][0]
        path = "/v1/content/" + bad["sha256"]
        r.http.set_faults({path: {"corrupt": True}})
        m2 = r.put_manifest(doc2)
        t_bad = now_ms()
        r.desire(2, m2)

        h = r.wait_health(
            lambda h: any("mismatch" in e.lower() for e in
                          h.get("errors", [])),
            20, "a health error about the hash mismatch")
        msg = [e for e in h["errors"] if "mismatch" in e.lower()][0]
        self.assertIn(bad["sha256"][:12], msg)

        def error_state():
            s = r.ctl.last_state(r.node)
            return s and s.get("sync") == "error" and s
        s = wait_for(error_state, 10, "state sync 'error'")
        self.assertEqual(s["applied_version"], 1)
        self.assertEqual(h.get("applied_version"), 1)

        # The applied version keeps the screen: its images go on
        # starting, the corrupt one never does.
        t_check = now_ms()
        r.wait_start(6, t_check, content=lambda c: c.startswith("img-v1-"),
                     channel="screen")
        self.assertEqual(r.starts(t_bad, content=bad["id"]), [])
        self.assertFalse(r.player_log_text().count("Segmentation"))
        # Some request really got the corrupt bytes.
        self.assertTrue([q for q in r.http.requests(path)
                         if q.get("fault") == "corrupt"])

        # The server is fixed: the next retry (5 s backoff, doubling)
        # fetches the right bytes and version 2 is applied.
        r.http.set_faults({})
        t_fix = now_ms()
        r.wait_applied(2, timeout=45)
        r.wait_start(10, t_fix, content=bad["id"], channel="screen")


class BadPointers(PlayerTest):

    def test_rollback_and_bad_pointers(self):
        r = self.rig
        m1, _ = first_sync(self, r)
        m2 = r.put_manifest(r.simple_manifest("v2"))
        r.desire(2, m2)
        r.wait_applied(2)
        r.wait_start(10, content="img-v2-0")
        other = r.keygen("intruder")
        m3 = r.put_manifest(r.simple_manifest("v3"))
        now = now_ms()

        good3 = json.loads(r.sign("pointer", r.pointer_body(3, m3)))
        forged = dict(good3)
        forged["body"] = good3["body"].replace('"version":3',
                                               '"version":4')
        unsigned = dict(good3)
        del unsigned["sig"]
        # (name, payload, what the health error must say)
        cases = [
            ("rollback to version 1",
             r.sign("pointer", r.pointer_body(1, m1)),
             "version: 1 is not newer"),
            ("version 2 again, another manifest",
             r.sign("pointer", r.pointer_body(2, m3)),
             "already accepted"),
            ("signed by an untrusted key",
             r.sign("pointer", r.pointer_body(3, m3), key=other),
             "not a trusted key"),
            ("expired",
             r.sign("pointer", r.pointer_body(
                 3, m3, issued_ms=now - 7200000, expires_ms=now - 3600000)),
             "expired"),
            ("for another node",
             r.sign("pointer", r.pointer_body(3, m3, node="pi-other-99")),
             "pi-other-99"),
            ("malformed JSON", '{"format":"minecast-signed/1",', "JSON"),
            ("oversize", json.dumps({"format": "minecast-signed/1",
                                     "pad": "x" * 10000}), "limit"),
            ("unsigned", json.dumps(unsigned), "sig: missing"),
            ("forged body", json.dumps(forged), "does not verify"),
            ("bare pointer, no envelope",
             json.dumps(r.pointer_body(3, m3)), "format: missing"),
        ]
        # Each is delivered in order and refused on its own; then one
        # health report holds an error for each (16 are kept).
        since = time.time()
        for name, payload, want in cases:
            r.publish_desired(payload)
        r.assert_player_alive()

        def matched(h):
            errs = [e for e in h.get("errors", [])
                    if "desired state rejected" in e]
            missing = []
            for name, _, want in cases:
                hit = [e for e in errs if want in e]
                if not hit:
                    missing.append(name)
                else:
                    errs.remove(hit[0])
            return not missing
        h = r.wait_health(matched, 20, "health errors for every bad "
                          "pointer", since=since)
        self.assertEqual(h["applied_version"], 2)
        r.assert_player_alive()

        # Still version 2, still playing it; nothing of version 3 or 1.
        s = r.ctl.last_state(r.node)
        self.assertEqual(s["applied_version"], 2)
        t = now_ms()
        r.wait_start(6, t, content=lambda c: c.startswith("img-v2-"))
        self.assertEqual(r.starts(now, content=lambda c: "-v3-" in c
                                  or "-v1-" in c), [])
        self.assertEqual([q for q in r.http.requests(
            "/v1/manifests/" + m3[0])], [])
        # A restart does not forget the replay guard.
        self.assertEqual(r.stop_player(), 0)
        since = time.time()
        r.publish_desired(r.sign("pointer", r.pointer_body(2, m1)))
        r.start_player()
        r.wait_health(lambda h: any("already accepted" in e or
                                    "not newer" in e
                                    for e in h.get("errors", [])),
                      15, "the replayed pointer refused after a restart",
                      since=since)
        self.assertEqual(r.ctl.last_state(r.node)["applied_version"], 2)
        r.assert_player_alive()


class BadMessages(PlayerTest):
    """Commands, alerts and proof-of-play acknowledgements that are
    malformed, unsigned, forged, expired, relabelled or misaddressed are
    refused with an error in health; the node runs none of them and keeps
    playing."""

    def test_bad_commands_alerts_and_acks(self):
        r = self.rig
        first_sync(self, r)
        other = r.keygen("intruder")
        now = now_ms()
        cmd = {"v": 1, "id": "c-bad", "node": r.node, "action": "volume",
               "volume": 5, "issued_ms": now - 1000,
               "expires_ms": now + 60000}
        expired = dict(cmd, id="c-old", issued_ms=now - 7200000,
                       expires_ms=now - 3600000)
        alert = {"v": 1, "id": "al-x", "seq": 1, "level": "danger",
                 "text": "Giả mạo", "start_at_ms": now,
                 "issued_ms": now - 1000, "expires_ms": now + 600000}
        forged = json.loads(r.sign("alert", alert))
        forged["body"] = forged["body"].replace("Giả mạo", "Sơ tán")
        topic = "minecast/v1/node/%s/" % r.node
        since = time.time()
        sends = [
            (topic + "cmd", "not json at all"),
            (topic + "cmd", r.sign("command", cmd, key=other)),
            (topic + "cmd", r.sign("command", expired)),
            (topic + "cmd", json.dumps(cmd)),
            ("minecast/v1/alert/al-x", json.dumps(forged)),
            ("minecast/v1/alert/al-y", r.sign("alert", alert)),
            (topic + "pop/ack", '{"v":1,"node":'),
            (topic + "pop/ack", json.dumps({"v": 1, "node": "pi-other-9",
                                            "batch": "b1", "ids": []})),
        ]
        for t, payload in sends:
            r.ctl.publish(t, payload.encode())
        # (what health must say, for each refusal above)
        wants = ["envelope: not valid JSON", "not a trusted key",
                 "expired at", "format: missing", "does not verify",
                 "names alert 'al-x'", "pop_ack: line 1", "pi-other-9"]

        def matched(h):
            errs = list(h.get("errors", []))
            for w in wants:
                hit = [e for e in errs if w in e]
                if not hit:
                    return False
                errs.remove(hit[0])
            return True
        r.wait_health(matched, 20, "an error in health for every bad "
                      "message", since=since)
        r.assert_player_alive()
        # None ran: no volume change, no alert shown; the expired
        # command is answered "rejected", the forged ones are not.
        self.assertEqual(r.outputs("volume", now), [])
        self.assertEqual(r.outputs("alert", now), [])
        res = wait_for(lambda: r.ctl.result("c-old"), 5,
                       "the expired command's result")
        self.assertFalse(res[0]["ok"])
        self.assertIn("expired", res[0]["message"])
        self.assertEqual(r.ctl.result("c-bad"), [])
        acks = [a for a in r.ctl.acks("al-y") if a["status"] == "rejected"]
        self.assertTrue(acks and "relabelled" in acks[0]["reason"], acks)
        t = now_ms()
        r.wait_start(6, t, content=lambda c: c.startswith("img-v1-"))


if __name__ == "__main__":
    unittest.main()
