import Foundation
import MCPBoxCore
@testable import MCPBoxExport
import MCPBoxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gVisor started by an ordinary user: which ids runsc's user namespace maps, every refusal,
/// what explain says, and which directories may hold the bundle (no runsc run here; the
/// SandboxTests and EndToEndTests run it for real).
@Suite("gVisor for an ordinary user: user namespace, refusals, bundle directory")
struct GVisorRootlessTests {
    let tmp: TempDir

    init() throws { tmp = try TempDir(prefix: "mcpbox-gvrootless") }

    /// Host databases for an ordinary caller `alice` (uid 1000) and a server account `srv`.
    func accounts(subuid: String, subgid: String) throws -> Accounts {
        let root = try tmp.makeDir("host-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let files = ["passwd": "alice:x:1000:1000::/home/alice:/bin/bash\nsrv:x:165535:165535::/nonexistent:/usr/sbin/nologin\n",
                     "group": "alice:x:1000:\nsrv:x:165535:\n", "subuid": subuid, "subgid": subgid]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/etc/" + name)) }
        return Accounts(root: root)
    }

    /// The plan `alice` gets for a gVisor profile (memory applied only when `memoryCgroup`).
    func plan(_ accounts: Accounts, extra: String = "", memoryCgroup: Bool = false) throws -> SandboxPlan {
        let dir = try tmp.makeDir("profiles-\(UInt32.random(in: 0...UInt32.max))")
        _ = try tmp.write(String(dir.dropFirst(tmp.path.count + 1)) + "/g.toml",
                          "extends = [\"base\"]\n\n[isolation]\nruntime = \"gvisor\"\nrunsc = \"/bin/true\"\n" + extra)
        let env = ["HOME": "/home/alice", "PATH": "/usr/bin:/bin"]
        let profile = try ProfileLoader(searchPath: [dir, TestSupport.profilesDir], variables: [:], environment: env, callerUid: 1000,
                                        commandLine: ["/bin/true"]).load("g")
        let host = HostContext(callerUid: 1000, callerGid: 1000, environment: env.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                               accounts: accounts, memoryCgroup: (memoryCgroup, memoryCgroup ? "test host" : "not writable here"))
        return try PlanBuilder(profile: profile, host: host, command: ["/bin/true"]).build()
    }

    func prepare(_ plan: SandboxPlan, _ accounts: Accounts, helpers: Bool = true,
                 isDirectory: (String) -> Bool? = { _ in true }) -> Result<GVisorRuntime.Prepared, GVisorRuntime.Refusal> {
        GVisorRuntime.prepare(plan, euid: 1000, isDirectory: isDirectory) {
            GVisorUserNamespace.forCaller($0, accounts: accounts, executable: { _ in helpers })
        }
    }

