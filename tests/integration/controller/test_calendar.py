"""The calendar over real HTTP (docs/api.md): playlists and
entries checked by the manifest codec (the errors are the codec's, with
the field path), targets through the organisation, the schedule
settings, the November 2023 campaign imported with `minecastctl import
campaign` (assets uploaded first), exported and imported again without a
change, iCalendar import of an anniversary calendar as calendar tools
write it, bad calendars refused with nothing written, iCalendar export
that imports back unchanged, and the day preview of a site and a node
(the 87th anniversary on 12/11/2023)."""

import json
import os
import unittest

from controller.ctlharness import BUILD_DIR, CtlTest

CAMPAIGN = os.path.join(BUILD_DIR, "playlists", "november-2023.json")

# An anniversary calendar as a calendar tool exports it: CRLF, folded
# lines, a VTIMEZONE, TZID parameters, all-day events, a yearly rule, an
# Outlook zone name, an alarm inside an event, an overridden occurrence
# and a cancelled event.
ANNIVERSARIES = "\r\n".join([
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    "X-WR-CALNAME:Ngày kỷ niệm",
    "X-WR-TIMEZONE:Asia/Ho_Chi_Minh",
    "BEGIN:VTIMEZONE",
    "TZID:Asia/Ho_Chi_Minh",
    "X-LIC-LOCATION:Asia/Ho_Chi_Minh",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0700",
    "TZOFFSETTO:+0700",
    "TZNAME:+07",
    "DTSTART:19700101T000000",
    "END:STANDARD",
    "END:VTIMEZONE",
    "BEGIN:VEVENT",
    "DTSTART;VALUE=DATE:20231112",
    "DTEND;VALUE=DATE:20231113",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12",
    "DTSTAMP:20231020T020000Z",
    "UID:3k2v8d0q1vj7@google.com",
    "CREATED:20231020T015900Z",
    "DESCRIPTION:Truyền thống ngành Than (12/11/{since} – {date})",
    "SUMMARY:Kỷ niệm {years} năm Ngày Truyền thống công nhân Vùng mỏ – Truy",
    " ền thống ngành Than",
    "X-MINECAST-FOUNDED:1936",
    "X-MINECAST-PRIORITY:60",
    "X-MINECAST-LAYER:interrupt",
    "BEGIN:VALARM",
    "ACTION:DISPLAY",
    "DESCRIPTION:This is an event reminder",
    "TRIGGER:-P0DT0H30M0S",
    "END:VALARM",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "DTSTART;TZID=Asia/Ho_Chi_Minh:20231120T070000",
    "DTEND;TZID=Asia/Ho_Chi_Minh:20231120T170000",
    "RRULE:FREQ=YEARLY",
    "EXDATE;TZID=Asia/Ho_Chi_Minh:20241120T070000",
    "UID:nha-giao@example.org",
    "SUMMARY:Chào mừng Ngày Nhà giáo Việt Nam 20/11",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "DTSTART;TZID=SE Asia Standard Time:20231122T080000",
    "DURATION:PT2H",
    "UID:040000008200E00074C5B7101A82E008000000001@outlook",
    "SUMMARY:Họp giao ban",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "DTSTART:20231101T010000Z",
    "DTEND:20231101T020000Z",
    "RRULE:FREQ=WEEKLY;COUNT=4",
    "UID:weekly@example.org",
    "SUMMARY:An toàn lao động",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "DTSTART:20231108T030000Z",
    "DTEND:20231108T040000Z",
    "RECURRENCE-ID:20231108T010000Z",
    "UID:weekly@example.org",
    "SUMMARY:An toàn lao động (dời giờ)",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "DTSTART;VALUE=DATE:20231125",
    "UID:cancelled@example.org",
    "STATUS:CANCELLED",
    "SUMMARY:Đã huỷ",
    "END:VEVENT",
    "END:VCALENDAR",
    ""])


class CalendarBase(CtlTest):
    n = 0

    def uid(self, prefix):
        type(self).n += 1
        return "%s-%d" % (prefix, type(self).n)

    def message(self, got):
        return got[1]["error"]["message"]

    def slogan(self, text="Kỷ niệm {years} năm", token="editor"):
        cid = self.uid("s")
        self.rig.ok("POST", "/v1/content", {"id": cid, "type": "slogan",
                                            "text": text},
                    token=token, expect=(201,))
        return cid

    def speech(self):
        cid = self.uid("sp")
        self.rig.ok("POST", "/v1/content", {"id": cid, "type": "speech",
                                            "text": "Chú ý an toàn",
                                            "duration_ms": 3000},
                    token="editor", expect=(201,))
        return cid

    def playlist(self, items):
        pid = self.uid("pl")
        self.rig.ok("POST", "/v1/playlists",
                    {"id": pid, "items": [{"content": c} for c in items]},
                    token="editor", expect=(201,))
        return pid

    def count(self, seg):
        return self.rig.ok("GET", "/v1/%s" % seg, token="editor",
                           query={"limit": 1}, expect=(200,))["total"]

    def counts(self):
        return tuple(self.count(s) for s in ("content", "playlists",
                                             "entries"))

    def approve_all(self):
        rc, out, err = self.rig.ctl(["approve", "--all"], token="approver")
        self.assertEqual(rc, 0, out + err)


