#!/usr/bin/env python3
"""moto's server (`moto_server`, same arguments), with each request handled whole under one lock.

DynamoDB applies a conditional write atomically per item. moto's threaded server evaluates a
ConditionExpression and then writes, without a lock, so two concurrent conditional writes to
one item can both pass: `make soak` caught two `PUT /settings` with the same `If-Match` both
answered 200 (one update lost), about once in 2,000 concurrent writes. Every concurrency rule of
ours (settings versions, room claims, event claims, the one-use signature record) rests on that
atomicity, so the local stack has moto handle one request at a time, as its backends assume;
connections stay concurrent (one thread each), only the handling is serialised. Python's GIL
serialises most of moto's work anyway, so the cost is small.
"""

import sys
import threading

import moto.server as server

_LOCK = threading.Lock()


def _one_at_a_time(app):
    def handle(environ, start_response):
        with _LOCK:
            # Consume the response inside the lock: a WSGI app may produce it lazily. (moto reads
            # the request body inside it too, so a stalled client holds the others up: fine for
            # a local stack.)
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return handle


_run_simple = server.run_simple


def _run_simple_serialised(host, port, app, **kwargs):
    return _run_simple(host, port, _one_at_a_time(app), **kwargs)


server.run_simple = _run_simple_serialised

if __name__ == "__main__":
    server.main(sys.argv[1:])
