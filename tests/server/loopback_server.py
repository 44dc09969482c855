"""`sparsegate serve` on a free loopback port, for Python tests that need a real service.

    server = LoopbackServer(binary, model_dir)   # returns once the binary prints "ready on port N"
    LoopbackServer(binary, model_dir, extra=["--allow-reload"])  # more `serve` flags
    server.target                                # "127.0.0.1:N"
    server.stop()
"""
import re
import subprocess
import threading


class LoopbackServer:
    def __init__(self, binary, model, timeout=120, extra=()):
        self.process = subprocess.Popen([binary, "serve", "--model", model, "--address", "127.0.0.1:0", *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = None
        lines = []
        found = threading.Event()

        def read():
            for line in self.process.stdout:
                lines.append(line)
                m = re.search(r"ready on port (\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            raise RuntimeError(f"server not ready in {timeout}s; stdout: {''.join(lines)!r}, "
                               f"stderr: {self.process.stderr.read()!r}")

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