class PlaylistEntryTest(CalendarBase):
    per_class = True

    def test_playlist_codec_errors(self):
        c = self.slogan()
        cases = [
            ({"id": "p-a"}, 400, "items"),
            ({"id": "p-a", "items": []}, 400, "items"),
            ({"id": "p-a", "items": [{"content": "nope"}]}, 400,
             "items[0].content"),
            ({"id": "p-a", "items": [{"content": c, "duration_s": 0}]},
             400, "items[0].duration_s"),
            ({"id": "p-a", "items": [{"content": c, "duration_s": 1.5}]},
             400, "items[0].duration_s"),
            ({"id": "p-a", "items": [{"content": c,
                                      "transition": "wipe"}]},
             400, "items[0].transition"),
            ({"id": "p-a", "name": "x" * 300, "items": [{"content": c}]},
             413, "name"),
            ({"id": "bad id", "items": [{"content": c}]}, 400, "id"),
            ({"items": [{"content": c}]}, 400, "id"),
            ({"id": "p-a", "items": [{"content": c}], "submit": "yes"},
             400, "submit"),
        ]
        for body, status, field in cases:
            self.assertError(self.rig.api("POST", "/v1/playlists", body,
                                          token="editor"),
                             status, field, what=json.dumps(body))
        self.assertError(self.rig.api("POST", "/v1/playlists", raw=b"[1]",
                                      token="editor"), 400)
        self.assertError(self.rig.api("POST", "/v1/playlists",
                                      raw=b"{\"id\": \"x\"",
                                      token="editor"), 400)
        self.assertError(self.rig.api(
            "POST", "/v1/playlists", raw=b"{\"id\":\"" + b"a" * 300000 +
            b"\"}", token="editor"), 413)
        # Nothing was written by any of them.
        self.assertError(self.rig.api("GET", "/v1/playlists/p-a",
                                      token="editor"), 404)
        got = self.rig.api("POST", "/v1/playlists",
                           {"id": "p-a", "items": [{"content": "nope"}]},
                           token="editor")
        self.assertEqual(self.message(got), 'items[0].content: no content '
                                            '"nope"')

    def test_playlist_crud(self):
        c = self.slogan()
        p = self.uid("pl")
        doc = self.rig.ok("POST", "/v1/playlists",
                          {"id": p, "name": "Tháng 11", "items": [
                              {"content": c, "duration_s": 15,
                               "transition": "crossfade"}]},
                          token="editor", expect=(201,))
        # Stored in the codec's canonical form.
        self.assertEqual(doc["doc"], {"id": p, "name": "Tháng 11", "items": [
            {"content": c, "duration_s": 15, "transition": "crossfade"}]})
        self.assertEqual(doc["kind"], "playlist")
        self.assertError(self.rig.api("POST", "/v1/playlists",
                                      {"id": p, "items": [{"content": c}]},
                                      token="editor"), 409, "id")
        self.assertError(self.rig.api("PUT", "/v1/playlists/%s" % p,
                                      {"id": "other",
                                       "items": [{"content": c}]},
                                      token="editor"), 400, "id")
        self.assertError(self.rig.api("PUT", "/v1/playlists/nope",
                                      {"items": [{"content": c}]},
                                      token="editor"), 404)
        doc = self.rig.ok("PUT", "/v1/playlists/%s" % p,
                          {"items": [{"content": c}]}, token="editor",
                          expect=(200,))
        self.assertEqual(doc["rev"], 2)
        self.assertEqual(doc["doc"]["items"][0]["duration_s"], 10)
        lst = self.rig.ok("GET", "/v1/playlists", token="technician",
                          expect=(200,))
        self.assertIn(p, [i["id"] for i in lst["items"]])
        self.assertError(self.rig.api("GET", "/v1/playlists",
                                      token="editor",
                                      query={"status": "nope"}), 400,
                         "status")
        self.assertError(self.rig.api("GET", "/v1/playlists",
                                      token="editor",
                                      query={"limit": "-1"}), 400, "limit")
        self.assertError(self.rig.api("GET", "/v1/playlists"), 401)

    def test_entry_codec_errors(self):
        p = self.playlist([self.slogan()])
        base = {"playlist": p, "channel": "screen",
                "dtstart": "20231112T000000"}
        cases = [
            ({"rrule": "BYMONTH=11"}, "rrule", "rrule: FREQ is missing"),
            ({"priority": 101}, "priority",
             "priority: 101 is out of range 0..100"),
            ({"dtend": "20231113T000000", "duration": "P1D"}, "dtend",
             None),
            ({"dtstart": "20231131T000000"}, "dtstart", None),
            ({"channel": "Screen"}, "channel", None),
            ({"playlist": "missing"}, "playlist", None),
            ({"tzid": "Mars/Base"}, "tzid", None),
            ({"duration": "PT0S"}, "duration", None),
            ({"layer": "top"}, "layer", None),
            ({"founded": 99}, "founded", None),
            ({"targets": {"sites": ["no-such-site"]}}, "targets.sites[0]",
             None),
            ({"targets": {"groups": ["no-such-group"]}},
             "targets.groups[0]", None),
            ({"targets": {"sites": ["bad id"]}}, "targets.sites[0]", None),
            ({"targets": {"planets": ["x"]}}, "targets", None),
        ]
        before = self.count("entries")
        for change, field, msg in cases:
            body = dict(base, id=self.uid("e"))
            body.update(change)
            got = self.rig.api("POST", "/v1/entries", body, token="editor")
            self.assertError(got, 400, field, what=json.dumps(change))
            if msg:
                self.assertEqual(self.message(got), msg)
        # A standing entry cannot recur.
        got = self.rig.api("POST", "/v1/entries",
                           {"id": self.uid("e"), "playlist": p,
                            "channel": "screen", "rrule": "FREQ=DAILY"},
                           token="editor")
        self.assertError(got, 400, "rrule")
        self.assertIn("standing", self.message(got))
        self.assertEqual(self.count("entries"), before)

    def test_entry_channel_must_fit(self):
        s = self.slogan()
        sp = self.speech()
        p = self.playlist([s])
        got = self.rig.api("POST", "/v1/entries",
                           {"id": self.uid("e"), "playlist": p,
                            "channel": "speaker"}, token="editor")
        self.assertError(got, 400, "playlist")
        self.assertIn("speaker", self.message(got))
        e = self.uid("e")
        self.rig.ok("POST", "/v1/entries", {"id": e, "playlist": p,
                                            "channel": "screen"},
                    token="editor", expect=(201,))
        # The playlist may not take speech now that a screen entry plays
        # it.
        got = self.rig.api("PUT", "/v1/playlists/%s" % p,
                           {"items": [{"content": s}, {"content": sp}]},
                           token="editor")
        self.assertError(got, 400, "items")
        self.assertIn(e, self.message(got))

    def test_entry_targets_and_lists(self):
        self.rig.ok("POST", "/v1/groups", {"id": "tkv", "name": "TKV"},
                    token="technician", expect=(201,))
        self.rig.ok("POST", "/v1/companies",
                    {"id": "than-cua-lo", "group": "tkv"},
                    token="technician", expect=(201,))
        self.rig.add_site("cua-lo", company="than-cua-lo")
        p = self.playlist([self.slogan()])
        e = self.uid("e")
        doc = self.rig.ok("POST", "/v1/entries",
                          {"id": e, "playlist": p, "channel": "screen",
                           "priority": 70, "name": "Toàn tập đoàn",
                           "targets": {"groups": ["tkv"],
                                       "sites": ["cua-lo"],
                                       "tags": ["nha-an"]}},
                          token="editor", expect=(201,))
        t = doc["doc"]["targets"]
        self.assertEqual(t["groups"], ["tkv"])
        self.assertEqual(t["sites"], ["cua-lo"])
        self.assertEqual(t["tags"], ["nha-an"])
        self.assertEqual(doc["channel"], "screen")
        self.assertEqual(doc["priority"], 70)
        lst = self.rig.ok("GET", "/v1/entries", token="editor",
                          query={"channel": "screen", "limit": 1000},
                          expect=(200,))
        self.assertIn(e, [i["id"] for i in lst["items"]])
        lst = self.rig.ok("GET", "/v1/entries", token="editor",
                          query={"channel": "speaker"}, expect=(200,))
        self.assertNotIn(e, [i["id"] for i in lst["items"]])
        self.assertError(self.rig.api("GET", "/v1/entries", token="editor",
                                      query={"channel": "radio"}), 400,
                         "channel")
        page = self.rig.ok("GET", "/v1/entries", token="editor",
                           query={"limit": 1, "offset": 0}, expect=(200,))
        self.assertEqual(len(page["items"]), 1)
        self.assertGreaterEqual(page["total"], 1)

    def test_ctl_playlist_and_entry(self):
        c = self.slogan()
        p = self.uid("pl")
        rc, out, err = self.rig.ctl(["playlist", "add", p, "--item",
                                     c + ":15:crossfade", "--name",
                                     "Khẩu hiệu", "--submit"],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("submitted", out)
        rc, out, err = self.rig.ctl(["playlist", "show", p],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn(c, out)
        self.assertIn("crossfade", out)
        e = self.uid("e")
        rc, out, err = self.rig.ctl(
            ["entry", "add", e, "--playlist", p, "--channel", "screen",
             "--dtstart", "20231112", "--duration", "P1D", "--rrule",
             "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12", "--founded", "1936",
             "--tag", "nha-an"], token="editor")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.rig.ctl(["entry", "edit", e, "--priority",
                                     "60"], token="editor")
        self.assertEqual(rc, 0, err)
        doc = self.rig.ok("GET", "/v1/entries/%s" % e, token="editor",
                          expect=(200,))
        self.assertEqual(doc["doc"]["priority"], 60)
        self.assertEqual(doc["doc"]["founded"], 1936)
        self.assertEqual(doc["doc"]["targets"]["tags"], ["nha-an"])
        rc, out, err = self.rig.ctl(["entry", "list"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn(e, out)
        self.assertIn("FREQ=YEARLY", out)
        rc, out, err = self.rig.ctl(["entry", "add", self.uid("e"),
                                     "--playlist", p, "--channel", "screen",
                                     "--rrule", "BYDAY=MO", "--dtstart",
                                     "20231112"], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: entry add: rrule: FREQ is missing", err)
        # From a JSON file.
        f = os.path.join(self.rig.dir, "entry.json")
        e2 = self.uid("e")
        with open(f, "w", encoding="utf-8") as fh:
            json.dump({"id": e2, "playlist": p, "channel": "screen"}, fh)
        rc, out, err = self.rig.ctl(["entry", "add", f], token="editor")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.rig.ctl(["entry", "rm", e2], token="editor")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.rig.ctl(["playlist", "rm", p], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn(e, err)
        rc, out, err = self.rig.ctl(["entry", "--help"], token="editor")
        self.assertEqual(rc, 0)
        self.assertIn("--rrule", out)

    def test_console_content_survives_reimport(self):
        # Content made in the console keeps only the style members given;
        # an export of it imports back as unchanged, still approved.
        cid = self.uid("s")
        self.rig.ok("POST", "/v1/content",
                    {"id": cid, "type": "slogan", "text": "Người Thợ mỏ",
                     "style": {"fg": "#ffd700"}, "submit": True},
                    token="editor", expect=(201,))
        got = self.rig.api("POST", "/v1/content/%s/submit" % cid,
                           token="editor")
        self.assertIn(got[0], (200, 409))
        self.rig.ok("POST", "/v1/content/%s/approve" % cid,
                    token="approver", expect=(200,))
        before = self.rig.ok("GET", "/v1/content/%s" % cid, token="editor",
                             expect=(200,))
        exp = self.rig.ok("GET", "/v1/export/campaign", token="editor",
                          expect=(200,))
        self.assertIn(cid, [c["id"] for c in exp["content"]])
        rep = self.rig.ok("POST", "/v1/import/campaign",
                          {"campaign": exp, "submit": True},
                          token="editor2", expect=(200,))
        self.assertEqual(rep["content"]["created"] +
                         rep["content"]["updated"], 0)
        after = self.rig.ok("GET", "/v1/content/%s" % cid, token="editor",
                            expect=(200,))
        self.assertEqual(after["status"], "approved")
        self.assertEqual(after["rev"], before["rev"])
        self.assertEqual(after["doc"], before["doc"])

    def test_settings(self):
        doc = self.rig.ok("GET", "/v1/settings/schedule", token="technician",
                          expect=(200,))
        self.assertEqual(doc["timezone"], "Asia/Ho_Chi_Minh")
        self.assertEqual(doc["fallback"], {"screen": None, "speaker": None})
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"timezone": "Mars/Base"},
                                      token="editor"), 400, "timezone")
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"timezone": 7}, token="editor"), 400,
                         "timezone")
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"fallback": {"screen": "nope"}},
                                      token="editor"), 400,
                         "fallback.screen")
        sp = self.speech()
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"fallback": {"screen": sp}},
                                      token="editor"), 400,
                         "fallback.screen")
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"fallback": {"radio": sp}},
                                      token="editor"), 400)
        self.assertError(self.rig.api("PUT", "/v1/settings/schedule",
                                      {"timezone": "UTC"},
                                      token="technician"), 403)
        s = self.slogan()
        doc = self.rig.ok("PUT", "/v1/settings/schedule",
                          {"fallback": {"screen": s, "speaker": sp}},
                          token="editor", expect=(200,))
        self.assertEqual(doc["fallback"], {"screen": s, "speaker": sp})
        self.assertEqual(doc["timezone"], "Asia/Ho_Chi_Minh")
        got = self.rig.api("DELETE", "/v1/content/%s" % s, token="editor")
        self.assertError(got, 409)
        doc = self.rig.ok("PUT", "/v1/settings/schedule",
                          {"fallback": {"screen": None}}, token="editor",
                          expect=(200,))
        self.assertEqual(doc["fallback"], {"screen": None, "speaker": sp})
        self.rig.ok("DELETE", "/v1/content/%s" % s, token="editor",
                    expect=(200, 204))


