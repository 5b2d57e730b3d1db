#!/usr/bin/python3
"""Captures the seeds of FuzzReplay.http_response: raw answers, as they came
off the wire, of tests/kube/kube_api_server.py (and the CONNECT answers of
tests/kube/connect_proxy.py). Run from the source tree:
  python3 tests/data/http-responses/capture.py tests/data/http-responses
"""
import json, os, socket, ssl, subprocess, sys, tempfile, time, urllib.request

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
kube = os.path.join(here, "..", "..", "kube")
tmp = tempfile.mkdtemp()
subprocess.run(["sh", os.path.join(kube, "make_certs.sh"), tmp + "/certs"], check=True,
               stdout=subprocess.DEVNULL)
srv = subprocess.Popen([sys.executable, os.path.join(kube, "kube_api_server.py"),
                        "--cert", tmp + "/certs/server.crt", "--key", tmp + "/certs/server.key",
                        "--client-ca", tmp + "/certs/ca.crt", "--ports-file", tmp + "/ports"])
proxy = subprocess.Popen([sys.executable, os.path.join(kube, "connect_proxy.py"),
                          "--ports-file", tmp + "/pports", "--log", tmp + "/plog",
                          "--require-auth", "a:b"])
while not (os.path.exists(tmp + "/ports") and os.path.exists(tmp + "/pports")):
    time.sleep(0.05)
api, control = map(int, open(tmp + "/ports").read().split())
pport = int(open(tmp + "/pports").read())


def ctl(method, path, body):
    urllib.request.urlopen(urllib.request.Request(
        "http://127.0.0.1:%d%s" % (control, path), data=json.dumps(body).encode(),
        method=method)).read()


ctl("PUT", "/__test/state", {"tokens": {"t": {"user": "admin", "admin": True}}, "nodes": [
    {"metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}},
     "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
    {"metadata": {"name": "node-b"}}]})
ctx = ssl.create_default_context(cafile=tmp + "/certs/ca.crt")


def fetch(name, method, path, token="t", body=b"", ctype=""):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", api)), server_hostname="localhost")
    req = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n" % (method, path, api, token)
    if body or method != "GET":
        req += "Content-Length: %d\r\n" % len(body)
    if ctype:
        req += "Content-Type: %s\r\n" % ctype
    req += "Connection: close\r\n\r\n"
    s.sendall(req.encode() + body)
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not d:
            break
        data += d
    open(os.path.join(out, name), "wb").write(data)


fetch("get-node.http", "GET", "/api/v1/nodes/node-a")
fetch("list-page.http", "GET", "/api/v1/nodes?limit=1")
fetch("not-found.http", "GET", "/api/v1/nodes/node-z")
fetch("unauthorized.http", "GET", "/api/v1/nodes/node-a", token="wrong")
fetch("patch-invalid.http", "PATCH", "/api/v1/nodes/node-a",
      body=b'{"metadata":{"labels":{"a":"bad value!"}}}', ctype="application/merge-patch+json")
ctl("POST", "/__test/faults", [{"method": "GET", "action": "status", "code": 429, "retry_after": 2}])
fetch("too-many-requests.http", "GET", "/api/v1/nodes/node-a")
ctl("POST", "/__test/faults", [{"method": "GET", "action": "chunked", "chunk": 64}])
fetch("chunked.http", "GET", "/api/v1/nodes/node-a")
for name, auth in (("proxy-connect-407.http", ""), ("proxy-connect-200.http", "Proxy-Authorization: Basic YTpi\r\n")):
    s = socket.create_connection(("127.0.0.1", pport))
    s.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (api, api, auth)).encode())
    time.sleep(0.3)
    s.settimeout(0.5)
    data = s.recv(65536)
    open(os.path.join(out, name), "wb").write(data)
    s.close()
srv.terminate()
proxy.terminate()
