#!/usr/bin/env python3
"""A webhook receiver for the tests and the demo: a real HTTP/1.1 (or HTTPS) server on 127.0.0.1.

It appends every request it receives to a JSON-lines log (method, path, headers, body, time)
and answers as its control file says, read anew for every request, so a test can turn a
receiver from healthy to failing and back while the agent runs:

    200 | 500 | 302 | <any status>   answer that status (302 carries a Location header)
    sequence 500 500 200             answer in turn; the last one repeats
    alternate                        200 to every other request, 503 to the rest
    hang                             read the request, never answer
    reset                            read the request, then reset the connection
    slow                             answer 200 one byte per second
    huge                             answer 200 with an endless body
    echo                             answer 404 with a body that repeats the request's path

With --verify SECRET (repeatable), it is a receiver written with the official Standard Webhooks
library (PyPI standardwebhooks, installed by scripts/install-deps.sh into .build/python): each
request goes through Webhook(secret).verify(body, headers) for each secret in turn; the log
records "verified" (the index of the secret that verified, and the payload the library parsed)
or "verify_error", and a request no secret verifies is answered 401.

Usage: receiver.py --log FILE [--control FILE] [--port N] [--cert PEM --key PEM] [--print]
                   [--verify SECRET]...
Prints "PORT <n>" on standard output once it listens; with --print, also one line per request.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counter = {"requests": 0, "sequence": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            counter["requests"] += 1
            number = counter["requests"]
            record = {
                "n": number,
                "time": time.time(),
                "method": "POST",
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "surrogateescape"),
            }
            mode = read_control(self.server.control)
            answer = decide(mode, number)
            if self.server.verify:
                verify(self.server.verify, body, self.headers, record)
                if "verified" not in record:
                    answer = "401"
            record["answer"] = answer
            if answer not in ("hang", "reset"):
                with open(self.server.log, "a", encoding="utf-8", errors="surrogateescape") as log:
                    log.write(json.dumps(record) + "\n")
            if self.server.print:
                fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                print("receiver: %s %s lsid=%s webhook-id=%s -> answering %s" % (
                    time.strftime("%H:%M:%S"), fields.get("event", ["?"])[0], fields.get("lsid", ["?"])[0],
                    self.headers.get("webhook-id", "?"), answer), flush=True)
        self.respond(answer)

    do_GET = do_POST

    def respond(self, answer):
        if answer == "hang":
            time.sleep(3600)
            return
        if answer == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if answer == "slow":
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            for byte in b"slow\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1)
            return
        if answer == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range((1 << 30) // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return
        if answer == "echo":
            status, payload = 404, ("no route for %s\n" % self.path).encode()
        else:
            status = int(answer)
            payload = b"ok\n" if status == 200 else b"receiver says no\n"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (a cancelled or timed-out request) is routine here.
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


def verify(secrets, body, headers, record):
    """As a receiver does with the library: JSON bodies are verified and parsed by verify();
    form bodies are verified first (json_parse=False), then parsed as a form."""
    from standardwebhooks import Webhook
    form = headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
    errors = []
    for index, secret in enumerate(secrets):
        try:
            payload = Webhook(secret).verify(body, dict(headers.items()), json_parse=not form)
        except Exception as error:  # the library's own errors, or JSON that does not parse
            errors.append("%s: %s" % (type(error).__name__, error))
            continue
        if form:
            payload = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        record["verified"] = {"secret": index, "payload": payload}
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
            # As the body has them: a dict keeps one of two equal keys, this list both.
            pairs = json.loads(body, object_pairs_hook=lambda pairs: pairs)
            record["verified"]["data_keys"] = [key for key, _ in dict(pairs)["data"]]
        return
    record["verify_error"] = "; ".join(errors)


def read_control(path):
    if not path:
        return "200"
    try:
        with open(path, encoding="utf-8") as control:
            return control.read().strip() or "200"
    except FileNotFoundError:
        return "200"


def decide(mode, number):
    words = mode.split()
    if words[0] == "sequence":
        steps = words[1:]
        index = counter["sequence"]
        counter["sequence"] += 1
        return steps[min(index, len(steps) - 1)]
    if words[0] == "alternate":
        return "200" if number % 2 == 0 else "503"
    return words[0]


def main():
    # Started from a test runner's worker thread, the process may inherit a mask that blocks
    # SIGTERM; a receiver must always be stoppable.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--control")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--tls-max", choices=["1.0", "1.1", "1.2", "1.3"])
    parser.add_argument("--print", action="store_true")
    parser.add_argument("--verify", action="append", default=[])
    args = parser.parse_args()
    if args.verify:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "python"))

    server = Server(("127.0.0.1", args.port), Handler)
    server.log = args.log
    server.control = args.control
    server.print = args.print
    server.verify = args.verify
    open(args.log, "a").close()
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.tls_max:
            versions = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                        "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = versions[args.tls_max]
            if args.tls_max in ("1.0", "1.1"):
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
