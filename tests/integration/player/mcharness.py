"""Harness of the player integration tests (docs/testing.md).

One `Rig` per test: its own scratch directory, its own loopback ports, a
real mosquitto, the test HTTP server (tests/tools/httpd.py), a signing key
pair made with `minecastctl keygen`, manifests and assets published into
the HTTP root, pointers, commands and alerts signed with `minecastctl
sign`, a player config, the player process, and a "controller" MQTT
client that records everything nodes publish and acknowledges proof of
play exactly as docs/protocol.md section 6.7 says.

Paths come from the environment, set by the tests/integration/40-player-*.sh
wrappers: MC_BUILD_DIR, MC_SOURCE_DIR, MC_SCRATCH_DIR.

Rules every test keeps: only 127.0.0.1; every wait is bounded (wait_for);
every process started here is stopped in Rig.close(), which tests
register with addCleanup before starting anything.

Runs on Debian's /usr/bin/python3 (python3-paho-mqtt 1.6), stdlib
otherwise.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import paho.mqtt.client as mqtt

BUILD_DIR = os.environ.get("MC_BUILD_DIR", "")
SOURCE_DIR = os.environ.get(
    "MC_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
SCRATCH_DIR = os.environ.get("MC_SCRATCH_DIR", "")

PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
ROOT = "minecast/v1/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def player_bin():
    return os.path.join(BUILD_DIR, "player", "minecast-player")


def ctl_bin():
    return os.path.join(BUILD_DIR, "controller", "minecastctl")


def mosquitto_bin():
    for p in (shutil.which("mosquitto"), "/usr/sbin/mosquitto",
              "/usr/local/sbin/mosquitto"):
        if p and os.access(p, os.X_OK):
            return p
    raise AssertionError("mosquitto is not installed (scripts/deps installs it)")


def now_ms():
    return int(time.time() * 1000)


def free_port():
    """A loopback TCP port nothing listens on (the kernel picks it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def accepting(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(pred, timeout, what, interval=0.1):
    """Poll pred() until it returns something truthy (returned), or fail
    after timeout seconds naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def asset_bytes(tag, size):
    """size bytes that start like a PNG (the log output never decodes
    them) and differ per tag."""
    seed = hashlib.sha256(tag.encode()).digest()
    body = bytearray(PNG_SIGNATURE)
    block = seed
    while len(body) < size:
        block = hashlib.sha256(block).digest()
        body += block
    return bytes(body[:size])


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Stop a Popen: sig, a bounded wait, then SIGKILL.  Returns its exit
    status (or None if it was never started)."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def tail(path, n=60):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError as exc:
        return "(%s)" % exc
    return "".join(lines[-n:])


# ---- mosquitto ---------------------------------------------------------


class Broker:
    """A mosquitto listening on 127.0.0.1:port only, anonymous clients
    allowed, with persistence in its own directory (so that a restart
    keeps retained messages and persistent sessions, like a real site
    broker)."""

    def __init__(self, directory, port=None):
        self.dir = directory
        self.fixed = False  # set once a client was told the port
        self.port = port or free_port()
        self.proc = None
        self.log = os.path.join(directory, "mosquitto.log")
        os.makedirs(directory, exist_ok=True)

    def start(self):
        """Start; a first start whose free port was taken meanwhile by
        someone else (tests run in parallel) tries another port."""
        for attempt in range(3):
            self._why = ""
            try:
                self._start()
                self.fixed = True
                return
            except AssertionError:
                if self.fixed or attempt == 2 or self._why != "exited":
                    raise
                self.port = free_port()

    def _start(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = [
            "listener %d %s" % (self.port, HOST),
            "allow_anonymous true",
            "persistence true",
            "persistence_location %s/" % self.dir,
            "log_dest file %s" % self.log,
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 10000",
        ]
        if os.geteuid() == 0:
            # As root mosquitto drops to user "mosquitto", which may not
            # write here: stay who we are.
            import pwd
            lines.append("user %s" % pwd.getpwuid(os.getuid()).pw_name)
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
            return accepting(self.port)
        # The port may sit in TIME_WAIT after a restart; mosquitto uses
        # SO_REUSEADDR, so 10 s is plenty.
        wait_for(up, 10, "mosquitto on port %d" % self.port)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None


# ---- HTTP server -------------------------------------------------------


class HttpServer:
    """tests/tools/httpd.py on a free loopback port, serving root, with a
    JSON request log and a fault file (see that script's header)."""

    def __init__(self, directory, root):
        self.dir = directory
        self.root = root
        self.log = os.path.join(directory, "httpd.log")
        self.faults = os.path.join(directory, "faults.json")
        self.port = None
        self.proc = None
        os.makedirs(directory, exist_ok=True)
        os.makedirs(root, exist_ok=True)

    def start(self):
        port_file = os.path.join(self.dir, "httpd.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.set_faults({})
        err = open(os.path.join(self.dir, "httpd.err"), "ab")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SOURCE_DIR, "tests", "tools", "httpd.py"),
             "--root", self.root, "--port", str(self.port or 0),
             "--port-file", port_file, "--log", self.log,
             "--faults", self.faults],
            stdout=err, stderr=err, stdin=subprocess.DEVNULL)
        err.close()

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    "httpd.py exited at start:\n"
                    + tail(os.path.join(self.dir, "httpd.err")))
            try:
                with open(port_file) as fh:
                    return int(fh.read().strip())
            except (OSError, ValueError):
                return None
        self.port = wait_for(ready, 10, "httpd.py's port file")

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    @property
    def base(self):
        return "http://%s:%d" % (HOST, self.port)

    def set_faults(self, rules):
        """Replace the fault rules (atomically: the server re-reads the
        file when it changes)."""
        tmp = self.faults + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(rules, fh)
        os.replace(tmp, self.faults)

    def requests(self, path=None):
        """The request log, as dicts, optionally only those of path."""
        out = []
        try:
            with open(self.log, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue  # a line being written
                    if path is None or r.get("path") == path:
                        out.append(r)
        except OSError:
            pass
        return out

    def uploads(self):
        """Every file uploaded (POST) so far: list of (relative path,
        bytes)."""
        found = []
        top = os.path.join(self.root, "uploads")
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    found.append((os.path.relpath(p, top), fh.read()))
        return found


# ---- the controller side of MQTT ---------------------------------------


class Controller:
    """An MQTT client in the controller's place: subscribes to
    minecast/v1/node/+/#, records what nodes publish, and acknowledges
    proof-of-play batches (protocol.md section 6.7) after "storing" the
    records by id.  Also publishes pointers, commands and alerts."""

    def __init__(self, port, name="ctl", ack_pop=True):
        self.port = port
        self.ack_pop = ack_pop
        self.lock = threading.Lock()
        self.records = {}       # record id -> record (first seen)
        self.counts = {}        # record id -> times received
        self.pop_msgs = []      # (time.time(), batch, [ids])
        self.acked = {}         # record id -> time.time() of our ack
        self.states = []        # (time.time(), state dict)
        self.health = []        # (time.time(), health dict)
        self.results = []       # (time.time(), command result dict)
        self.alert_acks = []    # (time.time(), alert ack dict)
        self.bad = []           # (topic, payload) we could not parse
        self.connected = threading.Event()
        self.client = mqtt.Client(
            client_id="%s-%d-%d" % (name, os.getpid(), id(self)),
            clean_session=True, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)

    def start(self):
        self.client.connect_async(HOST, self.port, keepalive=10)
        self.client.loop_start()
        wait_for(self.connected.is_set, 10, "the controller client to "
                 "connect")

    def stop(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            client.subscribe(ROOT + "node/+/#", qos=1)
            self.connected.set()

    def _on_disconnect(self, client, userdata, rc):
        self.connected.clear()

    def _on_message(self, client, userdata, msg):
        parts = msg.topic[len(ROOT):].split("/")
        if not msg.topic.startswith(ROOT) or len(parts) < 3 \
                or parts[0] != "node":
            return
        node, kind = parts[1], "/".join(parts[2:])
        if kind in ("desired", "cmd", "pop/ack"):
            return  # our own
        t = time.time()
        if not msg.payload:
            return
        try:
            doc = json.loads(msg.payload.decode("utf-8"))
        except ValueError:
            with self.lock:
                self.bad.append((msg.topic, msg.payload))
            return
        with self.lock:
            if kind == "state":
                self.states.append((t, doc))
            elif kind == "health":
                self.health.append((t, doc))
            elif kind == "cmd/result":
                self.results.append((t, doc))
            elif kind == "alert/ack":
                self.alert_acks.append((t, doc))
            elif kind == "pop":
                ids = []
                for r in doc.get("records", []):
                    rid = r["id"]
                    ids.append(rid)
                    self.counts[rid] = self.counts.get(rid, 0) + 1
                    self.records.setdefault(rid, r)
                self.pop_msgs.append((t, doc.get("batch"), ids))
        if kind == "pop" and self.ack_pop:
            # Stored (above); now acknowledge every id of the batch,
            # already-known ones too (records are idempotent by id).
            ack = {"v": 1, "node": node, "batch": doc["batch"], "ids": ids}
            client.publish(ROOT + "node/%s/pop/ack" % node,
                           json.dumps(ack), qos=1)
            with self.lock:
                for rid in ids:
                    self.acked[rid] = t

    # -- views (copies, under the lock) --

    def last_state(self, node=None):
        with self.lock:
            for _, s in reversed(self.states):
                if node is None or s.get("node") == node:
                    return s
        return None

    def last_health(self, since=0):
        with self.lock:
            for t, h in reversed(self.health):
                if t >= since:
                    return h
        return None

    def healths(self, since=0):
        with self.lock:
            return [h for t, h in self.health if t >= since]

    def result(self, cmd_id):
        with self.lock:
            return [r for _, r in self.results if r.get("id") == cmd_id]

    def acks(self, alert_id=None):
        with self.lock:
            return [a for _, a in self.alert_acks
                    if alert_id is None or a.get("alert") == alert_id]

    def record_list(self):
        with self.lock:
            return dict(self.records), dict(self.counts)

    def pop_messages(self):
        with self.lock:
            return list(self.pop_msgs)

    # -- publishing --

    def publish(self, topic, payload, retain=False, qos=1):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise AssertionError("controller: publish to %s not "
                                 "acknowledged by the broker" % topic)


# ---- the rig -----------------------------------------------------------


class Rig:
    """Everything one test needs.  Create in setUp, addCleanup(rig.close)
    at once."""

    def __init__(self, test, node="pi-test-01", site="site-a"):
        if not BUILD_DIR or not SCRATCH_DIR:
            raise AssertionError("MC_BUILD_DIR and MC_SCRATCH_DIR are "
                                    "not set; run through the "
                                    "tests/integration/40-player-*.sh "
                                    "wrappers (docs/testing.md)")
        for b in (player_bin(), ctl_bin()):
            if not os.access(b, os.X_OK):
                raise AssertionError("%s is not built" % b)
        self.test = test
        self.node = node
        self.site = site
        self.dir = os.path.join(SCRATCH_DIR, test.id().split(".")[-1])
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.http_root = os.path.join(self.dir, "www")
        self.cache_dir = os.path.join(self.dir, "cache")
        self.state_dir = os.path.join(self.dir, "state")
        self.clock_file = os.path.join(self.dir, "clock-synced")
        self.out_file = os.path.join(self.dir, "outputs.jsonl")
        self.conf = os.path.join(self.dir, "player.conf")
        self.broker = Broker(os.path.join(self.dir, "mqtt"))
        self.http = HttpServer(os.path.join(self.dir, "http"),
                               self.http_root)
        self.ctl = None
        self.player = None
        self.player_log = None
        self.player_runs = 0
        self.closed = False
        self.key = self.keygen("controller")
        # The clock counts as synchronised while this file exists.
        open(self.clock_file, "w").close()

    # -- processes --

    def start_network(self, ack_pop=True):
        """Broker, HTTP server and controller client."""
        self.broker.start()
        self.http.start()
        self.ctl = Controller(self.broker.port, ack_pop=ack_pop)
        self.ctl.start()

    def close(self):
        """Stop every process started here (player first)."""
        if self.closed:
            return
        self.closed = True
        if self.player is not None:
            stop_process(self.player, timeout=5)
        if self.ctl is not None:
            self.ctl.stop()
        self.http.stop()
        self.broker.stop()

    def dump(self):
        """What a failed test prints: the ends of every log."""
        parts = []
        for title, path in (
                ("player stderr", self.player_log),
                ("log output", self.out_file),
                ("mosquitto", self.broker.log),
                ("httpd requests", self.http.log),
                ("httpd stderr", os.path.join(self.http.dir, "httpd.err"))):
            if path and os.path.exists(path):
                parts.append("---- %s (%s) ----\n%s" % (title, path,
                                                         tail(path, 80)))
        if self.ctl is not None:
            with self.ctl.lock:
                parts.append("---- controller: %d states, %d health, "
                             "%d results, %d alert acks, %d records ----"
                             % (len(self.ctl.states), len(self.ctl.health),
                                len(self.ctl.results),
                                len(self.ctl.alert_acks),
                                len(self.ctl.records)))
                if self.ctl.states:
                    parts.append("last state: %s"
                                 % json.dumps(self.ctl.states[-1][1]))
                if self.ctl.health:
                    parts.append("last health: %s"
                                 % json.dumps(self.ctl.health[-1][1]))
        sys.stderr.write("\n".join(parts) + "\n")

    # -- keys and signing --

    def keygen(self, name):
        prefix = os.path.join(self.dir, "keys", name)
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        self.run_ctl(["keygen", "--out", prefix])
        return prefix

    def run_ctl(self, args, input_text=None):
        p = subprocess.run([ctl_bin()] + args, input=input_text,
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("minecastctl %s failed (%d): %s"
                                 % (" ".join(args), p.returncode, p.stderr))
        return p.stdout

    def sign(self, purpose, body, key=None):
        """The signed envelope (text) of body (a dict, or exact text)."""
        if not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"),
                              ensure_ascii=False)
        return self.run_ctl(["sign", "--key", (key or self.key) + ".key",
                             "--purpose", purpose, "-"],
                            input_text=body).strip()

    # -- content on the HTTP server --

    def put_asset(self, tag, size=2048, data=None):
        """Write an asset into the HTTP root; returns (sha256, size)."""
        data = asset_bytes(tag, size) if data is None else data
        h = sha256(data)
        d = os.path.join(self.http_root, "v1", "content")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, h), "wb") as fh:
            fh.write(data)
        return h, len(data)

    def image(self, cid, tag=None, size=2048, data=None):
        """An image content entry with its asset on the server."""
        h, n = self.put_asset(tag or cid, size, data)
        return {"id": cid, "type": "image", "name": cid, "fit": "contain",
                "sha256": h, "size": n, "url": "/v1/content/" + h,
                "mime": "image/png"}

    def put_manifest(self, doc):
        """Publish a manifest dict (node filled in) into the HTTP root;
        returns (sha256, size)."""
        doc = dict(doc)
        doc.setdefault("format", "minecast-manifest/1")
        doc.setdefault("node", self.node)
        doc.setdefault("timezone", "UTC")
        data = json.dumps(doc, ensure_ascii=False, indent=1).encode()
        h = sha256(data)
        d = os.path.join(self.http_root, "v1", "manifests")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, h), "wb") as fh:
            fh.write(data)
        return h, len(data)

    def simple_manifest(self, tag="v1", item_s=2, images=2, extra=None,
                        speaker=True, entries=None, sizes=None):
        """A manifest with a standing screen playlist of `images` images
        (item_s seconds each), a standing speaker entry speaking one
        text, and a slogan fallback on the screen.  extra: more content,
        playlists and entries ({"content": [...], ...}) merged in."""
        content, items = [], []
        for i in range(images):
            cid = "img-%s-%d" % (tag, i)
            size = (sizes or {}).get(i, 2048)
            content.append(self.image(cid, size=size))
            items.append({"content": cid, "duration_s": item_s})
        content.append({"id": "slogan-fb", "type": "slogan",
                        "text": "Fallback %s" % tag})
        playlists = [{"id": "pl-screen", "items": items}]
        ents = [{"id": "e-screen-" + tag, "playlist": "pl-screen",
                 "channel": "screen", "priority": 10}]
        if speaker:
            content.append({"id": "speech-" + tag, "type": "speech",
                            "text": "Loa %s" % tag,
                            "duration_ms": item_s * 1000})
            playlists.append({"id": "pl-speaker", "items": [
                {"content": "speech-" + tag, "duration_s": item_s}]})
            ents.append({"id": "e-speaker-" + tag, "playlist": "pl-speaker",
                         "channel": "speaker", "priority": 10})
        if entries is not None:
            ents = entries
        doc = {"name": "test " + tag, "content": content,
               "playlists": playlists, "entries": ents,
               "fallback": {"screen": "slogan-fb", "speaker": None}}
        for k, v in (extra or {}).items():
            doc[k] = doc.get(k, []) + v
        return doc

    # -- signed messages --

    def pointer_body(self, version, manifest, node=None, expires_in_ms=None,
                     issued_ms=None, expires_ms=None):
        h, n = manifest
        issued = issued_ms if issued_ms is not None else now_ms() - 1000
        return {"v": 1, "node": node or self.node, "version": version,
                "manifest_sha256": h, "manifest_size": n,
                "manifest_url": "/v1/manifests/" + h,
                "issued_ms": issued,
                "expires_ms": expires_ms if expires_ms is not None
                else issued + (expires_in_ms or 3600 * 1000)}

    def publish_desired(self, payload):
        """Publish an envelope (or any raw payload) as the retained
        desired state of this node."""
        if isinstance(payload, str):
            payload = payload.encode()
        self.ctl.publish(ROOT + "node/%s/desired" % self.node, payload,
                         retain=True)

    def desire(self, version, manifest, **kw):
        """Sign and publish a pointer to manifest ((sha, size))."""
        self.publish_desired(self.sign("pointer", self.pointer_body(
            version, manifest, **kw)))

    def command(self, action, cmd_id, **args):
        body = {"v": 1, "id": cmd_id, "node": self.node, "action": action,
                "issued_ms": now_ms() - 1000,
                "expires_ms": now_ms() + 60000}
        body.update(args)
        self.ctl.publish(ROOT + "node/%s/cmd" % self.node,
                         self.sign("command", body).encode())

    def alert(self, alert_id, seq, text="Cảnh báo thử", level="warning",
              start_at_ms=0, targets=None, clear=False, expires_in_ms=600000):
        body = {"v": 1, "id": alert_id, "seq": seq, "issued_ms":
                now_ms() - 1000, "expires_ms": now_ms() + expires_in_ms}
        if clear:
            body["clear"] = True
        else:
            body.update({"level": level, "text": text,
                         "start_at_ms": start_at_ms})
        if targets is not None:
            body["targets"] = targets
        self.ctl.publish(ROOT + "alert/" + alert_id,
                         self.sign("alert", body).encode(), retain=True)

    # -- the player --

    def write_config(self, broker_port=None, http_port=None, extra=None,
                     clock=True):
        """The player's config.  extra: {"section": {"key": "value"}}
        added to (or replacing keys of) the defaults."""
        sections = {
            "node": {"id": self.node, "site": self.site},
            "mqtt": {"broker": "mqtt://%s:%d" % (
                HOST, broker_port or self.broker.port),
                "keepalive": "5s", "reconnect_min": "200ms",
                "reconnect_max": "2s"},
            "http": {"base": "http://%s:%d" % (
                HOST, http_port or self.http.port or 9), "timeout": "10s"},
            "cache": {"dir": self.cache_dir, "state_dir": self.state_dir,
                      "quota": "256M"},
            "channels": {"screen": "yes", "speaker": "yes",
                         "screen_output": "log", "speaker_output": "log",
                         "log_output_file": self.out_file},
            "keys": {"trusted": self.key + ".pub"},
            "health": {"interval": "5s"},
            "clock": {"sync": "file:" + self.clock_file},
            "pop": {"resend": "5s"},
            "log": {"level": "debug"},
        }
        for sec, kv in (extra or {}).items():
            sections.setdefault(sec, {}).update(kv)
        with open(self.conf, "w") as fh:
            fh.write("# written by tests/integration/player/mcharness.py\n")
            for sec, kv in sections.items():
                fh.write("\n[%s]\n" % sec)
                for k, v in kv.items():
                    fh.write('%s = "%s"\n' % (k, v) if " " in str(v)
                             else "%s = %s\n" % (k, v))
        return self.conf

    def start_player(self, env=None, wrapper=None):
        """Start the player (config written before); stderr goes to
        player-N.log in the scratch directory.  wrapper: argv run in
        front of the player's own (it must exec the player, so that the
        process started is the player), e.g. unshare and a mount."""
        if self.player is not None and self.player.poll() is None:
            raise AssertionError("the player already runs")
        if not os.path.exists(self.conf):
            self.write_config()
        self.player_runs += 1
        self.player_log = os.path.join(self.dir,
                                       "player-%d.log" % self.player_runs)
        e = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            e.pop(k, None)
        e.update(env or {})
        log = open(self.player_log, "ab")
        self.player = subprocess.Popen(
            list(wrapper or []) + [player_bin(), "--config", self.conf],
            stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, env=e, cwd=self.dir)
        log.close()
        return self.player

    def player_alive(self):
        return self.player is not None and self.player.poll() is None

    def assert_player_alive(self):
        if not self.player_alive():
            raise AssertionError("the player exited (status %s):\n%s" % (
                self.player.returncode if self.player else None,
                tail(self.player_log)))

    def stop_player(self, timeout=10):
        """SIGTERM and wait; returns the exit status."""
        rc = stop_process(self.player, timeout=timeout)
        self.player = None
        return rc

    def kill_player(self):
        """kill -9."""
        rc = stop_process(self.player, sig=signal.SIGKILL)
        self.player = None
        return rc

    def player_log_text(self):
        try:
            with open(self.player_log, encoding="utf-8",
                      errors="replace") as fh:
                return fh.read()
        except (OSError, TypeError):
            return ""

    # -- the log output --

    def outputs(self, event=None, since_ms=0):
        """The log output's JSON lines (player/outputs/log.c), optionally
        only one event kind and those written at or after since_ms."""
        out = []
        try:
            with open(self.out_file, encoding="utf-8") as fh:
                for line in fh:
                    if not line.endswith("\n"):
                        break  # being written
                    try:
                        d = json.loads(line)
                    except ValueError:
                        continue
                    if event and d.get("event") != event:
                        continue
                    if d.get("t_ms", 0) < since_ms:
                        continue
                    out.append(d)
        except OSError:
            pass
        return out

    def starts(self, since_ms=0, content=None, channel=None, entry=None):
        """Log-output starts of real content (not idle)."""
        return [d for d in self.outputs("start", since_ms)
                if d.get("content")
                and (content is None or d["content"] == content
                     or (callable(content) and content(d["content"])))
                and (channel is None or d["channel"] == channel)
                and (entry is None or d.get("entry") == entry)]

    def wait_start(self, timeout, since_ms=0, what=None, **kw):
        return wait_for(lambda: self.starts(since_ms, **kw), timeout,
                        what or "a log-output start of %r" % (kw,))[0]

    def wait_applied(self, version, timeout=20, sync="idle"):
        """The retained state says version is applied with that sync."""
        def ok():
            self.assert_player_alive()
            s = self.ctl.last_state(self.node)
            return s and s.get("online") and \
                s.get("applied_version") == version and \
                (sync is None or s.get("sync") == sync) and s
        return wait_for(ok, timeout, "state applied_version %d sync %s"
                        % (version, sync))

    def wait_health(self, pred, timeout, what, since=None):
        since = time.time() if since is None else since

        def ok():
            self.assert_player_alive()
            for h in self.ctl.healths(since):
                if pred(h):
                    return h
            return None
        return wait_for(ok, timeout, what)


class PlayerTest(unittest.TestCase):
    """Base class: a Rig per test in self.rig, closed at the end; on a
    failure the ends of every log are printed."""

    node = "pi-test-01"

    def setUp(self):
        self.rig = Rig(self, node=self.node)
        self.addCleanup(self.rig.close)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        rig = getattr(self, "rig", None)
        if rig is None:
            return result
        if len(result.failures) + len(result.errors) > before:
            rig.dump()
        else:
            shutil.rmtree(rig.dir, ignore_errors=True)
        return result
