"""People, credentials and the service endpoints of minecast-controller,
over real HTTP (docs/api.md): sessions with CSRF, the login
rate limit, API tokens, user management, roles on a sample of every
module's endpoints, bad bodies, /healthz, /metrics, backup, and the
minecastctl commands of ctl_auth.c."""

import json
import os
import re
import sqlite3
import stat
import subprocess
import unittest

from controller.ctlharness import (CtlTest, ROLE_USERS, ctl_bin,
                                   password_for)

# A sample of every module's endpoints: (method, path, roles allowed).
# Roles are checked before the body is read, so any body (none here)
# gets 401 without credentials and 403 with a role not listed (admin
# passes every check).  Paths with ids name things that do not exist:
# the role check comes first.
ROLE_SAMPLES = [
    # core
    ("GET", "/v1/users", {"admin"}),
    ("POST", "/v1/users", {"admin"}),
    ("POST", "/v1/backup", {"admin"}),
    ("GET", "/v1/audit", {"admin", "approver"}),
    # content and workflow
    ("POST", "/v1/content", {"editor"}),
    ("POST", "/v1/content/c-1/submit", {"editor"}),
    ("POST", "/v1/content/c-1/approve", {"approver"}),
    ("POST", "/v1/content/c-1/reject", {"approver"}),
    ("POST", "/v1/entries/e-1/approve", {"approver"}),
    ("POST", "/v1/playlists/p-1/submit", {"editor"}),
    ("GET", "/v1/review", {"editor", "approver"}),
    # organisation and provisioning
    ("POST", "/v1/sites", {"technician"}),
    ("POST", "/v1/nodes", {"technician"}),
    ("DELETE", "/v1/nodes/n-1", {"technician"}),
    ("POST", "/v1/nodes/n-1/provision", {"technician"}),
    # publishing and alerts
    ("POST", "/v1/publish", {"approver"}),
    ("POST", "/v1/alerts", {"technician", "approver"}),
    ("POST", "/v1/alerts/a-1/clear", {"technician", "approver"}),
    # fleet
    ("POST", "/v1/nodes/n-1/commands", {"technician"}),
    ("GET", "/v1/nodes/n-1/screenshots", {"technician"}),
]

