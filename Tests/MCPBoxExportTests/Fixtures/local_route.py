"""Run inside a network namespace of the test's own (`unshare -n`): makes whole ranges local
(`ip route add local RANGE dev lo`, no interface holds their addresses), listens on every
address at a port, starts `mcpbox egress-proxy` with rules that map names into those ranges,
and asks the proxy to CONNECT to each. Prints one JSON object: each name's answer (status line
and X-Mcpbox-Refused) and how many connections the listener accepted (the canary: a proxy that
let one through reached a service bound to all interfaces). Nothing leaves the namespace.

Usage: local_route.py MCPBOX DIR"""
import json
import socket
import subprocess
import sys
import threading

mcpbox, work = sys.argv[1], sys.argv[2]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "route", "add", "local", "203.0.113.0/24", "dev", "lo"], check=True)
subprocess.run(["ip", "-6", "route", "add", "local", "2001:db8:77::/64", "dev", "lo"], check=True)

listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
listener.bind(("::", 0))
listener.listen(16)
port = listener.getsockname()[1]
accepted = []


def serve():
    while True:
        try:
            c, a = listener.accept()
        except OSError:
            return
        accepted.append(a[0])
        c.sendall(b"reached\n")
        c.close()


threading.Thread(target=serve, daemon=True).start()

# A range local only in a table a rule chooses by protocol and destination port (policy routing):
# `ip route get` without them finds no route; the proxy's TCP connection to the port is local.
subprocess.run(["ip", "-6", "route", "add", "local", "2001:db8:88::/64", "dev", "lo", "table", "100"], check=True)
subprocess.run(["ip", "-6", "rule", "add", "ipproto", "tcp", "dport", str(port), "lookup", "100", "pref", "50"], check=True)

rules = f"{work}/rules"
with open(rules, "w") as f:
    f.write(f"allow local4.test:{port}\nallow local6.test:{port}\nallow ported.test:{port}\nallow iface.test:{port}\n")
    f.write("host local4.test 203.0.113.77\nhost local6.test 2001:db8:77::5\nhost ported.test 2001:db8:88::1\n")
    # An address an interface holds, for comparison: refused before and after.
    f.write("host iface.test 127.0.0.1\n")
proxy = subprocess.Popen([mcpbox, "egress-proxy", "--rules", rules, "--listen", "127.0.0.1:0", "--log", f"{work}/events.jsonl"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
line = proxy.stdout.readline()
proxy_port = int(line.rsplit(":", 1)[1].split()[0])

answers = {}
for name in ("local4.test", "local6.test", "ported.test", "iface.test"):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    s.sendall(f"CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\n\r\n".encode())
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"HTTP/1.1 200"):
            data += s.recv(4096)
    except OSError as e:
        data += f"[{e}]".encode()
    s.close()
    answers[name] = data.decode("utf-8", "replace")
proxy.terminate()
proxy.wait()
print(json.dumps({"answers": answers, "accepted": accepted, "port": port}))
