"""A full disk: the player's cache on a 2 MiB tmpfs that only it sees.

The player starts through `unshare -rm` (a user and a mount namespace of
its own) and a small shell wrapper that mounts a tmpfs of 2 MiB on its
cache directory, then execs it.  The tmpfs disappears with the namespace
when the player exits: nothing to unmount, nothing left behind.  Works as
root (CI) and, where unprivileged user namespaces are allowed, as a
normal user; where neither works the test fails saying so.
"""

import os
import subprocess
import time
import unittest

from player.mcharness import PlayerTest, now_ms, wait_for

TMPFS_SIZE = 2 * 1024 * 1024
BIG_SIZE = 3 * 1024 * 1024

# $0 = the directory to mount on, "$@" = the player's argv.
MOUNT_THEN_EXEC = ('mount -t tmpfs -o size=%d tmpfs "$0" || exit 97; '
                   'exec "$@"' % TMPFS_SIZE)

# What player/fetch.c says when a write into the part file fails with
# ENOSPC or EDQUOT.
DISK_FULL = "writing the part file: disk full"


def tmpfs_wrapper(directory):
    return ["unshare", "-rm", "sh", "-c", MOUNT_THEN_EXEC, directory]


def require_unshare(test, directory):
    """Fail (never skip: CI runs as root, where this works) unless
    `unshare -rm` may mount a tmpfs here."""
    os.makedirs(directory, exist_ok=True)
    try:
        p = subprocess.run(
            ["unshare", "-rm", "sh", "-c",
             'mount -t tmpfs -o size=%d tmpfs "$0"' % TMPFS_SIZE,
             directory],
            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        test.fail("`unshare -rm` is not usable on this machine (%s); this "
                  "test needs a user + mount namespace to give the player "
                  "a 2 MiB tmpfs: run it as root or allow unprivileged "
                  "user namespaces" % exc)
    if p.returncode != 0:
        test.fail("`unshare -rm` + mount tmpfs is not permitted on this "
                  "machine (exit %d: %s); this test needs a user + mount "
                  "namespace to give the player a 2 MiB tmpfs: run it as "
                  "root or allow unprivileged user namespaces "
                  "(sysctl kernel.unprivileged_userns_clone=1)"
                  % (p.returncode, p.stderr.strip()))


def in_player_ns(rig, path):
    """path as the player sees it (inside its mount namespace)."""
    return "/proc/%d/root%s" % (rig.player.pid, path)


class DiskFull(PlayerTest):

    def test_disk_full_keeps_playing(self):
        r = self.rig
        require_unshare(self, r.cache_dir)
        wrapper = tmpfs_wrapper(r.cache_dir)

        # Version 1: small assets, fits.
        r.start_network()
        r.write_config()
        m1 = r.put_manifest(r.simple_manifest("v1"))
        r.desire(1, m1)
        r.start_player(wrapper=wrapper)
        r.wait_applied(1, timeout=20)
        r.wait_start(10, content="img-v1-1", channel="screen")
        # The player really writes to the 2 MiB tmpfs (health measures
        # the cache's file system).
        h = r.wait_health(lambda h: h.get("disk_total_bytes"), 12,
                          "a health report with disk_total_bytes",
                          since=0)
        self.assertEqual(h["disk_total_bytes"], TMPFS_SIZE, h)
        self.assertTrue(os.path.isdir(in_player_ns(r, r.cache_dir)
                                      + "/blobs"))

        # Version 2: one 3 MiB image on the screen.  It cannot fit.
        doc2 = r.simple_manifest("v2", images=1, sizes={0: BIG_SIZE})
        big = doc2["content"][0]
        m2 = r.put_manifest(doc2)
        t_big = now_ms()
        since = time.time()
        r.desire(2, m2)

        h = r.wait_health(
            lambda h: any("disk full" in e for e in h.get("errors", [])),
            25, "a health error saying 'disk full'", since=since)
        msg = [e for e in h["errors"] if "disk full" in e][0]
        self.assertIn(DISK_FULL, msg)
        self.assertIn(big["sha256"][:12], msg)
        self.assertEqual(h.get("applied_version"), 1)

        def error_state():
            s = r.ctl.last_state(r.node)
            return s and s.get("sync") == "error" and s
        s = wait_for(error_state, 10, "state sync 'error'")
        self.assertEqual(s["applied_version"], 1)
        # A clear log line, at error level, naming the file.
        log = r.player_log_text()
        lines = [ln for ln in log.splitlines()
                 if DISK_FULL in ln and big["sha256"][:12] in ln]
        self.assertTrue(lines, "no log line says '%s'" % DISK_FULL)

        # Version 1 keeps the screen; the big image never starts; the
        # process is alive and did not crash.
        t_check = now_ms()
        r.wait_start(8, t_check, content=lambda c: c.startswith("img-v1-"),
                     channel="screen")
        r.wait_start(8, now_ms(), content=lambda c: c.startswith("img-v1-"),
                     channel="screen")
        self.assertEqual(r.starts(t_big, content=big["id"]), [])
        r.assert_player_alive()
        for bad in ("Segmentation", "AddressSanitizer", "runtime error",
                    "Aborted"):
            self.assertNotIn(bad, r.player_log_text())

        # Version 3 without the big asset: applied normally, the cache
        # recovers (the part file of the abandoned download goes).
        # Its manifest must fit in the cache too, so the abandoned
        # download's part file (about 2 MiB) has to make room.
        part = in_player_ns(r, os.path.join(r.cache_dir, "tmp",
                                            big["sha256"] + ".part"))
        m3 = r.put_manifest(r.simple_manifest("v3"))
        t3 = now_ms()
        since = time.time()
        r.desire(3, m3)
        stuck = None
        try:
            r.wait_applied(3, timeout=30)
        except AssertionError as exc:
            stuck = exc
        if stuck:
            h = r.ctl.last_health(since) or {}
            self.fail(
                "the cache did not recover: version 3 (no 3 MiB asset) "
                "not applied (%s); part file of the abandoned version 2 "
                "download still in cache/tmp: %s; downloads of the 3 MiB "
                "asset after version 3 was sent: %d; latest health "
                "errors: %s" % (
                    stuck, os.path.exists(part),
                    len([q for q in r.http.requests(big["url"])
                         if q["start"] * 1000 > t3]),
                    h.get("errors", [])[:3]))
        r.wait_start(10, t3, content="img-v3-0", channel="screen")
        r.wait_start(10, t3, content="img-v3-1", channel="screen")
        wait_for(lambda: not os.path.exists(part), 10,
                 "the part file of the 3 MiB asset removed")
        self.assertEqual(r.starts(t_big, content=big["id"]), [])
        r.assert_player_alive()
        self.assertEqual(r.stop_player(), 0)


if __name__ == "__main__":
    unittest.main()