# Any signed-in person may call these; nobody without credentials.
ANY_USER_SAMPLES = [
    ("GET", "/v1/auth/me"),
    ("GET", "/v1/tokens"),
    ("GET", "/v1/fleet"),
    ("GET", "/v1/rollout"),
    ("GET", "/v1/publishes"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/sites"),
    ("GET", "/v1/nodes"),
]

SQLITE_MAGIC = b"SQLite format 3\x00"


def integrity(path):
    """sqlite3 FILE 'PRAGMA integrity_check' (the command-line tool)."""
    p = subprocess.run(["sqlite3", path, "PRAGMA integrity_check"],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


class Sessions(CtlTest):
    """Browser sessions: cookie, CSRF, logout, wrong passwords, the rate
    limit, disabled accounts."""

    per_class = True

    def test_login_session_and_csrf(self):
        rig = self.rig
        s = rig.login("editor")
        self.assertEqual(s.doc["user"]["name"], "editor")
        self.assertEqual(s.doc["user"]["roles"], ["editor"])
        self.assertNotIn("password_hash", s.doc["user"])
        self.assertGreater(len(s.csrf), 20)
        # The cookie is HttpOnly and SameSite=Strict.
        st, doc, h = rig.api("POST", "/v1/auth/login",
                             {"user": "editor",
                              "password": password_for("editor")})
        self.assertEqual(st, 200)
        sc = [c for c in h.get_all("Set-Cookie")
              if c.startswith("mc_session=")][0]
        self.assertIn("HttpOnly", sc)
        self.assertIn("SameSite=Strict", sc)
        # Reads need no CSRF token.
        me = self.assertStatus(rig.api("GET", "/v1/auth/me", session=s),
                               200)
        self.assertEqual(me["name"], "editor")
        self.assertEqual(me["via"], "session")
        # A mutation without the header, or with a wrong one, is refused.
        self.assertError(rig.api("POST", "/v1/tokens", {"name": "x"},
                                 session=s, csrf=False), 403,
                         what="mutation without X-CSRF-Token")
        self.assertError(rig.api("POST", "/v1/tokens", {"name": "x"},
                                 session=s, csrf=False,
                                 headers={"X-CSRF-Token": "0" * 43}), 403,
                         what="mutation with a wrong X-CSRF-Token")
        # Another session's token does not fit this one.
        other = rig.login("editor")
        self.assertNotEqual(other.csrf, s.csrf)
        self.assertError(rig.api("POST", "/v1/tokens", {"name": "x"},
                                 session=s, csrf=False,
                                 headers={"X-CSRF-Token": other.csrf}),
                         403, what="another session's CSRF token")
        # With it, the mutation goes through.
        tok = self.assertStatus(rig.api("POST", "/v1/tokens",
                                        {"name": "from a browser"},
                                        session=s), 201)
        self.assertTrue(tok["token"].startswith("mc_"))

    def test_logout_ends_the_session(self):
        rig = self.rig
        s = rig.login("approver")
        self.assertStatus(rig.api("GET", "/v1/auth/me", session=s), 200)
        # Logout is a mutation: CSRF required.
        self.assertError(rig.api("POST", "/v1/auth/logout", session=s,
                                 csrf=False), 403)
        st, doc, h = rig.api("POST", "/v1/auth/logout", session=s)
        self.assertEqual(st, 200, doc)
        self.assertTrue(any("Max-Age=0" in c
                            for c in h.get_all("Set-Cookie")), h)
        self.assertError(rig.api("GET", "/v1/auth/me", session=s), 401,
                         what="the cookie after logout")

    def test_wrong_password_and_unknown_user(self):
        rig = self.rig
        a = self.assertError(rig.api("POST", "/v1/auth/login",
                                     {"user": "technician",
                                      "password": "not-the-password"}),
                             401)
        b = self.assertError(rig.api("POST", "/v1/auth/login",
                                     {"user": "nobody-here",
                                      "password": "not-the-password"}),
                             401)
        # The same answer: nothing tells which names exist.
        self.assertEqual(a["message"], b["message"])
        # The right password still works (one failure is no lock).
        rig.login("technician")

    def test_login_bad_bodies(self):
        rig = self.rig
        self.assertError(rig.api("POST", "/v1/auth/login",
                                 {"user": "editor"}), 400, "password")
        self.assertError(rig.api("POST", "/v1/auth/login",
                                 {"user": 5, "password": "x" * 10}), 400,
                         "user")
        self.assertError(rig.api("POST", "/v1/auth/login",
                                 {"user": "editor", "password": "x" * 10,
                                  "remember": True}), 400, "remember")
        self.assertError(rig.api("POST", "/v1/auth/login", raw=b"{"), 400)
        self.assertError(rig.api("POST", "/v1/auth/login",
                                 raw=b'{"user": "\xff", "password": "x"}'),
                         400)

    def test_rate_limit(self):
        rig = self.rig
        rig.add_user("limited", ["editor"])
        for i in range(5):
            self.assertError(rig.api("POST", "/v1/auth/login",
                                     {"user": "limited",
                                      "password": "wrong-%d-password" % i}),
                             401, what="failure %d" % (i + 1))
        # Now even the right password waits.
        st, doc, h = rig.api("POST", "/v1/auth/login",
                             {"user": "limited",
                              "password": password_for("limited")})
        self.assertEqual(st, 429, doc)
        self.assertEqual(doc["error"]["status"], 429)
        self.assertTrue(h.get("Retry-After"))
        # Other names are not affected.
        rig.login("editor2")
        # The API token of the locked name still works (a different
        # credential, not guessed).
        self.assertStatus(rig.api("GET", "/v1/auth/me", token="limited"),
                          200)

    def test_disabled_user(self):
        rig = self.rig
        rig.add_user("leaver", ["editor"])
        s = rig.login("leaver")
        self.assertStatus(rig.api("PATCH", "/v1/users/leaver",
                                  {"disabled": True}, token="admin"), 200)
        self.assertError(rig.api("POST", "/v1/auth/login",
                                 {"user": "leaver",
                                  "password": password_for("leaver")}),
                         401, what="login of a disabled user")
        self.assertError(rig.api("GET", "/v1/auth/me", token="leaver"), 401,
                         what="token of a disabled user")
        self.assertError(rig.api("GET", "/v1/auth/me", session=s), 401,
                         what="session of a disabled user")
        self.assertStatus(rig.api("PATCH", "/v1/users/leaver",
                                  {"disabled": False}, token="admin"), 200)
        self.assertStatus(rig.api("GET", "/v1/auth/me", token="leaver"),
                          200)


class Tokens(CtlTest):
    """API tokens: create, use, list, revoke."""

    per_class = True

    def test_create_list_revoke(self):
        rig = self.rig
        made = self.assertStatus(rig.api("POST", "/v1/tokens",
                                         {"name": "máy in báo cáo"},
                                         token="technician"), 201)
        tok = made["token"]
        self.assertTrue(tok.startswith("mc_"))
        self.assertEqual(made["name"], "máy in báo cáo")
        me = self.assertStatus(rig.api("GET", "/v1/auth/me", token=tok),
                               200)
        self.assertEqual(me["name"], "technician")
        self.assertEqual(me["via"], "token")
        items = self.assertStatus(rig.api("GET", "/v1/tokens", token=tok),
                                  200)["items"]
        mine = [t for t in items if t["id"] == made["id"]]
        self.assertEqual(len(mine), 1, items)
        self.assertEqual(mine[0]["prefix"], tok[:len(mine[0]["prefix"])])
        self.assertLess(len(mine[0]["prefix"]), len(tok) // 2)
        for t in items:
            self.assertNotIn("token", t)
            self.assertNotIn("token_sha256", t)
        # Only the owner's tokens are listed.
        other = self.assertStatus(rig.api("GET", "/v1/tokens",
                                          token="editor"), 200)["items"]
        self.assertNotIn(made["id"], [t["id"] for t in other])
        # Someone else cannot revoke it (it does not exist for them).
        self.assertError(rig.api("DELETE", "/v1/tokens/%d" % made["id"],
                                 token="editor"), 404)
        self.assertStatus(rig.api("GET", "/v1/auth/me", token=tok), 200)
        # The owner can; from then on it is refused.
        self.assertStatus(rig.api("DELETE", "/v1/tokens/%d" % made["id"],
                                  token="technician"), 200)
        self.assertError(rig.api("GET", "/v1/auth/me", token=tok), 401,
                         what="a revoked token")
        self.assertError(rig.api("DELETE", "/v1/tokens/%d" % made["id"],
                                 token="technician"), 404,
                         what="revoking twice")
        # The owner's other token still works.
        self.assertStatus(rig.api("GET", "/v1/auth/me",
                                  token="technician"), 200)

    def test_admin_revokes_anyones_token(self):
        rig = self.rig
        made = self.assertStatus(rig.api("POST", "/v1/tokens",
                                         {"name": "x"}, token="editor2"),
                                 201)
        self.assertStatus(rig.api("DELETE", "/v1/tokens/%d" % made["id"],
                                  token="admin"), 200)
        self.assertError(rig.api("GET", "/v1/auth/me",
                                 token=made["token"]), 401)

    def test_tokens_for_others_admin_only(self):
        rig = self.rig
        self.assertError(rig.api("POST", "/v1/tokens",
                                 {"name": "x", "user": "approver"},
                                 token="editor"), 403, "user")
        self.assertError(rig.api("POST", "/v1/tokens",
                                 {"name": "x", "user": "no-such-user"},
                                 token="admin"), 404, "user")
        made = self.assertStatus(rig.api("POST", "/v1/tokens",
                                         {"name": "x", "user": "approver"},
                                         token="admin"), 201)
        me = self.assertStatus(rig.api("GET", "/v1/auth/me",
                                       token=made["token"]), 200)
        self.assertEqual(me["name"], "approver")

    def test_bad_tokens(self):
        rig = self.rig
        good = rig.tokens["editor"]
        for bad in ("mc_" + "A" * 43, good[:-1], good + "x", "", "mc_",
                    "x" * 5000):
            self.assertError(rig.api("GET", "/v1/auth/me",
                                     headers={"Authorization":
                                              "Bearer " + bad}), 401,
                             what="bearer %r" % bad[:20])
        for header in ("Bearer", "Token " + good, "Basic !!!",
                       "Basic " + "QQ=="):
            self.assertError(rig.api("GET", "/v1/auth/me",
                                     headers={"Authorization": header}),
                             401, what="Authorization %r" % header[:20])
        self.assertError(rig.api("GET", "/v1/auth/me",
                                 headers={"Cookie": "mc_session=forged"}),
                         401)
        self.assertError(rig.api("POST", "/v1/tokens",
                                 {"name": "x", "expires_days": 0},
                                 token="editor"), 400, "expires_days")
        self.assertError(rig.api("POST", "/v1/tokens",
                                 {"name": "x", "expires_days": "7"},
                                 token="editor"), 400, "expires_days")
        self.assertError(rig.api("DELETE", "/v1/tokens/abc",
                                 token="editor"), 400, "id")
        self.assertError(rig.api("DELETE", "/v1/tokens/999999",
                                 token="editor"), 404)

    def test_expiring_token(self):
        rig = self.rig
        made = self.assertStatus(rig.api("POST", "/v1/tokens",
                                         {"name": "week",
                                          "expires_days": 7},
                                         token="editor"), 201)
        items = self.assertStatus(rig.api("GET", "/v1/tokens",
                                          token="editor"), 200)["items"]
        t = [t for t in items if t["id"] == made["id"]][0]
        self.assertGreater(t["expires_ms"], t["created_ms"] + 6 * 86400000)
        self.assertLessEqual(t["expires_ms"],
                             t["created_ms"] + 7 * 86400000 + 5000)


class Users(CtlTest):
    """User management: admin only; validation; audit."""

    per_class = True

    def test_create_and_list(self):
        rig = self.rig
        u = self.assertStatus(rig.api("POST", "/v1/users", {
            "name": "bien-tap-3", "password": "Mật khẩu đủ dài 2023",
            "roles": ["editor", "approver"],
            "display_name": "Nguyễn Thị Hoà"}, token="admin"), 201)
        self.assertEqual(u["name"], "bien-tap-3")
        self.assertEqual(sorted(u["roles"]), ["approver", "editor"])
        self.assertNotIn("password", u)
        self.assertNotIn("password_hash", u)
        items = self.assertStatus(rig.api("GET", "/v1/users",
                                          token="admin"), 200)["items"]
        names = [x["name"] for x in items]
        for n in ["admin", "bien-tap-3"] + list(ROLE_USERS):
            self.assertIn(n, names)
        for x in items:
            self.assertNotIn("password_hash", x)
        # NFC: the display name comes back composed.
        mine = [x for x in items if x["name"] == "bien-tap-3"][0]
        self.assertEqual(mine["display_name"], "Nguyễn Thị Hoà")
        # The new user can log in with the password given.
        rig.login("bien-tap-3", "Mật khẩu đủ dài 2023")
        # The creation is in the audit log.
        audit = self.assertStatus(rig.api("GET", "/v1/audit",
                                          token="admin",
                                          query={"kind": "user"}), 200)
        self.assertTrue(any(a.get("action") == "user.create" and
                            a.get("object_id") == "bien-tap-3"
                            for a in audit["items"]), audit)

    def test_duplicate_and_bad_input(self):
        rig = self.rig
        ok = {"name": "dup", "password": "long enough 123",
              "roles": ["editor"]}
        self.assertStatus(rig.api("POST", "/v1/users", ok, token="admin"),
                          201)
        self.assertError(rig.api("POST", "/v1/users", ok, token="admin"),
                         409)
        cases = [
            ({"password": "long enough 123", "roles": ["editor"]}, "name"),
            (dict(ok, name="has space"), "name"),
            (dict(ok, name="x" * 65), "name"),
            (dict(ok, name=17), "name"),
            (dict(ok, name="short-pw", password="1234567"), "password"),
            (dict(ok, name="no-pw", password=None), "password"),
            (dict(ok, name="bad-role", roles=["editor", "king"]), "roles"),
            (dict(ok, name="bad-roles", roles="editor"), "roles"),
            (dict(ok, name="extra", shoe_size=42), "shoe_size"),
        ]
        for body, field in cases:
            body = {k: v for k, v in body.items() if v is not None}
            self.assertError(rig.api("POST", "/v1/users", body,
                                     token="admin"), 400, field,
                             what="POST /v1/users %r" % body)
        # Nothing was created by the refused requests.
        names = [x["name"] for x in self.assertStatus(
            rig.api("GET", "/v1/users", token="admin"), 200)["items"]]
        for n in ("short-pw", "bad-role", "bad-roles", "extra", "no-pw"):
            self.assertNotIn(n, names)

    def test_admin_only(self):
        rig = self.rig
        for who in ROLE_USERS:
            self.assertError(rig.api("POST", "/v1/users", {
                "name": "sneaky", "password": "long enough 123",
                "roles": ["admin"]}, token=who), 403, what=who)
            self.assertError(rig.api("GET", "/v1/users", token=who), 403,
                             what=who)
        # A user may change their own display name and password, not
        # their roles, nor anyone else.
        self.assertStatus(rig.api("PATCH", "/v1/users/technician",
                                  {"display_name": "Trần Văn Kỹ"},
                                  token="technician"), 200)
        self.assertError(rig.api("PATCH", "/v1/users/technician",
                                 {"roles": ["admin"]},
                                 token="technician"), 403)
        self.assertError(rig.api("PATCH", "/v1/users/editor",
                                 {"display_name": "x"},
                                 token="technician"), 403)

    def test_last_admin_stays(self):
        rig = self.rig
        self.assertError(rig.api("PATCH", "/v1/users/admin",
                                 {"roles": ["editor"]}, token="admin"),
                         409, "roles")
        self.assertError(rig.api("PATCH", "/v1/users/admin",
                                 {"disabled": True}, token="admin"),
                         409, "disabled")
        self.assertStatus(rig.api("GET", "/v1/auth/me", token="admin"),
                          200)

    def test_password_change_ends_sessions(self):
        rig = self.rig
        rig.add_user("doi-mat-khau", ["editor"])
        s = rig.login("doi-mat-khau")
        self.assertStatus(rig.api("PATCH", "/v1/users/doi-mat-khau",
                                  {"password": "một mật khẩu mới"},
                                  session=s), 200)
        self.assertError(rig.api("GET", "/v1/auth/me", session=s), 401)
        rig.login("doi-mat-khau", "một mật khẩu mới")
        self.assertError(rig.api("POST", "/v1/auth/login", {
            "user": "doi-mat-khau",
            "password": password_for("doi-mat-khau")}), 401)


class Roles(CtlTest):
    """Unauthenticated requests get 401 and wrong roles 403 on a sample
    of every module's endpoints."""

    per_class = True

    def test_unauthenticated(self):
        rig = self.rig
        for method, path, _ in ROLE_SAMPLES:
            self.assertError(rig.api(method, path, {}), 401,
                             what="%s %s without credentials"
                             % (method, path))
        for method, path in ANY_USER_SAMPLES:
            self.assertError(rig.api(method, path), 401,
                             what="%s %s without credentials"
                             % (method, path))

    def test_wrong_roles(self):
        rig = self.rig
        for method, path, allowed in ROLE_SAMPLES:
            for who, roles in ROLE_USERS.items():
                if set(roles) & allowed:
                    continue
                self.assertError(rig.api(method, path, {}, token=who), 403,
                                 what="%s %s as %s" % (method, path, who))

    def test_allowed_roles_pass_the_check(self):
        # Allowed callers get past the role check: whatever the handler
        # then says about the empty body or unknown id, it is not 401/403.
        rig = self.rig
        for method, path, allowed in ROLE_SAMPLES:
            for who in sorted(allowed) + ["admin"]:
                st, doc, _ = rig.api(method, path, {}, token=who)
                self.assertNotIn(st, (401, 403),
                                 "%s %s as %s: %d %s" % (method, path, who,
                                                         st, doc))
        for method, path in ANY_USER_SAMPLES:
            for who in list(ROLE_USERS) + ["admin"]:
                self.assertStatus(rig.api(method, path, token=who), 200,
                                  "%s %s as %s" % (method, path, who))

    def test_public_endpoints(self):
        rig = self.rig
        self.assertStatus(rig.api("GET", "/healthz"), 200)
        info = self.assertStatus(rig.api("GET", "/v1/info"), 200)
        self.assertFalse(info["first_run"])
        self.assertIn("version", info)
        # Content-addressed files are public; an unknown hash is 404.
        self.assertError(rig.api("GET", "/v1/content/" + "0" * 64), 404)
        self.assertError(rig.api("GET", "/v1/manifests/" + "0" * 64), 404)

    def test_unknown_path_and_method(self):
        rig = self.rig
        self.assertError(rig.api("GET", "/v1/no-such-thing",
                                 token="admin"), 404)
        st, doc, h = rig.api("PUT", "/v1/users", {}, token="admin")
        self.assertEqual(st, 405, doc)
        self.assertIn("GET", h.get("Allow", ""))


class BadBodies(CtlTest):
    """Malformed, mistyped, oversized and truncated bodies are refused
    with a JSON error, and nothing is written."""

    per_class = True

    def users(self):
        return [x["name"] for x in self.assertStatus(
            self.rig.api("GET", "/v1/users", token="admin"), 200)["items"]]

    def test_malformed_json(self):
        rig = self.rig
        before = self.users()
        for raw in (b"", b"{", b'{"name": "x",}', b"[1, 2]", b'"text"',
                    b"null", b'{"name": "x"} trailing', b"\x00\x01",
                    b'{"name": "x", "name": "y"}',
                    b'{"name": "\xc3\x28", "password": "long enough"}',
                    b'{"name": "\xed\xa0\x80"}'):
            self.assertError(rig.api("POST", "/v1/users", raw=raw,
                                     token="admin"), 400,
                             what="body %r" % raw[:30])
        self.assertEqual(sorted(before), sorted(self.users()))

    def test_wrong_types(self):
        rig = self.rig
        for body, field in (
                ({"name": ["x"], "password": "long enough 1",
                  "roles": ["editor"]}, "name"),
                ({"name": "t1", "password": 12345678,
                  "roles": ["editor"]}, "password"),
                ({"name": "t2", "password": "long enough 1",
                  "roles": [1]}, "roles"),
                ({"name": "t3", "password": "long enough 1",
                  "roles": {"editor": True}}, "roles"),
                ({"name": "t4", "password": "long enough 1",
                  "roles": ["editor"], "display_name": False},
                 "display_name")):
            self.assertError(rig.api("POST", "/v1/users", body,
                                     token="admin"), 400, field,
                             what=repr(body))
        self.assertError(rig.api("PATCH", "/v1/users/editor",
                                 {"disabled": "yes"}, token="admin"), 400,
                         "disabled")
        self.assertError(rig.api("POST", "/v1/tokens",
                                 {"name": {"nested": 1}}, token="editor"),
                         400, "name")

    def test_oversized(self):
        rig = self.rig
        before = self.users()
        # Over the route's limit (64 KiB): 413 before the body is read.
        big = json.dumps({"name": "big", "password": "long enough 1",
                          "roles": ["editor"],
                          "display_name": "x" * (70 * 1024)})
        err = self.assertError(rig.api("POST", "/v1/users", raw=big,
                                       token="admin"), 413, "body")
        self.assertIn("65536", err["message"])
        # Far over the limit (8 MiB): still a clean 413.
        self.assertError(rig.api("POST", "/v1/users",
                                 raw=b"[" + b"1," * (4 << 20) + b"1]",
                                 token="admin"), 413, "body")
        # A chunked body with no Content-Length that grows too big.
        chunk = b"x" * 8192
        raw = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                       for _ in range(12)) + b"0\r\n\r\n"
        self.assertError(rig.api("POST", "/v1/users", raw=raw,
                                 token="admin",
                                 headers={"Transfer-Encoding": "chunked"}),
                         413, "body")
        # Within the limit but too long for the field: 400 on the field.
        self.assertError(rig.api("POST", "/v1/users", {
            "name": "long-display", "password": "long enough 1",
            "roles": ["editor"], "display_name": "ạ" * 5000},
            token="admin"), 400, "display_name")
        # A Content-Length that is not a number: refused (by
        # libmicrohttpd itself, before any handler), and the server
        # carries on.
        st, _, _ = rig.api("POST", "/v1/users", raw=b"{}", token="admin",
                           headers={"Content-Length": "1e3"})
        self.assertEqual(st, 400)
        rig.assert_controller_alive()
        self.assertEqual(sorted(before), sorted(self.users()))

    def test_truncated_body(self):
        # The connection ends before the announced body: no request is
        # handled, nothing is written, and the server carries on.
        rig = self.rig
        import socket
        body = json.dumps({"name": "truncated", "password": "long enough 1",
                           "roles": ["editor"]}).encode()
        with socket.create_connection(("127.0.0.1", rig.port)) as s:
            s.sendall(b"POST /v1/users HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " +
                      rig.tokens["admin"].encode() +
                      b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (len(body) + 100)
                      + body)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        self.assertNotIn("truncated", self.users())
        self.rig.assert_controller_alive()


class Service(CtlTest):
    """/healthz, /metrics, backup, the audit log."""

    per_class = True

    def test_healthz(self):
        st, doc, h = self.rig.api("GET", "/healthz")
        self.assertEqual(st, 200, doc)

    def test_metrics_format(self):
        rig = self.rig
        for _ in range(3):
            self.assertStatus(rig.api("GET", "/v1/auth/me", token="editor"),
                              200)
        st, body, h = rig.api("GET", "/metrics", token="admin")
        self.assertEqual(st, 200, body)
        self.assertTrue(h.get("Content-Type", "").startswith("text/plain"),
                        h)
        text = body.decode("utf-8")
        self.assertTrue(text.endswith("\n"))
        types = {}
        samples = []
        name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
        sample_re = re.compile(
            r"^(%s)(\{(%s=\"(\\.|[^\"\\])*\")(,%s=\"(\\.|[^\"\\])*\")*,?\})?"
            r" (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|\+Inf|-Inf)( -?[0-9]+)?$"
            % (name_re, "[a-zA-Z_][a-zA-Z0-9_]*", "[a-zA-Z_][a-zA-Z0-9_]*"))
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("# HELP "):
                self.assertRegex(line, r"^# HELP %s .+" % name_re)
                continue
            if line.startswith("# TYPE "):
                m = re.match(r"^# TYPE (%s) (counter|gauge|histogram|"
                             r"summary|untyped)$" % name_re, line)
                self.assertTrue(m, line)
                self.assertNotIn(m.group(1), types, "TYPE twice: " + line)
                types[m.group(1)] = m.group(2)
                continue
            self.assertFalse(line.startswith("#"), line)
            m = sample_re.match(line)
            self.assertTrue(m, "not a Prometheus sample line: %r" % line)
            samples.append((m.group(1), line))
        self.assertTrue(samples)
        for name, line in samples:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertTrue(name in types or base in types,
                            "no TYPE for %r" % line)
        # Request latency is a histogram with a +Inf bucket.
        hist = [n for n, t in types.items() if t == "histogram"]
        self.assertTrue(hist, types)
        self.assertTrue(any('le="+Inf"' in line for _, line in samples
                            if _.endswith("_bucket")))

    def test_backup_api(self):
        rig = self.rig
        rig.add_user("in-the-backup", ["editor"])
        st, body, h = rig.api("POST", "/v1/backup", token="admin",
                              timeout=120)
        self.assertEqual(st, 200, body[:200])
        self.assertTrue(body.startswith(SQLITE_MAGIC), body[:32])
        self.assertIn("attachment", h.get("Content-Disposition", ""))
        path = os.path.join(rig.dir, "backup-api.db")
        with open(path, "wb") as fh:
            fh.write(body)
        rc, out, err = integrity(path)
        self.assertEqual((rc, out), (0, "ok"), err)
        db = sqlite3.connect(path)
        try:
            names = [r[0] for r in db.execute("SELECT name FROM users")]
        finally:
            db.close()
        self.assertIn("in-the-backup", names)
        # Admin only.
        for who in ROLE_USERS:
            self.assertError(rig.api("POST", "/v1/backup", token=who), 403)
        # The backup itself is audited.
        audit = self.assertStatus(rig.api("GET", "/v1/audit", token="admin",
                                          query={"kind": "database"}), 200)
        self.assertTrue(any(a.get("action") == "backup.create"
                            for a in audit["items"]), audit)

    def test_audit_is_append_only(self):
        rig = self.rig
        db = sqlite3.connect(os.path.join(rig.data_dir, "minecast.db"),
                             timeout=10)
        try:
            n = db.execute("SELECT count(*) FROM audit").fetchone()[0]
            self.assertGreater(n, 0)
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("UPDATE audit SET action = 'x'")
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("DELETE FROM audit")
            db.rollback()
            self.assertEqual(
                db.execute("SELECT count(*) FROM audit").fetchone()[0], n)
        finally:
            db.close()


class Ctl(CtlTest):
    """minecastctl login, logout, whoami, user, token, backup."""

    per_class = True

    def token_file(self):
        return os.path.join(self.rig.home, ".config", "minecast", "token")

    def test_login_whoami_logout(self):
        rig = self.rig
        rig.add_user("ctl-login", ["editor", "approver"])
        rc, out, err = rig.ctl(["login", "ctl-login", "--password-stdin"],
                               token=None,
                               input_text=password_for("ctl-login") + "\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("ctl-login", out)
        path = self.token_file()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as fh:
            tok = fh.read().strip()
        self.assertTrue(tok.startswith("mc_"))
        # whoami without --token: the file is used.
        rc, out, err = rig.ctl(["whoami"], token=None)
        self.assertEqual(rc, 0, err)
        self.assertIn("ctl-login", out)
        self.assertIn("editor", out)
        rc, out, err = rig.ctl(["whoami", "--json"], token=None)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["name"], "ctl-login")
        # The token is listed under its machine name.
        rc, out, err = rig.ctl(["token", "list"], token=None)
        self.assertEqual(rc, 0, err)
        self.assertIn("minecastctl ctl-login@", out)
        self.assertIn(tok[:10], out)
        # Logout revokes it and removes the file.
        rc, out, err = rig.ctl(["logout"], token=None)
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(path))
        self.assertError(rig.api("GET", "/v1/auth/me", token=tok), 401)
        rc, out, err = rig.ctl(["whoami"], token=None)
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: whoami: ", err)
        self.assertIn("minecastctl login", err)

    def test_login_wrong_password(self):
        rig = self.rig
        rc, out, err = rig.ctl(["login", "editor2", "--password-stdin"],
                               token=None, input_text="wrong password\n")
        self.assertEqual(rc, 1)
        # The server's message, Vietnamese first.
        self.assertIn("minecastctl: login: sai tên đăng nhập hoặc mật khẩu",
                      err)
        self.assertFalse(os.path.exists(self.token_file()))

    def test_user_add_and_list(self):
        rig = self.rig
        rc, out, err = rig.ctl(["user", "add", "ky-thuat-2", "--roles",
                                "technician,editor", "--display-name",
                                "Lê Văn Hùng", "--password-stdin"],
                               input_text="mật khẩu kỹ thuật\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("ky-thuat-2", out)
        rig.login("ky-thuat-2", "mật khẩu kỹ thuật")
        rc, out, err = rig.ctl(["user", "list"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].split()[:2] == ["ID", "NAME"], lines[0])
        row = [l for l in lines if "ky-thuat-2" in l][0]
        self.assertIn("Lê Văn Hùng", row)
        # Columns line up by display width: ROLES starts at the same
        # column in the header and in every row.
        # (NFC Vietnamese letters are one code point of one column each,
        # so string indexes are columns here.)
        col = lines[0].index("ROLES")
        for l in lines[1:]:
            self.assertEqual(l[col - 2:col], "  ", "misaligned:\n" + out)
            self.assertRegex(l[col:].split()[0],
                             r"^(admin|editor|approver|technician)"
                             r"(,(admin|editor|approver|technician))*$",
                             "misaligned:\n" + out)
        rc, out, err = rig.ctl(["user", "list", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertIn("ky-thuat-2",
                      [u["name"] for u in json.loads(out)["items"]])
        # Errors of the server: exit 1, its message.
        rc, out, err = rig.ctl(["user", "add", "ky-thuat-2", "--roles",
                                "editor", "--password-stdin"],
                               input_text="mật khẩu kỹ thuật\n")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^minecastctl: user add: .+")
        rc, out, err = rig.ctl(["user", "add", "nobody", "--roles",
                                "king", "--password-stdin"],
                               input_text="long enough 123\n")
        self.assertEqual(rc, 1)
        self.assertIn("roles", err)
        # Not an admin: 403.
        rc, out, err = rig.ctl(["user", "list"], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: user list: ", err)

    def test_user_set(self):
        rig = self.rig
        rig.add_user("doi-vai-tro", ["editor"])
        rc, out, err = rig.ctl(["user", "set", "doi-vai-tro", "--roles",
                                "approver", "--display-name",
                                "Phạm Minh Đức"])
        self.assertEqual(rc, 0, err)
        u = self.assertStatus(rig.api("GET", "/v1/auth/me",
                                      token="doi-vai-tro"), 200)
        self.assertEqual(u["roles"], ["approver"])
        self.assertEqual(u["display_name"], "Phạm Minh Đức")
        rc, out, err = rig.ctl(["user", "set", "doi-vai-tro", "--disable"])
        self.assertEqual(rc, 0, err)
        self.assertIn("disabled", out)
        self.assertError(rig.api("GET", "/v1/auth/me", token="doi-vai-tro"),
                         401)
        rc, out, err = rig.ctl(["user", "set", "doi-vai-tro", "--enable"])
        self.assertEqual(rc, 0, err)
        self.assertStatus(rig.api("GET", "/v1/auth/me", token="doi-vai-tro"),
                          200)
        # Their own password, with their own token.
        rc, out, err = rig.ctl(["user", "set", "doi-vai-tro",
                                "--password-stdin"], token="doi-vai-tro",
                               input_text="mật khẩu thứ hai\n")
        self.assertEqual(rc, 0, err)
        rig.login("doi-vai-tro", "mật khẩu thứ hai")
        # Not their roles.
        rc, out, err = rig.ctl(["user", "set", "doi-vai-tro", "--roles",
                                "admin"], token="doi-vai-tro")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: user set: ", err)
        # The last admin stays an admin.
        rc, out, err = rig.ctl(["user", "set", "admin", "--disable"])
        self.assertEqual(rc, 1)
        self.assertIn("admin", err)

    def test_usage_errors(self):
        rig = self.rig
        for args in (["user"], ["user", "frobnicate"],
                     ["user", "add", "x"],                 # no --roles
                     ["user", "add", "--roles", "editor"],  # no NAME
                     ["user", "list", "extra"],
                     ["token", "revoke"], ["token", "revoke", "abc"],
                     ["token", "create"], ["token", "list", "--bogus"],
                     ["login"], ["backup"], ["backup", "--out"],
                     ["whoami", "extra"], ["logout", "extra"],
                     ["user", "set", "x"], ["user", "set", "--enable"],
                     ["user", "set", "x", "--roles", ","]):
            rc, out, err = rig.ctl(args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertTrue(err.startswith("minecastctl: ") or
                            err.startswith("Usage:"), err)
        for args in (["login", "--help"], ["logout", "--help"],
                     ["whoami", "--help"], ["user", "--help"],
                     ["user", "add", "--help"], ["user", "list", "--help"],
                     ["user", "set", "--help"],
                     ["token", "--help"], ["token", "create", "--help"],
                     ["token", "list", "--help"],
                     ["token", "revoke", "--help"], ["backup", "--help"]):
            rc, out, err = rig.ctl(args)
            self.assertEqual(rc, 0, "%s: %s" % (args, err))
            self.assertTrue(out.startswith("Usage: minecastctl"), out)

    def test_tokens(self):
        rig = self.rig
        rc, out, err = rig.ctl(["token", "create", "báo cáo tháng"],
                               token="technician")
        self.assertEqual(rc, 0, err)
        tok = out.strip()
        self.assertTrue(tok.startswith("mc_"), out)
        me = self.assertStatus(rig.api("GET", "/v1/auth/me", token=tok),
                               200)
        self.assertEqual(me["name"], "technician")
        rc, out, err = rig.ctl(["token", "list", "--json"],
                               token="technician")
        self.assertEqual(rc, 0, err)
        item = [t for t in json.loads(out)["items"]
                if t["name"] == "báo cáo tháng"][0]
        rc, out, err = rig.ctl(["token", "list"], token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("báo cáo tháng", out)
        rc, out, err = rig.ctl(["token", "revoke", str(item["id"])],
                               token="technician")
        self.assertEqual(rc, 0, err)
        self.assertError(rig.api("GET", "/v1/auth/me", token=tok), 401)
        rc, out, err = rig.ctl(["token", "revoke", str(item["id"])],
                               token="technician")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: token revoke: ", err)
        # A revoked token on the command line: 401, said so.
        rc, out, err = rig.ctl(["token", "list"], token=tok)
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: token list: ", err)

    def test_backup_online_and_offline(self):
        rig = self.rig
        out_api = os.path.join(rig.dir, "ctl-backup.db")
        rc, out, err = rig.ctl(["backup", "--out", out_api])
        self.assertEqual(rc, 0, err)
        self.assertEqual(integrity(out_api)[:2], (0, "ok"))
        self.assertEqual(stat.S_IMODE(os.stat(out_api).st_mode), 0o600)
        self.assertFalse(os.path.exists(out_api + ".part"))
        # Offline, from the file, while the controller runs.
        out_db = os.path.join(rig.dir, "ctl-backup-offline.db")
        rc, out, err = rig.ctl(["backup", "--db",
                                os.path.join(rig.data_dir, "minecast.db"),
                                "--out", out_db], token=None)
        self.assertEqual(rc, 0, err)
        self.assertEqual(integrity(out_db)[:2], (0, "ok"))
        db = sqlite3.connect(out_db)
        try:
            names = [r[0] for r in db.execute("SELECT name FROM users")]
        finally:
            db.close()
        self.assertIn("approver", names)
        # Not an admin: refused, no file left behind.
        bad = os.path.join(rig.dir, "ctl-backup-editor.db")
        rc, out, err = rig.ctl(["backup", "--out", bad], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: backup: ", err)
        self.assertFalse(os.path.exists(bad))
        self.assertFalse(os.path.exists(bad + ".part"))
        # A file that is not a database.
        junk = os.path.join(rig.dir, "junk.db")
        with open(junk, "wb") as fh:
            fh.write(b"not a database at all" * 100)
        rc, out, err = rig.ctl(["backup", "--db", junk, "--out",
                                os.path.join(rig.dir, "x.db")], token=None)
        self.assertEqual(rc, 1)
        self.assertFalse(os.path.exists(os.path.join(rig.dir, "x.db")))

    def test_progress_on_a_terminal(self):
        # Under script(1) stderr is a terminal: the download shows its
        # progress bar; piped (every other test) it does not.
        rig = self.rig
        out = os.path.join(rig.dir, "tty-backup.db")
        cmd = " ".join([ctl_bin(), "backup", "--out", out, "--url",
                        rig.base, "--token", rig.tokens["admin"]])
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                           capture_output=True, timeout=60,
                           env=dict(os.environ, HOME=rig.home))
        self.assertEqual(p.returncode, 0, p.stdout)
        text = p.stdout.decode("utf-8", "replace")
        self.assertRegex(text, r"\[#+\] 100%  received [0-9.]+ (B|KiB|MiB)")
        self.assertEqual(integrity(out)[:2], (0, "ok"))
        rc, _, err = rig.ctl(["backup", "--out", out + "2"])
        self.assertEqual(rc, 0)
        self.assertNotIn("received", err)

    def test_unreachable_controller(self):
        rc, out, err = self.rig.ctl(["whoami"],
                                    url="http://127.0.0.1:9")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: whoami: http://127.0.0.1:9", err)


if __name__ == "__main__":
    unittest.main()
