"""The broker is down for minutes: playback continues, proof of play
accumulates on disk and drains exactly once when the broker is back.

MC_TEST_BROKER_DOWN_S (default 120) sets how long the broker is down."""

import os
import time
import unittest

from player.mcharness import PlayerTest, now_ms, wait_for
from player.test_sync import first_sync

DOWN_S = int(os.environ.get("MC_TEST_BROKER_DOWN_S", "120"))
ITEM_S = 2


def match_records(starts, records, tolerance_ms=1000):
    """Pair each log-output start with the record of the same play:
    same channel and content, record start_ms at most tolerance_ms
    before or after the line's t_ms, closest first.  Returns (pairs,
    starts without a record, records without a start)."""
    free = sorted(records.values(), key=lambda x: x["start_ms"])
    pairs, lonely = [], []
    for s in sorted(starts, key=lambda x: x["t_ms"]):
        best = None
        for rec in free:
            if rec["channel"] != s["channel"] or \
                    rec["content"] != s["content"]:
                continue
            d = abs(rec["start_ms"] - s["t_ms"])
            if d <= tolerance_ms and (best is None or
                                      d < abs(best["start_ms"] - s["t_ms"])):
                best = rec
        if best is None:
            lonely.append(s)
        else:
            free.remove(best)
            pairs.append((s, best))
    return pairs, lonely, free


class BrokerDown(PlayerTest):

    def test_broker_down_for_minutes(self):
        r = self.rig
        t0 = now_ms()
        first_sync(self, r, r.simple_manifest("v1", item_s=ITEM_S))
        wait_for(lambda: r.ctl.acked, 20, "the first acknowledged records")

        # Down.
        r.broker.stop()
        t_down = now_ms()
        deadline = time.monotonic() + DOWN_S
        while time.monotonic() < deadline:
            time.sleep(min(5, max(0, deadline - time.monotonic())))
            r.assert_player_alive()
            # Playback goes on: a screen start within the last 2 items.
            recent = r.starts(now_ms() - 2 * ITEM_S * 1000 - 1000,
                              channel="screen")
            self.assertTrue(recent, "no screen start in the last %d s "
                            "while the broker is down"
                            % (2 * ITEM_S + 1))
        t_up = now_ms()
        down_starts = [s for s in r.starts(t_down, channel="screen")
                       if s["t_ms"] < t_up]
        expect = (t_up - t_down) / (ITEM_S * 1000.0)
        self.assertGreaterEqual(len(down_starts), int(expect * 0.9),
                                "%d screen starts in %.0f s"
                                % (len(down_starts),
                                   (t_up - t_down) / 1000.0))

        # Back, on the same port (the player's config names it).
        r.broker.start()
        wait_for(r.ctl.connected.is_set, 15, "the controller to reconnect")

        # Drain: every play that ended before the restart has its one
        # record.  (The last play of each channel may still be open.)
        def completed_starts():
            out = []
            for ch in ("screen", "speaker"):
                st = r.starts(t0, channel=ch)
                out += st[:-1]
            return [s for s in out if s["t_ms"] < t_up]

        def drained():
            r.assert_player_alive()
            recs, _ = r.ctl.record_list()
            pairs, lonely, _ = match_records(completed_starts(), recs)
            return not lonely
        wait_for(drained, 40, "every play before the broker came back "
                 "to be received by the controller", interval=0.5)
        t_drained = time.time()

        recs, counts = r.ctl.record_list()
        starts = completed_starts()
        pairs, lonely, extra = match_records(starts, recs)
        self.assertEqual(lonely, [])
        # Records not matching a completed start before t_up are the
        # plays after it (or open at t_up); none may stand for a play
        # the log output does not show.
        all_pairs, _, phantom = match_records(r.starts(t0), recs)
        self.assertEqual(phantom, [], "records without a play")
        # Exactly once: one record per play, ids distinct.
        ids = [rec["id"] for _, rec in pairs]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(len(pairs), len(starts))
        for s, rec in pairs:
            self.assertEqual(rec.get("entry"), s.get("entry"), rec)
            self.assertEqual(rec.get("sha256"), s.get("sha256"), rec)
        dups = {i: n for i, n in counts.items() if n > 1}
        sys_out = ("broker down %.0f s: %d plays, %d records, %d received "
                   "more than once (ack lost with the broker)"
                   % ((t_up - t_down) / 1000.0, len(starts), len(recs),
                      len(dups)))
        print("\n" + sys_out)

        # Nothing stays in the outbox: after the resend interval (5 s)
        # twice over, no record acknowledged before then comes again.
        time.sleep(12)
        acked_before = {i for i, t in r.ctl.acked.items()
                        if t < t_drained}
        resent = set()
        for t, _, batch_ids in r.ctl.pop_messages():
            if t > t_drained + 1:
                resent |= acked_before & set(batch_ids)
        self.assertEqual(resent, set(), "acknowledged records sent again")
        # And the node says so: it was down, it is back, it counts one
        # reconnect at least, and summarised nothing.
        h = r.wait_health(lambda h: h.get("reconnects", 0) >= 1, 10,
                          "health after the reconnect")
        self.assertEqual(h.get("pop_summarised", 0), 0)
        r.assert_player_alive()


if __name__ == "__main__":
    unittest.main()
