"""Harness of the controller integration tests (docs/testing.md).

One `CtlRig` per test (or per class, see CtlTest.per_class): its own
scratch directory and loopback ports, a real mosquitto (optionally with a
password file and an ACL file, as provisioning maintains them), a
signing key pair made with `minecastctl keygen`, a controller config, the
first admin made with `minecast-controller --init-admin`, the daemon
itself (its log in a file, printed when a test fails), users of every
role with API tokens, and helpers to call the API, run minecastctl, watch
MQTT and start real players from provisioned bundles.

Paths come from the environment, set by tests/integration/controller/run.sh
(called by the 5N-controller-*.sh wrappers): MC_BUILD_DIR, MC_SOURCE_DIR,
MC_SCRATCH_DIR.

The interface other test modules use (keep it stable):

    class T(CtlTest):                     # a rig per test in self.rig
        per_class = False                 # True: one rig for the class
        rig_options = {}                  # CtlRig(**rig_options)

    rig.api(method, path, body=None, token=None, raw=None, headers=None,
            query=None, session=None, csrf=True, content_type=None,
            timeout=30) -> (status, doc, headers)
        token: None (no credentials), a user name of rig.tokens ("admin",
        "editor", "editor2", "approver", "technician") or any other string
        sent as the bearer token.  doc is the parsed JSON when the answer
        is JSON, else bytes.  headers: case-insensitive .get().
    rig.ok(method, path, body=None, token="admin", expect=(200, 201, 204),
           **kw) -> doc                   # asserts the status
    rig.upload(path, data, content_type, token="editor", query=None,
               method="POST", headers=None) -> (status, doc, headers)
    rig.login(name, password=None) -> Session (cookie, csrf, doc);
        POST /v1/auth/login {"user", "password"}, asserts 200
    rig.ctl(args, token="admin", input_text=None, env=None, timeout=60,
            url=None) -> (rc, stdout, stderr)
    rig.mqtt_client(client_id=None, username=None, password=None)
        -> MqttWatch (connected; .subscribe(topic), .messages(prefix),
           .wait_message(pred, timeout, what), .publish(topic, payload))
    rig.add_site(site_id, name=None, **fields) -> doc
    rig.add_node(node_id, site, name=None, tags=(), **fields) -> doc
    rig.provision(node_id) -> {"player.conf": ..., "trusted.pub": ...}
    rig.start_player(node_id, bundle=None, extra=None) -> Player
        (bundle None: rig.provision(node_id)); Player has .log, .out_file,
        alive(), assert_alive(), outputs(event), starts(...),
        wait_start(timeout, ...), stop(), kill(), log_text()
    rig.restart_controller(), rig.stop_controller(), rig.kill_controller(),
    rig.close(), rig.check_clean() (CtlTest calls it after close: every
    SIGTERM ended with status 0, no sanitizer report in the logs)
    rig.users: name -> {"id", "name", "password", "roles"}
    rig.tokens: name -> token string
    rig.base: "http://127.0.0.1:PORT"; rig.broker (player.mcharness.Broker)
    rig.data_dir, rig.conf, rig.key (prefix of .key/.pub), rig.dir,
    rig.home (minecastctl's HOME), rig.port, rig.log_text()

    Module functions: http_request(port, method, target, body=b"",
    headers=None, timeout=30) -> (status, Headers, bytes);
    parse_ini(text) -> {section: {key: [raw values]}}; write_ini(path,
    sections); password_for(name); controller_bin(), ctl_bin(),
    player_bin(); ROLE_USERS; and from player.mcharness: HOST, ROOT,
    free_port, wait_for, stop_process, tail, now_ms.

Rules every test keeps: only 127.0.0.1; every wait is bounded
(wait_for); every process started here is stopped in CtlRig.close().

Runs on Debian's /usr/bin/python3 (python3-paho-mqtt 1.6), stdlib
otherwise.
"""

import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

import paho.mqtt.client as mqtt

from player.mcharness import (BUILD_DIR, HOST, ROOT, SCRATCH_DIR, SOURCE_DIR,
                              Broker, Rig, accepting, ctl_bin, free_port,
                              mosquitto_bin, now_ms, player_bin, stop_process,
                              tail, wait_for)

__all__ = [
    "BUILD_DIR", "SOURCE_DIR", "SCRATCH_DIR", "HOST", "ROOT",
    "CtlRig", "CtlTest", "Session", "Player", "MqttWatch", "CtlBroker",
    "controller_bin", "ctl_bin", "player_bin", "free_port", "wait_for",
    "stop_process", "tail", "now_ms", "http_request", "parse_ini",
    "write_ini", "password_for", "ROLE_USERS", "Headers",
]

# The users every rig makes (besides the admin): name -> roles.
ROLE_USERS = {
    "editor": ["editor"],
    "editor2": ["editor"],
    "approver": ["approver"],
    "technician": ["technician"],
}


