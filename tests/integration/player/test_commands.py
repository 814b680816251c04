"""Each command's round trip, an alert's, and the systemd watchdog."""

import os
import signal
import socket
import time
import unittest

from player.mcharness import (PNG_SIGNATURE, PlayerTest, now_ms, wait_for)
from player.test_sync import first_sync


class Commands(PlayerTest):

    def setUp(self):
        super().setUp()
        r = self.rig
        self.hook_out = os.path.join(r.dir, "hooks.txt")
        hook = os.path.join(r.dir, "hook.sh")
        with open(hook, "w") as fh:
            fh.write('#!/bin/sh\necho "$*" >> "%s"\n' % self.hook_out)
        os.chmod(hook, 0o755)
        self.hooks = {"reboot": "%s reboot" % hook,
                      "screen_power": "%s screen_power" % hook,
                      "timeout": "5s"}

    def hook_lines(self):
        try:
            with open(self.hook_out) as fh:
                return [x.strip() for x in fh]
        except OSError:
            return []

    def round_trip(self, action, cmd_id, timeout=10, **args):
        """Send a signed command; return its one result."""
        r = self.rig
        r.command(action, cmd_id, **args)
        res = wait_for(lambda: r.ctl.result(cmd_id), timeout,
                       "the result of %s %s" % (action, cmd_id))[0]
        self.assertEqual(res["node"], r.node)
        self.assertTrue(res["ok"], res)
        return res

    def test_commands(self):
        r = self.rig
        r.start_network()
        r.write_config(extra={"hooks": self.hooks})
        doc = r.simple_manifest("v1")
        m = r.put_manifest(doc)
        r.desire(1, m)
        r.start_player()
        r.wait_applied(1)
        r.wait_start(10, content="img-v1-0")

        # resync: a cached file that went missing is fetched again.
        victim = doc["content"][0]["sha256"]
        os.unlink(os.path.join(r.cache_dir, "blobs", victim))
        n_before = len(r.http.requests("/v1/content/" + victim))
        self.round_trip("resync", "cmd-resync-1")
        wait_for(lambda: os.path.exists(
            os.path.join(r.cache_dir, "blobs", victim)), 10,
            "the missing blob fetched again after resync")
        self.assertGreater(len(r.http.requests("/v1/content/" + victim)),
                           n_before)

        # identify: the log output shows the node id.
        t = now_ms()
        self.round_trip("identify", "cmd-identify-1")
        ident = wait_for(lambda: r.outputs("identify", t), 5,
                         "an identify event")[0]
        self.assertIn(r.node, ident["text"])
        self.assertGreater(ident["until_ms"], t + 20000)

        # volume
        t = now_ms()
        self.round_trip("volume", "cmd-volume-1", volume=37)
        vol = wait_for(lambda: r.outputs("volume", t), 5,
                       "a volume event")[0]
        self.assertEqual(vol["volume"], 37)

        # screenshot: a PNG lands in the server's uploads.
        t = time.time()
        self.round_trip("screenshot", "cmd-shot-1", timeout=20)
        ups = r.http.uploads()
        self.assertTrue(ups, "no upload")
        name, data = ups[-1]
        self.assertEqual(data[:8], PNG_SIGNATURE, name)
        posts = [q for q in r.http.requests() if q["method"] == "POST"
                 and q["end"] >= t]
        self.assertEqual(posts[-1]["status"], 201)
        self.assertEqual(posts[-1].get("content_type"), "image/png")

        # screen power and reboot run their hooks with their arguments.
        self.round_trip("screen_power", "cmd-power-off", power_on=False)
        wait_for(lambda: "screen_power off" in self.hook_lines(), 10,
                 "the screen_power hook run with 'off'")
        self.round_trip("screen_power", "cmd-power-on", power_on=True)
        wait_for(lambda: "screen_power on" in self.hook_lines(), 10,
                 "the screen_power hook run with 'on'")
        res = self.round_trip("reboot", "cmd-reboot-1")
        self.assertIn("reboot", res.get("message", ""))
        wait_for(lambda: "reboot" in self.hook_lines(), 10,
                 "the reboot hook run")
        # A hook that works sends no second, failed result.
        time.sleep(1)
        self.assertEqual(len(r.ctl.result("cmd-reboot-1")), 1)

        # A command for another node is not run.
        r.ctl.publish("minecast/v1/node/%s/cmd" % r.node, r.sign(
            "command", {"v": 1, "id": "cmd-other", "node": "pi-other-99",
                        "action": "restart", "issued_ms": now_ms() - 1000,
                        "expires_ms": now_ms() + 60000}).encode())
        res = wait_for(lambda: r.ctl.result("cmd-other"), 10,
                       "the refusal of a command for another node")[0]
        self.assertFalse(res["ok"])
        r.assert_player_alive()

        # restart: result, then the process leaves with status 0.
        res = self.round_trip("restart", "cmd-restart-1")
        self.assertIn("restarting", res.get("message", ""))
        wait_for(lambda: r.player.poll() is not None, 10,
                 "the player to exit after restart")
        self.assertEqual(r.player.returncode, 0)
        # Every command had exactly one result.
        ids = [x["id"] for _, x in r.ctl.results]
        self.assertEqual(len(ids), len(set(ids)), ids)

    def test_alert(self):
        r = self.rig
        first_sync(self, r)
        # First an alert for another site: no ack ever; then ours, which
        # starts 3 s from now, in step with the site.
        r.alert("al-other", 1, targets={"sites": ["site-zzz"]})
        start_at = now_ms() + 3000
        r.alert("al-ours", 1, text="Sơ tán thử", level="danger",
                start_at_ms=start_at, targets={"sites": [r.site]})
        wait_for(lambda: [a for a in r.ctl.acks("al-ours")
                          if a["status"] == "delivered"], 5,
                 "the delivered ack")
        self.assertEqual(r.outputs("alert"), [])
        started = wait_for(lambda: [a for a in r.ctl.acks("al-ours")
                                    if a["status"] == "started"], 8,
                           "the started ack")[0]
        self.assertEqual(started["seq"], 1)
        self.assertGreaterEqual(started["start_ms"], start_at - 50)
        self.assertLess(started["start_ms"], start_at + 1500)
        shown = wait_for(lambda: r.outputs("alert"), 5,
                         "the alert on the log output")[0]
        self.assertEqual(shown["alert"], "al-ours")
        self.assertEqual(shown["level"], "danger")
        self.assertEqual(shown["text"], "Sơ tán thử")
        # The output is handed the alert a little ahead (control.c's
        # ALERT_LEAD_MS) with the instant to start it at; the scheduled
        # items stop at that instant, not before.
        self.assertEqual(shown["start_at_ms"], start_at)
        self.assertGreaterEqual(shown["t_ms"], start_at - 1000)
        self.assertLess(shown["t_ms"], start_at + 1000)
        self.assertEqual(r.ctl.acks("al-other"), [])

        # Cleared: the alert ends on the outputs.
        t = now_ms()
        r.alert("al-ours", 2, clear=True)
        wait_for(lambda: r.outputs("alert_end", t), 5, "the alert's end")
        self.assertEqual(r.outputs("alert_end", t)[0].get("alert"), None)
        self.assertEqual(r.ctl.acks("al-other"), [])
        r.assert_player_alive()


    def test_alert_takes_over_the_channels(self):
        """protocol.md 6.2: "An alert takes the channel over every
        scheduled entry while it is active."  So no scheduled item may
        start (and be counted as played) between the alert's start and
        its clear, what played is cut (interrupted) at the start, health
        says the channels play the alert, and the schedule resumes
        after the clear."""
        r = self.rig
        first_sync(self, r)
        start_at = now_ms() + 1000
        r.alert("al-take", 1, text="Sơ tán", level="evacuate",
                start_at_ms=start_at)
        wait_for(lambda: [a for a in r.ctl.acks("al-take")
                          if a["status"] == "started"], 5,
                 "the started ack")
        time.sleep(max(0, (start_at - now_ms()) / 1000.0) + 5.5)
        during = [s for s in r.starts(start_at + 100) if s.get("entry")]
        during_h = [x for x in r.ctl.healths()
                    if x["at_ms"] > start_at + 200]
        t = now_ms()
        r.alert("al-take", 2, clear=True)
        wait_for(lambda: r.outputs("alert_end", t), 5, "the alert's end")
        r.wait_start(5, t, entry="e-screen-v1",
                     what="scheduled content back after the clear")
        self.assertEqual(during, [], "scheduled items started while the "
                         "alert had the channels (and were recorded as "
                         "played)")
        cut = [x for x in r.outputs("stop", start_at - 50)
               if x.get("content") and not x["completed"]
               and x["t_ms"] < start_at + 1000]
        self.assertTrue(cut, "nothing was interrupted by the alert")
        self.assertTrue(during_h, "no health during the alert")
        h = during_h[-1]
        self.assertEqual(h["playing"]["screen"].get("reason"), "alert", h)


