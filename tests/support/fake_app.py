#!/usr/bin/env python3
"""A tiny real service for the service/http tests (manager: command).

    fake_app.py --port PORT --config FILE --pidfile FILE

Reads FILE once at start (JSON, e.g. {"message": "v1", "status": "ok"}) and then serves:
  GET /        -> the config file's bytes as read at start
  GET /health  -> {"status": <config status, default "ok">, "message": <config message>},
                  200 when status is "ok", else 503
A config that is not valid JSON makes it exit 2 at start (a "bad config"). It binds the port
before writing its pid to the pidfile, and removes the pidfile on SIGTERM/SIGINT.
"""
import argparse
import http.server
import json
import os
import signal
import socketserver
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--pidfile", required=True)
    args = ap.parse_args()

    with open(args.config, "rb") as f:
        raw = f.read()
    try:
        config = json.loads(raw.decode("utf-8"))
        if not isinstance(config, dict):
            raise ValueError("config must be a JSON object")
    except ValueError as e:
        print(f"fake_app: invalid config {args.config}: {e}", file=sys.stderr, flush=True)
        sys.exit(2)

    status = str(config.get("status", "ok"))
    health = json.dumps({"status": status, "message": config.get("message")}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                self.reply(200 if status == "ok" else 503, health, "application/json")
            elif self.path == "/":
                self.reply(200, raw, "application/json")
            else:
                self.reply(404, b"not found\n", "text/plain")

        def reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            print("fake_app: " + (fmt % a), file=sys.stderr, flush=True)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        print(f"fake_app: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)

    def on_signal(signum, frame):
        try:
            os.unlink(args.pidfile)
        except FileNotFoundError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    tmp = args.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(tmp, args.pidfile)
    print(f"fake_app: listening on 127.0.0.1:{args.port} pid {os.getpid()}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
