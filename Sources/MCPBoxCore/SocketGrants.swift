#if canImport(Glibc)
import Glibc
#endif

/// Host sockets a bind hands the server. Connecting to a Unix socket needs only write permission
/// on the socket file, which a read-only bind does not take away, so a read-only bind of the
/// caller's runtime directory reaches the D-Bus session bus (systemd-run --user: a program run
/// on the host), the ssh and gpg agents, and `/tmp/.X11-unix` reaches the X server (keystrokes).
extension PlanBuilder {
    /// The places known to hold host sockets, with what listens there.
    func socketPlaces() -> [(path: String, what: String)] {
        var places: [(String, String)] = []
        let runtime = "the caller's runtime directory (D-Bus session bus, ssh and gpg agents, systemd user manager)"
        if let x = host[env: "XDG_RUNTIME_DIR"].flatMap(Paths.normalize), x != "/" { places.append((x, runtime)) }
        places.append(("/run/user/\(host.callerUid)", runtime))
        places.append(("/run/user", "the users' runtime directories (D-Bus session buses, ssh and gpg agents)"))
        if let a = host[env: "SSH_AUTH_SOCK"].flatMap(Paths.normalize), a != "/" { places.append((a, "the ssh agent (SSH_AUTH_SOCK)")) }
        if let bus = host[env: "DBUS_SESSION_BUS_ADDRESS"] {
            for part in bus.split(separator: ";") {
                for kv in part.split(separator: ",") where kv.hasPrefix("unix:path=") || kv.hasPrefix("path=") {
                    let p = String(kv.split(separator: "=", maxSplits: 1).last ?? "")
                    if let n = Paths.normalize(p), n != "/" { places.append((n, "the D-Bus session bus (DBUS_SESSION_BUS_ADDRESS)")) }
                }
            }
        }
        places += [
            ("/run/dbus", "the D-Bus system bus"), ("/tmp/.X11-unix", "the X server (keystrokes into the caller's windows)"),
            ("/tmp/.ICE-unix", "the desktop session manager"), ("/run/docker.sock", "Docker (root on the host)"),
            ("/run/containerd", "containerd (root on the host)"), ("/run/podman", "Podman"),
            ("/run/systemd/private", "the systemd manager"), ("/run/snapd.socket", "snapd"),
        ]
        return places
    }

    /// Warns about binds that are a socket (by type or `.sock` name), or that contain or lie
    /// inside a place holding host sockets (unless hidden there); `filesystem.accept` of the
    /// place (or the bind) acknowledges it.
    func warnSockets(_ d: inout Draft) {
        let binds = d.mounts.compactMap { m -> (m: Mount, source: String)? in
            if case .bind(let source, _) = m.kind { (m, source) } else { nil }
        }
        guard !binds.isEmpty else { return }
        var seen = Set<String>()
        let places = socketPlaces().compactMap { p -> (String, String, String)? in
            guard seen.insert(p.path).inserted, HostFS.info(p.path, follow: false) != nil, let real = HostFS.realPath(p.path) else { return nil }
            return (p.path, real, p.what)
        }
        let view = SandboxView(mounts: d.mounts)
        for (m, source) in binds {
            let isSocket = HostFS.info(source).map { $0.mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) } ?? false
            if isSocket || m.target.hasSuffix(".sock") || Paths.basename(source).hasSuffix(".sock") {
                if acknowledged([m.target, source], reason: "socket", &d) { continue }
                d.warnings.append("filesystem: \(m.target) is a socket; whatever listens on it is reachable from the sandbox (\(m.origin))")
                continue
            }
            var warned = false
            for (place, real, what) in places {
                let inside: String
                if Paths.isWithin(source, real) { inside = m.target }
                else if Paths.isWithin(real, source) {
                    inside = Paths.join(m.target, Paths.remainder(real, under: source))
                    guard view.hostPath(inside) == real else { continue }
                } else { continue }
                warned = true
                if acknowledged([place, real, m.target, source], reason: "host sockets (\(what))", &d) { continue }
                d.warnings.append("filesystem: \(m.target) exposes \(place), \(what); its sockets are reachable from the sandbox, read-only binds included (\(m.origin)). "
                    + "Bind a narrower directory or hide \(inside), or acknowledge it: [filesystem] accept = [\"\(place)\"]")
                break
            }
            if warned { continue }
            if HostFS.info(Paths.join(source, "docker.sock"), follow: false) != nil {
                if acknowledged([m.target, source], reason: "contains docker.sock", &d) { continue }
                d.warnings.append("filesystem: \(m.target) contains docker.sock; access to Docker is root on the host (\(m.origin))")
            }
        }
    }
}
