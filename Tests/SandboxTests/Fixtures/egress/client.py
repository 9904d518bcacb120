"""Runs inside `mcpbox run` with network.mode = "allow" (EgressTests): every check tries one
thing through, or around, mcpbox's proxy and reports {"name": {"ok": bool, "detail": str}}.
Only harmless forms: the targets are the test's own servers and listeners."""
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

cfg = json.load(open(sys.argv[1]))
HP, SP = cfg["http_port"], cfg["https_port"]
PROXY = ("127.0.0.1", cfg["proxy_port"])
# The DNS stub's fake range: 198.18.0.0/15, or 127.198.0.0/16 under gVisor.
FAKE = bytes(cfg.get("fake_prefix", [198, 18]))
results = {}


def check(name):
    def wrap(fn):
        try:
            ok, detail = fn()
        except Exception as e:  # a check that crashes fails
            ok, detail = False, "exception: %r" % (e,)
        results[name] = {"ok": bool(ok), "detail": str(detail)[:300]}
        return fn
    return wrap


def get(url, **kw):
    ctx = ssl.create_default_context(cafile=cfg["ca"]) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=20, context=ctx, **kw) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def raw(request, read_until_close=True):
    """Sends bytes to the proxy, returns what it answered."""
    s = socket.create_connection(PROXY, timeout=30)
    s.sendall(request)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if not read_until_close and b"\r\n\r\n" in data:
            break
    s.close()
    return data


def status_of(data):
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line, (int(line.split()[1]) if line.startswith("HTTP/") and len(line.split()) > 1 else 0)


def refused_header(data):
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"x-mcpbox-refused:"):
            return line.decode(errors="replace")
    return ""


def connect_tunnel(host_port):
    s = socket.create_connection(PROXY, timeout=30)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host_port.encode(), host_port.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head


@check("proxy_variables_set")
def _():
    names = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"]
    missing = [n for n in names if not os.environ.get(n)]
    return not missing, "missing: %s" % missing


@check("http_allowed")
def _():
    code, body, _ = get("http://api.test:%d/" % HP)
    return code == 200 and "hello from api.test" in body, (code, body)


@check("https_allowed")
def _():
    code, body, _ = get("https://api.test:%d/" % SP)
    return code == 200 and "hello from api.test" in body, (code, body)


@check("https_allowed_wildcard")
def _():
    code, body, _ = get("https://www.wild.test:%d/" % SP)
    return code == 200, (code, body)


@check("name_not_allowed_403")
def _():
    code, body, headers = get("http://other.test:%d/" % HP)
    reason = headers.get("X-Mcpbox-Refused", "")
    return code == 403 and "no allow rule" in reason, (code, reason)


@check("denied_rule_wins")
def _():
    _, head = connect_tunnel("blocked.wild.test:%d" % SP)
    line, code = status_of(head)
    return code == 403 and "deny" in refused_header(head), (line, refused_header(head))


@check("redirect_to_other_host_refused")
def _():
    code, body, headers = get("http://api.test:%d/redirect?to=http://other.test:%d/" % (HP, HP))
    return code == 403 and "other.test" in headers.get("X-Mcpbox-Refused", ""), (code, headers.get("X-Mcpbox-Refused"))


@check("https_refused_for_other_name")
def _():
    try:
        get("https://other.test:%d/" % SP)
    except urllib.error.URLError as e:
        return "403" in str(e), str(e)
    return False, "fetched"


@check("connect_sni_mismatch_refused")
def _():
    s, head = connect_tunnel("api.test:%d" % SP)
    if not head.startswith(b"HTTP/1.1 200"):
        return False, head
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    try:
        t = ctx.wrap_socket(s, server_hostname="other.test")
        t.close()
        return False, "TLS handshake with another SNI succeeded"
    except (ssl.SSLError, OSError) as e:
        return True, str(e)


@check("connect_without_sni_refused")
def _():
    s, head = connect_tunnel("api.test:%d" % SP)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(s)  # no server_hostname: no SNI
        t.close()
        return False, "TLS handshake without SNI succeeded"
    except (ssl.SSLError, OSError) as e:
        return True, str(e)