def controller_bin():
    return os.path.join(BUILD_DIR, "controller", "minecast-controller")


def password_for(name):
    """The test password of a user: long enough for any sane rule, with
    Vietnamese letters so that UTF-8 passwords are exercised."""
    return "Mật-khẩu-%s-1936-vùng-mỏ" % name


def _ini_value(v):
    v = str(v)
    if v == "" or any(ch in v for ch in " #;\"\t"):
        return '"%s"' % v
    return v


def write_ini(path, sections, header=None):
    """sections: {section: {key: value or [values]}} (dicts keep order)."""
    with open(path, "w", encoding="utf-8") as fh:
        if header:
            fh.write("# %s\n" % header)
        for sec, kv in sections.items():
            fh.write("\n[%s]\n" % sec)
            for k, v in kv.items():
                for one in (v if isinstance(v, (list, tuple)) else [v]):
                    if one is None:
                        continue
                    fh.write("%s = %s\n" % (k, _ini_value(one)))


def parse_ini(text):
    """A player.conf as {section: {key: [raw values]}}, order kept; the
    values keep their quotes (they are written back as they were)."""
    out = {}
    sec = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        if s.startswith("[") and s.endswith("]"):
            sec = s[1:-1].strip()
            out.setdefault(sec, {})
            continue
        if "=" not in s or sec is None:
            raise AssertionError("bundle player.conf: cannot read %r" % line)
        k, v = s.split("=", 1)
        out[sec].setdefault(k.strip(), []).append(v.strip())
    return out


# ---- HTTP --------------------------------------------------------------


class Headers:
    """Response headers, case-insensitive; get_all for repeated ones."""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def get(self, name, default=None):
        n = name.lower()
        for k, v in self.pairs:
            if k.lower() == n:
                return v
        return default

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.pairs if k.lower() == n]

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name):
        return self.get(name) is not None

    def __repr__(self):
        return "Headers(%r)" % self.pairs