    @Test("the caller's own ids map to themselves, runsc's root and gVisor's nobody to the two highest subordinate ids that name no account (srv is 165535); explain says so")
    func mapsAndExplain() throws {
        defer { tmp.remove() }
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "1000:200000:10\n")
        let prepared = try prepare(try plan(a), a).get()
        let ns = try #require(prepared.userNamespace)
        #expect(ns == GVisorUserNamespace(rootUid: 165534, rootGid: 200009, nobodyUid: 165533, nobodyGid: 200008, ownUids: [1000], ownGids: [1000]))
        #expect(ns.uidMap == ["0", "165534", "1", "1000", "1000", "1", "65534", "165533", "1"])
        #expect(ns.gidMap == ["0", "200009", "1", "1000", "1000", "1", "65534", "200008", "1"])
        #expect(prepared.flags.contains("--ignore-cgroups") && !prepared.flags.contains("--rootless"), "\(prepared.flags)")
        let identity = try #require(prepared.rows.first { $0.restriction == "identity" })
        #expect(identity.status == .carried)
        for fragment in ["the server runs as 1000:1000 (alice) in gVisor's kernel", "owned by 1000:1000 on the host",
                         "uids 0->165534, 1000->1000, 65534->165533; gids 0->200009, 1000->1000, 65534->200008",
                         "runs as 165533:200008", "gofer) as 165534:200009", "host root never", "without the caller's supplementary groups"] {
            #expect(identity.detail.contains(fragment), "\(fragment): \(identity.detail)")
        }
        let namespaces = try #require(prepared.rows.first { $0.restriction == "namespaces" })
        #expect(namespaces.detail.contains("mcpbox puts runsc in a user namespace of its own"), "\(namespaces.detail)")
        #expect(GVisorRuntime.explainText(prepared).contains("65534->165533"))
        let json = GVisorRuntime.explainNode(prepared.plan, prepared).json().filter { $0 != " " && $0 != "\n" }
        #expect(json.contains(#""user_namespace":{"uid_map":[[0,165534,1],[1000,1000,1],[65534,165533,1]],"gid_map":[[0,200009,1],[1000,1000,1],[65534,200008,1]],"runsc":{"uid":165534,"gid":200009},"sandbox":{"uid":165533,"gid":200008}}"#), "\(json)")
    }

    @Test("every bind's mount point is in the bundle (written by the caller): runsc's gofer, a subordinate id, creates none the caller cannot remove")
    func mountPointsPremade() throws {
        defer { tmp.remove() }
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        let rw = try tmp.makeDir("deep/rw")
        let prepared = try prepare(try plan(a, extra: "\n[filesystem]\nread_write = [\(tomlString(rw))]\n"), a, isDirectory: BundleWriter.isDirectory).get()
        let entries = prepared.bundle.entries
        var parent = "rootfs"
        for part in rw.split(separator: "/") {
            parent += "/" + part
            #expect(entries.contains(.dir(parent)), "\(parent) missing from \(entries)")
        }
        #expect(entries.contains(.file("rootfs/dev/null", "")) && entries.contains(.file("rootfs/etc/passwd", "")), "\(entries)")
        // Root's bundle is the export's: runsc's root is root, who removes what it creates.
        let root = try GVisorRuntime.prepare(try plan(a, extra: "\n[filesystem]\nread_write = [\(tomlString(rw))]\n"), euid: 0, isDirectory: { _ in true }).get()
        #expect(!root.bundle.entries.contains(.dir("rootfs" + rw)))
    }

    @Test("a [user] account from the caller's subordinate range maps to itself and is never picked for runsc")
    func subordinateAccount() throws {
        defer { tmp.remove() }
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        let prepared = try prepare(try plan(a, extra: "\n[user]\nname = \"srv\"\n"), a).get()
        let ns = try #require(prepared.userNamespace)
        #expect(ns.ownUids == [1000, 165535] && ns.ownGids == [1000, 165535])
        #expect(ns.rootUid == 165534 && ns.nobodyUid == 165533 && ns.rootGid == 165534 && ns.nobodyGid == 165533)
        #expect(ns.uidMap == ["0", "165534", "1", "1000", "1000", "1", "165535", "165535", "1", "65534", "165533", "1"])
        let identity = try #require(prepared.rows.first { $0.restriction == "identity" })
        #expect(identity.detail.contains("the server runs as 165535:165535 (srv)") && identity.detail.contains("1000->1000 (the caller"), "\(identity.detail)")
    }

    @Test("an id of the caller's range that names an account or group (another profile's [user] account) is never runsc's or gVisor's sandbox's")
    func namedIdsNeverPicked() throws {
        defer { tmp.remove() }
        // srv (uid and gid 165535, the top of alice's ranges) is a server account of other profiles;
        // this profile runs as alice herself. A group alone (165534) counts too.
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        try Data("alice:x:1000:\nsrv:x:165535:\nshared:x:165534:\n".utf8).write(to: URL(fileURLWithPath: a.subuidPath.replacingOccurrences(of: "subuid", with: "group")))
        let b = Accounts(root: String(a.subuidPath.dropLast("/etc/subuid".count)))
        let ns = try #require(try prepare(try plan(b), b).get().userNamespace)
        #expect(![ns.rootUid, ns.nobodyUid].contains(165535) && ![ns.rootGid, ns.nobodyGid].contains(165535), "\(ns)")
        #expect(ns.rootUid == 165534 && ns.nobodyUid == 165533, "\(ns)")
        #expect(ns.rootGid == 165533 && ns.nobodyGid == 165532, "\(ns)")
    }

    @Test("fewer than two subordinate ids (none, one, or only the server's): refused, naming the file and the fix")
    func tooFewSubordinateIds() throws {
        defer { tmp.remove() }
        for (subuid, subgid, file) in [("", "alice:100000:65536\n", "/etc/subuid"), ("alice:100000:65536\n", "alice:5:1\n", "/etc/subgid"),
                                       ("bob:100000:65536\n", "bob:100000:65536\n", "/etc/subuid and ")] {
            let a = try accounts(subuid: subuid, subgid: subgid)
            guard case .failure(let r) = prepare(try plan(a), a) else {
                Issue.record("accepted with subuid \(subuid.debugDescription), subgid \(subgid.debugDescription)")
                continue
            }
            #expect(r.message.contains("needs two subordinate uids and two subordinate gids of alice's") && r.message.contains(file), "\(r.message)")
            #expect(r.hint.contains("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"), "\(r.hint)")
        }
        // The server's own id is the whole range: it is never handed to runsc.
        let a = try accounts(subuid: "alice:165535:1\nalice:100:1\n", subgid: "alice:100000:65536\n")
        guard case .failure(let r) = prepare(try plan(a, extra: "\n[user]\nname = \"srv\"\n"), a) else {
            Issue.record("accepted with the server's uid as one of runsc's")
            return
        }
        #expect(r.message.contains("/etc/subuid"), "\(r.message)")
    }

    @Test("no newuidmap/newgidmap, or a memory/cpu limit the plan applies: refused, no fallback")
    func otherRefusals() throws {
        defer { tmp.remove() }
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        guard case .failure(let r) = prepare(try plan(a), a, helpers: false) else {
            Issue.record("accepted without newuidmap")
            return
        }
        #expect(r.message.contains("/usr/bin/newuidmap") && r.hint.contains("apt-get install uidmap"), "\(r)")
        guard case .failure(let m) = prepare(try plan(a, memoryCgroup: true), a) else {
            Issue.record("accepted a memory limit runsc cannot apply without root")
            return
        }
        #expect(m.message.contains("cannot apply limits.memory or limits.cpu"), "\(m)")
        // Root still gets the cgroup (no user namespace at all).
        let root = GVisorRuntime.prepare(try plan(a, memoryCgroup: true), euid: 0, isDirectory: { _ in true }) { _ in
            Issue.record("root asked for a user namespace")
            return .failure(GVisorRuntime.Refusal(message: "", hint: ""))
        }
        #expect(try root.get().userNamespace == nil)
    }

    @Test("the bundle directory: the caller's, 0700, below directories only root or the caller can write (sticky root-owned ones allowed)")
    func bundleDirectory() throws {
        defer { tmp.remove() }
        let me = geteuid()
        let ok = try tmp.makeDir("ok/run/mcpbox/gvisor", mode: 0o700)
        #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me) == nil)
        chmod(ok, 0o750)
        #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me)?.contains("open to no one else") == true)
        chmod(ok, 0o700)
        #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me + 1)?.contains("must be owned by uid \(me + 1)") == true)
        // A parent anyone may write, without the sticky bit: refused; with it (root-owned): allowed.
        let parent = tmp.sub("ok/run")
        chmod(parent, 0o777)
        #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me)?.hasPrefix("\(parent) must be owned by root or uid \(me) and writable by no one else") == true)
        chmod(parent, 0o1777)
        if me == 0 { #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me) == nil) }
        chmod(parent, 0o775)
        #expect(GVisorUserNamespace.unsafeComponent(ok, uid: me) != nil)
        chmod(parent, 0o755)
        let link = tmp.sub("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: ok)
        #expect(GVisorUserNamespace.unsafeComponent(link, uid: me)?.contains("must be a directory") == true)
    }

    @Test("where the bundle directory is: XDG_RUNTIME_DIR, else XDG_STATE_HOME, else HOME's .local/state")
    func baseDirOrder() {
        defer { tmp.remove() }
        let all = ["XDG_RUNTIME_DIR": "/run/user/1000", "XDG_STATE_HOME": "/home/a/.st", "HOME": "/home/a"]
        #expect(GVisorUserNamespace.baseDir { all[$0] } == "/run/user/1000/mcpbox/gvisor")
        #expect(GVisorUserNamespace.baseDir { $0 == "XDG_RUNTIME_DIR" ? "relative" : all[$0] } == "/home/a/.st/mcpbox/gvisor")
        #expect(GVisorUserNamespace.baseDir { $0 == "HOME" ? all[$0] : nil } == "/home/a/.local/state/mcpbox/gvisor")
    }

    @Test("a bind (or a directory above it) whose owner or group is outside the map and that others may not use is warned about: path, ids, mode and the fix, in the plan's warnings explain shows; mapped or open ones are not")
    func unusableBindsWarned() throws {
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let a = try accounts(subuid: "alice:100000:65536\n", subgid: "alice:100000:65536\n")
        let own = try tmp.makeDir("own", mode: 0o700), otherGroup = try tmp.makeDir("other-group", mode: 0o750)
        let rootOnly = try tmp.makeDir("root-only", mode: 0o700), open = try tmp.makeDir("open", mode: 0o755)
        _ = try tmp.makeDir("closed", mode: 0o700)
        let inner = try tmp.makeDir("closed/inner", mode: 0o755), rwOpen = try tmp.makeDir("rw-open", mode: 0o755)
        chown(own, 1000, 1000)
        chown(otherGroup, 1000, 4242)
        let extra = "\n[filesystem]\nread_only = [\([own, otherGroup, rootOnly, open, inner].map(tomlString).joined(separator: ", "))]\n"
            + "read_write = [\(tomlString(rwOpen))]\n"
        let prepared = try prepare(try plan(a, extra: extra), a).get()
        let ids = "(uids 1000, 165533, 165534; gids 1000, 165533, 165534)"
        let tail = "; or start mcpbox as root, or set [isolation] runtime = \"native\")"
        let expected = [
            "gvisor: filesystem.read_only \(otherGroup) (g.toml: filesystem.read_only) is unusable inside: runsc's file proxy cannot read it (owner 1000, group 4242, mode 750): "
                + "started by an ordinary user, runsc reaches only files whose owner and group are both mapped \(ids) and, for any other, what its permission bits allow everyone, even to its owner "
                + "(fix: chgrp 1000 \(otherGroup), or chmod o+rx \(otherGroup)" + tail,
            "gvisor: filesystem.read_only \(rootOnly) (g.toml: filesystem.read_only) is unusable inside: runsc's file proxy cannot read it (owner 0, group 0, mode 700): "
                + "started by an ordinary user, runsc reaches only files whose owner and group are both mapped \(ids) and, for any other, what its permission bits allow everyone, even to its owner "
                + "(fix: chmod o+rx \(rootOnly)" + tail,
            "gvisor: filesystem.read_only \(inner) (g.toml: filesystem.read_only) is unusable inside: runsc's file proxy cannot search the directory \(tmp.sub("closed")) above it (owner 0, group 0, mode 700): "
                + "started by an ordinary user, runsc reaches only files whose owner and group are both mapped \(ids) and, for any other, what its permission bits allow everyone, even to its owner "
                + "(fix: chmod o+x \(tmp.sub("closed"))" + tail,
            "gvisor: filesystem.read_write \(rwOpen) (g.toml: filesystem.read_write) is unusable inside: runsc's file proxy cannot read and write it (owner 0, group 0, mode 755): "
                + "started by an ordinary user, runsc reaches only files whose owner and group are both mapped \(ids) and, for any other, what its permission bits allow everyone, even to its owner "
                + "(fix: chmod o+rwx \(rwOpen)" + tail,
        ]
        // In the plan's mount order.
        #expect(prepared.warnings.sorted() == expected.sorted(), "\(prepared.warnings)")
        #expect(Array(prepared.plan.warnings.suffix(4)) == prepared.warnings)
        let text = Explain.text(prepared.plan)
        for w in expected { #expect(text.contains("  ! " + w), "\(w)") }
        let json = try #require(JSONSerialization.jsonObject(with: Data(ExplainJSON.render(prepared.plan).utf8)) as? [String: Any])
        #expect(Array((json["warnings"] as? [String] ?? []).suffix(4)) == prepared.warnings)
        // Root's gVisor maps no namespace: nothing to warn about; the base profile's binds are open.
        #expect(try prepare(try plan(a), a).get().warnings.isEmpty)
    }
}

