"""Client for EgressProxyCommandTests: sends each case straight to the proxy on 127.0.0.1:PORT
(absolute-URI GET, or CONNECT then TLS with the CA) and prints {label: what came back}."""
import json
import socket
import ssl
import sys

proxy_port, ca, cases = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


out = {}
for label, kind, host, port, sni in cases:
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    try:
        if kind == "http":
            s.sendall(("GET http://%s:%d/ HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (host, port, host, port)).encode())
            out[label] = read_all(s).decode("latin-1")
            continue
        s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
        head = read_head(s)
        if not head.startswith(b"HTTP/1.1 200"):
            out[label] = head.decode("latin-1")
            continue
        if kind == "connect_banner":
            # The server speaks first; the client only answers it.
            s.settimeout(5)
            head, _, banner = head.partition(b"\r\n\r\n")
            head += b"\r\n\r\n"
            while not banner.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                banner += chunk
            s.sendall(b"ping")
            echo = s.recv(4096)
            out[label] = head.decode("latin-1") + banner.decode("latin-1") + "echo:" + echo.decode("latin-1")
            continue
        if kind in ("connect_after_alert", "connect_record_version_2"):
            # The ClientHello as Python's TLS makes it, then disguised: a warning alert record in
            # front (Go's crypto/tls skips it), or record version 2.x (Go accepts any below 16).
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ssl.create_default_context(cafile=ca).wrap_bio(incoming, outgoing, server_hostname=sni or host)
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            hello = outgoing.read()
            if kind == "connect_after_alert":
                hello = bytes([21, 3, 1, 0, 2, 1, 90]) + hello
            else:
                hello = hello[:1] + bytes([2]) + hello[2:]
            s.sendall(hello)
            out[label] = head.decode("latin-1") + repr(read_all(s))
            continue
        tls = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname=sni or host)
        tls.sendall(("GET / HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (host, port)).encode())
        out[label] = head.decode("latin-1") + read_all(tls).decode("latin-1")
    except Exception as e:  # reported, the test judges it
        out[label] = "error: %r" % (e,)
    finally:
        s.close()
print(json.dumps(out))
