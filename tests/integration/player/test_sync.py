"""First sync, boot offline from cache, kill -9 during a download."""

import os
import time
import unittest

from player.mcharness import PlayerTest, now_ms, wait_for


def first_sync(test, rig, manifest_doc=None, version=1):
    """Network up, a manifest desired, the player started and the
    version applied.  Returns (manifest (sha, size), manifest doc)."""
    rig.start_network()
    rig.write_config()
    doc = manifest_doc or rig.simple_manifest("v1")
    m = rig.put_manifest(doc)
    rig.desire(version, m)
    rig.start_player()
    rig.wait_applied(version, timeout=20)
    return m, doc


class FirstSync(PlayerTest):

    def test_first_sync(self):
        r = self.rig
        t0 = now_ms()
        m, doc = first_sync(self, r)
        state = r.ctl.last_state(r.node)
        self.assertEqual(state["sync"], "idle")
        self.assertEqual(state.get("items_outstanding", 0), 0)
        self.assertEqual(state.get("bytes_outstanding", 0), 0)
        self.assertGreaterEqual(state.get("boot", 0), 1)

        # Every scheduled item starts on its channel, from its entry.
        shas = {c["id"]: c["sha256"] for c in doc["content"]
                if "sha256" in c}
        for cid in ("img-v1-0", "img-v1-1"):
            s = r.wait_start(10, t0, content=cid, channel="screen",
                             entry="e-screen-v1")
            self.assertEqual(s.get("sha256"), shas[cid])
            self.assertFalse(s["fallback"])
            self.assertEqual(s["reason"], "scheduled")
        r.wait_start(10, t0, content="speech-v1", channel="speaker",
                     entry="e-speaker-v1")
        # The assets really are in the cache, verified by name.
        for h in shas.values():
            self.assertTrue(os.path.exists(
                os.path.join(r.cache_dir, "blobs", h)), h)
        # The manifest and each asset were fetched once.
        self.assertEqual(len([q for q in r.http.requests(
            "/v1/manifests/" + m[0]) if q["status"] == 200]), 1)

        # Proof of play: records of those items arrive and are acked.
        def recs():
            got, _ = r.ctl.record_list()
            return [x for x in got.values()
                    if x["content"] == "img-v1-0"
                    and x.get("entry") == "e-screen-v1"]
        rec = wait_for(recs, 20, "a proof-of-play record of img-v1-0")[0]
        self.assertEqual(rec["channel"], "screen")
        self.assertEqual(rec.get("sha256"), shas["img-v1-0"])
        self.assertTrue(rec["id"].startswith(r.node + "-"), rec["id"])
        self.assertGreaterEqual(rec["end_ms"], rec["start_ms"])
        self.assertTrue(rec.get("completed", True))
        # An acknowledged record leaves the outbox: it is never sent
        # again, even after the resend interval (5 s) has passed.
        first_acked = dict(r.ctl.acked)
        self.assertTrue(first_acked)
        time.sleep(8)
        _, counts = r.ctl.record_list()
        again = [i for i in first_acked if counts[i] > 1]
        self.assertEqual(again, [], "acknowledged records sent again")
        r.assert_player_alive()


class OfflineBoot(PlayerTest):

    def test_boot_offline_from_cache(self):
        r = self.rig
        first_sync(self, r)
        r.wait_start(10, content="img-v1-0")
        self.assertEqual(r.stop_player(), 0)
        r.ctl.stop()
        r.ctl = None
        r.http.stop()
        r.broker.stop()

        t0 = now_ms()
        r.start_player()
        first = r.wait_start(5, t0, what="a scheduled start from cache",
                             entry="e-screen-v1")
        self.assertLess(first["t_ms"] - t0, 3000,
                        "first scheduled start %d ms after the start"
                        % (first["t_ms"] - t0))
        # Playback goes on: 2 s items, so about 4 more screen starts in
        # the next 8 s, each from the cached manifest.
        time.sleep(8)
        r.assert_player_alive()
        later = r.starts(first["t_ms"] + 1, channel="screen")
        self.assertGreaterEqual(len(later), 3, later)
        self.assertTrue(all(s.get("entry") == "e-screen-v1"
                            for s in later), later)
        self.assertTrue(r.starts(t0, channel="speaker",
                                 content="speech-v1"))
        self.assertEqual(r.stop_player(), 0)


