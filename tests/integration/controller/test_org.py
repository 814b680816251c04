"""The organisation and provisioning of minecast-controller over real
HTTP (docs/api.md): groups, companies, sites and nodes with
their filters, renames, moves, tags and refusals; every bad input the
handlers check; roles; the minecastctl group/company/site/node commands;
and provisioning end to end: a real mosquitto with the password and ACL
files the controller writes, reloaded by SIGHUP, a real minecast-player
started from the bundle, the ACL keeping one node off another's topics,
a rotated password locking out the old one, a deleted node locked out."""

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import threading
import time
import unicodedata

import paho.mqtt.client as mqtt

from controller.ctlharness import (HOST, CtlTest, parse_ini, player_bin,
                                   wait_for)

# Vietnamese in decomposed form (NFD): the API must store it as NFC.
HA_LAM_NFD = unicodedata.normalize("NFD", "Công ty Than Hà Lầm")
HA_LAM_NFC = unicodedata.normalize("NFC", "Công ty Than Hà Lầm")


def ids(doc):
    return [it["id"] for it in doc["items"]]


def password_of(conf_text):
    """The [mqtt] password of a bundle's player.conf."""
    conf = parse_ini(conf_text)
    return conf["mqtt"]["password"][0].strip('"')


def try_connect(port, username, password, client_id=None, timeout=10):
    """CONNACK code of one connection attempt (0 = accepted)."""
    got = threading.Event()
    result = {}
    c = mqtt.Client(client_id=client_id or username, clean_session=True,
                    protocol=mqtt.MQTTv311)
    c.username_pw_set(username, password)

    def on_connect(client, userdata, flags, rc):
        result["rc"] = rc
        got.set()
    c.on_connect = on_connect
    c.connect(HOST, port, keepalive=10)
    c.loop_start()
    try:
        wait_for(got.is_set, timeout, "CONNACK for %s" % username)
    finally:
        c.disconnect()
        c.loop_stop()
    return result["rc"]


def assert_clean_exit(test, rig):
    """Stop the controller: it exits 0 with no sanitizer report (an
    ASan/UBSan build prints them to its log)."""
    if rig.proc is None:
        return
    rc = rig.stop_controller()
    log = rig.log_text()
    for word in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        test.assertNotIn(word, log, "the controller's log:\n" + log[-4000:])
    test.assertEqual(rc, 0, "the controller's exit status")


