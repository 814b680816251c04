"""The editorial workflow over real HTTP (docs/api.md,
workflow): draft → submitted → approved | rejected for content, playlists
and entries; nobody approves (or rejects) a revision they wrote or
submitted; only approvers approve; editing approved work sends it back to
review while the approved revision stays what is published; references
must be approved first; every transition is audited with before and
after; the review queue; deletes refused while referenced; and the
minecastctl commands (review, submit, approve [--all], reject)."""

import unittest

from controller.ctlharness import CtlTest

SLOGAN_TEXT = "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!"


class WorkflowBase(CtlTest):
    """Helpers; no tests of its own."""

    n = 0

    def uid(self, prefix):
        type(self).n += 1
        return "%s-%d" % (prefix, type(self).n)

    # -- helpers --

    def slogan(self, token="editor", text=SLOGAN_TEXT, submit=False):
        cid = self.uid("s")
        doc = self.rig.ok("POST", "/v1/content",
                          {"id": cid, "type": "slogan", "name": "Khẩu hiệu",
                           "text": text}, token=token, expect=(201,))
        self.assertEqual(doc["status"], "draft")
        if submit:
            self.submit("content", cid, token)
        return cid

    def playlist(self, content_ids, token="editor", submit=False):
        pid = self.uid("pl")
        doc = self.rig.ok("POST", "/v1/playlists",
                          {"id": pid, "name": "Danh sách",
                           "items": [{"content": c, "duration_s": 10}
                                     for c in content_ids],
                           "submit": submit},
                          token=token, expect=(201,))
        self.assertEqual(doc["status"], "submitted" if submit else "draft")
        return pid

    def entry(self, playlist, token="editor", submit=False, **fields):
        eid = self.uid("e")
        body = {"id": eid, "playlist": playlist, "channel": "screen",
                "dtstart": "20231112T000000", "duration": "P1D",
                "rrule": "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12",
                "founded": 1936, "submit": submit}
        body.update(fields)
        self.rig.ok("POST", "/v1/entries", body, token=token, expect=(201,))
        return eid

    def submit(self, seg, oid, token="editor"):
        doc = self.rig.ok("POST", "/v1/%s/%s/submit" % (seg, oid),
                          token=token, expect=(200,))
        self.assertEqual(doc["status"], "submitted")
        return doc

    def approve(self, seg, oid, token="approver"):
        doc = self.rig.ok("POST", "/v1/%s/%s/approve" % (seg, oid),
                          token=token, expect=(200,))
        self.assertEqual(doc["status"], "approved")
        return doc

    def get(self, seg, oid):
        return self.rig.ok("GET", "/v1/%s/%s" % (seg, oid), token="editor",
                           expect=(200,))

    def audit(self, kind, oid):
        doc = self.rig.ok("GET", "/v1/audit", token="admin",
                          query={"kind": kind, "id": oid, "limit": 100},
                          expect=(200,))
        return list(reversed(doc["items"]))

    def message(self, got):
        return got[1]["error"]["message"]



