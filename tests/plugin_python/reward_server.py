"""A local HTTP server answering as OpenRLHF's reward server does (openrlhf/cli/serve_rm.py at
3c3be62, get_reward): one reward per query, as a list, under "rewards" and "scores", for the tests
that run OpenRLHF's real agent executor against it."""
import http.server
import json
import threading


class RewardServer:
    """`score(query)` is each query's reward. A None fails the whole request with HTTP 500, as a
    server error would, so that the executor's own retries run."""

    def __init__(self, score):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rewards = [score(q) for q in data["query"]]
                if any(r is None for r in rewards):
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"rewards": rewards, "scores": rewards,
                                   "extra_logs": {"dummy_scores": rewards}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/get_reward"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
