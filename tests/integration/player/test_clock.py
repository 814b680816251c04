"""Clock not yet synchronised: standing and fallback content play, dated
entries wait; once the clock is known the dated entry plays."""

import os
import time
import unittest

from player.mcharness import PlayerTest, now_ms, wait_for
from player.test_sync import first_sync


def basic_utc(ms):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ms / 1000))


class ClockNotSynced(PlayerTest):

    def manifest(self):
        r = self.rig
        now = now_ms()
        content = [
            r.image("img-standing"),
            r.image("img-dated"),
            {"id": "slogan-fb", "type": "slogan", "text": "Fallback"},
            {"id": "speech-fb", "type": "speech", "text": "Loa chờ",
             "duration_ms": 2000},
            {"id": "speech-dated", "type": "speech", "text": "Bản tin",
             "duration_ms": 2000},
        ]
        playlists = [
            {"id": "pl-standing", "items": [
                {"content": "img-standing", "duration_s": 2}]},
            {"id": "pl-dated", "items": [
                {"content": "img-dated", "duration_s": 2}]},
            {"id": "pl-dated-speaker", "items": [
                {"content": "speech-dated", "duration_s": 2}]},
        ]
        # Dated: on from an hour ago for three hours, above the standing
        # entry; the speaker has only a dated entry, so unsynchronised
        # it plays its fallback.
        start = basic_utc(now - 3600 * 1000)
        entries = [
            {"id": "e-standing", "playlist": "pl-standing",
             "channel": "screen", "priority": 10},
            {"id": "e-dated", "playlist": "pl-dated", "channel": "screen",
             "priority": 50, "dtstart": start, "duration": "PT3H"},
            {"id": "e-dated-speaker", "playlist": "pl-dated-speaker",
             "channel": "speaker", "priority": 50, "dtstart": start,
             "duration": "PT3H"},
        ]
        return {"name": "clock", "content": content,
                "playlists": playlists, "entries": entries,
                "fallback": {"screen": "slogan-fb", "speaker": "speech-fb"}}

    def test_dated_items_wait_for_the_clock(self):
        r = self.rig
        # A synchronised first run gets the manifest applied (an
        # unsynchronised node holds a pointer: it cannot judge expiry).
        first_sync(self, r, self.manifest())
        r.wait_start(10, content="img-dated", entry="e-dated")
        r.wait_start(10, content="speech-dated", entry="e-dated-speaker")
        self.assertEqual(r.stop_player(), 0)

        os.unlink(r.clock_file)
        t0 = now_ms()
        since = time.time()
        r.start_player()
        r.wait_start(5, t0, content="img-standing", entry="e-standing")
        fb = r.wait_start(5, t0, content="speech-fb", channel="speaker")
        self.assertTrue(fb["fallback"])
        self.assertIsNone(fb.get("entry"))
        h = r.wait_health(lambda h: True, 12,
                          "health from the unsynchronised node",
                          since=since)
        self.assertFalse(h.get("clock_synced", False))
        self.assertEqual(h["playing"]["speaker"].get("reason"), "clock")
        time.sleep(max(0, 6 - (now_ms() - t0) / 1000.0))
        self.assertEqual(r.starts(t0, entry="e-dated"), [])
        self.assertEqual(r.starts(t0, entry="e-dated-speaker"), [])
        self.assertGreaterEqual(len(r.starts(t0, content="img-standing")),
                                1)

        # The clock becomes known (checked every 5 s).
        open(r.clock_file, "w").close()
        t_sync = now_ms()
        d = r.wait_start(8, t_sync, content="img-dated", entry="e-dated")
        self.assertLess(d["t_ms"] - t_sync, 7000)
        r.wait_start(5, t_sync, content="speech-dated")
        since = time.time()
        r.wait_health(lambda h: h.get("clock_synced") is True, 12,
                      "health saying the clock is synchronised",
                      since=since)
        r.assert_player_alive()


if __name__ == "__main__":
    unittest.main()
