#!/usr/bin/python3
"""A tiny HTTP CONNECT proxy for the Kubernetes client's proxy tests.

Written for this project (Python 3 standard library). It accepts
"CONNECT host:port HTTP/1.1" as an http:// proxy does (RFC 9110 section
9.3.6), answers "200 Connection established", and relays bytes both ways
until either side closes. Each CONNECT target (and its Proxy-Authorization,
if any) is appended to --log as one line "host:port auth", so a test can see
that its request went through the proxy. With --require-auth USER:PASS a
CONNECT without that Basic credential is answered 407; every other method
is 405.
"""

import argparse
import base64
import os
import select
import socket
import socketserver
import sys
import threading
import time


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)  # byte by byte: nothing past the header
            if not chunk:
                return
            head += chunk
            if len(head) > 65536:
                return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        auth = headers.get("proxy-authorization", "")
        with open(self.server.log, "a") as f:
            f.write("%s %s\n" % (parts[1] if len(parts) > 1 else "-", auth or "-"))
        if len(parts) != 3 or parts[0] != "CONNECT":
            s.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if self.server.require_auth:
            want = "Basic " + base64.b64encode(self.server.require_auth.encode()).decode()
            if auth != want:
                s.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                return
        host, _, port = parts[1].rpartition(":")
        try:
            up = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            s.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        s.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        s.settimeout(None)
        up.settimeout(None)
        socks = [s, up]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                for x in r:
                    data = x.recv(65536)
                    if not data:
                        return
                    (up if x is s else s).sendall(data)
        except OSError:
            pass
        finally:
            up.close()


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports-file", required=True, help="written as 'PORT' once it listens")
    ap.add_argument("--log", required=True)
    ap.add_argument("--require-auth", default="")
    args = ap.parse_args()
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.log = args.log
    srv.require_auth = args.require_auth
    open(args.log, "a").close()
    with open(args.ports_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(args.ports_file + ".tmp", args.ports_file)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
