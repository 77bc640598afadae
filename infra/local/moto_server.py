"""moto's server (DynamoDB, SES, SNS on one port), handling one request at a time, with a
recorder of WhatsApp sends (AWS End User Messaging Social, which moto lacks).

moto's own `moto_server` is threaded, and its DynamoDB backend checks conditions and writes
without a lock: two concurrent conditional puts or transactions can both succeed, which real
DynamoDB never allows. Serialising requests gives moto DynamoDB's atomicity, so race tests
test our conditions rather than moto's threads. Reads of the outbox are then consistent too.

`GET /_portico/outbox` answers with the mail (SES) and SMS (SNS) sent so far, read from moto's
backends directly — unlike `/moto-api/data.json`, which serialises every object moto holds and
slows down as a test run fills the tables:

    {"mail": [{"to": [...], "subject": "...", "body": "..."}, ...],
     "sms": [{"to": ["+4..."], "body": "..."}, ...],
     "whatsapp": [{"to": ["+4..."], "body": "...", "request": {...}}, ...],
     "next": {"mail": 12, "sms": 3, "whatsapp": 1}}

Each list is in sending order. `mail_since`, `sms_since` and `whatsapp_since` skip the
messages an earlier answer returned (pass its `next`); `to` keeps only messages to that address
or phone number. It is also the readiness probe of the scripts that start this server.

`POST /v1/whatsapp/send` is End User Messaging Social's `SendWhatsAppMessage` as the SDK sends
it (with `AWS_ENDPOINT_URL` pointing here): the request is kept as sent (`request`, its
`message` blob decoded into `message_json`) and answered with a message id. A message to a
number starting `+9990` is refused (400 `ValidationException`), so tests can see a failed send.

With `--certfile` and `--keyfile` it serves HTTPS instead (werkzeug's `ssl_context`): the
cold-start bench (`bench/coldstart`) does, so a function's first call pays the TLS handshake and
its root-store loading as on Lambda.

Usage: python moto_server.py [-H HOST] [-p PORT] [--certfile CERT --keyfile KEY]
"""

import argparse
import base64
import json
import threading
import uuid
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
WHATSAPP_PATH = "/v1/whatsapp/send"
UNDELIVERABLE_PREFIX = "+9990"

whatsapp_sent = []


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
    whatsapp_since = _since(query, "whatsapp_since")
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
        "whatsapp": [
            sent for sent in whatsapp_sent[whatsapp_since:] if to is None or to in sent["to"]
        ],
        "next": {"mail": len(mails), "sms": len(sms), "whatsapp": len(whatsapp_sent)},
    }


def _text(message):
    """What a WhatsApp message says: its text, or its template's parameters."""
    if message.get("type") == "text":
        return message.get("text", {}).get("body", "")
    template = message.get("template", {})
    words = [
        parameter.get("text", "")
        for component in template.get("components", [])
        for parameter in component.get("parameters", [])
        if component.get("type") == "body"
    ]
    return f"[template {template.get('name')} ({template.get('language', {}).get('code')})] " + " ".join(words)


def record_whatsapp(body):
    """Keeps one SendWhatsAppMessage request; (status, answer)."""
    try:
        request = json.loads(body or b"{}")
        message = json.loads(base64.b64decode(request["message"]))
        missing = [name for name in ("originationPhoneNumberId", "metaApiVersion") if not request.get(name)]
    except (ValueError, KeyError, TypeError) as error:
        return "400 Bad Request", {"__type": "ValidationException", "message": f"malformed request: {error}"}
    if missing:
        return "400 Bad Request", {"__type": "ValidationException", "message": f"missing {missing}"}
    to = str(message.get("to", ""))
    if to.startswith(UNDELIVERABLE_PREFIX):
        return "400 Bad Request", {"__type": "ValidationException", "message": "the recipient cannot be reached"}
    whatsapp_sent.append({"to": [to], "body": _text(message), "request": request, "message_json": message})
    return "200 OK", {"messageId": str(uuid.uuid4())}


def _json(start_response, status, answer):
    body = json.dumps(answer).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


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
                return _json(start_response, "200 OK", outbox(parse_qs(environ.get("QUERY_STRING", ""))))
            if environ.get("PATH_INFO") == WHATSAPP_PATH and environ.get("REQUEST_METHOD") == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                status, answer = record_whatsapp(environ["wsgi.input"].read(length))
                return _json(start_response, status, answer)
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
