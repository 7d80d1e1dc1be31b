#!/usr/bin/env python3
"""Peak memory of the exporter while a hostile queue list is read: issue 20's probe.

A fake Genesys Cloud on 127.0.0.1 answers its first read of the queue list with six
queues, then every read with PAGES pages of 100 queues named with NAME_BYTES bytes each,
new IDs on every page. The exporter (BIN, default target/release/genesys-exporter) runs
against it with the defaults but `queue_names_refresh = "1s"`. The script prints VmRSS
after the first read (the steady state), then VmHWM (the peak) and the read outcomes
after READS hostile reads, and the bound `max_directory_bytes` (EXTRA adds config lines).

    cargo build --release && python3 benches/directory_memory.py
    PAGES=400 READS=3 EXTRA='max_directory_bytes = 8388608' python3 benches/directory_memory.py

Only 127.0.0.1; it stops the exporter and itself at the end.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGES = int(os.environ.get("PAGES", "40"))
NAME_BYTES = int(os.environ.get("NAME_BYTES", "100000"))
READS = int(os.environ.get("READS", "5"))
BIN = os.environ.get("BIN", "target/release/genesys-exporter")
EXTRA = os.environ.get("EXTRA", "")

state = {"requests": 0, "hostile": False}
lock = threading.Lock()
NAME = "n" * NAME_BYTES


class Fake(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        if self.path.startswith("/oauth/token"):
            self.answer({"access_token": "tok", "token_type": "bearer", "expires_in": 86400})
        else:
            self.answer({"results": []})

    def do_GET(self):
        if self.path.startswith("/api/v2/routing/queues"):
            with lock:
                state["requests"] += 1
                n = state["requests"]
                hostile = state["hostile"]
            if not hostile:
                entities = [{"id": f"q{i}", "name": f"Queue {i}"} for i in range(6)]
                self.answer({"entities": entities, "pageCount": 1})
                return
            entities = [{"id": f"r{n}-{i}", "name": NAME} for i in range(100)]
            self.answer({"entities": entities, "pageCount": PAGES})
        elif self.path.startswith("/api/v2/presence/definitions"):
            self.answer({"entities": []})
        else:
            self.answer({})


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def value(text, name):
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    port = 19000 + os.getpid() % 1000
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write(
                f'client_id = "id"\nclient_secret = "secret"\napi_url = "{url}"\nlogin_url = "{url}"\n'
                f'listen = "127.0.0.1:{port}"\nqueue_names_refresh = "1s"\napi_budget_share = 1.0\n{EXTRA}\n'
                '[observations]\nenabled = false\n'
                '[[queries]]\nname = "q"\ngroup_by = ["queueId", "mediaType"]\nmetrics = ["nOffered"]\n'
            )
        log = open(os.path.join(tmp, "log"), "w")
        process = subprocess.Popen([BIN, "--config", config], stdout=log, stderr=log)
        try:
            for _ in range(100):
                try:
                    if value(scrape(port), "genesys_queue_names") == 6:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            time.sleep(2)
            steady = status(process.pid, "VmRSS")
            with lock:
                state["hostile"] = True
                start = state["requests"]
            while True:
                time.sleep(1)
                text = scrape(port)
                with lock:
                    pages = state["requests"] - start
                # READS whole reads, or READS reads stopped at the bound.
                stopped = value(text, "genesys_directory_over_limit_total")
                if pages >= READS * PAGES or stopped >= READS:
                    break
            peak = status(process.pid, "VmHWM")
            print(f"pages {PAGES} x 100 queues of {NAME_BYTES}-byte names, {pages} pages read")
            print(f"steady VmRSS {steady / 1024:.1f} MiB, peak VmHWM {peak / 1024:.1f} MiB, growth {(peak - steady) / 1024:.1f} MiB")
            print(f"genesys_directory_over_limit_total {value(text, 'genesys_directory_over_limit_total'):.0f}, "
                  f"genesys_queue_names {value(text, 'genesys_queue_names'):.0f}, "
                  f"genesys_label_values_truncated_total {value(text, 'genesys_label_values_truncated_total'):.0f}")
            print(f"alive: {process.poll() is None}")
            if os.environ.get("LOG"):
                log.flush()
                with open(os.path.join(tmp, "log")) as f:
                    print(f.read()[-3000:])
        finally:
            process.terminate()
            process.wait()
            server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
