#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server for the m1rl CLI smoke tests (standard library only).

Pairwise prompts (built-in template): prefers the answer with more '*' characters. Grade prompts: grade 5 when
the RESPONSE block equals the GROUND TRUTH block, else 1. Prints "port N" once listening on 127.0.0.1.
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def block_after(text, label):
    m = re.search(re.escape(label) + r"\n<<(TEXT-[0-9a-f]{8})>>\n(.*?)\n<</\1>>", text, re.S)
    return m.group(2) if m else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        a, b = block_after(user, "ANSWER A:"), block_after(user, "ANSWER B:")
        if a is not None and b is not None:
            content = "Verdict: [[A]]" if a.count("*") > b.count("*") else "Verdict: [[B]]"
        else:
            same = block_after(user, "RESPONSE:") == block_after(user, "GROUND TRUTH:")
            content = "Grade: [[5]]" if same else "Grade: [[1]]"
        out = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
