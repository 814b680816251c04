"""minecast-sim (sim/, docs/sim.md) against the real controller and a real
mosquitto, with a few tens of simulated nodes: registration through the
API, every node applying a publish (GET /v1/rollout), an alert to a
subset acknowledged by exactly that subset, commands answered, proof of
play acknowledged with nothing lost, health arriving (GET /v1/fleet), a
forged pointer refused and counted, a clean stop that leaves every node
offline; provisioning against a broker with passwords and an ACL; bad
command lines refused with exit status 2.

No timing is asserted here: the figures are measured by bench/."""

import datetime
import json
import os
import signal
import subprocess
import time
import unittest

from controller.ctlharness import (BUILD_DIR, ROOT, SCRATCH_DIR, CtlTest,
                                   ctl_bin, now_ms, stop_process, tail,
                                   wait_for)


def sim_bin():
    return os.path.join(BUILD_DIR, "sim", "minecast-sim")


def slogan(cid, text):
    return {"id": cid, "type": "slogan", "name": cid, "text": text,
            "style": {"fg": "#FFD700", "bg": "#B71C1C"}}


class Sim:
    """One minecast-sim process: its log, report and ready files in the
    rig's directory."""

    def __init__(self, rig, name, args):
        self.rig = rig
        self.dir = os.path.join(rig.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "sim.log")
        self.report_file = os.path.join(self.dir, "report.json")
        self.ready_file = os.path.join(self.dir, "ready.json")
        argv = [sim_bin(),
                "--broker", "127.0.0.1:%d" % rig.broker.port,
                "--controller", rig.base,
                "--trusted", rig.key + ".pub",
                "--report", self.report_file,
                "--ready-file", self.ready_file,
                "--progress-s", "2"] + list(args)
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=fh,
                                         stdin=subprocess.DEVNULL,
                                         cwd=self.dir)
        rig.sims.append(self)

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def wait_ready(self, timeout=60):
        def ready():
            if not self.alive():
                raise AssertionError("minecast-sim exited (%s):\n%s" % (
                    self.proc.returncode, tail(self.log)))
            return os.path.exists(self.ready_file)
        wait_for(ready, timeout, "every simulated node connected")
        with open(self.ready_file) as fh:
            return json.load(fh)

    def report(self, timeout=20):
        """SIGUSR1, then the report written after it."""
        before = os.stat(self.report_file).st_mtime_ns \
            if os.path.exists(self.report_file) else 0
        self.proc.send_signal(signal.SIGUSR1)

        def written():
            if not self.alive():
                raise AssertionError("minecast-sim exited:\n%s"
                                     % tail(self.log))
            try:
                if os.stat(self.report_file).st_mtime_ns == before:
                    return None
                with open(self.report_file) as fh:
                    return json.load(fh)
            except (OSError, ValueError):
                return None
        return wait_for(written, timeout, "the report after SIGUSR1")

    def wait_report(self, pred, timeout, what):
        def ok():
            r = self.report()
            return r if pred(r) else None
        return wait_for(ok, timeout, what, interval=0.5)

    def stop(self, timeout=60):
        """SIGTERM; the exit status; the final report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("minecast-sim did not stop within %d s:\n%s"
                                 % (timeout, tail(self.log)))
        with open(self.report_file) as fh:
            return rc, json.load(fh)


class SimTest(CtlTest):
    """A CtlTest whose rig also stops the simulators it started."""

    def setUp(self):
        super().setUp()
        self.rig.sims = []
        self.addCleanup(self.stop_sims)

    def stop_sims(self):
        for s in self.rig.sims:
            if s.alive():
                stop_process(s.proc, timeout=30)
            text = s.log_text()
            # The sanitizers' reports fail the test (ASan build).
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                        "runtime error:"):
                if bad in text:
                    raise AssertionError("minecast-sim: %s\n%s"
                                         % (bad, tail(s.log, 60)))

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        r = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for s in getattr(getattr(self, "rig", None), "sims", []):
                print("---- minecast-sim log (%s) ----\n%s"
                      % (s.log, tail(s.log, 80)))
        return r

    def schedule(self):
        """One approved slogan on every screen (editor writes, approver
        approves)."""
        r = self.rig
        r.ok("POST", "/v1/content", dict(slogan("sim-slogan-1",
                                                "Kỷ luật và Đồng tâm"),
                                         submit=True),
             token="editor", expect=201)
        r.ok("POST", "/v1/content/sim-slogan-1/approve", token="approver")
        r.ok("POST", "/v1/playlists",
             {"id": "pl-sim", "name": "pl-sim", "submit": True,
              "items": [{"content": "sim-slogan-1", "duration_s": 5}]},
             token="editor", expect=201)
        r.ok("POST", "/v1/playlists/pl-sim/approve", token="approver")
        r.ok("POST", "/v1/entries",
             {"id": "e-sim", "name": "Toàn đội", "playlist": "pl-sim",
              "channel": "screen", "priority": 10, "submit": True},
             token="editor", expect=201)
        r.ok("POST", "/v1/entries/e-sim/approve", token="approver")

    def rollout_totals(self):
        return self.rig.ok("GET", "/v1/rollout", token="technician",
                           query={"limit": 0})["totals"]

    def fleet(self):
        return self.rig.ok("GET", "/v1/fleet", token="technician")


class SimFleet(SimTest):
    """30 registered nodes on 3 sites, every 3rd tagged "loa"."""

    N = 30

    def test_fleet(self):
        r = self.rig
        self.schedule()
        sim = Sim(r, "sim", ["--nodes", str(self.N), "--sites", "3",
                             "--tags", "loa/3", "--register", "--token",
                             r.tokens["technician"], "--health-s", "1",
                             "--pop-rate", "120", "--pop-resend-s", "3",
                             "--connect-rate", "200"])
        ready = sim.wait_ready()
        self.assertEqual(ready["nodes"], self.N)

        # Registered as asked: sites round robin, every 3rd tagged.
        nodes = {n["id"]: n for n in r.ok("GET", "/v1/nodes",
                                           token="technician")["items"]}
        self.assertEqual(nodes["sim-00001"]["site"], "sim-site-01")
        self.assertEqual(nodes["sim-00002"]["site"], "sim-site-02")
        self.assertEqual(nodes["sim-00004"]["site"], "sim-site-01")
        self.assertEqual(nodes["sim-00001"]["tags"], ["loa"])
        self.assertEqual(nodes["sim-00002"]["tags"], [])
        self.assertEqual(nodes["sim-00004"]["tags"], ["loa"])

        # Health arrives: every node online with a health time.
        def healthy():
            f = self.fleet()
            items = [i for i in f["items"] if i["id"].startswith("sim-")]
            return (len(items) == self.N and
                    all(i["status"] == "online" and i["health_ms"]
                        for i in items)) and f
        wait_for(healthy, 30, "every simulated node online with health")

        # Publish → every node applied.
        pub = r.ok("POST", "/v1/publish", {}, token="approver")
        self.assertEqual(pub["changed"], self.N)
        wait_for(lambda: self.rollout_totals()["applied"] == self.N, 60,
                 "every node applied the publish")
        rep = sim.wait_report(
            lambda x: x["summary"]["pointers"]["applied"] == self.N, 30,
            "the report counting %d applied pointers" % self.N)
        s = rep["summary"]
        self.assertEqual(s["applied_version"]["nodes_at_max"], self.N)
        self.assertEqual(s["issued_to_applied_ms"]["n"], self.N)
        self.assertEqual(len(rep["versions"]), 1)
        self.assertEqual(rep["versions"][0]["nodes"], self.N)
        self.assertGreaterEqual(s["http"]["manifest_fetches"], self.N)
        self.assertEqual(s["http"]["errors"], 0)

        # An alert to site 01 (nodes 1, 4, 7, ..): acknowledged by
        # exactly those, delivered then started.
        site1 = sorted(i for i, n in nodes.items()
                       if n["site"] == "sim-site-01")
        a = r.ok("POST", "/v1/alerts",
                 {"id": "sim-alert-1", "level": "danger",
                  "text": "Sơ tán khu vực 1", "ttl_s": 600,
                  "targets": {"sites": ["sim-site-01"]}, "confirm": True},
                 token="technician", expect=201)
        self.assertEqual(a["targeted"], len(site1))

        def acked(aid, n):
            def ok():
                d = r.ok("GET", "/v1/alerts/%s" % aid, token="technician")
                return d if d["counts"]["started"] == n else None
            return wait_for(ok, 30, "alert %s started on %d nodes"
                            % (aid, n))
        d = acked("sim-alert-1", len(site1))
        self.assertEqual(sorted(x["node"] for x in d["nodes"]
                                if x["state"] == "started"), site1)
        self.assertEqual(d["counts"]["delivered"], len(site1))
        self.assertEqual(d["counts"]["rejected"], 0)

        # The same by tag: every 3rd node.
        tagged = sorted(i for i, n in nodes.items() if "loa" in n["tags"])
        r.ok("POST", "/v1/alerts",
             {"id": "sim-alert-2", "level": "warning", "text": "Thử loa",
              "ttl_s": 600, "targets": {"tags": ["loa"]}, "confirm": True},
             token="technician", expect=201)
        d = acked("sim-alert-2", len(tagged))
        self.assertEqual(sorted(x["node"] for x in d["nodes"]
                                if x["state"] == "started"), tagged)
        rep = sim.wait_report(
            lambda x: len(x["alerts"]) == 2 and
            all(al["started"] == al["delivered"] for al in x["alerts"]),
            30, "both alerts in the report")
        by_id = {al["id"]: al for al in rep["alerts"]}
        self.assertEqual(by_id["sim-alert-1"]["delivered"], len(site1))
        self.assertEqual(by_id["sim-alert-2"]["delivered"], len(tagged))
        self.assertEqual(by_id["sim-alert-1"]["issued_to_delivered_ms"]["n"],
                         len(site1))
        for n in rep["nodes"]:
            got = sorted(al["id"] for al in n["alerts"])
            want = sorted(([] if n["id"] not in site1 else ["sim-alert-1"])
                          + ([] if n["id"] not in tagged
                             else ["sim-alert-2"]))
            self.assertEqual(got, want, n["id"])
        # Every node heard both; the others found them not for them.
        self.assertEqual(rep["summary"]["alerts"]["not_for_me"],
                         2 * self.N - len(site1) - len(tagged))

        # Commands: identify is simulated, reboot is not.
        c1 = r.ok("POST", "/v1/nodes/sim-00003/commands",
                  {"action": "identify"}, token="technician", expect=201)
        c2 = r.ok("POST", "/v1/nodes/sim-00003/commands",
                  {"action": "reboot"}, token="technician", expect=201)

        def cmd_done(cid):
            d = r.ok("GET", "/v1/commands/%s" % cid, token="technician")
            return d if d["status"] in ("ok", "failed") else None
        self.assertEqual(wait_for(lambda: cmd_done(c1["id"]), 20,
                                  "identify answered")["status"], "ok")
        d = wait_for(lambda: cmd_done(c2["id"]), 20, "reboot answered")
        self.assertEqual(d["status"], "failed")
        self.assertIn("not simulated", d["message"])

        # A pointer signed with a key the nodes do not trust: refused
        # and counted as forged, the applied version unchanged.
        other = os.path.join(r.dir, "keys", "stranger")
        p = subprocess.run([ctl_bin(), "keygen", "--out", other],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        body = {"v": 1, "node": "sim-00002", "version": 99,
                "manifest_sha256": "0" * 64, "manifest_size": 10,
                "manifest_url": "/v1/manifests/" + "0" * 64,
                "issued_ms": now_ms(), "expires_ms": now_ms() + 3600000}
        p = subprocess.run([ctl_bin(), "sign", "--key", other + ".key",
                            "--purpose", "pointer", "-"],
                           input=json.dumps(body), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        w = r.mqtt_client()
        w.publish(ROOT + "node/sim-00002/desired", p.stdout.strip(),
                  retain=True)
        rep = sim.wait_report(
            lambda x: x["summary"]["pointers"]["rejected"]["forged"] == 1,
            20, "the forged pointer counted")
        n2 = [n for n in rep["nodes"] if n["id"] == "sim-00002"][0]
        self.assertEqual(n2["counts"]["pointers"]["rejected"]["forged"], 1)
        self.assertEqual(n2["applied_version"], 1)
        self.assertIn("pointer refused (forged)", sim.log_text())

        # Proof of play flows and is acknowledged, a batch per node
        # every 5 s.
        sim.wait_report(lambda x: x["summary"]["pop"]["batches"] >=
                        2 * self.N and x["summary"]["pop"]["acked"] >=
                        self.N, 60, "proof of play acknowledged")

        # The clean stop: what is owed is acknowledged, nothing lost,
        # every node offline.
        rc, rep = sim.stop()
        self.assertEqual(rc, 0, tail(sim.log))
        s = rep["summary"]
        self.assertTrue(rep["final"])
        self.assertGreater(s["pop"]["records"], 0)
        self.assertEqual(s["pop"]["sent"], s["pop"]["records"])
        self.assertEqual(s["pop"]["acked"], s["pop"]["records"])
        self.assertEqual(s["pop"]["outstanding"], 0)
        self.assertEqual(s["pop_lost"], 0)
        # Batched as the player does: one batch per 5 s at most.
        self.assertLess(s["pop"]["batches"], s["pop"]["records"])
        self.assertGreaterEqual(s["health"]["sent"], self.N)
        self.assertEqual(s["mqtt"]["disconnects"], 0)
        self.assertEqual(s["verify_shared"], 0)
        # The controller stored every record once.
        day = datetime.date.today()
        pop = r.ok("GET", "/v1/reports/pop", token="technician",
                   query={"from": str(day - datetime.timedelta(days=1)),
                          "to": str(day + datetime.timedelta(days=1))})
        self.assertEqual(pop["totals"]["plays"], s["pop"]["records"])

        def all_offline():
            items = [i for i in self.fleet()["items"]
                     if i["id"].startswith("sim-")]
            return all(i["status"] == "offline" for i in items)
        wait_for(all_offline, 20, "every simulated node offline")
        self.assertIn("stopping", sim.log_text())


class SimBrokerRestart(SimTest):
    """The broker goes away and comes back: every node reconnects with
    its will and birth, proof of play made meanwhile is delivered and
    nothing is lost; the retained pointer is not applied twice."""

    def test_broker_restart(self):
        r = self.rig
        self.schedule()
        sim = Sim(r, "sim", ["--nodes", "10", "--register", "--token",
                             r.tokens["technician"], "--pop-rate", "120",
                             "--pop-resend-s", "2", "--health-s", "1"])
        sim.wait_ready()
        r.ok("POST", "/v1/publish", {}, token="approver")
        sim.wait_report(lambda x: x["summary"]["pop"]["acked"] >= 10 and
                        x["summary"]["pointers"]["applied"] == 10, 30,
                        "applied and proof of play flowing")
        r.broker.stop()
        time.sleep(2)
        rep = sim.report()
        self.assertEqual(rep["summary"]["online"], 0)
        self.assertEqual(rep["summary"]["mqtt"]["disconnects"], 10)
        r.broker.start()
        rep = sim.wait_report(
            lambda x: x["summary"]["mqtt"]["connects"] == 20 and
            x["summary"]["online"] == 10, 40, "every node back")
        made = rep["summary"]["pop"]["records"]
        sim.wait_report(lambda x: x["summary"]["pop"]["acked"] >= made, 40,
                        "the records made while away acknowledged")
        rc, rep = sim.stop()
        self.assertEqual(rc, 0)
        s = rep["summary"]
        self.assertEqual(s["pointers"]["applied"], 10)
        self.assertEqual(s["pointers"]["rejected"]["replay"], 0)
        self.assertEqual(s["pop_lost"], 0)
        self.assertEqual(s["pop"]["acked"], s["pop"]["records"])
        self.assertIn("lost its broker connection", sim.log_text())


class SimProvision(SimTest):
    """A broker with a password file and an ACL: --provision makes each
    node's password and the nodes connect with it; a stranger's
    credentials are refused and counted."""

    rig_options = {"mqtt_auth": True}

    def test_provision(self):
        r = self.rig
        sim = Sim(r, "prov", ["--nodes", "4", "--prefix", "p-",
                              "--register", "--provision", "--token",
                              r.tokens["admin"], "--health-s", "1",
                              "--pop-rate", "0"])
        sim.wait_ready()

        def online():
            items = [i for i in self.fleet()["items"]
                     if i["id"].startswith("p-")]
            return len(items) == 4 and all(i["status"] == "online"
                                           for i in items)
        wait_for(online, 30, "the provisioned nodes online")
        self.assertIn("4 nodes provisioned", sim.log_text())
        rc, rep = sim.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(rep["summary"]["mqtt"]["connect_failures"], 0)

        # Wrong passwords: refused by the broker, counted, not ready.
        creds = os.path.join(r.dir, "wrong.txt")
        with open(creds, "w") as fh:
            fh.write("# node password\n")
            for i in range(1, 5):
                fh.write("p-%05d not-the-password\n" % i)
        bad = Sim(r, "wrong", ["--nodes", "4", "--prefix", "p-",
                               "--credentials", creds, "--duration", "3",
                               "--pop-rate", "0"])
        rc = bad.proc.wait(60)
        self.assertEqual(rc, 0, tail(bad.log))
        with open(bad.report_file) as fh:
            rep = json.load(fh)
        self.assertGreaterEqual(rep["summary"]["mqtt"]["connect_failures"],
                                4)
        self.assertEqual(rep["summary"]["mqtt"]["connects"], 0)
        self.assertIsNone(rep["summary"]["ready_s"])
        self.assertIn("refused the connection", bad.log_text())


class SimAssets(SimTest):
    """An image on every screen: with --fetch-assets each node downloads
    the manifest and the image and checks both; with --share-manifests
    one download of each serves every node."""

    N = 6

    def test_assets(self):
        r = self.rig
        png = os.path.join(os.path.dirname(ch_root()), "golden",
                           "fit-contain-480x270.png")
        with open(png, "rb") as fh:
            data = fh.read()
        st, doc, _ = r.upload("/v1/content/upload", data, "image/png",
                              query={"id": "sim-pano", "type": "image",
                                     "submit": "1"})
        self.assertEqual(st, 201, doc)
        r.ok("POST", "/v1/content/sim-pano/approve", token="approver")
        r.ok("POST", "/v1/playlists",
             {"id": "pl-pano", "name": "pl-pano", "submit": True,
              "items": [{"content": "sim-pano", "duration_s": 5}]},
             token="editor", expect=201)
        r.ok("POST", "/v1/playlists/pl-pano/approve", token="approver")
        r.ok("POST", "/v1/entries",
             {"id": "e-pano", "name": "Pano", "playlist": "pl-pano",
              "channel": "screen", "priority": 10, "submit": True},
             token="editor", expect=201)
        r.ok("POST", "/v1/entries/e-pano/approve", token="approver")
        common = ["--nodes", str(self.N), "--register", "--token",
                  r.tokens["technician"], "--pop-rate", "600",
                  "--health-s", "0", "--fetch-assets"]

        # Shared: one download of the manifest and one of the image.
        shared = Sim(r, "shared", common + ["--share-manifests"])
        shared.wait_ready()
        r.ok("POST", "/v1/publish", {}, token="approver")
        rep = shared.wait_report(
            lambda x: x["summary"]["pointers"]["applied"] == self.N, 30,
            "every node applied (shared downloads)")
        h = rep["summary"]["http"]
        self.assertEqual((h["manifest_fetches"], h["asset_fetches"]),
                         (1, 1), h)
        self.assertEqual(h["manifest_shared"] + h["manifest_fetches"],
                         self.N)
        self.assertEqual(h["asset_shared"] + h["asset_fetches"], self.N)
        self.assertEqual(h["requests"], 2)
        self.assertGreater(h["bytes"], len(data))
        rc, rep = shared.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(rep["summary"]["pop_lost"], 0)

        # Each node for itself: the retained pointer again (a new run
        # starts at version 0), N downloads of each.
        own = Sim(r, "own", common)
        own.wait_ready()
        rep = own.wait_report(
            lambda x: x["summary"]["pointers"]["applied"] == self.N, 30,
            "every node applied the retained pointer")
        h = rep["summary"]["http"]
        self.assertEqual((h["manifest_fetches"], h["asset_fetches"]),
                         (self.N, self.N), h)
        self.assertEqual((h["manifest_shared"], h["asset_shared"]), (0, 0))
        self.assertEqual(h["errors"], 0)
        self.assertEqual(h["bytes"], self.N * (h["bytes"] // self.N))
        rc, rep = own.stop()
        self.assertEqual(rc, 0)
        s = rep["summary"]
        self.assertEqual(s["pop_lost"], 0)
        self.assertEqual(s["pointers"]["fetch_failed"], 0)
        # The records name what the manifest shows (sim-slogan before
        # a manifest was applied).
        day = datetime.date.today()
        pop = r.ok("GET", "/v1/reports/pop", token="technician",
                   query={"from": str(day - datetime.timedelta(days=1)),
                          "to": str(day + datetime.timedelta(days=1))})
        contents = {i["content"] for i in pop["items"]}
        self.assertIn("sim-pano", contents)
        self.assertLessEqual(contents, {"sim-pano", "sim-slogan"})


class SimRefusals(SimTest):
    """What the nodes must refuse, signed by hand: a pointer for another
    node, an expired one, one whose manifest does not exist, a replayed
    version; a forged, an expired and a relabelled alert; a forged
    command and one for another node."""

    def sign(self, purpose, body, key=None):
        p = subprocess.run([ctl_bin(), "sign", "--key",
                            (key or self.rig.key) + ".key", "--purpose",
                            purpose, "-"], input=json.dumps(body),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def pointer(self, node, version, issued=None, expires=None, sha=None):
        t = now_ms()
        sha = sha or "ab" * 32
        return {"v": 1, "node": node, "version": version,
                "manifest_sha256": sha, "manifest_size": 100,
                "manifest_url": "/v1/manifests/" + sha,
                "issued_ms": issued or t, "expires_ms": expires or
                t + 3600000}

    def node(self, rep, nid):
        return [n for n in rep["nodes"] if n["id"] == nid][0]

    def test_refusals(self):
        r = self.rig
        self.schedule()
        # --share-verify: one signature check per distinct envelope; the
        # outcomes per node must be the same as without it.
        sim = Sim(r, "sim", ["--nodes", "3", "--register", "--token",
                             r.tokens["technician"], "--pop-rate", "0",
                             "--health-s", "0", "--share-verify"])
        sim.wait_ready()
        r.ok("POST", "/v1/publish", {}, token="approver")
        sim.wait_report(
            lambda x: x["summary"]["pointers"]["applied"] == 3, 30,
            "the publish applied")
        w = r.mqtt_client(subscribe=ROOT + "node/+/alert/ack")
        desired = ROOT + "node/%s/desired"

        # For another node (the body decides, not the topic).
        w.publish(desired % "sim-00002",
                  self.sign("pointer", self.pointer("sim-00001", 50)),
                  retain=True)
        # Expired.
        w.publish(desired % "sim-00003", self.sign(
            "pointer", self.pointer("sim-00003", 50,
                                    issued=now_ms() - 7200000,
                                    expires=now_ms() - 3600000)),
            retain=True)
        # Not newer than the applied version 1: a replay.
        w.publish(desired % "sim-00001",
                  self.sign("pointer", self.pointer("sim-00001", 1,
                                                    sha="cd" * 32)),
                  retain=True)
        rep = sim.wait_report(
            lambda x: sum(x["summary"]["pointers"]["rejected"].values())
            == 3, 20, "three pointers refused")
        rej = rep["summary"]["pointers"]["rejected"]
        self.assertEqual((rej["node"], rej["expired"], rej["replay"]),
                         (1, 1, 1), rej)
        self.assertEqual(rep["summary"]["applied_version"]["max"], 1)

        # Authentic and newer, but its manifest is not on the server:
        # not applied, the download failure counted.
        w.publish(desired % "sim-00001",
                  self.sign("pointer", self.pointer("sim-00001", 60)),
                  retain=True)
        rep = sim.wait_report(
            lambda x: self.node(x, "sim-00001")["counts"]["pointers"][
                "fetch_failed"] >= 1, 20, "the download failure")
        self.assertEqual(self.node(rep, "sim-00001")["applied_version"], 1)
        self.assertGreaterEqual(rep["summary"]["http"]["errors"], 1)

        # Alerts: forged (no answer), expired and relabelled (rejected).
        other = os.path.join(r.dir, "keys", "stranger")
        subprocess.run([ctl_bin(), "keygen", "--out", other],
                       capture_output=True, check=True, timeout=30)
        t = now_ms()
        alert = {"v": 1, "id": "a-forged", "seq": 1, "level": "danger",
                 "text": "Giả mạo", "issued_ms": t,
                 "expires_ms": t + 600000}
        w.publish(ROOT + "alert/a-forged",
                  self.sign("alert", alert, key=other), retain=True)
        old = dict(alert, id="a-old", issued_ms=t - 7200000,
                   expires_ms=t - 3600000)
        w.publish(ROOT + "alert/a-old", self.sign("alert", old),
                  retain=True)
        moved = dict(alert, id="a-real")
        w.publish(ROOT + "alert/a-moved", self.sign("alert", moved),
                  retain=True)
        rep = sim.wait_report(
            lambda x: x["summary"]["alerts"]["received"] >= 9, 20,
            "three alerts at three nodes")
        a = rep["summary"]["alerts"]
        self.assertEqual(a["rejected"]["forged"], 3, a)
        self.assertEqual(a["rejected"]["expired"], 3, a)
        self.assertEqual(a["rejected"]["malformed"], 3, a)
        self.assertEqual(a["delivered"], 0)
        self.assertEqual(a["rejected_acks"], 6)
        # Each of the three alerts was checked once, then shared.
        self.assertGreaterEqual(rep["summary"]["verify_shared"], 6)
        self.assertTrue(rep["options"]["share_verify"])

        def acks():
            out = {}
            for topic, doc in w.json_messages(ROOT + "node/"):
                out.setdefault(doc["alert"], []).append(doc)
            return out
        got = wait_for(lambda: len(acks().get("a-old", [])) == 3 and
                       len(acks().get("a-moved", [])) == 3 and acks(),
                       20, "the rejected acks")
        self.assertNotIn("a-forged", got)
        for d in got["a-old"]:
            self.assertEqual(d["status"], "rejected")
            self.assertTrue(d["reason"].startswith("expired"), d)
        for d in got["a-moved"]:
            self.assertTrue(d["reason"].startswith("relabelled"), d)

        # Commands: forged (not answered), for another node.
        cmd = {"v": 1, "id": "cmd-x", "node": "sim-00002",
               "action": "identify", "issued_ms": now_ms(),
               "expires_ms": now_ms() + 60000}
        w.publish(ROOT + "node/sim-00002/cmd",
                  self.sign("command", cmd, key=other))
        w.publish(ROOT + "node/sim-00003/cmd", self.sign("command", cmd))
        rep = sim.wait_report(
            lambda x: x["summary"]["commands"]["received"] == 2, 20,
            "two commands")
        c = rep["summary"]["commands"]
        self.assertEqual((c["rejected"]["forged"], c["rejected"]["node"],
                          c["ok"]), (1, 1, 0), c)
        rc, rep = sim.stop()
        self.assertEqual(rc, 0)
        self.assertIn("pointer refused (node)", sim.log_text())


def ch_root():
    """tests/integration (this file's parent directory)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SimOptions(unittest.TestCase):
    """Bad command lines: exit status 2 and a message naming the
    option."""

    def run_sim(self, args):
        return subprocess.run([sim_bin()] + args, capture_output=True,
                              text=True, timeout=30)

    def test_bad_options(self):
        base = ["--nodes", "3", "--controller", "http://127.0.0.1:1",
                "--trusted", "/nonexistent.pub"]
        cases = [
            ([], "--nodes"),
            (["--nodes", "0"] + base[2:], "--nodes"),
            (["--nodes", "x"] + base[2:], "--nodes"),
            (["--nodes", "100001"] + base[2:], "--nodes"),
            (base[:2] + base[4:], "--controller"),
            (base[:2] + ["--controller", "ftp://x"] + base[4:],
             "--controller"),
            (base[:4], "--trusted"),
            (base + ["--broker", "nohost"], "--broker"),
            (base + ["--broker", "h:0"], "--broker"),
            (base + ["--broker", "h:70000"], "--broker"),
            (base + ["--sites", "0"], "--sites"),
            (base + ["--tags", "bad tag"], "--tags"),
            (base + ["--tags", "a/0"], "--tags"),
            (base + ["--health-s", "-1"], "--health-s"),
            (base + ["--pop-rate", "nan"], "--pop-rate"),
            (base + ["--connect-rate", "0"], "--connect-rate"),
            (base + ["--http-parallel", "0"], "--http-parallel"),
            (base + ["--keepalive", "2"], "--keepalive"),
            (base + ["--duration", "-5"], "--duration"),
            (base + ["--register"], "--register"),
            (base + ["--provision"], "--provision"),
            (base + ["--prefix", "a b"], "--prefix"),
            (base + ["--prefix", "x" * 70], "--prefix"),
            (base + ["--frobnicate"], "--frobnicate"),
            (base + ["stray"], "stray"),
            (base + ["--quiet", "--verbose"], "--quiet"),
        ]
        env = dict(os.environ)
        env.pop("MINECAST_TOKEN", None)
        for args, word in cases:
            p = subprocess.run([sim_bin()] + args, capture_output=True,
                               text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 2, "%r: %s" % (args, p.stderr))
            self.assertIn(word, p.stderr, args)
            self.assertTrue(p.stderr.startswith("minecast-sim: "), args)

    def test_help_and_failures(self):
        p = self.run_sim(["--help"])
        self.assertEqual(p.returncode, 0)
        for word in ("--nodes", "--broker", "--controller", "--trusted",
                     "--register", "--provision", "--credentials",
                     "--health-s", "--pop-rate", "--fetch-assets",
                     "--share-manifests", "--connect-rate", "--duration",
                     "--report", "--quiet"):
            self.assertIn(word, p.stdout)
        # A missing keys file is a failure (1), not a usage error.
        p = self.run_sim(["--nodes", "1", "--controller",
                          "http://127.0.0.1:1", "--trusted",
                          os.path.join(SCRATCH_DIR, "none.pub")])
        self.assertEqual(p.returncode, 1)
        self.assertIn("--trusted", p.stderr)


if __name__ == "__main__":
    unittest.main()