for label, target in [("localhost", "localhost:%d" % cfg["host_listener_port"]),
                      ("127_0_0_1", "127.0.0.1:%d" % cfg["host_listener_port"]),
                      ("ipv6_loopback", "[::1]:%d" % cfg["host_listener_port"]),
                      ("metadata_169_254_169_254", "169.254.169.254:80"),
                      ("allowed_name_resolving_to_loopback", "rebind.test:%d" % HP),
                      ("allowed_name_resolving_to_cgnat", "cgnat.test:%d" % HP),
                      ("allowed_name_resolving_to_nat64_of_loopback", "nat64.test:%d" % HP)]:
    def make(target=target):
        def fn():
            _, head = connect_tunnel(target)
            line, code = status_of(head)
            reason = refused_header(head)
            # localhost is allowed by name: the host resolver (/etc/hosts, in the static binary
            # too) gives a loopback address, which is refused. cgnat.test and nat64.test are
            # mapped by [network] hosts to 100.64.0.1 and 64:ff9b::7f00:1 (127.0.0.1
            # through NAT64): refused by their class, never connected to.
            want = {"localhost": "loopback address", "rebind.test": "loopback address",
                    "cgnat.test": "shared address 100.64.0.1",
                    "nat64.test": "loopback address 64:ff9b::7f00:1 (NAT64 of 127.0.0.1)"}.get(target.split(":")[0], "")
            return code == 403 and reason != "" and want in reason, (line, reason)
        return fn
    check("connect_%s_refused" % label)(make())


@check("smuggling_host_differs_400")
def _():
    data = raw(b"GET http://api.test:%d/ HTTP/1.1\r\nHost: other.test:%d\r\n\r\n" % (HP, HP))
    line, code = status_of(data)
    return code == 400, line


@check("smuggling_crlf_in_target_400")
def _():
    data = raw(b"GET http://api.test:%d/\r\nHost: other.test HTTP/1.1\r\n\r\n" % HP)
    line, code = status_of(data)
    return code == 400, line


