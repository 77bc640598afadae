"""moto's server (DynamoDB, SES, SNS on one port), handling one request at a time.

moto's own `moto_server` is threaded, and its DynamoDB backend checks conditions and writes
without a lock: two concurrent conditional puts or transactions can both succeed, which real
DynamoDB never allows. Serialising requests gives moto DynamoDB's atomicity, so race tests
test our conditions rather than moto's threads. State dumps (/moto-api/data.json) are then
consistent too.

Usage: python moto_server.py [-H HOST] [-p PORT]
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class Serialised:
    """WSGI middleware: one request inside the application at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Build the whole body under the lock: moto may produce it lazily.
            return [b"".join(self.app(environ, start_response))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Serialised(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
