# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fake upstream LLM provider for tests (stdlib only, one file).

Run as `python3 fake_provider.py --host 127.0.0.1 --port 18081 --log /path/arrivals.jsonl --reply "text"`.
It answers Anthropic `POST /v1/messages` and OpenAI `POST /v1/chat/completions` (streaming and not), echoing the model,
and appends one JSON line per arrival to --log: path, model, stream flag, and whether x-api-key / Authorization were
present with a SHA-256 prefix of their value (never the value), so tests can check what reached the provider.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def sha256_prefix(value):
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def sse(event, data):
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(data))).encode()


class FakeProvider(BaseHTTPRequestHandler):
    """Answers like a provider and records each arrival."""

    protocol_version = "HTTP/1.1"
    reply = "fake provider reply"
    log_path = None
    lock = threading.Lock()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Keep stderr quiet; arrivals go to the --log file."""

    def do_POST(self):  # pylint: disable=invalid-name
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        self.record(path, payload)
        model = payload.get("model", "")
        if path == "/v1/messages":
            self.messages(model, bool(payload.get("stream")))
        elif path == "/v1/chat/completions":
            self.chat(model, bool(payload.get("stream")))
        else:
            self.send_json(404, {"error": {"type": "not_found", "message": "unknown path"}})

    def record(self, path, payload):
        api_key = self.headers.get("x-api-key")
        authorization = self.headers.get("Authorization")
        bearer = authorization.partition(" ")[2].strip() if authorization else None
        entry = {"time": time.time(), "path": path, "model": payload.get("model"), "stream": bool(payload.get("stream")),
                 "x_api_key": api_key is not None, "x_api_key_sha256": sha256_prefix(api_key) if api_key else None,
                 "authorization": authorization is not None, "authorization_sha256": sha256_prefix(bearer) if bearer else None,
                 "anthropic_version": self.headers.get("anthropic-version")}
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_stream(self, parts):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in parts:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def messages(self, model, stream):
        message = {"id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": self.reply}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 3, "output_tokens": 4}}
        if not stream:
            self.send_json(200, message)
            return
        start = dict(message, content=[], stop_reason=None)
        self.send_stream([
            sse("message_start", {"type": "message_start", "message": start}),
            sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": self.reply}}),
            sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": 4}}),
            sse("message_stop", {"type": "message_stop"}),
        ])

    def chat(self, model, stream):
        if not stream:
            self.send_json(200, {"id": "chatcmpl-fake-1", "object": "chat.completion", "created": int(time.time()), "model": model,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
            return
        base = {"id": "chatcmpl-fake-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        chunks = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": self.reply}, "finish_reason": None}]),
                  dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])]
        self.send_stream([("data: %s\n\n" % json.dumps(chunk)).encode() for chunk in chunks] + [b"data: [DONE]\n\n"])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake upstream LLM provider for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--log", required=True, help="JSON-lines file that receives one line per arrival")
    parser.add_argument("--reply", default=FakeProvider.reply, help="text of every answer")
    args = parser.parse_args(argv)
    FakeProvider.reply = args.reply
    FakeProvider.log_path = args.log
    server = ThreadingHTTPServer((args.host, args.port), FakeProvider)
    server.daemon_threads = True

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("fake provider listening on %s:%d\n" % (args.host, args.port))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
