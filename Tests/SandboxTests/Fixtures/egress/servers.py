"""Test servers for EgressTests (host side): HTTP and HTTPS on ADDRESS (a loopback address the
test chose), a test certificate for api.test and other.test, and a server that speaks first (an
SSH-style banner, then an echo). Prints {"http": P, "https": P, "banner": P} and serves until
stdin closes."""
import http.server
import json
import socketserver
import ssl
import sys
import threading

address, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1] if "to=" in self.path else "http://other.test/"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = ("hello from %s\n" % self.headers.get("Host", "?")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Banner(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"SSH-2.0-mcpbox-test\r\n")
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


class BannerServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


plain = Server((address, 0), Handler)
banner = BannerServer((address, 0), Banner)
threading.Thread(target=banner.serve_forever, daemon=True).start()
secure = Server((address, 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
for s in (plain, secure):
    threading.Thread(target=s.serve_forever, daemon=True).start()
print(json.dumps({"http": plain.server_address[1], "https": secure.server_address[1], "banner": banner.server_address[1]}), flush=True)
sys.stdin.read()