class CampaignTest(CalendarBase):
    """The sample campaign through minecastctl, then export, re-import and
    preview, in order."""

    def test_campaign_import_export_preview(self):
        self.assertTrue(os.path.exists(CAMPAIGN),
                        "the build generates %s" % CAMPAIGN)
        self.rig.add_site("cua-lo")
        self.rig.add_node("pi-lang-son", "cua-lo", tags=["lang-son"])
        self.rig.add_node("pi-cua-lo", "cua-lo")
        rc, out, err = self.rig.ctl(["import", "campaign", CAMPAIGN,
                                     "--submit"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("content    27 created, 0 updated, 0 unchanged", out)
        self.assertIn("playlists  12 created", out)
        self.assertIn("entries    12 created", out)
        self.assertIn("[12/12] assets/ban-tin-2200.ogg", err)
        self.assertEqual(self.counts(), (27, 12, 12))
        doc = self.rig.ok("GET", "/v1/content/pano-vung-mo", token="editor",
                          expect=(200,))
        self.assertEqual(doc["status"], "submitted")
        self.assertRegex(doc["doc"]["sha256"], "^[0-9a-f]{64}$")
        self.assertEqual(doc["doc"]["url"],
                         "/v1/content/" + doc["doc"]["sha256"])
        self.assertNotIn("src", doc["doc"])
        # What was measured at POST /v1/blobs, as for a direct upload.
        self.assertGreater(doc["meta"]["width"], 0, doc["meta"])
        self.assertGreater(doc["meta"]["height"], 0, doc["meta"])
        audio = self.rig.ok("GET", "/v1/content/ban-tin-2200",
                            token="editor", expect=(200,))
        self.assertEqual(sorted(audio["meta"]),
                         ["channels", "lufs", "rate"], audio["meta"])
        self.assertIn("gain_db", audio["doc"])
        st = self.rig.ok("GET", "/v1/settings/schedule", token="editor",
                         expect=(200,))
        self.assertEqual(st["fallback"]["screen"], "slogan-fallback")
        # Importing again changes nothing.
        rc, out, err = self.rig.ctl(["import", "campaign", CAMPAIGN,
                                     "--submit"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("content    0 created, 0 updated, 27 unchanged", out)
        self.assertIn("entries    0 created, 0 updated, 12 unchanged", out)
        self.assertEqual(self.rig.ok("GET", "/v1/entries/e-12-11",
                                     token="editor", expect=(200,))["rev"],
                         1)
        # Nothing is approved yet: the approved export is empty.
        exp = self.rig.ok("GET", "/v1/export/campaign", token="editor",
                          expect=(200,))
        self.assertEqual(exp["entries"], [])
        self.approve_all()
        exp = self.rig.ok("GET", "/v1/export/campaign", token="editor",
                          expect=(200,))
        self.assertEqual(exp["format"], "minecast-campaign/1")
        self.assertEqual((len(exp["content"]), len(exp["playlists"]),
                          len(exp["entries"])), (27, 12, 12))
        # The export imports back unchanged, and stays approved.
        rep = self.rig.ok("POST", "/v1/import/campaign",
                          {"campaign": exp, "submit": True},
                          token="editor2", expect=(200,))
        for k in ("content", "playlists", "entries"):
            self.assertEqual(rep[k]["created"] + rep[k]["updated"], 0, k)
        self.assertEqual(self.rig.ok("GET", "/v1/entries/e-12-11",
                                     token="editor",
                                     expect=(200,))["status"], "approved")
        # minecastctl export writes the same document to a file.
        path = os.path.join(self.rig.dir, "export.json")
        rc, out, err = self.rig.ctl(["export", "campaign", "--out", path],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        with open(path, encoding="utf-8") as fh:
            self.assertEqual(json.load(fh)["entries"], exp["entries"])

        # The day preview of a site on 12/11/2023: the 87th anniversary.
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"site": "cua-lo", "date": "2023-11-12"},
                         expect=(200,))
        self.assertEqual(pv["timezone"], "Asia/Ho_Chi_Minh")
        screen = pv["channels"]["screen"]
        self.assertEqual(screen[0]["from"], "00:00:00")
        self.assertEqual(screen[-1]["to"], "24:00:00")
        texts = [i.get("text", "") for s in screen for i in s["items"]]
        self.assertTrue(any("87 năm" in t for t in texts), texts)
        self.assertTrue(any("12/11/1936" in t for t in texts), texts)
        self.assertFalse(any("{years}" in t for t in texts), texts)
        e1211 = [s for s in screen if s["kind"] == "scheduled" and
                 s["entries"][0]["id"] == "e-12-11"]
        self.assertEqual(len(e1211), 1)
        self.assertEqual(e1211[0]["entries"][0]["founded"], 1936)
        speaker = pv["channels"]["speaker"]
        at = [i["at"] for s in speaker for i in s["items"] if "at" in i]
        for t in ("06:00:00", "14:00:00", "22:00:00"):
            self.assertIn(t, at)
        # 04/11: the Lạng Sơn entry targets a tag, so a node with it sees
        # its pano and a node without it does not.
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"node": "pi-lang-son",
                                "date": "2023-11-04"}, expect=(200,))
        ids = [i["content"] for s in pv["channels"]["screen"]
               for i in s["items"]]
        self.assertIn("pano-lang-son", ids)
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"node": "pi-cua-lo", "date": "2023-11-04"},
                         expect=(200,))
        ids = [i["content"] for s in pv["channels"]["screen"]
               for i in s["items"]]
        self.assertNotIn("pano-lang-son", ids)
        # minecastctl preview prints the day as a table.
        rc, out, err = self.rig.ctl(["preview", "--site", "cua-lo",
                                     "--date", "2023-11-12"],
                                    token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("[screen]", out)
        self.assertIn("87 năm", out)
        self.assertRegex(out, r"\n  06:00:00–[0-9:.]+ +interrupt/80 +"
                              r"e-ban-tin-0600")

        # Drafts: an edit shows with drafts=1 only.
        self.rig.ok("PUT", "/v1/content/slogan-vung-mo",
                    {"type": "slogan", "text": "Bản nháp {years} năm"},
                    token="editor", expect=(200,))
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"site": "cua-lo", "date": "2023-11-12",
                                "drafts": "1"}, expect=(200,))
        texts = [i.get("text", "") for s in pv["channels"]["screen"]
                 for i in s["items"]]
        self.assertIn("Bản nháp 87 năm", texts)
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"site": "cua-lo", "date": "2023-11-12"},
                         expect=(200,))
        texts = [i.get("text", "") for s in pv["channels"]["screen"]
                 for i in s["items"]]
        self.assertNotIn("Bản nháp 87 năm", texts)

        # Preview errors.
        for q, st, field in [({"date": "2023-11-12"}, 400, "node"),
                             ({"site": "cua-lo", "node": "pi-cua-lo",
                               "date": "2023-11-12"}, 400, "node"),
                             ({"site": "cua-lo"}, 400, "date"),
                             ({"site": "cua-lo", "date": "2023-02-30"}, 400,
                              "date"),
                             ({"site": "cua-lo", "date": "12/11/2023"}, 400,
                              "date"),
                             ({"site": "nowhere", "date": "2023-11-12"}, 404,
                              None),
                             ({"node": "nobody", "date": "2023-11-12"}, 404,
                              None)]:
            self.assertError(self.rig.api("GET", "/v1/preview",
                                          token="editor", query=q),
                             st, field, what=repr(q))
        self.assertError(self.rig.api("GET", "/v1/preview",
                                      query={"site": "cua-lo",
                                             "date": "2023-11-12"}), 401)

        # The iCalendar export imports back without a change.
        rc, out, err = self.rig.ctl(["export", "ics"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("BEGIN:VCALENDAR"))
        self.assertIn("UID:e-12-11", out)
        self.assertIn("X-MINECAST-FOUNDED:1936", out)
        path = os.path.join(self.rig.dir, "export.ics")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(out)
        before = self.counts()
        rc, out, err = self.rig.ctl(["import", "ics", path],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("entries    0 created, 0 updated, 12 unchanged", out)
        self.assertEqual(self.counts(), before)

    def test_campaign_refused_whole(self):
        with open(CAMPAIGN, encoding="utf-8") as fh:
            camp = json.load(fh)
        # Assets named by a hash nobody uploaded.
        bad = json.loads(json.dumps(camp))
        for c in bad["content"]:
            if "src" in c:
                del c["src"]
                c["sha256"] = "ab" * 32
                c["size"] = 1000
        got = self.rig.api("POST", "/v1/import/campaign", {"campaign": bad},
                           token="editor")
        self.assertError(got, 400, "content[0].sha256")
        self.assertIn("POST /v1/blobs", self.message(got))
        # An asset still named by src.
        got = self.rig.api("POST", "/v1/import/campaign",
                           {"campaign": camp}, token="editor")
        self.assertError(got, 400, "content[0].sha256")
        # A bad rule in the last entry refuses everything before it.
        slogans = json.loads(json.dumps(camp))
        slogans["content"] = [c for c in slogans["content"]
                              if c["type"] in ("slogan", "speech")]
        keep = {c["id"] for c in slogans["content"]}
        slogans["playlists"] = [
            dict(p, items=[i for i in p["items"] if i["content"] in keep])
            for p in slogans["playlists"]]
        slogans["playlists"] = [p for p in slogans["playlists"]
                                if p["items"]]
        pls = {p["id"] for p in slogans["playlists"]}
        slogans["entries"] = [e for e in slogans["entries"]
                              if e["playlist"] in pls]
        slogans["content"] = [dict(c, style={k: v for k, v in
                                             c.get("style", {}).items()
                                             if k != "bg_image"})
                              if c["type"] == "slogan" else c
                              for c in slogans["content"]]
        n = len(slogans["entries"])
        self.assertGreater(n, 1)
        slogans["entries"][-1]["rrule"] = "FREQ=YEARLY;BYMONTH=13"
        got = self.rig.api("POST", "/v1/import/campaign",
                           {"campaign": slogans}, token="editor")
        self.assertError(got, 400, "entries[%d].rrule" % (n - 1))
        for body, field in [({"campaign": dict(slogans,
                                                format="minecast/2")},
                             "format"),
                            ({"campaign": [1]}, "campaign"),
                            ({}, "campaign"),
                            ({"campaign": slogans, "submit": 1}, "submit")]:
            self.assertError(self.rig.api("POST", "/v1/import/campaign",
                                          body, token="editor"),
                             400, field)
        self.assertEqual(self.counts(), (0, 0, 0))
        self.assertError(self.rig.api("POST", "/v1/import/campaign",
                                      {"campaign": slogans},
                                      token="approver"), 403)
        # Fixed, it goes in.
        slogans["entries"][-1]["rrule"] = "FREQ=YEARLY;BYMONTH=11"
        rep = self.rig.ok("POST", "/v1/import/campaign",
                          {"campaign": slogans}, token="editor",
                          expect=(200,))
        self.assertEqual(rep["entries"]["created"], n)
        self.assertFalse(rep["submitted"])
        rc, out, err = self.rig.ctl(["import", "campaign",
                                     os.path.join(self.rig.dir, "none.json")],
                                    token="editor")
        self.assertEqual(rc, 1)


class IcsTest(CalendarBase):
    per_class = True

    def post_ics(self, text, token="editor", query=None,
                 content_type="text/calendar"):
        data = text.encode("utf-8") if isinstance(text, str) else text
        return self.rig.api("POST", "/v1/import/ics", raw=data,
                            content_type=content_type, token=token,
                            query=query)

    def test_1_anniversary_calendar(self):
        self.rig.add_site("cua-lo")
        path = os.path.join(self.rig.dir, "ky-niem.ics")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(ANNIVERSARIES)
        rc, out, err = self.rig.ctl(["import", "ics", path, "--submit"],
                                    token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("5 entries from the calendar", out)
        ids = {i["id"]: i for i in self.rig.ok(
            "GET", "/v1/entries", token="editor", query={"limit": 1000},
            expect=(200,))["items"]}
        # UID characters outside the id rule become "-".
        self.assertEqual(set(ids), {
            "3k2v8d0q1vj7-google.com", "nha-giao-example.org",
            "040000008200E00074C5B7101A82E008000000001-outlook",
            "weekly-example.org", "weekly-example.org-2"})
        e = ids["3k2v8d0q1vj7-google.com"]["doc"]
        self.assertEqual(e["dtstart"], "20231112")
        self.assertEqual(e["duration"], "P1D")  # a nominal day
        self.assertNotIn("dtend", e)
        self.assertEqual(e["rrule"], "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12")
        self.assertEqual(e["founded"], 1936)
        self.assertEqual(e["priority"], 60)
        self.assertEqual(e["layer"], "interrupt")
        self.assertEqual(e["name"], "Kỷ niệm {years} năm Ngày Truyền thống "
                                    "công nhân Vùng mỏ – Truyền thống "
                                    "ngành Than")
        # Its words became a slogan and a playlist of its own.
        c = self.rig.ok("GET", "/v1/content/3k2v8d0q1vj7-google.com",
                        token="editor", expect=(200,))
        self.assertEqual(c["doc"]["type"], "slogan")
        self.assertTrue(c["doc"]["text"].endswith(
            "\nTruyền thống ngành Than (12/11/{since} – {date})"))
        self.assertEqual(c["status"], "submitted")
        e = ids["nha-giao-example.org"]["doc"]
        self.assertEqual(e["tzid"], "Asia/Ho_Chi_Minh")
        self.assertEqual(e["dtstart"], "20231120T070000")
        self.assertEqual(e["dtend"], "20231120T170000")
        self.assertEqual(e["exdate"], ["20241120T070000"])
        e = ids["040000008200E00074C5B7101A82E008000000001-outlook"]["doc"]
        self.assertEqual(e["tzid"], "Asia/Ho_Chi_Minh")
        self.assertEqual(e["duration"], "PT2H")
        # The moved occurrence left its series.
        e = ids["weekly-example.org"]["doc"]
        self.assertEqual(e["exdate"], ["20231108T010000Z"])
        self.assertEqual(ids["weekly-example.org-2"]["doc"]["dtstart"],
                         "20231108T030000Z")
        # Approved, a site shows it on 12/11/2023 with 87 years.
        self.approve_all()
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"site": "cua-lo", "date": "2023-11-12"},
                         expect=(200,))
        texts = [i.get("text", "") for s in pv["channels"]["screen"]
                 for i in s["items"]]
        self.assertTrue(any(t.startswith("Kỷ niệm 87 năm Ngày Truyền thống")
                            and "12/11/1936 – 12/11/2023" in t
                            for t in texts), texts)
        # And again on 12/11/2024, one year older, with no edit.
        pv = self.rig.ok("GET", "/v1/preview", token="editor",
                         query={"site": "cua-lo", "date": "2024-11-12"},
                         expect=(200,))
        texts = [i.get("text", "") for s in pv["channels"]["screen"]
                 for i in s["items"]]
        self.assertTrue(any(t.startswith("Kỷ niệm 88 năm") for t in texts))
        # Importing the same file again changes nothing.
        got = self.post_ics(ANNIVERSARIES)
        doc = self.assertStatus(got, 200)
        self.assertEqual(doc["entries"], {"created": 0, "updated": 0,
                                          "unchanged": 5})

    def test_2_playlist_parameter(self):
        p = self.playlist([self.slogan()])
        text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0",
                            "BEGIN:VEVENT", "UID:ca-sang",
                            "DTSTART:20231101T060000",
                            "RRULE:FREQ=DAILY", "SUMMARY:Ca sáng",
                            "END:VEVENT", "END:VCALENDAR", ""])
        doc = self.assertStatus(self.post_ics(text, query={"playlist": p}),
                                200)
        self.assertEqual(doc["content"]["created"], 0)
        e = self.rig.ok("GET", "/v1/entries/ca-sang", token="editor",
                        expect=(200,))
        self.assertEqual(e["doc"]["playlist"], p)
        self.assertEqual(e["status"], "draft")
        self.assertError(self.post_ics(text, query={"playlist": "nope"}),
                         400, "playlist")
        self.assertError(self.post_ics(text, query={"channel": "radio"}),
                         400, "channel")
        # On the speaker channel an event's words are spoken.
        text2 = text.replace("UID:ca-sang", "UID:loa-sang")
        self.assertStatus(self.post_ics(text2,
                                        query={"channel": "speaker"}), 200)
        c = self.rig.ok("GET", "/v1/content/loa-sang", token="editor",
                        expect=(200,))
        self.assertEqual(c["doc"]["type"], "speech")

    def test_3_bad_calendars_refused(self):
        good = ANNIVERSARIES
        before = self.counts()
        cases = [
            # truncated: the file ends inside an event
            (good[:good.index("END:VEVENT")], 400, "truncated"),
            (good[:len(good) // 2], 400, "truncated"),
            ("", 400, "empty"),
            ("hello world\r\n", 400, "not an iCalendar content line"),
            ("SUMMARY:Kỷ niệm\r\n", 400, "must start with BEGIN:VCALENDAR"),
            ("\x89PNG\r\n", 400, "not an iCalendar content line"),
            (good.replace("END:VALARM", "END:VTODO", 1), 400,
             "END:VTODO does not close BEGIN:VALARM"),
            (good.replace("SUMMARY:Họp giao ban", "SUMMARY Họp giao ban"),
             400, "not an iCalendar content line"),
            (good + "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 400,
             "after END:VCALENDAR"),
            ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", 400,
             "no VEVENT"),
            (good.replace("DTSTART;TZID=SE Asia Standard Time:"
                          "20231122T080000\r\n", ""), 400,
             "DTSTART: bắt buộc / required"),
            (good.replace("RRULE:FREQ=YEARLY\r\n",
                          "RRULE:INTERVAL=2\r\n"), 400,
             "VEVENT 2 (dòng/line 37): Can't parse as RECUR value"),
            (good.replace("RRULE:FREQ=YEARLY\r\n",
                          "RRULE:FREQ=DAILY;BYWEEKNO=2\r\n"), 400,
             "VEVENT 2 (dòng/line 37): rrule: BYWEEKNO needs FREQ=YEARLY"),
            (good.replace("RRULE:FREQ=YEARLY\r\n",
                          "RRULE:FREQ=MINUTELY;BYMONTH=2\r\n"), 400,
             "VEVENT 2 (dòng/line 37): rrule: FREQ=MINUTELY"),
            (good.replace("DTSTART;TZID=SE Asia Standard Time",
                          "DTSTART;TZID=Mars Standard Time"), 400,
             "Mars Standard Time"),
            (good.replace("X-MINECAST-PRIORITY:60", "X-MINECAST-PRIORITY:"
                          "high"), 400, "X-MINECAST-PRIORITY"),
            (good.replace("X-MINECAST-PRIORITY:60",
                          "X-MINECAST-PRIORITY:500"), 400,
             "priority: 500 is out of range"),
            (good.replace("X-MINECAST-FOUNDED:1936",
                          "X-MINECAST-TARGETS:[1,2]"), 400,
             "X-MINECAST-TARGETS"),
            (good.replace("X-MINECAST-FOUNDED:1936",
                          'X-MINECAST-TARGETS:{"sites":["nowhere"]}'), 400,
             "targets.sites[0]"),
            (good.replace("DTSTART;VALUE=DATE:20231112",
                          "DTSTART;VALUE=DATE:2023111"), 400, ""),
        ]
        for text, status, words in cases:
            got = self.post_ics(text)
            self.assertError(got, status, what=words or text[:60])
            self.assertIn(words, self.message(got))
        # Bytes that are not UTF-8 text.
        self.assertError(self.post_ics(good.encode("utf-8").replace(
            "Họp".encode("utf-8"), b"H\xc3p")), 400)
        self.assertError(self.post_ics(good.encode("utf-8") + b"\0"), 400)
        # Too large: refused before it is read.
        big = ("BEGIN:VCALENDAR\r\n" + "X-PAD:" + "x" * (1024 * 1024) +
               "\r\nEND:VCALENDAR\r\n")
        self.assertError(self.post_ics(big), 413)
        self.assertError(self.post_ics(good, content_type="application/json"),
                         415)
        self.assertError(self.post_ics(good, token="approver"), 403)
        self.assertError(self.post_ics(good, token=None), 401)
        self.assertEqual(self.counts(), before, "nothing was written")
        # minecastctl says why.
        path = os.path.join(self.rig.dir, "bad.ics")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(good[:good.index("END:VEVENT")])
        rc, out, err = self.rig.ctl(["import", "ics", path], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: import ics: ics: ", err)
        self.assertIn("truncated", err)


if __name__ == "__main__":
    unittest.main()
