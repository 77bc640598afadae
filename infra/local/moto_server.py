"""moto's server (DynamoDB, SES, SNS on one port), handling one request at a time.

moto's own `moto_server` is threaded, and its DynamoDB backend checks conditions and writes
without a lock: two concurrent conditional puts or transactions can both succeed, which real
DynamoDB never allows. Serialising requests gives moto DynamoDB's atomicity, so race tests
test our conditions rather than moto's threads. Reads of the outbox are then consistent too.

`GET /_portico/outbox` answers with the mail (SES) and SMS (SNS) sent so far, read from moto's
backends directly — unlike `/moto-api/data.json`, which serialises every object moto holds and
slows down as a test run fills the tables:

    {"mail": [{"to": [...], "subject": "...", "body": "..."}, ...],
     "sms": [{"to": ["+4..."], "body": "..."}, ...],
     "next": {"mail": 12, "sms": 3}}

Each list is in sending order. `mail_since` and `sms_since` skip the messages an earlier answer
returned (pass its `next`); `to` keeps only messages to that address or phone number. It is
also the readiness probe of the scripts that start this server.

With `--certfile` and `--keyfile` it serves HTTPS instead (werkzeug's `ssl_context`): the
cold-start bench (`bench/coldstart`) does, so a function's first call pays the TLS handshake and
its root-store loading as on Lambda.

Usage: python moto_server.py [-H HOST] [-p PORT] [--certfile CERT --keyfile KEY]
"""

import argparse
import json
import threading
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.ses.models import Message, ses_backends
from moto.sns.models import sns_backends
from werkzeug.serving import run_simple

OUTBOX_PATH = "/_portico/outbox"


def _since(query, name):
    try:
        return max(0, int(query.get(name, ["0"])[0]))
    except ValueError:
        return 0


def outbox(query):
    """The messages moto's SES and SNS backends hold (every account and region in use)."""
    to = query.get("to", [None])[0]
    mails = [
        message
        for _, _, backend in ses_backends.iter_backends()
        for message in backend.sent_messages
        if isinstance(message, Message)
    ]
    sms = [
        (phone, text)
        for _, _, backend in sns_backends.iter_backends()
        for phone, text in backend.sms_messages.values()
    ]
    mail_since, sms_since = _since(query, "mail_since"), _since(query, "sms_since")
    return {
        "mail": [
            {
                "to": list(mail.destinations.get("ToAddresses", [])),
                "subject": mail.subject,
                "body": mail.body,
            }
            for mail in mails[mail_since:]
            if to is None or to in mail.destinations.get("ToAddresses", [])
        ],
        "sms": [
            {"to": [phone], "body": text}
            for phone, text in sms[sms_since:]
            if to is None or to == phone
        ],
        "next": {"mail": len(mails), "sms": len(sms)},
    }


class Serialised:
    """WSGI middleware: one request inside the application at a time, and the outbox route."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            if environ.get("PATH_INFO") == OUTBOX_PATH:
                if environ.get("REQUEST_METHOD") != "GET":
                    start_response("405 Method Not Allowed", [("Allow", "GET")])
                    return [b""]
                body = json.dumps(outbox(parse_qs(environ.get("QUERY_STRING", "")))).encode()
                start_response(
                    "200 OK",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
            # Build the whole body under the lock: moto may produce it lazily.
            return [b"".join(self.app(environ, start_response))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    parser.add_argument("--certfile", help="PEM server certificate (chain): serve HTTPS")
    parser.add_argument("--keyfile", help="PEM private key of --certfile")
    args = parser.parse_args()
    if bool(args.certfile) != bool(args.keyfile):
        parser.error("--certfile and --keyfile go together")
    app = DomainDispatcherApplication(create_backend_app)
    handler = MotoRequestHandler
    if args.certfile:
        # Over TLS werkzeug writes a response's head and body as separate records; with Nagle's
        # algorithm the body then waits for the client's delayed ACK (40 ms on Linux).
        handler = type("NoDelayHandler", (MotoRequestHandler,), {"disable_nagle_algorithm": True})
    run_simple(
        args.host,
        args.port,
        Serialised(app),
        threaded=True,
        request_handler=handler,
        ssl_context=(args.certfile, args.keyfile) if args.certfile else None,
    )


if __name__ == "__main__":
    main()