def http_request(port, method, target, body=b"", headers=None, timeout=30):
    """One HTTP/1.1 request on its own connection; returns (status,
    Headers, bytes).  The body is sent in pieces while watching for an
    early answer, so that a server that refuses a large body (413)
    before reading it is heard instead of ending in a broken pipe."""
    hdrs = {"Host": "%s:%d" % (HOST, port), "Connection": "close",
            "User-Agent": "minecast-ctlharness"}
    hdrs.update(headers or {})
    chunked = any(k.lower() == "transfer-encoding" for k in hdrs)
    if (body or method in ("POST", "PUT", "PATCH")) and not chunked:
        hdrs.setdefault("Content-Length", str(len(body)))
    head = "%s %s HTTP/1.1\r\n" % (method, target)
    for k, v in hdrs.items():
        if v is not None:
            head += "%s: %s\r\n" % (k, v)
    head += "\r\n"
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        sock.sendall(head.encode("utf-8"))
        view = memoryview(body)
        sent = 0
        deadline = time.monotonic() + timeout
        while sent < len(view):
            r, w, _ = select.select([sock], [sock], [], 1.0)
            if r:
                break  # the server answered before taking it all
            if w:
                try:
                    sent += sock.send(view[sent:sent + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    break
            if time.monotonic() > deadline:
                raise AssertionError("%s %s: body not taken within %d s"
                                     % (method, target, timeout))
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
        except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
            raise AssertionError("%s %s: no answer (%s) after %d of %d body "
                                 "bytes" % (method, target, exc, sent,
                                            len(view)))
        try:
            data = resp.read()
        except (ConnectionResetError, http.client.IncompleteRead) as exc:
            data = getattr(exc, "partial", b"")
        return resp.status, Headers(resp.getheaders()), data
    finally:
        sock.close()


class Session:
    """A browser session: the mc_session cookie and its CSRF token."""

    def __init__(self, cookie, csrf, doc):
        self.cookie = cookie  # "mc_session=..." (name=value only)
        self.csrf = csrf      # X-CSRF-Token to echo on mutations
        self.doc = doc        # the login answer


# ---- MQTT --------------------------------------------------------------


class MqttWatch:
    """A paho client for tests: records every message of its
    subscriptions, publishes anything (malformed, forged, ...)."""

    def __init__(self, port, client_id=None, username=None, password=None):
        self.lock = threading.Lock()
        self.msgs = []  # (time.time(), topic, payload bytes, retain)
        self.connected = threading.Event()
        self.subs = []
        self.client = mqtt.Client(
            client_id=client_id or "test-%d-%d" % (os.getpid(), id(self)),
            clean_session=True, protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, rc: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.port = port
        self.rc = None

    def start(self, timeout=10):
        self.client.connect_async(HOST, self.port, keepalive=10)
        self.client.loop_start()
        wait_for(self.connected.is_set, timeout, "the test MQTT client to "
                 "connect (last CONNACK code %s)" % self.rc)
        return self

    def stop(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, rc):
        self.rc = rc
        if rc == 0:
            for t, q in self.subs:
                client.subscribe(t, qos=q)
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((time.time(), msg.topic, bytes(msg.payload),
                              bool(msg.retain)))

    def subscribe(self, topic, qos=1):
        """Subscribe (kept over reconnects); waits for the SUBACK."""
        self.subs.append((topic, qos))
        done = threading.Event()
        prev = self.client.on_subscribe
        self.client.on_subscribe = lambda c, u, mid, g: done.set()
        self.client.subscribe(topic, qos=qos)
        wait_for(done.is_set, 10, "SUBACK of %s" % topic)
        self.client.on_subscribe = prev

    def publish(self, topic, payload, retain=False, qos=1):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout=10)
            if not info.is_published():
                raise AssertionError("publish to %s not acknowledged" % topic)

    def messages(self, topic_prefix="", since=0):
        """[(t, topic, payload bytes, retain)] whose topic starts with the
        prefix (a full topic works too)."""
        with self.lock:
            return [m for m in self.msgs
                    if m[1].startswith(topic_prefix) and m[0] >= since]

    def json_messages(self, topic_prefix="", since=0):
        """[(topic, doc)] of the messages that are JSON."""
        out = []
        for _, topic, payload, _ in self.messages(topic_prefix, since):
            try:
                out.append((topic, json.loads(payload.decode("utf-8"))))
            except ValueError:
                pass
        return out

    def wait_message(self, pred, timeout, what, topic_prefix="", since=0):
        """The first (t, topic, payload, retain) with pred(topic, payload)
        true."""
        def found():
            for m in self.messages(topic_prefix, since):
                if pred(m[1], m[2]):
                    return m
            return None
        return wait_for(found, timeout, what)


class CtlBroker(Broker):
    """player.mcharness.Broker, optionally with a password file and an
    ACL file (anonymous clients refused then), as provisioning keeps
    them.  reload() sends SIGHUP: mosquitto rereads both files."""

    def __init__(self, directory, password_file=None, acl_file=None,
                 tls=None):
        super().__init__(directory)
        self.password_file = password_file
        self.acl_file = acl_file
        # tls: {"cert": PEM, "key": PEM} for a second listener, on
        # tls_port, with TLS (the plain one stays for the harness).
        self.tls = tls
        self.tls_port = free_port() if tls else None

    def _start(self):
        if not self.password_file and not self.acl_file and not self.tls:
            return super()._start()
        # Broker._start with authentication and/or TLS: the same lines,
        # anonymous clients refused when there is a password file, the
        # two files named, the TLS listener last.
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [
            "listener %d %s" % (self.port, HOST),
            "allow_anonymous %s" % ("false" if self.password_file
                                    else "true"),
            "persistence true",
            "persistence_location %s/" % self.dir,
            "log_dest file %s" % self.log,
            "log_type all",
            "connection_messages true",
            "max_queued_messages 10000",
        ]
        if self.password_file:
            lines.append("password_file %s" % self.password_file)
        if self.acl_file:
            lines.append("acl_file %s" % self.acl_file)
        if os.geteuid() == 0:
            import pwd
            lines.append("user %s" % pwd.getpwuid(os.getuid()).pw_name)
        if self.tls:
            lines += ["listener %d %s" % (self.tls_port, HOST),
                      "certfile %s" % self.tls["cert"],
                      "keyfile %s" % self.tls["key"]]
        with open(conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        out = open(os.path.join(self.dir, "mosquitto.out"), "ab")
        self.proc = subprocess.Popen([mosquitto_bin(), "-c", conf],
                                     stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL)
        out.close()

        def up():
            if self.proc.poll() is not None:
                self._why = "exited"
                raise AssertionError("mosquitto exited at start:\n"
                                     + tail(self.log))
            return accepting(self.port) and (
                not self.tls or accepting(self.tls_port))
        wait_for(up, 10, "mosquitto on port %d" % self.port)

    def reload(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)


# ---- a player from a provisioned bundle --------------------------------


class Player:
    """A real minecast-player started from a provisioned bundle, with the
    log output writing JSON lines (player/outputs/log.c)."""

    def __init__(self, directory, node):
        self.dir = directory
        self.node = node
        self.conf = os.path.join(directory, "player.conf")
        self.out_file = os.path.join(directory, "outputs.jsonl")
        self.clock_file = os.path.join(directory, "clock-synced")
        self.log = None
        self.proc = None
        self.runs = 0

    def start(self, env=None):
        if self.alive():
            raise AssertionError("player %s already runs" % self.node)
        self.runs += 1
        self.log = os.path.join(self.dir, "player-%d.log" % self.runs)
        e = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            e.pop(k, None)
        e.update(env or {})
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen([player_bin(), "--config", self.conf],
                                     stdout=fh, stderr=fh,
                                     stdin=subprocess.DEVNULL, env=e,
                                     cwd=self.dir)
        fh.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self):
        if not self.alive():
            raise AssertionError("player %s exited (status %s):\n%s" % (
                self.node, self.proc.returncode if self.proc else None,
                tail(self.log) if self.log else ""))

    def stop(self, timeout=10):
        rc = stop_process(self.proc, timeout=timeout)
        self.proc = None
        return rc

    def kill(self):
        rc = stop_process(self.proc, sig=signal.SIGKILL)
        self.proc = None
        return rc

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except (OSError, TypeError):
            return ""

    # The log output's lines, read as the player rig reads them (both
    # need only self.out_file).
    outputs = Rig.outputs
    starts = Rig.starts

    def wait_start(self, timeout, since_ms=0, what=None, **kw):
        def ok():
            self.assert_alive()
            return self.starts(since_ms, **kw)
        return wait_for(ok, timeout, what or "player %s: a log-output start "
                        "of %r" % (self.node, kw))[0]


# ---- the rig -----------------------------------------------------------


class CtlRig:
    """Everything one test (or class) needs.

    Options:
      users        make the ROLE_USERS with tokens (default True)
      mqtt_auth    mosquitto with a password file and an ACL file; the
                   controller gets [provision] mosquitto_passwd,
                   mosquitto_acl and a reload command (SIGHUP to the
                   broker).  The controller's and the test client's own
                   users ("controller", "harness") are in both files.
      tls          the broker gets a TLS listener too (a CA and a
                   certificate for 127.0.0.1 made with openssl), and the
                   controller connects to it with [mqtt] cafile
      config       {"section": {"key": value}} merged into the
                   controller's config
      start        start everything now (default True)
    """

    def __init__(self, name, users=True, mqtt_auth=False, tls=False,
                 config=None, start=True):
        if not BUILD_DIR or not SCRATCH_DIR:
            raise AssertionError("MC_BUILD_DIR and MC_SCRATCH_DIR are not "
                                 "set; run through the tests/integration/"
                                 "5N-controller-*.sh wrappers "
                                 "(docs/testing.md)")
        for b in (controller_bin(), ctl_bin()):
            if not os.access(b, os.X_OK):
                raise AssertionError("%s is not built" % b)
        self.name = name
        self.dir = os.path.join(SCRATCH_DIR, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.data_dir = os.path.join(self.dir, "data")
        self.home = os.path.join(self.dir, "home")  # HOME of minecastctl
        os.makedirs(self.home)
        self.conf = os.path.join(self.dir, "controller.conf")
        self.mqtt_auth = mqtt_auth
        self.passwd_file = None
        self.acl_file = None
        self.mqtt_users = {}  # name -> password, in the password file
        if mqtt_auth:
            mq = os.path.join(self.dir, "mqtt")
            os.makedirs(mq, exist_ok=True)
            self.passwd_file = os.path.join(mq, "passwd")
            self.acl_file = os.path.join(mq, "acl")
            self._write_mqtt_auth()
        self.tls = self._make_tls() if tls else None
        self.broker = CtlBroker(os.path.join(self.dir, "mqtt"),
                                self.passwd_file, self.acl_file, self.tls)
        self.port = free_port()
        self.extra_config = config or {}
        self.proc = None
        self.runs = 0
        self.log = None
        self.logs = []
        self.exits = []  # exit statuses of the controller's stops
        self.users = {}
        self.tokens = {}
        self.players = {}
        self.watches = []
        self.closed = False
        self.want_users = users
        self.key = self._keygen("controller")
        if start:
            try:
                self.start()
            except BaseException:
                # Nobody holds this rig yet to close it: stop what was
                # started, show why, and keep the directory.
                self.close()
                self.dump()
                raise

    # -- set-up --

    def _keygen(self, name):
        prefix = os.path.join(self.dir, "keys", name)
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        p = subprocess.run([ctl_bin(), "keygen", "--out", prefix],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("minecastctl keygen failed: %s" % p.stderr)
        return prefix

    def _make_tls(self):
        """A CA, and a broker certificate it signed for 127.0.0.1."""
        d = os.path.join(self.dir, "tls")
        os.makedirs(d, exist_ok=True)
        steps = [
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "2", "-subj", "/CN=minecast-test-ca",
             "-keyout", "ca.key", "-out", "ca.pem"],
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes",
             "-subj", "/CN=%s" % HOST, "-keyout", "broker.key",
             "-out", "broker.csr"],
            ["openssl", "x509", "-req", "-in", "broker.csr", "-CA",
             "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", "ext", "-out", "broker.pem"],
        ]
        with open(os.path.join(d, "ext"), "w") as fh:
            fh.write("subjectAltName=IP:%s\n" % HOST)
        for cmd in steps:
            p = subprocess.run(cmd, cwd=d, capture_output=True, text=True,
                               timeout=60)
            if p.returncode != 0:
                raise AssertionError("%s: %s" % (" ".join(cmd[:3]),
                                                  p.stderr))
        return {"ca": os.path.join(d, "ca.pem"),
                "cert": os.path.join(d, "broker.pem"),
                "key": os.path.join(d, "broker.key")}

    def _write_mqtt_auth(self):
        """The password file with the controller's and the harness's
        users, and an ACL giving both every topic; provisioning adds the
        nodes' entries."""
        self.mqtt_users = {"controller": "ctl-" + os.urandom(8).hex(),
                           "harness": "test-" + os.urandom(8).hex()}
        open(self.passwd_file, "w").close()
        for u, pw in self.mqtt_users.items():
            p = subprocess.run(["mosquitto_passwd", "-b", self.passwd_file,
                                u, pw], capture_output=True, text=True,
                               timeout=30)
            if p.returncode != 0:
                raise AssertionError("mosquitto_passwd: %s" % p.stderr)
        with open(self.acl_file, "w") as fh:
            fh.write("user controller\ntopic readwrite minecast/#\n\n"
                     "user harness\ntopic readwrite #\n")

    def write_config(self):
        sections = {
            "controller": {
                "data_dir": self.data_dir,
                "listen": "%s:%d" % (HOST, self.port),
                "public_url": "http://%s:%d" % (HOST, self.port),
                "key_file": self.key + ".key",
                "trusted_keys": self.key + ".pub",
                "log_level": "debug",
                "http_threads": 8,
                "render_cmd": player_bin(),
            },
            "mqtt": {
                "host": HOST,
                "port": self.broker.port,
                "client_id": "minecast-controller-%d" % self.port,
            },
        }
        if self.tls:
            sections["mqtt"]["port"] = self.broker.tls_port
            sections["mqtt"]["cafile"] = self.tls["ca"]
        if self.mqtt_auth:
            sections["mqtt"]["user"] = "controller"
            sections["mqtt"]["password"] = self.mqtt_users["controller"]
            sections["provision"] = {
                "mosquitto_passwd": self.passwd_file,
                "mosquitto_acl": self.acl_file,
                "mosquitto_reload": "kill -HUP %d" % self.broker.proc.pid,
            }
        for sec, kv in self.extra_config.items():
            sections.setdefault(sec, {}).update(kv)
        write_ini(self.conf, sections, "written by tests/integration/"
                  "controller/ctlharness.py")
        return self.conf

    def start(self):
        """Broker, config, first admin, daemon, users."""
        self.broker.start()
        self.write_config()
        self.init_admin()
        self.start_controller()
        if self.want_users:
            for name, roles in ROLE_USERS.items():
                self.add_user(name, roles)

    def init_admin(self, name="admin"):
        tok_file = os.path.join(self.dir, "admin.token")
        pw = password_for(name)
        p = subprocess.run([controller_bin(), "--config", self.conf,
                            "--init-admin", name, "--password-stdin",
                            "--token-out", tok_file],
                           input=pw + "\n", capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError("minecast-controller --init-admin failed "
                                 "(%d):\n%s%s" % (p.returncode, p.stdout,
                                                  p.stderr))
        with open(tok_file) as fh:
            self.tokens[name] = fh.read().strip()
        self.users[name] = {"name": name, "password": pw,
                            "roles": ["admin"], "id": None}

    def start_controller(self, args=None, timeout=30):
        """Start the daemon (config written) and wait for /healthz."""
        if self.controller_alive():
            raise AssertionError("the controller already runs")
        self.runs += 1
        self.log = os.path.join(self.dir, "controller-%d.log" % self.runs)
        self.logs.append(self.log)
        e = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            e.pop(k, None)
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [controller_bin(), "--config", self.conf] + list(args or []),
            stdout=fh, stderr=fh, stdin=subprocess.DEVNULL, env=e,
            cwd=self.dir)
        fh.close()

        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError("minecast-controller exited at start "
                                     "(status %d):\n%s" % (
                                         self.proc.returncode,
                                         tail(self.log)))
            try:
                st, _, _ = http_request(self.port, "GET", "/healthz",
                                        timeout=2)
                return st == 200
            except (OSError, AssertionError, http.client.HTTPException):
                return False
        wait_for(healthy, timeout, "GET /healthz of the controller on port "
                 "%d" % self.port, interval=0.05)
        return self.proc

    def controller_alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_controller_alive(self):
        if not self.controller_alive():
            raise AssertionError("the controller exited (status %s):\n%s"
                                 % (self.proc.returncode if self.proc
                                    else None, tail(self.log or "")))

    def stop_controller(self, timeout=15):
        """SIGTERM and wait; returns the exit status (checked to be 0 at
        the end of the test, see check_clean)."""
        rc = stop_process(self.proc, timeout=timeout)
        if rc is not None:
            self.exits.append(rc)
        self.proc = None
        return rc

    def kill_controller(self):
        """kill -9 (a crash on purpose; not held against check_clean)."""
        rc = stop_process(self.proc, sig=signal.SIGKILL)
        self.proc = None
        return rc

    def check_clean(self):
        """Every SIGTERM stopped the controller with status 0, and no
        sanitizer (ASan, LSan, UBSan) reported anything in its logs."""
        bad = [rc for rc in self.exits if rc != 0]
        reports = []
        for path in self.logs:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if ("ERROR: AddressSanitizer" in line or
                                "ERROR: LeakSanitizer" in line or
                                "runtime error:" in line):
                            reports.append("%s: %s" % (
                                os.path.basename(path), line.strip()))
            except OSError:
                pass
        if bad or reports:
            raise AssertionError(
                "the controller did not stop cleanly: exit statuses %s%s"
                % (self.exits, "".join("\n  " + r for r in reports[:20])))

    def restart_controller(self):
        self.stop_controller()
        return self.start_controller()

    def close(self):
        """Stop every process started here (players first)."""
        if self.closed:
            return
        self.closed = True
        for p in self.players.values():
            stop_process(p.proc, timeout=5)
        for w in self.watches:
            w.stop()
        rc = stop_process(self.proc, timeout=15)
        if rc is not None:
            self.exits.append(rc)
        self.proc = None
        self.broker.stop()
        return rc

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except (OSError, TypeError):
            return ""

    def dump(self):
        """What a failed test prints: the ends of every log."""
        parts = []
        files = [("controller", p) for p in self.logs]
        files.append(("mosquitto", self.broker.log))
        for node, p in self.players.items():
            files.append(("player %s" % node, p.log))
            files.append(("player %s log output" % node, p.out_file))
        for title, path in files:
            if path and os.path.exists(path):
                parts.append("---- %s (%s) ----\n%s" % (title, path,
                                                         tail(path, 80)))
        sys.stderr.write("\n".join(parts) + "\n")

    # -- HTTP --

    @property
    def base(self):
        return "http://%s:%d" % (HOST, self.port)

    def _bearer(self, token):
        if token is None:
            return None
        return self.tokens.get(token, token)

    def api(self, method, path, body=None, token=None, raw=None,
            headers=None, query=None, session=None, csrf=True,
            content_type=None, timeout=30):
        """One API call; returns (status, doc, headers).

        body: JSON-encoded (Content-Type application/json).  raw: bytes
        (or str) sent exactly as given (Content-Type content_type, else
        application/json).  query: dict or list of pairs.  session: a
        Session from login(); csrf=False leaves its X-CSRF-Token out.
        headers: added last (None values remove a header)."""
        h = {}
        data = b""
        if body is not None and raw is not None:
            raise ValueError("body and raw together")
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = content_type or "application/json"
        elif raw is not None:
            data = raw.encode("utf-8") if isinstance(raw, str) else raw
            h["Content-Type"] = content_type or "application/json"
        bearer = self._bearer(token)
        if bearer is not None:
            h["Authorization"] = "Bearer " + bearer
        if session is not None:
            h["Cookie"] = session.cookie
            if csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = session.csrf
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
                for kk in list(h):
                    if kk.lower() == k.lower():
                        del h[kk]
            else:
                h[k] = v
        target = urllib.parse.quote(path, safe="/%:@!$&'()*+,;=-._~")
        if query:
            target += "?" + urllib.parse.urlencode(query)
        status, rh, rb = http_request(self.port, method, target, data, h,
                                      timeout=timeout)
        ctype = rh.get("Content-Type", "") or ""
        doc = rb
        if ctype.startswith("application/json") and rb:
            try:
                doc = json.loads(rb.decode("utf-8"))
            except ValueError as exc:
                raise AssertionError("%s %s: %d with Content-Type %s but "
                                     "not JSON (%s): %r" % (
                                         method, path, status, ctype, exc,
                                         rb[:200]))
        return status, doc, rh

    def ok(self, method, path, body=None, token="admin",
           expect=(200, 201, 204), **kw):
        """api() that asserts a success status; returns the doc."""
        st, doc, _ = self.api(method, path, body, token=token, **kw)
        if isinstance(expect, int):
            expect = (expect,)
        if st not in expect:
            raise AssertionError("%s %s as %s: status %d, expected %s: %s"
                                 % (method, path, token, st, expect,
                                    doc if not isinstance(doc, bytes)
                                    else doc[:300]))
        return doc

    def upload(self, path, data, content_type, token="editor", query=None,
               method="POST", headers=None):
        return self.api(method, path, raw=data, token=token, query=query,
                        content_type=content_type, headers=headers,
                        timeout=120)

    def login(self, name, password=None):
        """POST /v1/auth/login; returns a Session (asserts 200)."""
        pw = password if password is not None else self.users[name][
            "password"]
        st, doc, h = self.api("POST", "/v1/auth/login",
                              {"user": name, "password": pw})
        if st != 200:
            raise AssertionError("login %s: status %d: %r" % (name, st, doc))
        cookie = None
        for sc in h.get_all("Set-Cookie"):
            first = sc.split(";", 1)[0].strip()
            if first.startswith("mc_session="):
                cookie = first
        if not cookie:
            raise AssertionError("login %s: no mc_session cookie in %r"
                                 % (name, h))
        csrf = (doc.get("csrf") if isinstance(doc, dict) else None) \
            or h.get("X-CSRF-Token")
        if not csrf:
            raise AssertionError("login %s: no CSRF token in %r" % (name,
                                                                    doc))
        return Session(cookie, csrf, doc)

    def add_user(self, name, roles, password=None, token_name="tests"):
        """Create a user (as admin) and an API token for it (the admin
        makes it: POST /v1/tokens {"user": name}); records both in
        self.users / self.tokens."""
        pw = password if password is not None else password_for(name)
        doc = self.ok("POST", "/v1/users", {"name": name, "password": pw,
                                            "roles": list(roles)},
                      token="admin")
        self.users[name] = {"name": name, "password": pw,
                            "roles": list(roles),
                            "id": doc.get("id") if isinstance(doc, dict)
                            else None}
        tok = self.ok("POST", "/v1/tokens", {"name": token_name,
                                             "user": name}, token="admin")
        if not isinstance(tok, dict) or not tok.get("token"):
            raise AssertionError("POST /v1/tokens gave no token: %r" % tok)
        self.tokens[name] = tok["token"]
        return self.users[name]

    # -- minecastctl --

    def ctl(self, args, token="admin", input_text=None, env=None,
            timeout=60, url=None):
        """Run the built minecastctl with --url and --token added at the
        end of args (before a "--" if there is one; ctl_conn_init removes
        them wherever they are); HOME is the rig's own, so no real token
        file is read.  token None: no --token.  Returns (rc, stdout,
        stderr)."""
        args = list(args)
        conn = ["--url", url or self.base]
        bearer = self._bearer(token)
        if bearer is not None:
            conn += ["--token", bearer]
        cut = args.index("--") if "--" in args else len(args)
        argv = [ctl_bin()] + args[:cut] + conn + args[cut:]
        e = dict(os.environ)
        for k in ("MINECAST_URL", "MINECAST_TOKEN", "XDG_CONFIG_HOME"):
            e.pop(k, None)
        e["HOME"] = self.home
        e.update(env or {})
        p = subprocess.run(argv, input=input_text, capture_output=True,
                           text=True, timeout=timeout, env=e, cwd=self.dir)
        return p.returncode, p.stdout, p.stderr

    # -- MQTT --

    def mqtt_client(self, client_id=None, username=None, password=None,
                    subscribe=None):
        """A connected MqttWatch (stopped at close).  With mqtt_auth the
        harness's own user is used unless username is given."""
        if username is None and self.mqtt_auth:
            username, password = "harness", self.mqtt_users["harness"]
        w = MqttWatch(self.broker.port, client_id, username, password)
        self.watches.append(w)
        w.start()
        for t in ([subscribe] if isinstance(subscribe, str)
                  else subscribe or []):
            w.subscribe(t)
        return w

    # -- organisation (the ORG module's API) --

    def add_site(self, site_id, name=None, **fields):
        body = {"id": site_id, "name": name or "Công trường %s" % site_id}
        body.update(fields)
        return self.ok("POST", "/v1/sites", body, token="admin")

    def add_node(self, node_id, site, name=None, tags=(), **fields):
        body = {"id": node_id, "name": name or "Màn hình %s" % node_id,
                "site": site, "tags": list(tags)}
        body.update(fields)
        return self.ok("POST", "/v1/nodes", body, token="admin")

    def provision(self, node_id):
        """POST /v1/nodes/{id}/provision; the bundle's files."""
        doc = self.ok("POST", "/v1/nodes/%s/provision" % node_id,
                      token="admin")
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict) or "player.conf" not in files:
            raise AssertionError("provision %s: no files in %r"
                                 % (node_id, doc))
        return files

    # -- players --

    def player_config(self, node_id, bundle, extra=None):
        """Write the bundle's files into players/<node>/ and merge the
        test's settings into its player.conf: cache and state in the
        scratch directory, both channels on the log output, the clock
        counted as synchronised, quick health and reconnects, debug
        logs.  extra: {"section": {"key": value}} on top."""
        if isinstance(bundle, dict) and "files" in bundle:
            bundle = bundle["files"]
        d = os.path.join(self.dir, "players", node_id)
        os.makedirs(d, exist_ok=True)
        for fname, text in bundle.items():
            if "/" in fname or fname.startswith("."):
                raise AssertionError("bundle file name %r" % fname)
            with open(os.path.join(d, fname), "w", encoding="utf-8") as fh:
                fh.write(text)
        p = self.players.get(node_id) or Player(d, node_id)
        self.players[node_id] = p
        conf = parse_ini(bundle["player.conf"])
        ours = {
            "mqtt": {"keepalive": "5s", "reconnect_min": "200ms",
                     "reconnect_max": "2s"},
            "cache": {"dir": os.path.join(d, "cache"),
                      "state_dir": os.path.join(d, "state"),
                      "quota": "256M"},
            "channels": {"screen": "yes", "speaker": "yes",
                         "screen_output": "log", "speaker_output": "log",
                         "log_output_file": p.out_file},
            "health": {"interval": "5s"},
            "clock": {"sync": "file:" + p.clock_file},
            "pop": {"resend": "5s"},
            "log": {"level": "debug"},
        }
        for sec, kv in (extra or {}).items():
            ours.setdefault(sec, {}).update(kv)
        for sec, kv in ours.items():
            s = conf.setdefault(sec, {})
            for k, v in kv.items():
                s[k] = [_ini_value(x) for x in
                        (v if isinstance(v, (list, tuple)) else [v])]
        with open(p.conf, "w", encoding="utf-8") as fh:
            fh.write("# the provisioned bundle, with the test's settings "
                     "(ctlharness.py)\n")
            for sec, kv in conf.items():
                fh.write("\n[%s]\n" % sec)
                for k, vs in kv.items():
                    for v in vs:
                        fh.write("%s = %s\n" % (k, v))
        open(p.clock_file, "w").close()
        return p

    def start_player(self, node_id, bundle=None, extra=None, env=None):
        """Provision (unless a bundle is given), write and start a player;
        returns the Player (stopped at close)."""
        if bundle is None:
            bundle = self.provision(node_id)
        p = self.player_config(node_id, bundle, extra)
        return p.start(env)


class CtlTest(unittest.TestCase):
    """Base class: a CtlRig in self.rig, closed at the end; on a failure
    the ends of every log are printed and the scratch directory kept.

    per_class = True shares one rig among the tests of a class (for
    tests that only read, or clean up after themselves)."""

    per_class = False
    rig_options = {}

    @classmethod
    def setUpClass(cls):
        cls.shared_rig = None
        cls.failed = False
        if cls.per_class:
            cls.shared_rig = CtlRig(cls.__name__, **cls.rig_options)

    @classmethod
    def tearDownClass(cls):
        rig = cls.shared_rig
        if rig is not None:
            rig.close()
            try:
                rig.check_clean()
            except AssertionError:
                cls.failed = True
                raise
            finally:
                if cls.failed:
                    rig.dump()
                else:
                    shutil.rmtree(rig.dir, ignore_errors=True)

    def setUp(self):
        if self.per_class:
            self.rig = self.shared_rig
            self.rig.assert_controller_alive()
        else:
            self.rig = CtlRig("%s.%s" % (type(self).__name__,
                                         self.id().split(".")[-1]),
                              **self.rig_options)
            # Cleanups run last first: close, then the exit check.
            self.addCleanup(self.rig.check_clean)
            self.addCleanup(self.rig.close)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        failed = len(result.failures) + len(result.errors) > before
        rig = getattr(self, "rig", None)
        if self.per_class:
            if failed:
                type(self).failed = True
            return result
        if rig is None:
            return result
        if failed:
            rig.dump()
        else:
            shutil.rmtree(rig.dir, ignore_errors=True)
        return result

    # -- assertions every module uses --

    def assertStatus(self, got, status, what=""):
        """got: an api() triple."""
        st, doc, _ = got
        if st != status:
            self.fail("%sstatus %d, expected %d: %s" % (
                what + ": " if what else "", st, status,
                doc if not isinstance(doc, bytes) else doc[:300]))
        return doc

    def assertError(self, got, status, field=None, what=""):
        """An error answer: status, the JSON error object, the field named
        (when given), a message."""
        doc = self.assertStatus(got, status, what)
        self.assertIsInstance(doc, dict, what)
        err = doc.get("error")
        self.assertIsInstance(err, dict, "%s: no error object in %r"
                              % (what, doc))
        self.assertEqual(err.get("status"), status, what)
        self.assertTrue(err.get("message"), "%s: empty message" % what)
        if field is not None:
            self.assertEqual(err.get("field"), field, "%s: %r" % (what, err))
        return err
