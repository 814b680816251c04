#!/usr/bin/python3
"""minecast test HTTP server: static files with Range, uploads, fault injection.

Run with Debian's /usr/bin/python3 (stdlib only):

    httpd.py --root DIR [--port 0] [--port-file FILE] [--log FILE]
             [--faults FILE] [--auth USER:PASS]

Binds 127.0.0.1 only.  Once listening it writes the chosen port (decimal and
a newline) to --port-file, atomically (write + rename), so a test waits for
that file to appear.  SIGTERM or SIGINT shuts it down cleanly.

Serving
  GET/HEAD /some/path      file DIR/some/path; ETag "<size>-<mtime_ns>";
                           Accept-Ranges: bytes; "Range: bytes=a-b", "bytes=a-"
                           and "bytes=-n" (one range) answer 206 with
                           Content-Range, an unsatisfiable range 416 with
                           "Content-Range: bytes */SIZE"; several ranges are
                           ignored (200).  Paths with ".." or NUL are 400.
  POST /some/path          stores the body in DIR/uploads/some/path (needs
                           Content-Length; at most 64 MiB) and answers 201
                           with {"path": ..., "bytes": N}.
  --auth USER:PASS         every request needs that HTTP basic auth, else 401.

Request log (--log FILE): one JSON object per line, written when a request
ends:
  {"method": "GET", "path": "/v1/content/ab..", "status": 206,
   "range": "bytes=100-" or null, "bytes": 1234 (body bytes sent, or received
   for POST), "start": 1700000000.123, "end": 1700000000.456 (time.time()),
   "fault": "cut" | "corrupt" | "status" | "throttle" | "ignore_range" | null,
   "content_type": "..." (POST only), "auth": "user" or null}

Fault injection (--faults FILE): a JSON object mapping a URL path (exactly,
without query) or "*" (every path) to a rule; the file is re-read whenever
its mtime or size changes, so tests rewrite it (preferably by rename) between
steps.  A rule is an object with any of:
  "status": S         answer S (with a short text body) instead of the file
  "cut_after": N      send the headers (full Content-Length) and only N body
                      bytes, then close the connection: a truncated download
  "corrupt": true     serve the right length but wrong bytes (each byte
                      XOR 0x5a): a hash mismatch
  "throttle": B       send the body at about B bytes/s (in 1/20 s slices)
  "ignore_range": true  answer 200 with the whole file even to a Range request
  "times": K          the rule applies to the next K matching requests only,
                      then the path is served normally (counted from when the
                      rule file was last loaded); absent = always
A path's own rule wins over "*".  Faults apply to GET (and HEAD for status);
uploads honour "status" only.
"""

import argparse
import base64
import email.utils
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_UPLOAD = 64 * 1024 * 1024
CHUNK = 64 * 1024