class OrgApi(CtlTest):
    """CRUD, filters and refusals; one rig for the class, every test with
    its own ids."""

    per_class = True

    def test_hierarchy(self):
        r = self.rig
        g = r.ok("POST", "/v1/groups", {"id": "tkv", "name": "Tập đoàn TKV"},
                 token="technician", expect=(201,))
        self.assertEqual(g["id"], "tkv")
        self.assertEqual(g["name"], "Tập đoàn TKV")
        self.assertEqual(g["companies"], 0)
        self.assertIsInstance(g["created_ms"], int)
        c = r.ok("POST", "/v1/companies",
                 {"id": "ha-lam", "name": HA_LAM_NFD, "group": "tkv"},
                 token="technician", expect=(201,))
        self.assertEqual(c["name"], HA_LAM_NFC)
        self.assertEqual(c["group"], "tkv")
        c2 = r.ok("POST", "/v1/companies", {"id": "mao-khe"},
                  token="technician", expect=(201,))
        self.assertIsNone(c2["group"])
        self.assertEqual(c2["name"], "")
        s = r.ok("POST", "/v1/sites", {"id": "hl-1", "company": "ha-lam"},
                 token="technician", expect=(201,))
        self.assertEqual(s["timezone"], "Asia/Ho_Chi_Minh")
        self.assertEqual(s["group"], "tkv")
        s2 = r.ok("POST", "/v1/sites",
                  {"id": "mk-1", "company": "mao-khe", "name": "Mạo Khê",
                   "timezone": "Asia/Bangkok"}, token="technician",
                  expect=(201,))
        self.assertEqual(s2["timezone"], "Asia/Bangkok")
        r.ok("POST", "/v1/sites", {"id": "kho"}, expect=(201,))
        n1 = r.ok("POST", "/v1/nodes",
                  {"id": "hl-1-01", "site": "hl-1", "name": "Nhà ăn ca 1",
                   "tags": ["nha-an", "hl-loa", "nha-an"]},
                  token="technician", expect=(201,))
        self.assertEqual(n1["tags"], ["hl-loa", "nha-an"])
        self.assertEqual(n1["site"], "hl-1")
        self.assertEqual(n1["company"], "ha-lam")
        self.assertEqual(n1["group"], "tkv")
        self.assertIsNone(n1["provisioned_ms"])
        self.assertNotIn("secret_sha256", n1)
        r.ok("POST", "/v1/nodes", {"id": "mk-1-01", "site": "mk-1",
                                   "tags": ["hl-loa"]}, expect=(201,))
        r.ok("POST", "/v1/nodes", {"id": "kho-01", "site": "kho"},
             expect=(201,))

        # Reads: any user; filters.
        for who in ("editor", "approver", "technician", "admin"):
            self.assertEqual(r.ok("GET", "/v1/groups/tkv", token=who)["id"],
                             "tkv")
        self.assertEqual(r.ok("GET", "/v1/groups/tkv")["companies"], 1)
        self.assertEqual(ids(r.ok("GET", "/v1/companies",
                                  query={"group": "tkv"})), ["ha-lam"])
        self.assertEqual(ids(r.ok("GET", "/v1/sites",
                                  query={"company": "ha-lam"})), ["hl-1"])
        self.assertEqual(ids(r.ok("GET", "/v1/sites",
                                  query={"group": "tkv"})), ["hl-1"])
        self.assertEqual(ids(r.ok("GET", "/v1/nodes",
                                  query={"site": "mk-1"})), ["mk-1-01"])
        self.assertEqual(ids(r.ok("GET", "/v1/nodes", query={"tag": "hl-loa"},
                                  token="editor")),
                         ["hl-1-01", "mk-1-01"])
        self.assertEqual(ids(r.ok("GET", "/v1/nodes",
                                  query={"company": "ha-lam"})),
                         ["hl-1-01"])
        self.assertEqual(ids(r.ok("GET", "/v1/nodes",
                                  query={"group": "tkv", "tag": "hl-loa"})),
                         ["hl-1-01"])
        self.assertEqual(ids(r.ok("GET", "/v1/nodes",
                                  query={"tag": "khong-co"})), [])
        self.assertEqual(r.ok("GET", "/v1/sites/hl-1")["nodes"], 1)

        # Renames, moves, tags.
        n = r.ok("PATCH", "/v1/nodes/hl-1-01",
                 {"site": "mk-1", "tags": ["man-hinh"],
                  "name": unicodedata.normalize("NFD", "Cổng chính")},
                 token="technician")
        self.assertEqual(n["site"], "mk-1")
        self.assertEqual(n["company"], "mao-khe")
        self.assertIsNone(n["group"])
        self.assertEqual(n["tags"], ["man-hinh"])
        self.assertEqual(n["name"], unicodedata.normalize("NFC",
                                                          "Cổng chính"))
        n = r.ok("PATCH", "/v1/nodes/hl-1-01", {"tags": []})
        self.assertEqual(n["tags"], [])
        self.assertEqual(n["name"], unicodedata.normalize("NFC",
                                                          "Cổng chính"))
        c = r.ok("PATCH", "/v1/companies/mao-khe", {"group": "tkv"})
        self.assertEqual(c["group"], "tkv")
        self.assertEqual(r.ok("GET", "/v1/nodes/hl-1-01")["group"], "tkv")
        c = r.ok("PATCH", "/v1/companies/mao-khe", {"group": None,
                                                     "name": "Mạo Khê"})
        self.assertIsNone(c["group"])
        self.assertEqual(c["name"], "Mạo Khê")
        s = r.ok("PATCH", "/v1/sites/kho", {"timezone": "UTC",
                                            "company": "ha-lam"})
        self.assertEqual((s["timezone"], s["company"]), ("UTC", "ha-lam"))
        g = r.ok("PATCH", "/v1/groups/tkv", {"name": "TKV"})
        self.assertEqual(g["name"], "TKV")

        # Refused while referenced.
        err = self.assertError(r.api("DELETE", "/v1/groups/tkv",
                                     token="technician"), 409, "id")
        self.assertIn("companies", err["message"])
        self.assertError(r.api("DELETE", "/v1/companies/ha-lam",
                               token="admin"), 409, "id")
        err = self.assertError(r.api("DELETE", "/v1/sites/mk-1",
                                     token="admin"), 409, "id")
        self.assertIn("2 nodes", err["message"])
        # Deleted bottom up.
        for path in ("/v1/nodes/hl-1-01", "/v1/nodes/mk-1-01",
                     "/v1/nodes/kho-01", "/v1/sites/mk-1", "/v1/sites/hl-1",
                     "/v1/sites/kho", "/v1/companies/mao-khe",
                     "/v1/companies/ha-lam", "/v1/groups/tkv"):
            d = r.ok("DELETE", path, token="technician")
            self.assertEqual(d["deleted"], True)
            self.assertError(r.api("GET", path, token="admin"), 404, "id")
            self.assertError(r.api("DELETE", path, token="admin"), 404,
                             "id")

        # Every mutation has its audit row, before and after.
        audit = r.ok("GET", "/v1/audit", query={"kind": "node",
                                                "id": "hl-1-01"})
        actions = [a["action"] for a in audit["items"]]
        self.assertEqual(actions, ["node.delete", "node.update",
                                   "node.update", "node.create"])
        upd = audit["items"][2]
        self.assertEqual(upd["before"]["site"], "hl-1")
        self.assertEqual(upd["after"]["site"], "mk-1")
        self.assertEqual(upd["user"], "technician")
        self.assertIsNone(audit["items"][0]["after"])
        audit = r.ok("GET", "/v1/audit", query={"kind": "company",
                                                "id": "mao-khe"})
        self.assertEqual([a["action"] for a in audit["items"]],
                         ["company.delete", "company.update",
                          "company.update", "company.create"])

    def test_zz_clean_exit(self):
        """Last of the class: the shared controller stops cleanly."""
        assert_clean_exit(self, self.rig)

    def test_paging(self):
        r = self.rig
        r.add_site("pg-site")
        for i in range(7):
            r.add_node("pg-%02d" % i, "pg-site")
        d = r.ok("GET", "/v1/nodes", query={"site": "pg-site", "limit": "3",
                                            "offset": "5"})
        self.assertEqual(ids(d), ["pg-05", "pg-06"])
        self.assertEqual(d["total"], 7)
        d = r.ok("GET", "/v1/nodes", query={"site": "pg-site"})
        self.assertNotIn("total", d)
        self.assertEqual(len(d["items"]), 7)
        d = r.ok("GET", "/v1/sites", query={"limit": "1"})
        self.assertEqual(len(d["items"]), 1)
        self.assertGreaterEqual(d["total"], 1)
        for q in ({"limit": "0"}, {"limit": "10001"}, {"limit": "x"},
                  {"limit": "-1"}, {"offset": "-3"}, {"offset": "1e3"},
                  {"limit": ""}):
            key = list(q)[0]
            self.assertError(r.api("GET", "/v1/nodes", query=q,
                                   token="admin"), 400, key, repr(q))
        for key in ("site", "tag", "company", "group"):
            self.assertError(r.api("GET", "/v1/nodes",
                                   query={key: "a b"}, token="editor"),
                             400, key)
        self.assertError(r.api("GET", "/v1/sites", query={"company": "é"},
                               token="editor"), 400, "company")

    def test_bad_input(self):
        r = self.rig
        r.add_site("bi-site")
        r.add_node("bi-node", "bi-site")
        r.ok("POST", "/v1/groups", {"id": "bi-group"}, expect=(201,))

        def bad(method, path, body, status, field, raw=None):
            got = r.api(method, path, body, token="technician", raw=raw)
            self.assertError(got, status, field, "%s %s %r" % (
                method, path, body if raw is None else raw[:60]))

        # Malformed, truncated, not an object, empty.
        for raw in (b"{", b'{"id": "x"', b"[]", b'"x"', b"null", b"",
                    b'{"id": "x", "id": "y"}', b"\xff\xfe{}"):
            bad("POST", "/v1/nodes", None, 400, "body", raw=raw)
            bad("PATCH", "/v1/sites/bi-site", None, 400, "body", raw=raw)
        # Oversized (the org routes take 64 KiB).
        bad("POST", "/v1/groups", None, 413, None,
            raw=json.dumps({"id": "big", "name": "x" * 70000}).encode())
        # Wrong types.
        bad("POST", "/v1/groups", {"id": 7}, 400, "id")
        bad("POST", "/v1/groups", {"id": "g-t", "name": 7}, 400, "name")
        bad("POST", "/v1/groups", {"id": ["g"]}, 400, "id")
        bad("POST", "/v1/companies", {"id": "c-t", "group": 1}, 400, "group")
        bad("POST", "/v1/sites", {"id": "s-t", "timezone": 7}, 400,
            "timezone")
        bad("POST", "/v1/nodes", {"id": "n-t", "site": None}, 400, "site")
        bad("POST", "/v1/nodes", {"id": "n-t", "site": "bi-site",
                                  "tags": "loa"}, 400, "tags")
        bad("POST", "/v1/nodes", {"id": "n-t", "site": "bi-site",
                                  "tags": ["loa", 3]}, 400, "tags[1]")
        bad("PATCH", "/v1/nodes/bi-node", {"tags": {"a": 1}}, 400, "tags")
        bad("PATCH", "/v1/nodes/bi-node", {"name": None}, 400, "name")
        # Missing and unknown fields.
        bad("POST", "/v1/nodes", {"site": "bi-site"}, 400, "id")
        bad("POST", "/v1/nodes", {"id": "n-t"}, 400, "site")
        bad("POST", "/v1/groups", {"name": "no id"}, 400, "id")
        bad("POST", "/v1/groups", {"id": "g-u", "colour": "red"}, 400,
            "colour")
        bad("POST", "/v1/groups", {"id": "g-u", "group": "bi-group"}, 400,
            "group")
        bad("POST", "/v1/companies", {"id": "c-u", "company": "x"}, 400,
            "company")
        bad("POST", "/v1/nodes", {"id": "n-u", "site": "bi-site",
                                  "secret_sha256": "00"}, 400,
            "secret_sha256")
        bad("PATCH", "/v1/nodes/bi-node", {"id": "renamed"}, 400, "id")
        bad("PATCH", "/v1/nodes/bi-node", {}, 400, "body")
        bad("PATCH", "/v1/groups/bi-group", {}, 400, "body")
        # Bad ids, in the body and in the path.
        for bad_id in ("", "a b", "x" * 65, "đà-nẵng", "a/b", "a%b"):
            bad("POST", "/v1/nodes", {"id": bad_id, "site": "bi-site"}, 400,
                "id")
            bad("POST", "/v1/nodes", {"id": "n-v", "site": bad_id}, 400,
                "site")
            bad("POST", "/v1/nodes", {"id": "n-v", "site": "bi-site",
                                      "tags": [bad_id]}, 400, "tags[0]")
        for path_id in ("a%20b", "x" * 65, "%C4%91"):
            bad("GET", "/v1/nodes/" + path_id, None, 400, "id")
            bad("PATCH", "/v1/sites/" + path_id, {"name": "x"}, 400, "id")
            bad("DELETE", "/v1/groups/" + path_id, None, 400, "id")
        # Unknown references, and things that exist already.
        bad("POST", "/v1/nodes", {"id": "n-w", "site": "khong-co"}, 400,
            "site")
        bad("PATCH", "/v1/nodes/bi-node", {"site": "khong-co"}, 400, "site")
        bad("POST", "/v1/companies", {"id": "c-w", "group": "khong-co"},
            400, "group")
        bad("POST", "/v1/sites", {"id": "s-w", "company": "khong-co"}, 400,
            "company")
        bad("PATCH", "/v1/companies/khong-co", {"name": "x"}, 404, "id")
        bad("PATCH", "/v1/nodes/khong-co", {"name": "x"}, 404, "id")
        bad("POST", "/v1/nodes", {"id": "bi-node", "site": "bi-site"}, 409,
            "id")
        bad("POST", "/v1/sites", {"id": "bi-site"}, 409, "id")
        bad("POST", "/v1/groups", {"id": "bi-group"}, 409, "id")
        # Ranges: names, tags, zones.
        bad("POST", "/v1/groups", {"id": "g-r", "name": "x" * 201}, 400,
            "name")
        bad("POST", "/v1/groups", {"id": "g-r", "name": "dòng 1\ndòng 2"},
            400, "name")
        bad("POST", "/v1/groups", {"id": "g-r", "name": "a\u0007b"}, 400,
            "name")
        bad("POST", "/v1/nodes", {"id": "n-r", "site": "bi-site",
                                  "tags": ["t%d" % i for i in range(33)]},
            400, "tags")
        for tz in ("Mars/Olympus", "../../etc/passwd", "", "Asia/Ho Chi Minh",
                   "x" * 100):
            bad("POST", "/v1/sites", {"id": "s-r", "timezone": tz}, 400,
                "timezone")
        # Nothing of the refused requests was written.
        self.assertEqual(r.ok("GET", "/v1/nodes/bi-node")["site"], "bi-site")
        for path in ("/v1/nodes/n-t", "/v1/nodes/n-u", "/v1/nodes/n-v",
                     "/v1/nodes/n-w", "/v1/nodes/n-r", "/v1/groups/g-t",
                     "/v1/groups/g-u", "/v1/groups/g-r",
                     "/v1/companies/c-w", "/v1/sites/s-w", "/v1/sites/s-r"):
            self.assertError(r.api("GET", path, token="admin"), 404, "id",
                             path)
        # 32 tags is the most.
        n = r.ok("POST", "/v1/nodes", {"id": "n-32", "site": "bi-site",
                                       "tags": ["t%02d" % i
                                                for i in range(32)]},
                 expect=(201,))
        self.assertEqual(len(n["tags"]), 32)

    def test_roles(self):
        r = self.rig
        r.add_site("ro-site")
        r.add_node("ro-node", "ro-site")
        writes = [
            ("POST", "/v1/groups", {"id": "ro-g"}),
            ("PATCH", "/v1/sites/ro-site", {"name": "x"}),
            ("DELETE", "/v1/sites/ro-site", None),
            ("POST", "/v1/nodes", {"id": "ro-n2", "site": "ro-site"}),
            ("PATCH", "/v1/nodes/ro-node", {"tags": ["x"]}),
            ("DELETE", "/v1/nodes/ro-node", None),
            ("POST", "/v1/nodes/ro-node/provision", None),
            ("POST", "/v1/companies", {"id": "ro-c"}),
            ("DELETE", "/v1/groups/ro-g", None),
        ]
        for method, path, body in writes:
            for who in ("editor", "approver"):
                self.assertError(r.api(method, path, body, token=who), 403,
                                 what="%s %s as %s" % (method, path, who))
            self.assertError(r.api(method, path, body), 401,
                             what="%s %s anonymous" % (method, path))
            self.assertError(r.api(method, path, body, token="mc_forged"),
                             401, what="%s %s forged" % (method, path))
        for path in ("/v1/groups", "/v1/companies", "/v1/sites", "/v1/nodes",
                     "/v1/nodes/ro-node", "/v1/sites/ro-site"):
            self.assertError(r.api("GET", path), 401, what=path)
            for who in ("editor", "approver", "technician"):
                r.ok("GET", path, token=who)
        # Nothing changed.
        self.assertEqual(r.ok("GET", "/v1/nodes/ro-node")["tags"], [])
        self.assertIsNone(r.ok("GET", "/v1/nodes/ro-node")["provisioned_ms"])

    def test_ctl(self):
        r = self.rig
        rc, out, err = r.ctl(["group", "add", "ctl-tkv", "--name",
                              "Tập đoàn Công nghiệp Than - Khoáng sản"],
                             token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("Tập đoàn Công nghiệp Than - Khoáng sản", out)
        rc, out, err = r.ctl(["company", "add", "ctl-hl", "--group",
                              "ctl-tkv", "--name", HA_LAM_NFD])
        self.assertEqual(rc, 0, err)
        rc, out, err = r.ctl(["site", "add", "ctl-site", "--company",
                              "ctl-hl", "--timezone", "Asia/Ho_Chi_Minh",
                              "--name", "Công trường Hà Lầm"])
        self.assertEqual(rc, 0, err)
        rc, out, err = r.ctl(["site", "list", "--group", "ctl-tkv"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID"), out)
        self.assertIn("TIMEZONE", lines[0])
        self.assertEqual(len(lines), 2, out)
        self.assertIn("Công trường Hà Lầm", lines[1])
        # Columns line up by display width, Vietnamese included.
        self.assertEqual(lines[0].index("COMPANY"), lines[1].index("ctl-hl"))
        rc, out, err = r.ctl(["company", "list", "--json"])
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        hl = [c for c in doc["items"] if c["id"] == "ctl-hl"][0]
        self.assertEqual(hl["name"], HA_LAM_NFC)

        out_dir = os.path.join(r.dir, "bundles", "ctl-n1")
        rc, out, err = r.ctl(["node", "add", "ctl-n1", "--site", "ctl-site",
                              "--tags", "nha-an, ctl-loa", "--name",
                              "Loa nhà ăn", "--out", out_dir,
                              "--cache-dir", "/srv/minecast/cache",
                              "--speaker-output", "gstreamer",
                              "--no-screen"], token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("bundle written to %s/" % out_dir, out)
        conf_path = os.path.join(out_dir, "player.conf")
        self.assertEqual(stat.S_IMODE(os.stat(conf_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
            out_dir, "trusted.pub")).st_mode), 0o644)
        with open(conf_path, encoding="utf-8") as fh:
            conf = parse_ini(fh.read())
        self.assertEqual(conf["node"]["id"], ["ctl-n1"])
        self.assertEqual(conf["node"]["site"], ["ctl-site"])
        self.assertEqual(conf["node"]["tags"], ["ctl-loa, nha-an"])
        self.assertEqual(conf["cache"]["dir"], ["/srv/minecast/cache"])
        self.assertEqual(conf["channels"]["screen"], ["no"])
        self.assertEqual(conf["channels"]["speaker_output"], ["gstreamer"])
        self.assertEqual(conf["keys"]["trusted"], ["trusted.pub"])
        with open(os.path.join(out_dir, "trusted.pub")) as fh:
            with open(r.key + ".pub") as want:
                self.assertEqual(fh.read(), want.read())
        with open(conf_path, encoding="utf-8") as fh:
            first = password_of(fh.read())

        # Default directory ./ID, rotation.
        rc, out, err = r.ctl(["node", "provision", "ctl-n1"],
                             token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("previous password no longer works", out)
        with open(os.path.join(r.dir, "ctl-n1", "player.conf"),
                  encoding="utf-8") as fh:
            second = password_of(fh.read())
        self.assertNotEqual(first, second)

        rc, out, err = r.ctl(["node", "add", "ctl-n2", "--site", "ctl-site",
                              "--no-provision"])
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.join(r.dir, "ctl-n2")))
        rc, out, err = r.ctl(["node", "list", "--site", "ctl-site"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertIn("PROVISIONED", lines[0])
        self.assertIn("ctl-loa,nha-an", lines[1])
        self.assertTrue(lines[2].rstrip().endswith("no"), lines[2])
        rc, out, err = r.ctl(["node", "list", "--tag", "ctl-loa", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(ids(json.loads(out)), ["ctl-n1"])
        rc, out, err = r.ctl(["node", "show", "ctl-n1"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^site\s+ctl-site$")
        self.assertRegex(out, r"(?m)^name\s+Loa nhà ăn$")
        rc, out, err = r.ctl(["node", "edit", "ctl-n2", "--tags", "",
                              "--name", "Màn hình cổng"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(r.ok("GET", "/v1/nodes/ctl-n2")["name"],
                         "Màn hình cổng")

        # The server's refusal comes through as "minecastctl: what: why".
        rc, out, err = r.ctl(["site", "rm", "ctl-site"])
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^minecastctl: site rm: .*còn 2 thiết bị")
        rc, out, err = r.ctl(["node", "add", "ctl-n3", "--site", "khong-co"])
        self.assertEqual(rc, 1)
        self.assertIn("no site 'khong-co'", err)
        rc, out, err = r.ctl(["node", "add", "ctl-n3", "--site", "ctl-site"],
                             token="editor")
        self.assertEqual(rc, 1)
        self.assertFalse(os.path.exists(os.path.join(r.dir, "ctl-n3")))
        # Usage errors never reach the server.
        for args in (["node", "add", "ctl-n4"], ["node", "add"],
                     ["node", "list", "x"], ["node", "frob"],
                     ["site", "add", "s", "--group", "g"],
                     ["group", "edit", "ctl-tkv"],
                     ["node", "add", "n", "--site", "s", "--no-screen",
                      "--no-speaker"],
                     ["node", "show", "ctl-n1", "--tags", "a"],
                     ["node", "add", "..", "--site", "ctl-site"]):
            rc, out, err = r.ctl(args)
            self.assertEqual(rc, 2, "%r: %s" % (args, err))
        self.assertError(r.api("GET", "/v1/nodes/ctl-n4", token="admin"),
                         404)
        rc, out, err = r.ctl(["node", "rm", "ctl-n2"])
        self.assertEqual(rc, 0, err)
        self.assertIn("deleted", out)
        rc, out, err = r.ctl(["group", "rm", "ctl-tkv"])
        self.assertEqual(rc, 1)
        rc, out, err = r.ctl(["company", "edit", "ctl-hl", "--no-group"])
        self.assertEqual(rc, 0, err)
        rc, out, err = r.ctl(["group", "rm", "ctl-tkv"])
        self.assertEqual(rc, 0, err)


class Provisioning(CtlTest):
    """A real mosquitto with the password and ACL files the controller
    maintains; real players from provisioned bundles."""

    rig_options = {"mqtt_auth": True}

    def setUp(self):
        super().setUp()
        # Runs before the rig is closed (cleanups run last first).
        self.addCleanup(assert_clean_exit, self, self.rig)

    def secret_of(self, node):
        db = sqlite3.connect(os.path.join(self.rig.data_dir, "minecast.db"))
        try:
            row = db.execute("SELECT secret_sha256 FROM nodes WHERE id = ?",
                             (node,)).fetchone()
        finally:
            db.close()
        return row[0] if row else None

    def test_player_connects_and_acl(self):
        r = self.rig
        r.add_site("cua-lo")
        r.add_node("pi-1", "cua-lo", tags=["nha-an"])
        r.add_node("pi-2", "cua-lo")
        watch = r.mqtt_client(subscribe="minecast/v1/node/#")
        doc = r.ok("POST", "/v1/nodes/pi-1/provision", token="technician")
        self.assertEqual(doc["node"], "pi-1")
        self.assertFalse(doc["rotated"])
        self.assertEqual(doc["broker"], {"password_file": True,
                                         "acl_file": True, "reload": "ok"})
        bundle = doc["files"]
        self.assertEqual(sorted(bundle), ["player.conf", "trusted.pub"])
        conf = parse_ini(bundle["player.conf"])
        pw = password_of(bundle["player.conf"])
        self.assertRegex(pw, r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(conf["node"]["id"], ["pi-1"])
        self.assertEqual(conf["node"]["tags"], ["nha-an"])
        self.assertEqual(conf["mqtt"]["username"], ["pi-1"])
        self.assertEqual(conf["mqtt"]["broker"],
                         ["mqtt://%s:%d" % (HOST, r.broker.port)])
        self.assertEqual(conf["http"]["base"], [r.base])
        # Only the hash is stored; the audit row says nothing secret.
        self.assertEqual(self.secret_of("pi-1"),
                         hashlib.sha256(pw.encode()).hexdigest())
        audit = r.ok("GET", "/v1/audit", query={"kind": "node", "id": "pi-1",
                                                "action": "node.provision"})
        self.assertEqual(len(audit["items"]), 1)
        self.assertNotIn(pw, json.dumps(audit))
        self.assertNotIn(pw, r.log_text())
        # The broker's files.
        with open(r.passwd_file) as fh:
            users = [ln.split(":")[0] for ln in fh if ln.strip()]
        self.assertEqual(sorted(users), ["controller", "harness", "pi-1"])
        with open(r.acl_file) as fh:
            acl = fh.read()
        self.assertIn("pattern read  minecast/v1/node/%u/desired", acl)
        self.assertIn("user controller\n", acl)
        # The harness's own block was kept, below the marker.
        self.assertGreater(acl.index("user harness"),
                           acl.index("local additions"))
        self.assertNotIn(pw, acl)

        # The real player, as provisioned, connects: its birth appears.
        since = time.time()
        p = r.start_player("pi-1", bundle=bundle)

        def born(topic, payload):
            return (topic == "minecast/v1/node/pi-1/state"
                    and json.loads(payload).get("online") is True)
        watch.wait_message(born, 30, "pi-1's retained online state",
                           since=since)
        p.assert_alive()
        # The same password opens the HTTP API as the node (authenticated,
        # but not a person: 403), a wrong one does not (401).
        self.assertStatus(r.api("GET", "/v1/nodes", headers={
            "Authorization": basic("pi-1", pw)}), 403)
        self.assertStatus(r.api("GET", "/v1/nodes", headers={
            "Authorization": basic("pi-1", pw[:-1] + "x")}), 401)

        # pi-2 with its own credentials: its own topics work, pi-1's do
        # not (the broker drops what the ACL refuses).
        pw2 = password_of(r.provision("pi-2")["player.conf"])
        spy = r.mqtt_client(client_id="pi-2", username="pi-2", password=pw2)
        spy.subscribe("minecast/v1/node/pi-1/cmd")
        spy.subscribe("minecast/v1/node/pi-2/cmd")
        since = time.time()
        spy.publish("minecast/v1/node/pi-1/state",
                    {"v": 1, "node": "pi-1", "online": False}, retain=True)
        spy.publish("minecast/v1/node/pi-1/health", {"forged": True})
        spy.publish("minecast/v1/node/pi-2/health", {"mine": True})
        watch.wait_message(lambda t, pl: t == "minecast/v1/node/pi-2/health",
                           10, "pi-2's own health", since=since)
        watch.publish("minecast/v1/node/pi-1/cmd", "for pi-1")
        watch.publish("minecast/v1/node/pi-2/cmd", "for pi-2")
        spy.wait_message(lambda t, pl: t == "minecast/v1/node/pi-2/cmd", 10,
                         "pi-2's own command topic", since=since)
        time.sleep(0.5)  # anything forged would have arrived by now
        forged = [m for m in watch.messages("minecast/v1/node/pi-1/",
                                            since=since)
                  if m[1] != "minecast/v1/node/pi-1/cmd"]
        self.assertEqual(forged, [])
        self.assertEqual(spy.messages("minecast/v1/node/pi-1/"), [])
        # A late subscriber still sees pi-1 online (the retained state
        # was not overwritten by the forgery).
        late = r.mqtt_client(subscribe="minecast/v1/node/pi-1/state")
        m = late.wait_message(lambda t, pl: True, 10, "retained state")
        self.assertIs(json.loads(m[2])["online"], True)
        # The node cannot write a pointer or an alert either.
        since = time.time()
        spy.publish("minecast/v1/node/pi-2/desired", "forged pointer")
        spy.publish("minecast/v1/alert/x", "forged alert")
        watch.subscribe("minecast/v1/alert/#")
        time.sleep(0.5)
        self.assertEqual([m for m in watch.messages(since=since)
                          if m[1].endswith("/desired") or "/alert/" in m[1]],
                         [])
        p.assert_alive()

    def test_rotation_and_delete(self):
        r = self.rig
        r.add_site("mk")
        r.add_node("pi-r", "mk")
        port = r.broker.port
        old = password_of(r.provision("pi-r")["player.conf"])
        self.assertEqual(try_connect(port, "pi-r", old), 0)
        self.assertEqual(try_connect(port, "pi-r", "guess"), 5)
        doc = r.ok("POST", "/v1/nodes/pi-r/provision", token="technician")
        self.assertTrue(doc["rotated"])
        new = password_of(doc["files"]["player.conf"])
        self.assertNotEqual(old, new)
        self.assertEqual(self.secret_of("pi-r"),
                         hashlib.sha256(new.encode()).hexdigest())
        # The reload is a signal: give mosquitto a moment to reread.
        wait_for(lambda: try_connect(port, "pi-r", old) == 5, 10,
                 "the old password refused")
        self.assertEqual(try_connect(port, "pi-r", new), 0)
        self.assertEqual(r.ok("GET", "/v1/nodes/pi-r")["provisioned_ms"],
                         doc["provisioned_ms"])
        # Deleting the node removes its broker login and clears its
        # retained pointer.
        w = r.mqtt_client()
        w.publish("minecast/v1/node/pi-r/desired", "a pointer", retain=True)
        r.ok("DELETE", "/v1/nodes/pi-r", token="technician")
        with open(r.passwd_file) as fh:
            self.assertNotIn("pi-r:", fh.read())
        wait_for(lambda: try_connect(port, "pi-r", new) == 5, 10,
                 "the deleted node refused")
        self.assertEqual(try_connect(port, "harness",
                                     r.mqtt_users["harness"]), 0)
        def no_retained():
            late = r.mqtt_client(subscribe="minecast/v1/node/pi-r/desired")
            time.sleep(0.3)
            gone = late.messages() == []
            late.stop()
            return gone
        wait_for(no_retained, 10, "pi-r's retained pointer cleared")
        self.assertError(r.api("POST", "/v1/nodes/pi-r/provision",
                               token="admin"), 404, "id")

    def test_bundle_checks_and_bad_input(self):
        r = self.rig
        r.add_site("ck")
        r.add_node("pi-c", "ck", tags=["a", "b"])
        doc = r.ok("POST", "/v1/nodes/pi-c/provision",
                   {"cache_dir": "/var/cache/minecast-test",
                    "state_dir": "/var/lib/minecast-test",
                    "screen": True, "speaker": False,
                    "screen_output": "sdl"})
        d = os.path.join(r.dir, "check")
        os.makedirs(d)
        for name, text in doc["files"].items():
            path = os.path.join(d, name)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(path, 0o600 if name == "player.conf" else 0o644)
        # The player itself accepts the bundle as it is.
        p = subprocess.run([player_bin(), "--check-config",
                            os.path.join(d, "player.conf")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        conf = parse_ini(doc["files"]["player.conf"])
        self.assertEqual(conf["cache"]["state_dir"],
                         ["/var/lib/minecast-test"])
        self.assertEqual(conf["channels"]["speaker"], ["no"])
        self.assertEqual(conf["channels"]["screen_output"], ["sdl"])
        self.assertEqual(conf["node"]["tags"], ["a, b"])

        def bad(body, field, status=400, raw=None, node="pi-c"):
            got = r.api("POST", "/v1/nodes/%s/provision" % node, body,
                        token="technician", raw=raw)
            self.assertError(got, status, field, repr(body or raw))
        bad({"cache_dir": "relative/dir"}, "cache_dir")
        bad({"cache_dir": "/a dir"}, "cache_dir")
        bad({"state_dir": "/x\n[mqtt]"}, "state_dir")
        bad({"state_dir": 5}, "state_dir")
        bad({"screen": "yes"}, "screen")
        bad({"screen": False, "speaker": False}, "screen")
        bad({"speaker_output": "gst reamer"}, "speaker_output")
        bad({"password": "mine"}, "password")
        bad(None, "body", raw=b"{")
        bad(None, "body", raw=b"[1]")
        bad(None, None, status=413, raw=b'{"cache_dir": "/' + b"a" * 70000
            + b'"}')
        bad({}, "id", status=404, node="khong-co")
        bad({}, "id", node="a%20b")
        # None of these changed the password.
        self.assertEqual(self.secret_of("pi-c"), hashlib.sha256(
            password_of(doc["files"]["player.conf"]).encode()).hexdigest())

    def test_concurrent_provisions(self):
        """Provisions at the same time lose nobody's entry."""
        r = self.rig
        r.add_site("cc")
        nodes = ["pi-cc-%d" % i for i in range(6)]
        for n in nodes:
            r.add_node(n, "cc")
        got = {}

        def one(n):
            got[n] = r.api("POST", "/v1/nodes/%s/provision" % n,
                           token="technician")
        threads = [threading.Thread(target=one, args=(n,)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with open(r.passwd_file) as fh:
            users = sorted(ln.split(":")[0] for ln in fh if ln.strip())
        self.assertEqual(users, sorted(nodes + ["controller", "harness"]))
        leftovers = [f for f in os.listdir(os.path.dirname(r.passwd_file))
                     if f.startswith("passwd.")]
        self.assertEqual(leftovers, [])
        for n in nodes:
            doc = self.assertStatus(got[n], 200, n)
            pw = password_of(doc["files"]["player.conf"])
            wait_for(lambda: try_connect(r.broker.port, n, pw) == 0, 10,
                     "%s connects" % n)

    def test_controller_user_reserved(self):
        r = self.rig
        r.add_site("rs")
        self.assertError(r.api("POST", "/v1/nodes", {"id": "controller",
                                                     "site": "rs"},
                               token="admin"), 409, "id")


def basic(user, password):
    import base64
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()
