"""Content library API tests (docs/api.md) over real HTTP.

Slogans, uploads of images and audio (real files made here with
ImageMagick and sox), refused files that leave nothing behind, speech
generated with espeak-ng, the codec's field errors, NFC, roles, paging,
the workflow (editing approved content goes back to review), previews
drawn by minecast-player render, and minecastctl content.
"""

import hashlib
import json
import os
import sqlite3
import struct
import subprocess
import time
import unicodedata
import unittest
import zlib

from controller.ctlharness import CtlTest, player_bin

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def run(*argv):
    p = subprocess.run(list(argv), capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(argv),
                                                p.stderr.decode()[-500:]))


def png_size(data):
    assert data[:8] == PNG_SIG, data[:16]
    return struct.unpack(">II", data[16:24])


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def huge_png():
    """A few hundred bytes claiming 100000 x 100000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return (PNG_SIG + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


class Media:
    """Files made once per class in the rig's directory."""

    def __init__(self, d):
        self.dir = os.path.join(d, "media")
        os.makedirs(self.dir, exist_ok=True)
        self.png = self.path("pano.png")
        run("convert", "-size", "320x180", "gradient:#B71C1C-#FFD700",
            self.png)
        self.jpg = self.path("photo.jpg")
        run("convert", "-size", "200x100", "plasma:fractal", "-quality",
            "85", self.jpg)
        self.png2 = self.path("pano2.png")
        run("convert", "-size", "64x64", "xc:#1565C0", self.png2)
        # Stereo 1 kHz sine at -20 dBFS: -20 LUFS, gain -3 dB.
        self.ogg = self.path("sine.ogg")
        run("sox", "-n", "-r", "48000", "-c", "2", self.ogg, "synth", "3",
            "sine", "1000", "vol", "-20dB")
        self.wav_short = self.path("short.wav")
        run("sox", "-n", "-r", "16000", "-c", "1", self.wav_short, "synth",
            "0.2", "sine", "440", "vol", "-10dB")
        with open(self.png, "rb") as fh:
            data = fh.read()
        self.trunc = self.path("cut.png")
        with open(self.trunc, "wb") as fh:
            fh.write(data[:len(data) // 2])
        self.text_png = self.path("notes.png")
        with open(self.text_png, "w") as fh:
            fh.write("Đây không phải là ảnh.\n")
        self.huge = self.path("huge.png")
        with open(self.huge, "wb") as fh:
            fh.write(huge_png())

    def path(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def read(path):
        with open(path, "rb") as fh:
            return fh.read()


class ContentTest(CtlTest):
    per_class = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.media = Media(cls.shared_rig.dir)

    # -- helpers --

    def create(self, body, token="editor", status=201):
        got = self.rig.api("POST", "/v1/content", body, token=token)
        return self.assertStatus(got, status, "POST /v1/content %s"
                                 % body.get("id"))

    def upload(self, path, query, token="editor"):
        return self.rig.upload("/v1/content/upload", Media.read(path),
                               "application/octet-stream", token=token,
                               query=query)

    def stored(self):
        """(content rows, blobs rows, files under blobs/)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
            self.rig.data_dir, "minecast.db"), uri=True)
        try:
            n_content = db.execute("SELECT count(*) FROM content").fetchone()[0]
            n_blobs = db.execute("SELECT count(*) FROM blobs").fetchone()[0]
        finally:
            db.close()
        files = []
        for root, _, names in os.walk(os.path.join(self.rig.data_dir,
                                                   "blobs")):
            files += [os.path.join(root, n) for n in names]
        return n_content, n_blobs, sorted(files)

    # -- slogans --

    def test_slogan_round_trip(self):
        doc = self.create({"id": "slogan-ky-luat", "type": "slogan",
                           "name": "Kỷ luật và Đồng tâm",
                           "text": "Kỷ luật và Đồng tâm - Chúng ta nhất "
                                   "định thắng!",
                           "style": {"fg": "#FFD700", "bg": "#B71C1C",
                                     "effect": "outline"}})
        self.assertEqual(doc["status"], "draft")
        self.assertEqual(doc["doc"]["type"], "slogan")
        self.assertEqual(doc["doc"]["style"], {"fg": "#FFD700",
                                               "bg": "#B71C1C",
                                               "effect": "outline"})
        got = self.rig.ok("GET", "/v1/content/slogan-ky-luat",
                          token="technician")
        self.assertEqual(got["doc"]["text"],
                         "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!")
        self.assertIsNone(got["approved"])
        self.assertEqual([h["action"] for h in got["history"]],
                         ["content.create"])
        # Already there.
        self.assertError(self.rig.api("POST", "/v1/content",
                                      {"id": "slogan-ky-luat",
                                       "type": "slogan", "text": "x"},
                                      token="editor"), 409, "id")

    def test_nfc(self):
        nfd = unicodedata.normalize("NFD", "Ngày Truyền thống công nhân "
                                           "Vùng mỏ")
        self.assertNotEqual(nfd, unicodedata.normalize("NFC", nfd))
        doc = self.create({"id": "slogan-nfc", "type": "slogan",
                           "name": nfd, "text": nfd})
        want = unicodedata.normalize("NFC", nfd)
        self.assertEqual(doc["doc"]["text"], want)
        self.assertEqual(doc["doc"]["name"], want)
        self.assertEqual(doc["name"], want)
        # Search finds it by its NFC or NFD form.
        for q in (want, nfd):
            got = self.rig.ok("GET", "/v1/content", token="editor",
                              query={"q": "Truyền thống"})
            self.assertIn("slogan-nfc", [i["id"] for i in got["items"]], q)

    def test_codec_field_errors(self):
        cases = [
            ({"style": {"fg": "yellow"}}, "style.fg", 400),
            ({"style": {"align": "middle"}}, "style.align", 400),
            ({"style": {"ticker": "yes"}}, "style.ticker", 400),
            ({"style": {"bg_image": "no-such-image"}}, "style.bg_image",
             400),
            ({"style": "red"}, "style", 400),
            ({"text": ""}, "text", 400),
            ({"text": "x" * 4001}, "text", 413),
            ({"text": "a\rb"}, "text", 400),
            ({"text": 12}, "text", 400),
            ({"name": "n" * 257}, "name", 413),
            ({"fit": "cover"}, "fit", 400),
            ({"duration_ms": 5}, "duration_ms", 400),
            # Unknown members are refused, so that a typo never passes.
            ({"colour": "#FFFFFF"}, "colour", 400),
            ({"style": {"color": "#FFFFFF"}}, "style.color", 400),
        ]
        for patch, field, status in cases:
            body = {"id": "slogan-bad", "type": "slogan", "text": "Chào"}
            body.update(patch)
            self.assertError(self.rig.api("POST", "/v1/content", body,
                                          token="editor"),
                             status, field, "patch %s" % patch)
        # The codec's message is kept: it says what is wrong.
        err = self.assertError(self.rig.api(
            "POST", "/v1/content", {"id": "slogan-bad", "type": "slogan",
                                    "text": "x",
                                    "style": {"fg": "yellow"}},
            token="editor"), 400, "style.fg")
        self.assertIn("yellow", err["message"])
        self.assertError(self.rig.api("GET", "/v1/content/slogan-bad",
                                      token="editor"), 404)

    def test_bad_requests(self):
        r = self.rig
        self.assertError(r.api("POST", "/v1/content", raw="{not json",
                               token="editor"), 400)
        self.assertError(r.api("POST", "/v1/content", raw="[1,2]",
                               token="editor"), 400)
        self.assertError(r.api("POST", "/v1/content", raw=b"\xff\xfe",
                               token="editor"), 400)
        self.assertError(r.api("POST", "/v1/content",
                               {"type": "slogan", "text": "x"},
                               token="editor"), 400, "id")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "a/b", "type": "slogan", "text": "x"},
                               token="editor"), 400, "id")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "a" * 65, "type": "slogan",
                                "text": "x"}, token="editor"), 400, "id")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "ab" * 32, "type": "slogan",
                                "text": "x"}, token="editor"), 400, "id")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "x", "type": "video", "text": "x"},
                               token="editor"), 400, "type")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "x", "type": "image"},
                               token="editor"), 400, "type")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "x", "type": "slogan", "text": "x",
                                "submit": "yes"}, token="editor"),
                         400, "submit")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "x", "type": "audio",
                                "generate": True}, token="editor"),
                         400, "text")
        # Oversized JSON body: refused before it is read.
        self.assertError(r.api("POST", "/v1/content",
                               raw=json.dumps({"id": "big", "type": "slogan",
                                               "text": "x" * 70000}),
                               token="editor"), 413)
        self.assertError(r.api("GET", "/v1/content", token="editor",
                               query={"limit": "-1"}), 400, "limit")
        self.assertError(r.api("GET", "/v1/content", token="editor",
                               query={"limit": "abc"}), 400, "limit")
        self.assertError(r.api("GET", "/v1/content", token="editor",
                               query={"type": "video"}), 400, "type")
        self.assertError(r.api("GET", "/v1/content", token="editor",
                               query={"status": "live"}), 400, "status")
        self.assertError(r.api("GET", "/v1/content/nope", token="editor"),
                         404)
        self.assertError(r.api("PUT", "/v1/content/nope", {"name": "x"},
                               token="editor"), 404)
        self.assertError(r.api("DELETE", "/v1/content/nope",
                               token="editor"), 404)

    def test_roles(self):
        r = self.rig
        body = {"id": "slogan-roles", "type": "slogan", "text": "x"}
        self.assertError(r.api("POST", "/v1/content", body), 401)
        self.assertError(r.api("POST", "/v1/content", body,
                               token="not-a-token"), 401)
        self.assertError(r.api("POST", "/v1/content", body,
                               token="technician"), 403)
        self.assertError(r.api("POST", "/v1/content", body,
                               token="approver"), 403)
        self.assertError(r.upload("/v1/content/upload",
                                  Media.read(self.media.png),
                                  "image/png", token="technician",
                                  query={"id": "img-roles",
                                         "type": "image"}), 403)
        self.assertError(r.upload("/v1/blobs", Media.read(self.media.png),
                                  "image/png", token=None,
                                  query={"type": "image"}), 401)
        self.assertError(r.api("GET", "/v1/content"), 401)
        self.create(body, token="admin")
        self.assertError(r.api("PUT", "/v1/content/slogan-roles",
                               {"name": "y"}, token="technician"), 403)
        self.assertError(r.api("DELETE", "/v1/content/slogan-roles",
                               token="approver"), 403)
        # Reading is for every signed-in person.
        for who in ("editor", "approver", "technician", "admin"):
            r.ok("GET", "/v1/content/slogan-roles", token=who)
            r.ok("GET", "/v1/content", token=who)
        # A browser session needs its CSRF token for a mutation.
        s = r.login("editor")
        self.assertError(r.api("POST", "/v1/content",
                               {"id": "slogan-csrf", "type": "slogan",
                                "text": "x"}, session=s, csrf=False), 403)
        self.assertStatus(r.api("POST", "/v1/content",
                                {"id": "slogan-csrf", "type": "slogan",
                                 "text": "x"}, session=s), 201)

    # -- uploads --

    def test_upload_image(self):
        got = self.upload(self.media.png, {"id": "pano-vung-mo",
                                           "type": "image",
                                           "name": "Pano Vùng mỏ",
                                           "fit": "cover"})
        doc = self.assertStatus(got, 201, "upload png")
        data = Media.read(self.media.png)
        sha = hashlib.sha256(data).hexdigest()
        self.assertEqual(doc["doc"], {
            "id": "pano-vung-mo", "type": "image", "name": "Pano Vùng mỏ",
            "fit": "cover", "sha256": sha, "size": len(data),
            "url": "/v1/content/" + sha, "mime": "image/png"})
        self.assertEqual(doc["meta"], {"width": 320, "height": 180})
        # The file is served by its hash, to anyone (nodes).
        st, body, h = self.rig.api("GET", "/v1/content/" + sha)
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(h.get("Content-Type"), "image/png")
        # JPEG, mime by content although the name says .png.
        jpg = self.media.path("photo-named.png")
        with open(jpg, "wb") as fh:
            fh.write(Media.read(self.media.jpg))
        doc = self.assertStatus(self.upload(jpg, {"id": "photo-1",
                                                  "type": "image"}), 201)
        self.assertEqual(doc["doc"]["mime"], "image/jpeg")
        self.assertEqual(doc["meta"], {"width": 200, "height": 100})
        self.assertEqual(doc["doc"]["name"], "")

    def test_upload_replace(self):
        self.assertStatus(self.upload(self.media.png2, {"id": "img-replace",
                                                        "type": "image",
                                                        "name": "Một"}),
                          201)
        doc = self.assertStatus(self.upload(self.media.jpg,
                                            {"id": "img-replace",
                                             "replace": "1"}), 200)
        self.assertEqual(doc["doc"]["mime"], "image/jpeg")
        self.assertEqual(doc["doc"]["name"], "Một")
        self.assertEqual(doc["rev"], 2)
        self.assertError(self.upload(self.media.ogg, {"id": "img-replace",
                                                      "replace": "1"}),
                         415, "file")
        self.assertError(self.upload(self.media.png, {"id": "no-such",
                                                      "replace": "1"}),
                         404)
        self.create({"id": "slogan-not-file", "type": "slogan",
                     "text": "x"})
        self.assertError(self.upload(self.media.png,
                                     {"id": "slogan-not-file",
                                      "replace": "1"}), 409, "type")

    def test_refused_files_leave_nothing(self):
        before = self.stored()
        cases = [
            (self.media.text_png, "image", 415),
            (self.media.ogg, "image", 415),
            (self.media.png, "audio", 415),
            (self.media.trunc, "image", 422),
            (self.media.huge, "image", 422),
            (self.media.wav_short, "audio", 422),
        ]
        for path, typ, status in cases:
            err = self.assertError(self.upload(path, {"id": "refused",
                                                      "type": typ}),
                                   status, "file", os.path.basename(path))
            self.assertIn(" / ", err["message"])
        # Bad query values, an empty body, a duplicate id: nothing either.
        self.assertError(self.upload(self.media.png, {"id": "refused",
                                                      "type": "image",
                                                      "fit": "zoom"}),
                         400, "fit")
        self.assertError(self.upload(self.media.png, {"id": "refused",
                                                      "type": "slogan"}),
                         400, "type")
        self.assertError(self.upload(self.media.png, {"type": "image"}),
                         400, "id")
        self.assertError(self.rig.upload("/v1/content/upload", b"",
                                         "image/png",
                                         query={"id": "refused",
                                                "type": "image"}),
                         400, "body")
        self.assertEqual(self.stored(), before)
        # A file the store has not seen, under an id that exists: 409 and
        # the new file is not kept.
        self.create({"id": "slogan-taken", "type": "slogan", "text": "x"})
        before = self.stored()
        self.assertError(self.upload(self.media.jpg, {"id": "slogan-taken",
                                                      "type": "image"}),
                         409, "id")
        self.assertEqual(self.stored(), before)
        self.assertError(self.rig.api("GET", "/v1/content/refused",
                                      token="editor"), 404)

    def test_upload_audio_loudness(self):
        doc = self.assertStatus(self.upload(self.media.ogg,
                                            {"id": "sine-ogg",
                                             "type": "audio",
                                             "name": "Âm chuẩn",
                                             "text": "bản ghi lời"}), 201)
        d, m = doc["doc"], doc["meta"]
        self.assertEqual(d["mime"], "audio/ogg")
        self.assertAlmostEqual(d["duration_ms"], 3000, delta=50)
        self.assertAlmostEqual(m["lufs"], -20.0, delta=1.0)
        self.assertAlmostEqual(d["gain_db"], -3.0, delta=1.0)
        self.assertEqual(d["text"], "bản ghi lời")
        self.assertEqual((m["channels"], m["rate"]), (2, 48000))

    def test_blob_upload(self):
        got = self.rig.upload("/v1/blobs", Media.read(self.media.png2),
                              "application/octet-stream",
                              query={"type": "image"})
        doc = self.assertStatus(got, 201)
        self.assertEqual(doc["sha256"], hashlib.sha256(
            Media.read(self.media.png2)).hexdigest())
        self.assertEqual((doc["width"], doc["height"], doc["mime"]),
                         (64, 64, "image/png"))
        # The same bytes again: 200, stored once.
        got = self.rig.upload("/v1/blobs", Media.read(self.media.png2),
                              "application/octet-stream",
                              query={"type": "image"})
        self.assertStatus(got, 200)
        got = self.rig.upload("/v1/blobs", Media.read(self.media.ogg),
                              "application/octet-stream",
                              query={"type": "audio"})
        doc = self.assertStatus(got, (201))
        self.assertAlmostEqual(doc["lufs"], -20.0, delta=1.0)
        self.assertIn("duration_ms", doc)
        before = self.stored()
        self.assertError(self.rig.upload("/v1/blobs",
                                         Media.read(self.media.text_png),
                                         "image/png",
                                         query={"type": "image"}),
                         415, "file")
        self.assertError(self.rig.upload("/v1/blobs",
                                         Media.read(self.media.png),
                                         "image/png",
                                         query={"type": "pdf"}),
                         400, "type")
        self.assertEqual(self.stored(), before)

    # -- speech --

    def test_generated_speech(self):
        text = "Ngày 12/11/2023, TKV kỷ niệm 87 năm Ngày truyền thống."
        doc = self.create({"id": "ban-tin-1211", "type": "audio",
                           "generate": True, "text": text,
                           "name": "Bản tin 12/11"})
        d = doc["doc"]
        self.assertEqual(d["mime"], "audio/wav")
        self.assertEqual(d["text"], text)
        self.assertGreater(d["duration_ms"], 2000)
        self.assertTrue(-20 <= d["gain_db"] <= 20)
        self.assertTrue(doc["meta"]["generated"])
        st, wav, _ = self.rig.api("GET", d["url"])
        self.assertEqual(st, 200)
        self.assertEqual(wav[:4] + wav[8:12], b"RIFFWAVE")
        self.assertEqual(len(wav), d["size"])
        # 16-bit mono; the length matches duration_ms.
        ch, rate = struct.unpack("<HI", wav[22:28])
        bits = struct.unpack("<H", wav[34:36])[0]
        self.assertEqual((ch, bits), (1, 16))
        self.assertAlmostEqual((len(wav) - 44) / 2 / rate * 1000,
                               d["duration_ms"], delta=2)
        # Editing the text with generate makes a new file.
        doc2 = self.rig.ok("PUT", "/v1/content/ban-tin-1211",
                           {"text": "Tháng 11 có 30 ngày.",
                            "generate": True}, token="editor")
        self.assertNotEqual(doc2["doc"]["sha256"], d["sha256"])
        # A template cannot be recorded once.
        self.assertError(self.rig.api("POST", "/v1/content",
                                      {"id": "ban-tin-tpl", "type": "audio",
                                       "generate": True,
                                       "text": "Kỷ niệm {years} năm"},
                                      token="editor"), 400, "text")
        # Speech content spoken by the nodes themselves needs no file.
        doc = self.create({"id": "loa-canh-bao", "type": "speech",
                           "text": "Chú ý, 6h30 họp ca.",
                           "duration_ms": 8000})
        self.assertEqual(doc["doc"], {"id": "loa-canh-bao",
                                      "type": "speech", "name": "",
                                      "text": "Chú ý, 6h30 họp ca.",
                                      "duration_ms": 8000})

    # -- editing and the workflow --

    def test_edit_and_review(self):
        r = self.rig
        self.create({"id": "slogan-edit", "type": "slogan",
                     "text": "Bản một", "submit": True})
        doc = r.ok("GET", "/v1/content/slogan-edit", token="editor")
        self.assertEqual(doc["status"], "submitted")
        r.ok("POST", "/v1/content/slogan-edit/approve", {},
             token="approver")
        doc = r.ok("GET", "/v1/content/slogan-edit", token="editor")
        self.assertEqual(doc["status"], "approved")
        # Editing approved content sends it back to review; the approved
        # revision stays what it was.
        doc = r.ok("PUT", "/v1/content/slogan-edit",
                   {"text": "Bản hai", "style": {"fg": "#00FF00"}},
                   token="editor2")
        self.assertEqual(doc["status"], "submitted")
        self.assertEqual(doc["doc"]["text"], "Bản hai")
        self.assertEqual(doc["approved"]["text"], "Bản một")
        self.assertEqual(doc["rev"], 2)
        self.assertEqual([h["action"] for h in r.ok(
            "GET", "/v1/content/slogan-edit", token="editor")["history"]],
            ["content.create", "content.approve", "content.update"])
        # Fields that are not the item's, or are the file's.
        for body, field in (({"fit": "cover"}, "fit"),
                            ({"type": "image"}, "type"),
                            ({"sha256": "0" * 64}, "sha256"),
                            ({"style": {"fg": "#12345"}}, "style.fg"),
                            ({"text": None}, "text")):
            self.assertError(r.api("PUT", "/v1/content/slogan-edit", body,
                                   token="editor"), 400, field,
                             "PUT %s" % body)
        # Nothing changed by the refused edits.
        self.assertEqual(r.ok("GET", "/v1/content/slogan-edit",
                              token="editor")["rev"], 2)

    def test_list_filters_and_paging(self):
        for i in range(5):
            self.create({"id": "page-%d" % i, "type": "slogan",
                         "name": "Trang %d" % i, "text": "Lặp lại %d" % i})
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"q": "Lặp lại", "limit": "2"})
        self.assertEqual(got["total"], 5)
        self.assertEqual(len(got["items"]), 2)
        seen = [i["id"] for i in got["items"]]
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"q": "Lặp lại", "limit": "2",
                                 "offset": "4"})
        self.assertEqual(len(got["items"]), 1)
        seen += [i["id"] for i in got["items"]]
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"q": "Lặp lại", "limit": "2",
                                 "offset": "2"})
        seen += [i["id"] for i in got["items"]]
        self.assertEqual(sorted(seen), ["page-%d" % i for i in range(5)])
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"type": "speech"})
        self.assertTrue(all(i["type"] == "speech" for i in got["items"]))
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"status": "approved", "q": "page-"})
        self.assertEqual(got["items"], [])
        # A LIKE wildcard in q is a plain character.
        got = self.rig.ok("GET", "/v1/content", token="editor",
                          query={"q": "%"})
        self.assertEqual(got["total"], 0)

    def test_delete(self):
        r = self.rig
        self.create({"id": "slogan-rm", "type": "slogan", "text": "Xoá"})
        r.ok("DELETE", "/v1/content/slogan-rm", token="editor")
        self.assertError(r.api("GET", "/v1/content/slogan-rm",
                               token="editor"), 404)
        self.assertNotIn("slogan-rm", [i["id"] for i in r.ok(
            "GET", "/v1/content", token="editor", query={"q": "slogan-rm"}
        )["items"]])
        # The id can be used again.
        self.create({"id": "slogan-rm", "type": "slogan", "text": "Lại"})

    def test_delete_refused_while_used(self):
        r = self.rig
        self.create({"id": "slogan-used", "type": "slogan", "text": "Dùng"})
        r.ok("POST", "/v1/playlists",
             {"id": "pl-uses", "name": "Dùng",
              "items": [{"content": "slogan-used", "duration_s": 10}]},
             token="editor")
        self.assertError(r.api("DELETE", "/v1/content/slogan-used",
                               token="editor"), 409)
        r.ok("GET", "/v1/content/slogan-used", token="editor")
        # A slogan drawn over an image keeps the image too.
        self.assertStatus(self.upload(self.media.png2, {"id": "bg-used",
                                                        "type": "image"}),
                          201)
        self.create({"id": "slogan-bg", "type": "slogan", "text": "Nền",
                     "style": {"bg_image": "bg-used"}})
        self.assertError(r.api("DELETE", "/v1/content/bg-used",
                               token="editor"), 409)

    # -- previews --

    def test_preview_founding_year(self):
        """A slogan's {years} is drawn with the founding year of the entry
        that plays it: the preview equals that of the text written out."""
        r = self.rig
        years = time.gmtime().tm_year - 1936
        self.create({"id": "slogan-tpl", "type": "slogan",
                     "text": "Kỷ niệm {years} năm"})
        self.create({"id": "slogan-lit", "type": "slogan",
                     "text": "Kỷ niệm %d năm" % years})

        def preview(cid):
            st, png, _ = r.api("GET", "/v1/content/%s/preview.png" % cid,
                               token="editor", query={"size": "320x180"})
            self.assertEqual(st, 200, png[:300])
            return png
        bare = preview("slogan-tpl")
        self.assertNotEqual(bare, preview("slogan-lit"))
        r.ok("POST", "/v1/playlists", {"id": "pl-tpl", "items": [
            {"content": "slogan-tpl", "duration_s": 10}]}, token="editor",
            expect=(201,))
        r.ok("POST", "/v1/entries", {
            "id": "e-tpl", "playlist": "pl-tpl", "channel": "screen",
            "dtstart": "20231112", "duration": "P1D",
            "rrule": "FREQ=YEARLY", "founded": 1936}, token="editor",
            expect=(201,))
        self.assertEqual(preview("slogan-tpl"), preview("slogan-lit"))

    def test_preview(self):
        r = self.rig
        self.assertStatus(self.upload(self.media.png, {"id": "bg-pano",
                                                       "type": "image"}),
                          201)
        self.create({"id": "slogan-preview", "type": "slogan",
                     "text": "Kỷ niệm 87 năm Ngày Truyền thống",
                     "style": {"bg_image": "bg-pano", "fg": "#FFD700",
                               "effect": "outline"}})
        st, png, h = r.api("GET", "/v1/content/slogan-preview/preview.png",
                           token="editor", query={"size": "320x180"})
        self.assertEqual(st, 200, png[:300])
        self.assertEqual(h.get("Content-Type"), "image/png")
        self.assertEqual(png_size(png), (320, 180))
        etag = h.get("ETag")
        self.assertTrue(etag)
        # Cached: the same file, and a conditional GET is 304.
        st, png2, h2 = r.api("GET",
                             "/v1/content/slogan-preview/preview.png",
                             token="editor", query={"size": "320x180"})
        self.assertEqual((st, png2, h2.get("ETag")), (200, png, etag))
        st, _, _ = r.api("GET", "/v1/content/slogan-preview/preview.png",
                         token="editor", query={"size": "320x180"},
                         headers={"If-None-Match": etag})
        self.assertEqual(st, 304)
        # An edit draws a new one.
        r.ok("PUT", "/v1/content/slogan-preview", {"text": "Đổi chữ"},
             token="editor")
        st, png3, h3 = r.api("GET",
                             "/v1/content/slogan-preview/preview.png",
                             token="editor", query={"size": "320x180"})
        self.assertEqual(st, 200)
        self.assertNotEqual(h3.get("ETag"), etag)
        # The image itself, default size.
        st, png, _ = r.api("GET", "/v1/content/bg-pano/preview.png",
                           token="technician")
        self.assertEqual(st, 200, png[:300])
        self.assertEqual(png_size(png), (960, 540))
        # Errors.
        self.assertError(r.api("GET", "/v1/content/bg-pano/preview.png",
                               token="editor", query={"size": "10x10"}),
                         400, "size")
        self.assertError(r.api("GET", "/v1/content/bg-pano/preview.png",
                               token="editor", query={"size": "wide"}),
                         400, "size")
        self.assertError(r.api("GET", "/v1/content/nope/preview.png",
                               token="editor"), 404)
        self.assertError(r.api("GET", "/v1/content/bg-pano/preview.png",
                               token="editor", query={"approved": "1"}),
                         404)
        self.create({"id": "speech-nopreview", "type": "speech",
                     "text": "Xin chào"})
        self.assertError(r.api("GET",
                               "/v1/content/speech-nopreview/preview.png",
                               token="editor"), 409)
        self.assertError(r.api("GET", "/v1/content/bg-pano/preview.png"),
                         401)

    # -- minecastctl --

    def test_ctl(self):
        r = self.rig
        rc, out, err = r.ctl(["content", "add-slogan", "ctl-slogan",
                              "--text", "Chúng ta nhất định thắng!",
                              "--name", "Khẩu hiệu", "--fg", "#FFD700",
                              "--effect", "outline"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("bản nháp (draft)", out)
        rc, out, err = r.ctl(["content", "upload", self.media.png,
                              "--id", "ctl-pano", "--name", "Pano",
                              "--fit", "cover"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("320 x 180", out)
        rc, out, err = r.ctl(["content", "upload", self.media.text_png,
                              "--id", "ctl-bad"], token="editor")
        self.assertEqual(rc, 1)
        self.assertIn("minecastctl: content upload: ", err)
        self.assertIn("not a PNG, JPEG or WebP image", err)
        rc, out, err = r.ctl(["content", "speak", "--id", "ctl-speech",
                              "--text", "Ca 1 bắt đầu lúc 6h."],
                             token="editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("audio/wav", out)
        rc, out, err = r.ctl(["content", "list", "--search", "ctl-"],
                             token="editor")
        self.assertEqual(rc, 0, err)
        for id_ in ("ctl-slogan", "ctl-pano", "ctl-speech"):
            self.assertIn(id_, out)
        self.assertIn("STATUS", out)
        rc, out, err = r.ctl(["content", "list", "--search", "ctl-",
                              "--json"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["total"], 3)
        rc, out, err = r.ctl(["content", "edit", "ctl-slogan", "--bg",
                              "#B71C1C", "--submit"], token="editor")
        self.assertEqual(rc, 0, err)
        doc = r.ok("GET", "/v1/content/ctl-slogan", token="editor")
        self.assertEqual(doc["doc"]["style"], {"fg": "#FFD700",
                                               "bg": "#B71C1C",
                                               "effect": "outline"})
        self.assertEqual(doc["status"], "submitted")
        rc, out, err = r.ctl(["content", "show", "ctl-slogan"],
                             token="technician")
        self.assertEqual(rc, 0, err)
        self.assertIn("chờ duyệt (submitted)", out)
        self.assertIn("content.create", out)
        png = os.path.join(r.dir, "ctl-preview.png")
        rc, out, err = r.ctl(["content", "preview", "ctl-slogan", "--out",
                              png, "--size", "256x144"], token="editor")
        self.assertEqual(rc, 0, err)
        self.assertEqual(png_size(Media.read(png)), (256, 144))
        rc, out, err = r.ctl(["content", "rm", "ctl-pano"], token="editor")
        self.assertEqual(rc, 0, err)
        rc, out, err = r.ctl(["content", "show", "ctl-pano"],
                             token="editor")
        self.assertEqual(rc, 1)
        rc, out, err = r.ctl(["content", "add-slogan", "x"], token="editor")
        self.assertEqual(rc, 2)
        rc, out, err = r.ctl(["content", "list", "--fit", "cover"],
                             token="editor")
        self.assertEqual(rc, 2)
        rc, out, err = r.ctl(["content", "upload", "file.txt", "--id",
                              "x"], token="editor")
        self.assertEqual(rc, 2)
        self.assertIn("--type", err)


class UploadLimitTest(CtlTest):
    """A body over max_upload_bytes is refused before it is stored."""

    per_class = True
    rig_options = {"config": {"controller": {"max_upload_bytes": 100000}}}

    def test_oversized_upload(self):
        media = Media(self.rig.dir)
        big = os.path.join(media.dir, "big.png")
        run("convert", "-size", "400x400", "plasma:fractal", big)
        self.assertGreater(os.path.getsize(big), 100000)
        self.assertError(self.rig.upload("/v1/content/upload",
                                         Media.read(big), "image/png",
                                         query={"id": "big",
                                                "type": "image"}), 413)
        self.assertError(self.rig.upload("/v1/blobs", Media.read(big),
                                         "image/png",
                                         query={"type": "image"}), 413)
        files = []
        for root, _, names in os.walk(os.path.join(self.rig.data_dir,
                                                   "blobs")):
            files += names
        self.assertEqual(files, [])


if __name__ == "__main__":
    unittest.main()


class PreviewCacheTest(CtlTest):
    """The preview cache keeps [controller] preview_cache bytes (0 here):
    after a new preview is drawn, the least recently used go, except
    those used in the last minute."""

    per_class = True
    rig_options = {"config": {"controller": {"preview_cache": "0"}}}

    def test_least_recently_used_go(self):
        r = self.rig
        cache = os.path.join(r.data_dir, "tmp", "previews")
        for cid in ("s-a", "s-b", "s-c"):
            r.ok("POST", "/v1/content", {"id": cid, "type": "slogan",
                                          "text": "Khẩu hiệu " + cid},
                 token="editor", expect=201)

        def draw(cid):
            st, png, h = r.api("GET", "/v1/content/%s/preview.png" % cid,
                               token="editor", query={"size": "160x90"})
            self.assertEqual(st, 200, png[:300])
            return h.get("ETag").strip('"')

        a, b = draw("s-a"), draw("s-b")
        # Both used within the minute: kept, whatever the budget.
        self.assertEqual(sorted(os.listdir(cache)),
                         sorted([a + ".png", b + ".png"]))
        # An hour ago, except that b is used again now (a cache hit
        # renews it).
        old = time.time() - 3600
        for key in (a, b):
            os.utime(os.path.join(cache, key + ".png"), (old, old))
        self.assertEqual(draw("s-b"), b)
        c = draw("s-c")
        self.assertEqual(sorted(os.listdir(cache)),
                         sorted([b + ".png", c + ".png"]))
        self.assertIn("preview cache: 1 old previews removed",
                      r.log_text())
        # A pruned preview is simply drawn again.
        self.assertEqual(draw("s-a"), a)