class WorkflowTest(WorkflowBase):
    per_class = True

    # -- the cycle --

    def test_full_cycle_audited(self):
        c = self.slogan()
        self.submit("content", c)
        self.approve("content", c)
        p = self.playlist([c], submit=True)
        self.approve("playlists", p)
        e = self.entry(p, submit=True)
        doc = self.approve("entries", e)
        self.assertEqual(doc["approved_rev"], doc["rev"])
        self.assertEqual(doc["approved"], doc["doc"])
        self.assertEqual(doc["reviewed_by_name"], "approver")
        self.assertEqual(doc["author"], "editor")
        # Every transition has its audit row with before and after.
        rows = self.audit("entry", e)
        self.assertEqual([r["action"] for r in rows],
                         ["entry.create", "entry.approve"])
        # created submitted at once (submit: true) → one create row
        self.assertEqual(rows[0]["after"]["status"], "submitted")
        self.assertIsNone(rows[0]["before"])
        self.assertEqual(rows[1]["before"]["status"], "submitted")
        self.assertEqual(rows[1]["after"]["status"], "approved")
        self.assertEqual(rows[1]["user"], "approver")
        rows = self.audit("content", c)
        self.assertEqual([r["action"] for r in rows],
                         ["content.create", "content.submit",
                          "content.approve"])
        self.assertEqual(rows[1]["before"]["status"], "draft")
        self.assertEqual(rows[1]["after"]["status"], "submitted")

    # -- who may approve --

    def test_self_approval_refused(self):
        self.rig.add_user("edapp", ["editor", "approver"])
        c = self.slogan(token="edapp", submit=True)
        got = self.rig.api("POST", "/v1/content/%s/approve" % c,
                           token="edapp")
        self.assertError(got, 403)
        self.assertIn("you wrote this revision", self.message(got))
        got = self.rig.api("POST", "/v1/content/%s/reject" % c,
                           {"reason": "thử"}, token="edapp")
        self.assertError(got, 403)
        self.assertEqual(self.get("content", c)["status"], "submitted")
        # Another approver may.
        self.approve("content", c)

    def test_submitter_may_not_approve(self):
        self.rig.add_user("edapp2", ["editor", "approver"])
        c = self.slogan(token="editor")
        self.submit("content", c, token="edapp2")
        got = self.rig.api("POST", "/v1/content/%s/approve" % c,
                           token="edapp2")
        self.assertError(got, 403)
        self.assertIn("you submitted this revision", self.message(got))
        self.approve("content", c)

    def test_admin_author_may_not_approve(self):
        c = self.slogan(token="admin", submit=True)
        got = self.rig.api("POST", "/v1/content/%s/approve" % c,
                           token="admin")
        self.assertError(got, 403)
        self.approve("content", c)

    def test_wrong_role_refused(self):
        c = self.slogan(submit=True)
        for seg in ("content", "playlists", "entries"):
            self.assertError(self.rig.api(
                "POST", "/v1/%s/x/approve" % seg, token="editor"), 403)
            self.assertError(self.rig.api(
                "POST", "/v1/%s/x/reject" % seg, {"reason": "r"},
                token="technician"), 403)
            self.assertError(self.rig.api(
                "POST", "/v1/%s/x/submit" % seg, token="approver"), 403)
            self.assertError(self.rig.api(
                "POST", "/v1/%s/x/approve" % seg), 401)
        self.assertError(self.rig.api("GET", "/v1/review",
                                      token="technician"), 403)
        self.assertError(self.rig.api("GET", "/v1/review"), 401)
        self.assertError(self.rig.api("POST", "/v1/content/%s/approve" % c,
                                      token="editor2"), 403)
        self.assertEqual(self.get("content", c)["status"], "submitted")
        # Editors may not write playlists without the role either.
        self.assertError(self.rig.api("POST", "/v1/playlists",
                                      {"id": "x", "items": []},
                                      token="approver"), 403)

    # -- states --

    def test_wrong_state_and_unknown(self):
        c = self.slogan()
        got = self.rig.api("POST", "/v1/content/%s/approve" % c,
                           token="approver")
        self.assertError(got, 409)
        self.assertIn("draft", self.message(got))
        self.submit("content", c)
        self.assertError(self.rig.api("POST", "/v1/content/%s/submit" % c,
                                      token="editor"), 409)
        self.approve("content", c)
        self.assertError(self.rig.api("POST", "/v1/content/%s/approve" % c,
                                      token="approver"), 409)
        self.assertError(self.rig.api("POST", "/v1/content/%s/submit" % c,
                                      token="editor"), 409)
        for seg in ("content", "playlists", "entries"):
            self.assertError(self.rig.api(
                "POST", "/v1/%s/no-such/approve" % seg, token="approver"),
                404)
            self.assertError(self.rig.api(
                "POST", "/v1/%s/no-such/submit" % seg, token="editor"), 404)

    def test_reject_needs_reason_then_edit_is_draft(self):
        c = self.slogan(submit=True)
        path = "/v1/content/%s/reject" % c
        self.assertError(self.rig.api("POST", path, {}, token="approver"),
                         400, "reason")
        self.assertError(self.rig.api("POST", path, {"reason": ""},
                                      token="approver"), 400, "reason")
        self.assertError(self.rig.api("POST", path, {"reason": 42},
                                      token="approver"), 400, "reason")
        self.assertError(self.rig.api("POST", path, {"reason": "ư" * 501},
                                      token="approver"), 413, "reason")
        self.assertError(self.rig.api("POST", path, raw=b"{",
                                      token="approver"), 400)
        self.assertError(self.rig.api("POST", path,
                                      {"reason": "bad\u0001char"},
                                      token="approver"), 400, "reason")
        self.assertEqual(self.get("content", c)["status"], "submitted")
        reason = "Sai chính tả ở chữ 'Đồng tâm'"
        doc = self.rig.ok("POST", path, {"reason": reason},
                          token="approver", expect=(200,))
        self.assertEqual(doc["status"], "rejected")
        self.assertEqual(doc["reject_reason"], reason)
        rows = self.audit("content", c)
        self.assertEqual(rows[-1]["action"], "content.reject")
        self.assertEqual(rows[-1]["after"]["reject_reason"], reason)
        # Editing a rejected object makes it a draft again.
        doc = self.rig.ok("PUT", "/v1/content/%s" % c,
                          {"type": "slogan", "text": SLOGAN_TEXT + " (sửa)"},
                          token="editor", expect=(200,))
        self.assertEqual(doc["status"], "draft")
        self.assertIsNone(doc["reject_reason"])
        self.submit("content", c)
        self.approve("content", c)

    def test_reject_playlist_and_resubmit(self):
        c = self.slogan(submit=True)
        self.approve("content", c)
        p = self.playlist([c], submit=True)
        self.rig.ok("POST", "/v1/playlists/%s/reject" % p,
                    {"reason": "Thiếu pano"}, token="approver",
                    expect=(200,))
        self.submit("playlists", p)
        self.approve("playlists", p)

    # -- editing approved work --

    def test_edit_approved_content_back_to_review(self):
        c = self.slogan(submit=True)
        approved = self.approve("content", c)
        new_text = "Người Thợ mỏ - Người Chiến sỹ"
        doc = self.rig.ok("PUT", "/v1/content/%s" % c,
                          {"type": "slogan", "name": "Khẩu hiệu",
                           "text": new_text},
                          token="editor2", expect=(200,))
        self.assertEqual(doc["status"], "submitted")
        self.assertEqual(doc["doc"]["text"], new_text)
        # The published revision is untouched.
        self.assertEqual(doc["approved"], approved["approved"])
        self.assertEqual(doc["approved"]["text"], SLOGAN_TEXT)
        self.assertEqual(doc["approved_rev"], approved["rev"])
        self.assertEqual(doc["rev"], approved["rev"] + 1)
        self.assertEqual(doc["author"], "editor2")
        # The queue shows what changed.
        queue = self.rig.ok("GET", "/v1/review", token="approver",
                            expect=(200,))["items"]
        item = [i for i in queue if i["kind"] == "content" and
                i["id"] == c][0]
        self.assertEqual(item["changed"], ["text"])
        self.assertEqual(item["approved"]["text"], SLOGAN_TEXT)
        self.assertEqual(item["doc"]["text"], new_text)
        self.assertEqual(item["author"], "editor2")
        self.assertTrue(item["may_approve"])
        # editor2 wrote it: as an approver too it could not approve.
        doc = self.approve("content", c)
        self.assertEqual(doc["approved"]["text"], new_text)

    def test_edit_approved_playlist_back_to_review(self):
        c1 = self.slogan(submit=True)
        c2 = self.slogan(submit=True)
        self.approve("content", c1)
        self.approve("content", c2)
        p = self.playlist([c1], submit=True)
        before = self.approve("playlists", p)
        doc = self.rig.ok("PUT", "/v1/playlists/%s" % p,
                          {"name": "Danh sách", "items": [
                              {"content": c1, "duration_s": 10},
                              {"content": c2, "duration_s": 20}]},
                          token="editor", expect=(200,))
        self.assertEqual(doc["status"], "submitted")
        self.assertEqual(doc["approved"], before["approved"])
        self.assertEqual(len(doc["approved"]["items"]), 1)
        self.assertEqual(len(doc["doc"]["items"]), 2)
        # The same doc again changes nothing (no new revision).
        again = self.rig.ok("PUT", "/v1/playlists/%s" % p,
                            {"name": "Danh sách", "items": [
                                {"content": c1, "duration_s": 10},
                                {"content": c2, "duration_s": 20}]},
                            token="editor", expect=(200,))
        self.assertEqual(again["rev"], doc["rev"])

    # -- references --

    def test_references_must_be_approved(self):
        c = self.slogan()
        p = self.playlist([c, c], submit=True)
        got = self.rig.api("POST", "/v1/playlists/%s/approve" % p,
                           token="approver")
        self.assertError(got, 409, "items[0].content")
        self.assertIn(c, self.message(got))
        self.assertEqual(self.message(got).count("'%s'" % c), 1)
        self.assertEqual(self.get("playlists", p)["status"], "submitted")
        e = self.entry(p, submit=True)
        got = self.rig.api("POST", "/v1/entries/%s/approve" % e,
                           token="approver")
        self.assertError(got, 409, "playlist")
        self.assertIn(p, self.message(got))
        self.submit("content", c)
        self.approve("content", c)
        self.approve("playlists", p)
        self.approve("entries", e)

    # -- the queue --

    def test_review_queue(self):
        c = self.slogan(submit=True)
        self.approve("content", c)
        p = self.playlist([c], submit=True)
        e = self.entry(p, token="editor2")
        self.submit("entries", e, token="editor2")
        queue = self.rig.ok("GET", "/v1/review", token="approver",
                            expect=(200,))
        self.assertEqual(queue["total"], len(queue["items"]))
        by = {(i["kind"], i["id"]): i for i in queue["items"]}
        self.assertIn(("playlist", p), by)
        self.assertIn(("entry", e), by)
        self.assertNotIn(("content", c), by)
        it = by[("entry", e)]
        self.assertEqual(it["author"], "editor2")
        self.assertEqual(it["submitted_by_name"], "editor2")
        self.assertIsInstance(it["submitted_ms"], int)
        self.assertIsNone(it["approved"])
        self.assertIsNone(it["changed"])
        self.assertEqual(it["doc"]["playlist"], p)
        # Kinds come in dependency order: content, playlists, entries.
        kinds = [i["kind"] for i in queue["items"]]
        self.assertEqual(kinds, sorted(kinds, key=["content", "playlist",
                                                   "entry"].index))
        # The editor who wrote it sees may_approve false (no role).
        mine = self.rig.ok("GET", "/v1/review", token="editor2",
                           query={"kind": "entry"}, expect=(200,))
        self.assertTrue(all(i["kind"] == "entry" for i in mine["items"]))
        self.assertFalse(any(i["may_approve"] for i in mine["items"]))
        self.assertError(self.rig.api("GET", "/v1/review", token="approver",
                                      query={"kind": "bogus"}), 400, "kind")

    # -- deletes --

    def test_delete_refused_while_referenced(self):
        c = self.slogan()
        p = self.playlist([c])
        e = self.entry(p)
        got = self.rig.api("DELETE", "/v1/content/%s" % c, token="editor")
        self.assertError(got, 409)
        self.assertIn(p, self.message(got))
        got = self.rig.api("DELETE", "/v1/playlists/%s" % p, token="editor")
        self.assertError(got, 409)
        self.assertIn(e, self.message(got))
        self.rig.ok("DELETE", "/v1/entries/%s" % e, token="editor",
                    expect=(200,))
        self.assertError(self.rig.api("GET", "/v1/entries/%s" % e,
                                      token="editor"), 404)
        self.rig.ok("DELETE", "/v1/playlists/%s" % p, token="editor",
                    expect=(200,))
        self.rig.ok("DELETE", "/v1/content/%s" % c, token="editor",
                    expect=(200, 204))
        self.assertEqual(self.audit("entry", e)[-1]["action"],
                         "entry.delete")
        self.assertError(self.rig.api("DELETE", "/v1/entries/%s" % e,
                                      token="editor"), 404)

    # -- minecastctl --

    def test_ctl_review_submit_approve_reject(self):
        c = self.slogan()
        rc, out, err = self.rig.ctl(["submit", "content", c],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("submitted", out)
        rc, out, err = self.rig.ctl(["review"], token="approver")
        self.assertEqual(rc, 0, err)
        self.assertIn(c, out)
        self.assertIn("may approve", out)
        rc, out, err = self.rig.ctl(["approve", "content", c],
                                    token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: ", err)
        rc, out, err = self.rig.ctl(["reject", "content", c],
                                    token="approver")
        self.assertEqual(rc, 2, "a reason is required")
        rc, out, err = self.rig.ctl(["reject", "content", c, "--reason",
                                     "Chưa đúng"], token="approver")
        self.assertEqual(rc, 0, err)
        self.assertIn("rejected", out)
        rc, out, err = self.rig.ctl(["submit", "content", c],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.rig.ctl(["approve", "content", c],
                                    token="approver")
        self.assertEqual(rc, 0, err)
        self.assertIn("approved", out)
        rc, out, err = self.rig.ctl(["approve", "bogus", c],
                                    token="approver")
        self.assertEqual(rc, 2)
        rc, out, err = self.rig.ctl(["review", "--help"], token="approver")
        self.assertEqual(rc, 0)
        self.assertIn("approve --all", out)



class ApproveAllTest(WorkflowBase):
    """approve --all on a queue of its own."""

    def test_ctl_approve_all(self):
        self.rig.add_user("edapp3", ["editor", "approver"])
        # Submitted in an order where references come last.
        c = self.slogan()
        p = self.playlist([c])
        e = self.entry(p)
        self.submit("entries", e)
        self.submit("playlists", p)
        self.submit("content", c)
        own = self.slogan(token="edapp3", submit=True)
        rc, out, err = self.rig.ctl(["approve", "--all"], token="edapp3")
        self.assertEqual(rc, 0, out + err)
        for oid in (c, p, e):
            self.assertIn("'%s'" % oid, out)
        self.assertEqual(self.get("entries", e)["status"], "approved")
        # Its own submission was not the caller's to approve.
        self.assertEqual(self.get("content", own)["status"], "submitted")
        self.assertNotIn(own, out)


if __name__ == "__main__":
    unittest.main()