class KillDuringDownload(PlayerTest):

    SIZE = 4 * 1024 * 1024
    RATE = 512 * 1024  # bytes/s while throttled: about 8 s in all

    def test_kill9_then_resume(self):
        r = self.rig
        r.start_network()
        r.write_config()
        doc = r.simple_manifest("v1", images=2, sizes={1: self.SIZE})
        big = doc["content"][1]
        path = "/v1/content/" + big["sha256"]
        r.http.set_faults({path: {"throttle": self.RATE}})
        m = r.put_manifest(doc)
        r.desire(1, m)
        r.start_player()

        part = os.path.join(r.cache_dir, "tmp", big["sha256"] + ".part")

        def part_size():
            r.assert_player_alive()
            try:
                n = os.path.getsize(part)
            except OSError:
                return 0
            return n if n >= 1024 * 1024 else 0
        wait_for(part_size, 20, "1 MiB of the big asset in %s" % part)
        # Meanwhile the new manifest takes effect item by item: the small
        # image plays already, and the state says what is outstanding.
        r.wait_start(5, content=doc["content"][0]["id"],
                     entry="e-screen-v1")
        st = wait_for(lambda: [x for _, x in r.ctl.states
                               if x.get("sync") == "syncing"
                               and x.get("items_outstanding", 0) >= 1
                               and x.get("bytes_outstanding", 0) > 0], 5,
                      "a state saying what is still to download")[0]
        self.assertLessEqual(st["bytes_outstanding"], self.SIZE + 2048)
        self.assertEqual(st.get("applied_version", 0), 0)
        self.assertEqual(r.kill_player(), -9)
        t_kill = now_ms()
        before_kill = r.starts()
        have = os.path.getsize(part)
        self.assertGreater(have, 0)
        self.assertLess(have, self.SIZE)
        self.assertFalse(os.path.exists(
            os.path.join(r.cache_dir, "blobs", big["sha256"])))

        # Faster now, but still throttled so that the transfer is real.
        r.http.set_faults({path: {"throttle": 4 * self.RATE}})
        r.start_player()
        r.wait_applied(1, timeout=30)
        r.wait_start(10, content=big["id"])

        gets = [q for q in r.http.requests(path) if q["method"] == "GET"]
        ranges = [q.get("range") for q in gets]
        self.assertIn("bytes=%d-" % have, ranges,
                      "no request resumed at the part's %d bytes: %s"
                      % (have, gets))
        resumed = [q for q in gets if q.get("range") == "bytes=%d-" % have]
        self.assertEqual(resumed[0]["status"], 206)
        total = sum(q["bytes"] for q in gets)
        # Not downloaded twice: what was sent in all is the file, plus at
        # most what was in flight when the player died.
        self.assertGreaterEqual(total, self.SIZE)
        self.assertLess(total, self.SIZE + 256 * 1024,
                        "served %d bytes for a %d-byte file: %s"
                        % (total, self.SIZE, gets))
        print("\nkilled with %d of %d bytes in the part file; %d bytes "
              "served in %d requests" % (have, self.SIZE, total, len(gets)))
        self.assertFalse(os.path.exists(part))
        self.assertTrue(os.path.exists(
            os.path.join(r.cache_dir, "blobs", big["sha256"])))

        # Proof of play survived the kill: every play before it has its
        # record, the ones cut by the kill marked interrupted.
        from player.test_broker_down import match_records

        def all_there():
            recs, _ = r.ctl.record_list()
            pairs, lonely, _ = match_records(before_kill, recs)
            return not lonely and pairs
        pairs = wait_for(all_there, 20, "records of every play before "
                         "the kill")
        for ch in ("screen", "speaker"):
            last = [rec for s, rec in pairs if s["channel"] == ch][-1:]
            for rec in last:
                self.assertFalse(rec.get("completed", True), rec)
                self.assertLessEqual(rec["end_ms"], now_ms())


if __name__ == "__main__":
    unittest.main()