class Watchdog(PlayerTest):
    """The player's side of the systemd watchdog.  With
    WatchdogSec=5s (firmware-notes/minecast-player.service) systemd kills
    and restarts a player whose pings stop for 5 s; this test checks that
    the pings come from the main loop: twice per WATCHDOG_USEC, none
    while the process is stopped, again once it continues."""

    def test_watchdog_pings(self):
        r = self.rig
        name = "\0minecast-test-%d-%d" % (os.getpid(), int(time.time()))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(name)
        sock.settimeout(0.1)
        msgs = []

        def pump(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    data = sock.recv(4096)
                except socket.timeout:
                    continue
                for line in data.decode().split("\n"):
                    if line:
                        msgs.append((time.monotonic(), line))

        # No broker or HTTP needed: a node plays without them.
        r.write_config(broker_port=9, http_port=9)
        r.start_player(env={"NOTIFY_SOCKET": "@" + name[1:],
                            "WATCHDOG_USEC": "1000000"})
        pump(5)
        r.assert_player_alive()
        kinds = [m for _, m in msgs]
        self.assertIn("READY=1", kinds)
        ready = kinds.index("READY=1")
        pings = [t for t, m in msgs[ready:] if m == "WATCHDOG=1"]
        # About two a second for WATCHDOG_USEC = 1 s.
        span = msgs[-1][0] - msgs[ready][0]
        self.assertGreaterEqual(len(pings), int(span * 2 * 0.7), msgs)
        self.assertLessEqual(len(pings), int(span * 2 * 1.5) + 2, msgs)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), 0.9, gaps)

        os.kill(r.player.pid, signal.SIGSTOP)
        try:
            pump(0.3)  # what was sent before the stop
            del msgs[:]
            pump(2)
            self.assertEqual([m for _, m in msgs if m == "WATCHDOG=1"], [])
        finally:
            os.kill(r.player.pid, signal.SIGCONT)
        del msgs[:]
        t = time.monotonic()
        pump(2)
        pings = [x for x, m in msgs if m == "WATCHDOG=1"]
        self.assertTrue(pings, "no ping after SIGCONT")
        self.assertLess(pings[0] - t, 1.0)
        self.assertGreaterEqual(len(pings), 2)
        self.assertEqual(r.stop_player(), 0)


if __name__ == "__main__":
    unittest.main()
