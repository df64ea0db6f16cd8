#!/usr/bin/env python3
"""remote_server.py — a small OpenAI-compatible test server that injects faults, for
tests/test_remote.sh and tests/test_remote.c (natter's remote backend, app/conv/remote.c).

Usage: python3 tests/remote_server.py PORTFILE LOGFILE
Binds 127.0.0.1 on a free port, writes the port to PORTFILE, and serves at most 400 requests,
exiting after 60 s without one (so a test that dies never leaves it behind). Every request is
appended to LOGFILE as one JSON line: path, whether the Authorization header carried the
expected key (never the key itself), and the body.

The request's "model" picks the behaviour: ok, echo (the request's fields as the answer),
length, cut (the stream stops mid-answer), malformed, big (an event over 1 MiB), errevent,
slow (pieces every 0.2 s, 100 of them; nocont: 20 every 0.1 s), stall (one piece, then silence), strict (HTTP 400 when
top_k is sent), nologprobs (HTTP 400 when top_k or logprobs is sent), random (a new text every time, whatever
the seed), and 401 403 404 429 500 503 (that status, with an error body; 429 has
Retry-After: 7). Asked for logprobs, ok and length give each piece's candidates (the piece at
90%, "Bye" at 5%); asked for stream_options.include_usage, a last chunk counts 7 + 3 tokens.
POST /v1/completions continues ("nocont" as the model: HTTP 404);
GET /v1/models lists two models; GET /props names a ChatML template, as llama.cpp's does.
"""
import json
import math
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = os.environ.get("REMOTE_TEST_KEY", "")
RANDOM_SERIAL = [0]  # "random" answers so far (see mode "random")


def chunk(text=None, finish=None, chat=True, probs=False):
    c = {"index": 0, "finish_reason": finish}
    if probs and text:
        c["logprobs"] = {"content": [{"token": text, "logprob": math.log(0.9), "top_logprobs": [
            {"token": "Bye", "logprob": math.log(0.05)}, {"token": text, "logprob": math.log(0.9)}]}]}
    if chat:
        c["delta"] = {"content": text} if text is not None else {}
    else:
        c["text"] = text or ""
    return {"id": "x", "object": "chat.completion.chunk", "model": "served-model-1",
            "system_fingerprint": "fp-test-42", "choices": [c]}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the stream ends when the connection closes

    def log_message(self, *a):
        pass

    def record(self, body):
        auth = self.headers.get("Authorization")
        entry = {"path": self.path, "auth": "none" if auth is None else
                 ("ok" if KEY and auth == "Bearer " + KEY else "other"), "body": body}
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send_json(self, code, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def sse(self, obj):
        s = obj if isinstance(obj, str) else json.dumps(obj)
        self.wfile.write(("data: " + s + "\n\n").encode())
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def do_GET(self):
        self.record(None)
        if self.path.endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "model-a", "object": "model"},
                                                            {"id": "model-b", "object": "model"}]})
        elif self.path == "/props":
            self.send_json(200, {"chat_template": "{% for message in messages %}{{'<|im_start|>' + "
                                 "message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
                                 "'\\n'}}{% endfor %}"})
        else:
            self.send_json(404, {"error": {"message": "no such path"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        self.record(body)
        mode = body.get("model", "ok")
        chat = self.path.endswith("/chat/completions")
        if self.path.endswith("/completions") and not chat:
            if mode == "nocont":
                return self.send_json(404, {"error": {"message": "no completions here"}})
            self.start_stream()
            for t in [" and", " then", " more"]:
                self.sse(chunk(t, chat=False))
                time.sleep(0.05)
            self.sse(chunk(None, "stop", chat=False))
            return self.sse("[DONE]")
        if not chat:
            return self.send_json(404, {"error": {"message": "no such path"}})
        if mode in ("401", "403", "404", "429", "500", "503"):
            extra = [("Retry-After", "7")] if mode == "429" else []
            return self.send_json(int(mode), {"error": {"message": "fault " + mode + "\x1b[31m"}},
                                  extra)
        if mode == "nologprobs" and ("top_k" in body or "logprobs" in body):
            return self.send_json(400, {"error": {"message": "logprobs are not supported"}})
        if mode == "strict" and "top_k" in body:
            return self.send_json(400, {"error": {"message": "Unrecognized request argument "
                                                  "supplied: top_k"}})
        self.start_stream()
        if mode == "random":  # a server that ignores the seed
            # Each answer opens with the next letter after "Random ", so two answers always
            # differ at character 7 (a clock's digits could share their first one).
            RANDOM_SERIAL[0] += 1
            self.sse(chunk("Random %s%d" % (chr(ord("A") + RANDOM_SERIAL[0] % 26),
                                           time.time_ns() % 1000000007)))
            self.sse(chunk(None, "stop"))
            return self.sse("[DONE]")
        if mode == "echo":
            fields = ["temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed",
                      "max_tokens", "presence_penalty", "frequency_penalty", "stop"]
            text = " ".join("%s=%s" % (k, json.dumps(body.get(k))) for k in fields)
            text += " messages=" + json.dumps(body.get("messages"))
            self.sse(chunk(text))
            self.sse(chunk(None, "stop"))
            return self.sse("[DONE]")
        self.wfile.write(b": a comment first\n\n")
        self.sse(chunk(None))  # the role-only first chunk servers send
        if mode in ("slow", "nocont"):
            n, pause = (100, 0.2) if mode == "slow" else (20, 0.1)
            for i in range(n):
                self.sse(chunk("w%d " % i))
                time.sleep(pause)
            self.sse(chunk(None, "stop"))
            return self.sse("[DONE]")
        if mode == "stall":
            self.sse(chunk("waiting"))
            time.sleep(20)
            return
        lp = bool(body.get("logprobs"))
        self.sse(chunk("Hello", probs=lp))
        self.sse(chunk(", world", probs=lp))
        if mode == "cut":
            return
        if mode == "malformed":
            return self.sse("{\"choices\": [")
        if mode == "big":
            return self.sse(chunk("x" * (1 << 20)))
        if mode == "errevent":
            return self.sse({"error": {"message": "the model crashed"}})
        self.sse(chunk("!", probs=lp))
        self.sse(chunk(None, "length" if mode == "length" else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            self.sse({"id": "x", "object": "chat.completion.chunk", "model": "served-model-1",
                      "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3,
                                               "total_tokens": 10}})
        self.sse("[DONE]")


class S(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-stream (Esc) is what some tests do


def main():
    srv = S(("127.0.0.1", 0), H)
    srv.timeout = 60
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    for _ in range(400):
        before = time.time()
        srv.handle_request()
        if time.time() - before >= 60:
            break


if __name__ == "__main__":
    main()
