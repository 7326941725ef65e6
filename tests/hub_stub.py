"""A stub of the Hugging Face Hub's HTTP API on 127.0.0.1, and the model card's front matter as the Hub reads it
(test_hub, test_model_card, test_export)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


def front_matter(card):
    """(YAML metadata, Markdown body) of a model card."""
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


class StubHub:
    """The endpoints HfApi.create_repo and upload_folder call (huggingface_hub 0.36): repos/create, validate-yaml,
    preupload (every file "regular", so no LFS transfer), commit (NDJSON, base64 contents). `reject` answers every
    request with that HTTP status instead."""

    def __init__(self, reject=None):
        self.requests, self.files, self.repos = [], {}, []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                hub.requests.append((path, self.headers.get("authorization")))
                if reject:
                    return self.reply(reject, {"error": "Invalid credentials in Authorization header"})
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo = "/".join(filter(None, (request.get("organization"), request["name"])))
                    hub.repos.append(repo)
                    return self.reply(200, {"url": f"{hub.url}/{repo}"})
                if path == "/api/validate-yaml":
                    return self.reply(200, {"errors": [], "warnings": []})
                parts = path.split("/")  # /api/models/<namespace>/<name>/(preupload|commit)/<revision>
                if len(parts) == 7 and parts[5] == "preupload":
                    files = json.loads(body)["files"]
                    return self.reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                       "shouldIgnore": False} for f in files]})
                if len(parts) == 7 and parts[5] == "commit":
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            hub.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    oid = "0" * 40
                    return self.reply(200, {"commitUrl": f"{hub.url}/{parts[3]}/{parts[4]}/commit/{oid}",
                                            "commitOid": oid, "pullRequestUrl": None})
                return self.reply(404, {"error": f"the stub has no {path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def unused_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
