#!/usr/bin/python3
"""An SMTP relay for the tests: Debian's aiosmtpd on 127.0.0.1, storing what it accepts.

Every accepted message is appended to DIR/messages.jsonl as {"mail_from", "rcpt_tos", "data",
"tls"} plus what Python's email parser makes of it: "headers", "subject" and "body", decoded.
A control file, read anew for every transaction, makes it refuse:
    accept            (default) accept everything
    reject            answer RCPT with 550 5.7.1 Relaying denied
    reject PREFIX     answer RCPT with 550 5.1.1 for addresses starting with PREFIX, accept others
    tempfail          answer DATA with 451 4.3.0 Try again later

Usage: smtp-receiver.py --dir DIR [--port N] [--control FILE] [--cert PEM --key PEM] [--auth USER:PASS]
With --cert, STARTTLS is offered and required. Prints "PORT <n>" once it listens.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def control(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or "accept"
    except (FileNotFoundError, TypeError):
        return "accept"


class Handler:
    def __init__(self, directory, control_path):
        self.directory = directory
        self.control_path = control_path

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = control(self.control_path)
        if mode == "reject":
            return "550 5.7.1 Relaying denied"
        if mode.startswith("reject ") and address.startswith(mode[len("reject "):]):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if control(self.control_path) == "tempfail":
            return "451 4.3.0 Try again later"
        record = {
            "time": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
        }
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        record["headers"] = {name: str(value) for name, value in message.items()}
        record["subject"] = str(message["subject"])
        record["body"] = message.get_content()
        with open(os.path.join(self.directory, "messages.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    args = parser.parse_args()

    port = args.port or free_port()
    kwargs = {}
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            # handled=False: aiosmtpd itself answers a refusal, with 535 5.7.8.
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticate, auth_require_tls=bool(args.cert))
    controller = Controller(Handler(args.dir, args.control), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("PORT %d" % port, flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