@check("smuggling_te_and_cl_400")
def _():
    data = raw(b"POST http://api.test:%d/ HTTP/1.1\r\nHost: api.test:%d\r\nContent-Length: 5\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (HP, HP))
    line, code = status_of(data)
    return code == 400, line


@check("overlong_head_refused")
def _():
    data = raw(b"GET http://api.test:%d/" % HP + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
    line, code = status_of(data)
    return code in (400, 431), line


@check("direct_connect_without_proxy_fails")
def _():
    # The test's server address, the host's loopback listener, a documentation address:
    # nothing answers (no route; a port captured inside the sandbox only for DNS-stub names).
    out = []
    for addr, port in [(cfg["server_address"], HP), ("127.0.0.1", cfg["host_listener_port"]), ("198.51.100.7", 80),
                       ("198.18.3.3", HP), ("127.198.3.3", HP)]:
        try:
            s = socket.create_connection((addr, port), timeout=5)
            s.sendall(b"GET / HTTP/1.0\r\nHost: api.test\r\n\r\n")
            data = s.recv(100)
            s.close()
            if data:
                out.append("%s:%d answered %r" % (addr, port, data[:40]))
        except OSError:
            pass
    return not out, out


def no_proxy_get(url):
    ctx = ssl.create_default_context(cafile=cfg["ca"]) if url.startswith("https") else None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
    with opener.open(url, timeout=20) as r:
        return r.status, r.read().decode()


@check("capture_http_without_proxy_works")
def _():
    code, body = no_proxy_get("http://api.test:%d/" % HP)
    return code == 200 and "hello from api.test" in body, (code, body)


@check("capture_https_without_proxy_works")
def _():
    code, body = no_proxy_get("https://api.test:%d/" % SP)
    return code == 200 and "hello from api.test" in body, (code, body)


@check("capture_name_not_allowed_fails")
def _():
    try:
        no_proxy_get("http://other.test:%d/" % HP)
        return False, "fetched"
    except OSError as e:
        return True, str(e)


@check("capture_sni_mismatch_refused")
def _():
    addr = socket.getaddrinfo("api.test", SP, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    s = socket.create_connection(addr, timeout=20)
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    try:
        ctx.wrap_socket(s, server_hostname="other.test").close()
        return False, "TLS handshake with another SNI succeeded"
    except (ssl.SSLError, OSError) as e:
        return True, str(e)


def dns_query(name, qtype=1):
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, ("127.0.0.1", 53))
    data = s.recv(4096)
    s.close()
    return data


@check("dns_stub_answers_allowed_with_fake_address")
def _():
    data = dns_query("api.test")
    rcode, ancount = data[3] & 0xF, int.from_bytes(data[6:8], "big")
    return rcode == 0 and ancount == 1 and data[-4:-2] == FAKE, data.hex()


@check("dns_stub_over_tcp")
def _():
    def ask(name):
        q = b"\x43\x21\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        for label in name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\x00\x00\x01\x00\x01"
        s.sendall(len(q).to_bytes(2, "big") + q)
        n = int.from_bytes(s.recv(2), "big")
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        return data
    s = socket.create_connection(("127.0.0.1", 53), timeout=5)
    ok = ask("api.test")
    refused = ask("secret-data.exfil.test")
    s.close()
    return ok[3] & 0xF == 0 and ok[-4:-2] == FAKE and refused[3] & 0xF == 5, (ok.hex(), refused.hex())


@check("dns_stub_refuses_other_names")
def _():
    data = dns_query("x" * 60 + ".exfil.test", 16)
    return data[3] & 0xF == 5, data.hex()


@check("udp_to_host_dns_listener_fails")
def _():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for addr in [cfg["server_address"], "127.0.0.1"]:
        try:
            s.sendto(b"mcpbox-udp-probe", (addr, cfg["udp_listener_port"]))
            sent += 1
        except OSError:
            pass
    return True, "sent %d datagrams (the host side checks nothing arrived)" % sent


@check("dns_tunnel_long_labels_fails")
def _():
    name = ".".join(["a" * 63] * 3) + ".exfil.test"
    try:
        socket.getaddrinfo(name, 80)
        return False, "resolved"
    except socket.gaierror as e:
        return True, str(e)


@check("many_connections_then_still_serving")
def _():
    socks = []
    for _ in range(1000):
        try:
            socks.append(socket.create_connection(PROXY, timeout=10))
        except OSError as e:
            break
    opened = len(socks)
    for s in socks:
        s.close()
    time.sleep(0.5)
    code, body, _ = get("http://api.test:%d/" % HP)
    return opened == 1000 and code == 200, "opened %d, then %s" % (opened, code)


@check("slowloris_closed_others_served")
def _():
    s = socket.create_connection(PROXY, timeout=60)
    s.sendall(b"GET http://api.test:%d/ HTTP/1.1\r\n" % HP)
    code, _, _ = get("http://api.test:%d/" % HP)  # served meanwhile
    data = b""
    try:
        while True:
            s.sendall(b"X-Slow: 1\r\n")
            s.settimeout(2)
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            except socket.timeout:
                pass
    except OSError:
        pass
    line, status = status_of(data)
    return code == 200 and (status == 408 or data == b""), (code, line)


if cfg.get("gvisor"):
    # Under gVisor the sandbox reaches mcpbox through Unix sockets bound at /.mcpbox/egress;
    # the server can connect to them itself, bypassing the forwarder: they must give it nothing
    # the forwarder's listeners do not.
    SOCKETS = "/.mcpbox/egress/"

    def unix(name):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(SOCKETS + name)
        return s

    def capture_header(addr, port):
        s = unix("capture.sock")
        s.sendall(socket.inet_aton(addr) + port.to_bytes(2, "big") + b"GET / HTTP/1.0\r\nHost: api.test\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        s.close()
        return data

    @check("gvisor_socket_proxy_same_rules")
    def _():
        out = []
        for target, want in [(b"api.test:%d" % HP, 200), (b"other.test:%d" % HP, 403), (b"127.0.0.2:%d" % cfg["host_listener_port"], 403)]:
            s = unix("proxy.sock")
            s.sendall(b"GET http://" + target + b"/ HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            line, code = status_of(data)
            out.append((target.decode(), code, line))
        return [c for _, c, _ in out] == [200, 403, 403], out

    @check("gvisor_socket_capture_raw_address_refused")
    def _():
        # A destination the DNS stub never handed out: the test's server address itself.
        data = capture_header(cfg["server_address"], HP)
        return data == b"", data[:80]

    @check("gvisor_socket_capture_uncaptured_port_refused")
    def _():
        # api.test's real fake address, on a port no allow rule names (so none is captured).
        fake = socket.getaddrinfo("api.test", HP, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        data = capture_header(fake, 9)
        return data == b"" and socket.inet_aton(fake)[:2] == FAKE, (fake, data[:80])

    @check("gvisor_socket_capture_header_allowed_works")
    def _():
        # The same header the forwarder writes: reaches api.test, as a capture does.
        fake = socket.getaddrinfo("api.test", HP, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        data = capture_header(fake, HP)
        return b"hello from api.test" in data, data[:120]

    @check("gvisor_socket_dns_refuses_other_names")
    def _():
        s = unix("dns.sock")
        q = b"\x43\x21\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06secret\x05exfil\x04test\x00\x00\x01\x00\x01"
        s.sendall(len(q).to_bytes(2, "big") + q)
        n = int.from_bytes(s.recv(2), "big")
        data = s.recv(n)
        s.close()
        return data[3] & 0xF == 5, data.hex()

    @check("gvisor_socket_dir_read_only")
    def _():
        out = []
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(SOCKETS + "mine.sock")
            out.append("bound a socket of its own")
        except OSError as e:
            pass
        for path in [SOCKETS + "proxy.sock", "/.mcpbox/mcpbox"]:
            try:
                os.unlink(path)
                out.append("unlinked " + path)
            except OSError:
                pass
        try:
            open("/.mcpbox/mcpbox", "r+b").close()
            out.append("opened the forwarder binary for writing")
        except OSError:
            pass
        return not out, out

    @check("gvisor_no_interface_but_lo")
    def _():
        names = sorted(n for _, n in socket.if_nameindex())
        return names == ["lo"], names

json.dump(results, sys.stdout)
sys.stdout.flush()
