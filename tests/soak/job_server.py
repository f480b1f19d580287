#!/usr/bin/env python3
"""A stand-in for a slow external job API, used by tests/soak/soak.sh.

    python3 tests/soak/job_server.py PORT [MIN_S MAX_S]

Listens on 127.0.0.1:PORT (standard library only):

  POST /jobs        create a job that finishes after a random MIN_S-MAX_S seconds
                    (default 0.5-3); 201 {"id": "job-<n>"}.
                    The Idempotency-Key header is recorded: a key seen before counts
                    as a duplicate create and gets the job it created the first time,
                    as a real idempotent API would answer.
  GET  /jobs/<id>   {"id", "status": "running"|"done", "result"}; 404 if unknown.
                    The result is "<idempotency key>|<job id>", so a caller can check
                    that the job it polled belongs to it.
  GET  /stats       {"creates": POSTs to /jobs, "keys": distinct keys,
                     "duplicates": keys created more than once, "jobs": jobs made,
                     "without_key": POSTs without a key,
                     "duplicate_keys": {key: times created} (at most 200 entries)}
  POST /ping        {"ok": true}, no side effect.
"""

import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MIN_S = 0.5
DEFAULT_MAX_S = 3.0


class Jobs:
    def __init__(self, min_s=DEFAULT_MIN_S, max_s=DEFAULT_MAX_S):
        self.min_s = min_s
        self.max_s = max_s
        self.lock = threading.Lock()
        self.next_n = 0
        self.jobs = {}  # id -> {"key", "created", "done_at"}
        self.by_key = {}  # key -> job id
        self.key_creates = {}  # key -> number of POSTs with that key
        self.creates = 0
        self.without_key = 0

    def create(self, key):
        with self.lock:
            self.creates += 1
            if key:
                self.key_creates[key] = self.key_creates.get(key, 0) + 1
                if key in self.by_key:
                    return self.by_key[key], False
            else:
                self.without_key += 1
            self.next_n += 1
            job_id = "job-%d" % self.next_n
            now = time.monotonic()
            self.jobs[job_id] = {
                "key": key or "",
                "created": now,
                "done_at": now + random.uniform(self.min_s, self.max_s),
            }
            if key:
                self.by_key[key] = job_id
            return job_id, True

    def get(self, job_id):
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            done = time.monotonic() >= job["done_at"]
            return {
                "id": job_id,
                "status": "done" if done else "running",
                "result": "%s|%s" % (job["key"], job_id) if done else None,
            }

    def stats(self):
        with self.lock:
            dups = {k: n for k, n in self.key_creates.items() if n > 1}
            shown = dict(sorted(dups.items())[:200])
            return {
                "creates": self.creates,
                "keys": len(self.key_creates),
                "duplicates": len(dups),
                "jobs": len(self.jobs),
                "without_key": self.without_key,
                "duplicate_keys": shown,
            }


JOBS = Jobs()  # replaced in main() when durations are given


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soak-job-server/1"

    def log_message(self, fmt, *args):  # keep the log quiet: one line per create only
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def do_POST(self):
        self._drain()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/jobs":
            key = self.headers.get("Idempotency-Key", "")
            job_id, new = JOBS.create(key)
            sys.stderr.write(
                "%.3f create key=%s job=%s%s\n"
                % (time.time(), key or "-", job_id, "" if new else " DUPLICATE")
            )
            sys.stderr.flush()
            self._send(201, {"id": job_id})
        elif path == "/ping":
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": "not found"})

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/stats":
            self._send(200, JOBS.stats())
        elif path.startswith("/jobs/"):
            job = JOBS.get(path[len("/jobs/"):])
            if job is None:
                self._send(404, {"error": "no such job"})
            else:
                self._send(200, job)
        else:
            self._send(404, {"error": "not found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    global JOBS
    args = sys.argv[1:]
    try:
        if len(args) not in (1, 3) or not args[0].isdigit():
            raise ValueError
        port = int(args[0])
        min_s, max_s = (float(args[1]), float(args[2])) if len(args) == 3 else (
            DEFAULT_MIN_S, DEFAULT_MAX_S)
        if not 0 <= min_s <= max_s:
            raise ValueError
    except ValueError:
        sys.stderr.write("usage: job_server.py PORT [MIN_S MAX_S]\n")
        return 2
    JOBS = Jobs(min_s, max_s)
    server = Server(("127.0.0.1", port), Handler)
    sys.stderr.write(
        "job server listening on 127.0.0.1:%d (jobs take %.1f-%.1f s)\n" % (port, min_s, max_s))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