class Faults:
    """The --faults file, reloaded on change, with per-rule use counters."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.rules = {}
        self.used = {}

    def _reload(self):
        try:
            st = os.stat(self.path)
        except OSError:
            self.rules, self.used, self.stamp = {}, {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self.stamp:
            return
        try:
            with open(self.path, encoding="utf-8") as fh:
                rules = json.load(fh)
            if not isinstance(rules, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            sys.stderr.write("httpd.py: %s: %s; no faults\n" % (self.path, exc))
            rules = {}
        self.rules, self.used, self.stamp = rules, {}, stamp

    def take(self, path):
        """The rule for path (counting one use), or {}."""
        if not self.path:
            return {}
        with self.lock:
            self._reload()
            key = path if path in self.rules else "*"
            rule = self.rules.get(key)
            if not isinstance(rule, dict):
                return {}
            times = rule.get("times")
            if times is not None:
                n = self.used.get(key, 0)
                if n >= int(times):
                    return {}
                self.used[key] = n + 1
            return rule


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "minecast-test-httpd/1"

    # ---- helpers ----

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def _log(self, status, nbytes, fault, extra=None):
        if not self.server.log_path:
            return
        rec = {
            "method": self.command,
            "path": self._path,
            "status": status,
            "range": self.headers.get("Range"),
            "bytes": nbytes,
            "start": self._t0,
            "end": time.time(),
            "fault": fault,
            "auth": self._user,
        }
        if extra:
            rec.update(extra)
        line = json.dumps(rec) + "\n"
        with self.server.log_lock:
            with open(self.server.log_path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()

    def _begin(self):
        """Common checks: (False, None) when already answered (auth, bad
        path), else (True, local file path or None for "/")."""
        self._t0 = time.time()
        self._user = None
        raw = urllib.parse.urlsplit(self.path).path
        self._path = raw
        path = urllib.parse.unquote(raw)
        if self.server.auth:
            got = self.headers.get("Authorization", "")
            ok = False
            if got.startswith("Basic "):
                try:
                    dec = base64.b64decode(got[6:]).decode("utf-8")
                    ok = dec == self.server.auth
                    self._user = dec.split(":", 1)[0]
                except (ValueError, UnicodeDecodeError):
                    ok = False
            if not ok:
                self._drain_body()
                self._simple(401, "authentication required\n",
                             {"WWW-Authenticate": 'Basic realm="minecast"'})
                self._log(401, 0, None)
                return False, None
        parts = [p for p in path.split("/") if p]
        if any(p in ("..", ".") or "\0" in p for p in parts):
            self._drain_body()
            self._simple(400, "bad path\n")
            self._log(400, 0, None)
            return False, None
        return True, (os.path.join(self.server.root, *parts) if parts
                      else None)

    def _drain_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            got = self.rfile.read(min(n, CHUNK))
            if not got:
                break
            n -= len(got)

    def _simple(self, status, text, headers=None):
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    @staticmethod
    def _parse_range(value, size):
        """(start, end) inclusive, "bad" for unsatisfiable, None to ignore."""
        if not value or not value.startswith("bytes=") or "," in value:
            return None
        spec = value[6:].strip()
        a, sep, b = spec.partition("-")
        if not sep:
            return None
        try:
            if a == "":
                n = int(b)
                if n <= 0:
                    return "bad"
                return (max(0, size - n), size - 1) if size else "bad"
            start = int(a)
            end = int(b) if b else size - 1
        except ValueError:
            return None
        if start >= size or start < 0 or end < start:
            return "bad"
        return (start, min(end, size - 1))

    # ---- methods ----

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        ok, local = self._begin()
        if not ok:
            return
        rule = self.server.faults.take(self._path)
        if "status" in rule:
            st = int(rule["status"])
            self._simple(st, "injected status %d\n" % st)
            self._log(st, 0, "status")
            return
        if local is None or not os.path.isfile(local):
            self._simple(404, "not found\n")
            self._log(404, 0, None)
            return
        with open(local, "rb") as fh:
            st = os.fstat(fh.fileno())
            size = st.st_size
            etag = '"%d-%d"' % (size, st.st_mtime_ns)
            rng = None
            fault = None
            if rule.get("ignore_range"):
                fault = "ignore_range" if self.headers.get("Range") else None
            else:
                rng = self._parse_range(self.headers.get("Range"), size)
            if rng == "bad":
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.send_header("ETag", etag)
                self.end_headers()
                self._log(416, 0, None)
                return
            if rng is None:
                start, end, status = 0, size - 1, 200
            else:
                start, end, status = rng[0], rng[1], 206
            length = end - start + 1 if size else 0
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified",
                             email.utils.formatdate(st.st_mtime, usegmt=True))
            if status == 206:
                self.send_header("Content-Range",
                                 "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if self.command == "HEAD":
                self._log(status, 0, fault)
                return
            sent = self._send_body(fh, start, length, rule)
            if sent[1]:
                fault = sent[1]
            self._log(status, sent[0], fault)

    def _send_body(self, fh, start, length, rule):
        """Send length bytes from start; returns (bytes sent, fault)."""
        cut = rule.get("cut_after")
        corrupt = bool(rule.get("corrupt"))
        rate = rule.get("throttle")
        fault = None
        if corrupt:
            fault = "corrupt"
        if rate:
            fault = fault or "throttle"
        fh.seek(start)
        sent = 0
        slice_bytes = max(1, int(rate) // 20) if rate else CHUNK
        try:
            while sent < length:
                want = min(slice_bytes, length - sent)
                if cut is not None and sent + want > int(cut):
                    want = int(cut) - sent
                if want <= 0:
                    break
                data = fh.read(want)
                if not data:
                    break
                if corrupt:
                    data = bytes(b ^ 0x5A for b in data)
                self.wfile.write(data)
                sent += len(data)
                if rate and sent < length:
                    self.wfile.flush()
                    time.sleep(len(data) / float(rate))
            if cut is not None and sent < length:
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                fault = "cut"
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return sent, fault

    def do_POST(self):
        ok, _ = self._begin()
        if not ok:
            return
        rule = self.server.faults.take(self._path)
        if "status" in rule:
            self._drain_body()
            st = int(rule["status"])
            self._simple(st, "injected status %d\n" % st)
            self._log(st, 0, "status")
            return
        n = self.headers.get("Content-Length")
        if n is None:
            self.close_connection = True
            self._simple(411, "Content-Length required\n")
            self._log(411, 0, None)
            return
        n = int(n)
        if n > MAX_UPLOAD:
            self.close_connection = True
            self._simple(413, "too large\n")
            self._log(413, 0, None)
            return
        parts = [p for p in urllib.parse.unquote(self._path).split("/") if p]
        dest = os.path.join(self.server.root, "uploads", *parts)
        body = b""
        while len(body) < n:
            got = self.rfile.read(min(CHUNK, n - len(body)))
            if not got:
                break
            body += got
        if len(body) < n or not parts:
            self.close_connection = True
            self._simple(400, "short body or no path\n")
            self._log(400, len(body), None)
            return
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".tmp.%d" % threading.get_ident()
        with open(tmp, "wb") as fh:
            fh.write(body)
        os.replace(tmp, dest)
        reply = json.dumps({"path": "uploads/" + "/".join(parts),
                            "bytes": len(body)}) + "\n"
        data = reply.encode("utf-8")
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._log(201, len(body), None,
                  {"content_type": self.headers.get("Content-Type")})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up (an aborted or stopped download) is part
        # of the tests, not a server error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--faults")
    ap.add_argument("--auth", help="USER:PASS required as basic auth")
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.root = os.path.abspath(args.root)
    srv.log_path = args.log
    srv.log_lock = threading.Lock()
    srv.faults = Faults(args.faults)
    srv.auth = args.auth

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return: not from its thread
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write("%d\n" % srv.server_address[1])
        os.replace(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
