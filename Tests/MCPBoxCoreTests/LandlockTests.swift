import Foundation
import Testing
@testable import MCPBoxCore

/// The Landlock side of a plan: derivation, ABI masking, the profile key, explain. No privileges.
@Suite struct LandlockTests {
    static let mounts: [Mount] = [
        Mount(target: "/usr", kind: .bind(source: "/usr", readOnly: true), origin: "base.toml: filesystem.read_only"),
        Mount(target: "/srv/repo", kind: .bind(source: "/data/repo", readOnly: false), origin: "p.toml: filesystem.read_write"),
        Mount(target: "/srv/repo/.git/hooks", kind: .bind(source: "/data/repo/.git/hooks", readOnly: true), origin: "p.toml: filesystem.read_only"),
        Mount(target: "/srv/repo/.env", kind: .hide(isDirectory: false), origin: "p.toml: filesystem.hide"),
        Mount(target: "/bin", kind: .symlink(to: "usr/bin"), origin: "base.toml: filesystem.read_only"),
        Mount(target: "/tmp", kind: .tmpfs(sizeBytes: 1 << 20), origin: "mcpbox default"),
        Mount(target: "/proc", kind: .proc, origin: "mcpbox default"),
        Mount(target: "/dev", kind: .dev, origin: "mcpbox default"),
        Mount(target: "/etc/passwd", kind: .file(contents: "x"), origin: "mcpbox: identity"),
    ]

    func rule(_ p: LandlockPolicy, _ path: String) -> LandlockRule? { p.rules.first { $0.path == path } }

    @Test func rulesFollowTheMountsAndNothingElse() {
        let p = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .bestEffort, origin: "mcpbox default", abi: 7)
        #expect(p.enforced)
        #expect(rule(p, "/usr")?.access == [.readFile, .readDir, .execute])
        #expect(rule(p, "/usr")?.kind == .readOnly)
        let rw = rule(p, "/srv/repo")?.access ?? []
        #expect(rw.isSuperset(of: [.readFile, .readDir, .execute, .writeFile, .makeReg, .makeDir, .removeFile, .removeDir,
                                   .makeSym, .makeSock, .makeFifo, .refer, .truncate, .ioctlDev]))
        #expect(!rw.contains(.makeChar) && !rw.contains(.makeBlock))
        #expect(rule(p, "/tmp")?.access == rw)
        #expect(rule(p, "/srv/repo/.git/hooks")?.access == [.readFile, .readDir, .execute])
        #expect(rule(p, "/proc")?.access == [.readFile, .readDir])
        #expect(rule(p, "/etc/passwd")?.access == [.readFile])
        for node in LandlockPolicy.deviceNodes {
            #expect(rule(p, node)?.access == [.readFile, .writeFile, .truncate, .ioctlDev], "\(node)")
        }
        #expect(rule(p, "/dev/shm")?.access == rw)
        // Nothing for /, /dev itself, hides or mirrored symlinks.
        for path in ["/", "/dev", "/srv/repo/.env", "/bin", "/srv", "/etc"] { #expect(rule(p, path) == nil, "\(path)") }
        #expect(p.rules.count == 6 + LandlockPolicy.deviceNodes.count + 1)
        #expect(p.handledFS == LandlockAccess.filesystem(abi: 7))
        #expect(p.handledFS.contains(.makeChar) && p.handledFS.contains(.makeBlock))
        #expect(p.tcpBind == nil && p.tcpConnect == nil && p.scoped)
        #expect(p.tcpText == "bind: any port; connect: any port")
        #expect(p.notes.contains { $0.hasPrefix("TCP bind and connect are not limited to ports: only the sandbox's own loopback") })
        #expect(p.rules.first { $0.path == "/usr" }?.origin == "base.toml: filesystem.read_only")
    }

    @Test func rightsAreMaskedToTheProbedABI() {
        for abi in 1...7 {
            let p = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .require, origin: "x", abi: abi)
            let handled = LandlockAccess.filesystem(abi: abi)
            #expect(p.handledFS == handled)
            #expect(handled.contains(.refer) == (abi >= 2))
            #expect(handled.contains(.truncate) == (abi >= 3))
            #expect(handled.contains(.ioctlDev) == (abi >= 5))
            for r in p.rules { #expect(handled.isSuperset(of: r.access), "ABI \(abi) \(r.path)") }
            let ports = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .require, origin: "x", abi: abi,
                                              tcpBind: [], tcpConnect: [443])
            #expect(ports.tcpBind == (abi >= 4 ? [] : nil) && ports.tcpConnect == (abi >= 4 ? [443] : nil))
            #expect(ports.notes.contains { $0.contains("are NOT enforced") } == (abi < 4))
            #expect(p.scoped == (abi >= 6))
            #expect(p.notes.contains { $0.contains("predates scoping") } == (abi < 6))
            #expect(p.notes.contains { $0.contains("EXDEV") } == (abi < 2))
        }
    }

    @Test func tcpPortsAreLimitedOnlyWhenNamed() {
        let p = LandlockPolicy.derive(mounts: Self.mounts, network: .host, mode: .bestEffort, origin: "x", abi: 7)
        #expect(p.tcpBind == nil && p.tcpConnect == nil && p.scoped)
        #expect(p.notes.contains { $0.contains("the host's network is shared (network.mode = \"host\")") })
        let q = LandlockPolicy.derive(mounts: Self.mounts, network: .host, mode: .bestEffort, origin: "x", abi: 7,
                                      tcpBind: [], tcpConnect: [443, 80])
        #expect(q.tcpText == "bind: no port (denied); connect: only ports 443, 80")
        #expect(!q.notes.contains { $0.hasPrefix("TCP") })
        let r = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .bestEffort, origin: "x", abi: 7, tcpConnect: [8080])
        #expect(r.notes.contains { $0.hasPrefix("TCP bind is not limited to ports") })
        let arena = Arena()
        defer { arena.free() }
        let c = q.cDescription(arena)
        #expect(c?.pointee.handled_net == 3 && c?.pointee.n_ports == 2)
        #expect(c.map { [$0.pointee.ports[0].port, $0.pointee.ports[1].port] } == [443, 80])
        #expect(c?.pointee.ports[0].access == 2)
        let d = r.cDescription(arena)
        #expect(d?.pointee.handled_net == 2 && d?.pointee.n_ports == 1)
    }

    @Test func tcpPortKeysAreValidatedAndMerged() throws {
        let (s, file) = setup("extends = [\"base\"]\n[landlock]\ntcp_connect = [443, 70000, \"x\"]\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 7))
        #expect(errs.contains { $0.file == file && $0.line == 3 && $0.key == "landlock.tcp_connect"
                && $0.message == "element 2: expected a port number from 0 to 65535, found 70000" }, "\(errs)")
        #expect(errs.contains { $0.message == "element 3: expected a port number from 0 to 65535, found string" }, "\(errs)")
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n[landlock]\ntcp_connect = [443]\n")
        s.write("p.toml", "extends = [\"base\"]\n[landlock]\ntcp_connect = [80, 443]\ntcp_bind = []\n")
        let plan = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        #expect(plan.landlock.tcpConnect == [443, 80] && plan.landlock.tcpBind == [])
        // require with ports on a kernel before ABI 4 is refused; best-effort says they are not enforced.
        s.write("p.toml", "extends = [\"base\"]\n[landlock]\nmode = \"require\"\n")
        let old = Fixture.errors("p", dirs: [s.path], host: host(abi: 3))
        #expect(old.contains { $0.key == "landlock.tcp_connect" && $0.message.contains("ABI 3 predates network rules") }, "\(old)")
        s.write("p.toml", "extends = [\"base\"]\n")
        let be = try Fixture.plan("p", dirs: [s.path], host: host(abi: 3)).get()
        #expect(be.landlock.tcpConnect == nil && be.landlock.notes.contains { $0.contains("are NOT enforced") })
    }

    @Test func whatTheMountViewAloneEnforcesIsNamed() {
        let p = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .bestEffort, origin: "x", abi: 7)
        #expect(p.notes.contains { $0.hasPrefix("/srv/repo/.git/hooks is read-only through the mount view only") })
        #expect(p.notes.contains { $0.hasPrefix("hidden /srv/repo/.env is masked by the mount view only") })
        #expect(p.notes.contains { $0.hasPrefix("`hide` is enforced by the mount view only") })
        #expect(!p.notes.contains { $0.hasPrefix("/usr ") })
    }

    @Test func offAndMissingKernelApplyNothing() {
        let off = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .off, origin: "x", abi: 7)
        #expect(!off.enforced && off.rules.isEmpty && off.tcpBind == nil && off.tcpConnect == nil && !off.scoped)
        #expect(off.statusText.hasPrefix("off: not applied"))
        let none = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .bestEffort, origin: "x", abi: 0)
        #expect(!none.enforced && none.rules.isEmpty)
        #expect(none.statusText.hasPrefix("NOT ENFORCED"))
        let arena = Arena()
        defer { arena.free() }
        #expect(off.cDescription(arena) == nil)
        #expect(none.cDescription(arena) == nil)
        let on = LandlockPolicy.derive(mounts: Self.mounts, network: .none, mode: .bestEffort, origin: "x", abi: 7)
        let c = on.cDescription(arena)
        #expect(c?.pointee.n_rules == on.rules.count)
        #expect(c?.pointee.handled_fs == on.handledFS.rawValue)
        #expect(c?.pointee.handled_net == 0 && c?.pointee.n_ports == 0)
        #expect(c?.pointee.scoped == 3)
        #expect(c.map { String(cString: $0.pointee.rules[0].path) } == on.rules[0].path)
    }

    // MARK: The profile key

    func setup(_ profile: String, base: String = "[filesystem]\nread_only = [\"/usr\"]\n") -> (Scratch, String) {
        let s = Scratch()
        s.write("base.toml", base)
        let file = s.write("p.toml", profile)
        return (s, file)
    }

    func host(abi: Int) -> HostContext {
        var h = Fixture.host()
        h.landlockABI = abi
        return h
    }

    @Test func defaultIsBestEffortAndExtendsMergesTheMode() throws {
        let (s, _) = setup("extends = [\"base\"]\n", base: "[filesystem]\nread_only = [\"/usr\"]\n[landlock]\nmode = \"off\"\n")
        let inherited = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        #expect(inherited.landlock.mode == .off)
        #expect(inherited.landlock.origin == "base.toml: landlock.mode")
        s.write("p.toml", "extends = [\"base\"]\n[landlock]\nmode = \"require\"\n")
        let child = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        #expect(child.landlock.mode == .require && child.landlock.enforced && child.landlock.abi == 7)
        s.write("base.toml", "[filesystem]\nread_only = [\"/usr\"]\n")
        s.write("p.toml", "extends = [\"base\"]\n")
        let plain = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        #expect(plain.landlock.mode == .bestEffort && plain.landlock.origin == "mcpbox default")
        #expect(plain.landlock.rules.contains { $0.path == "/usr" && $0.kind == .readOnly })
        #expect(plain.landlock == LandlockPolicy.derive(mounts: plain.mounts, network: plain.network, mode: .bestEffort,
                                                        origin: "mcpbox default", abi: 7))
    }

    @Test func requireWithoutLandlockIsRefusedWithFileLineKey() {
        let (s, file) = setup("extends = [\"base\"]\n\n[landlock]\nmode = \"require\"\n")
        let errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 0))
        let d = errs.first { $0.key == "landlock.mode" }
        #expect(d?.file == file && d?.line == 4, "\(errs)")
        #expect(d?.message.contains("no Landlock") == true)
        #expect(d?.hint?.contains("best-effort") == true)
        // best-effort on the same kernel builds, and says it is not enforced.
        s.write("p.toml", "extends = [\"base\"]\n")
        let plan = try? Fixture.plan("p", dirs: [s.path], host: host(abi: 0)).get()
        #expect(plan?.landlock.enforced == false)
        #expect(plan.map { Explain.text($0).contains("NOT ENFORCED: this kernel has no Landlock") } == true)
    }

    @Test func invalidValuesAndUnknownKeys() {
        let (s, file) = setup("[landlock]\nmode = \"strict\"\n")
        var errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 7))
        #expect(errs.contains { $0.file == file && $0.line == 2 && $0.key == "landlock.mode" && $0.message == "invalid value \"strict\""
                && $0.hint == "must be exactly \"require\" or \"best-effort\" or \"off\"" }, "\(errs)")
        s.write("p.toml", "[landlock]\nmdoe = \"off\"\n")
        errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 7))
        #expect(errs.contains { $0.line == 2 && $0.key == "landlock.mdoe" && $0.hint == "did you mean `mode`?" }, "\(errs)")
        s.write("p.toml", "[landlok]\nmode = \"off\"\n")
        errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 7))
        #expect(errs.contains { $0.key == "landlok" && $0.hint == "did you mean `landlock`?" }, "\(errs)")
        s.write("p.toml", "[landlock]\nmode = true\n")
        errs = Fixture.errors("p", dirs: [s.path], host: host(abi: 7))
        #expect(errs.contains { $0.key == "landlock.mode" && $0.message.contains("expected a string") }, "\(errs)")
    }

    // MARK: explain

    @Test func explainShowsModeABIAndRules() throws {
        let (s, _) = setup("extends = [\"base\"]\n[landlock]\nmode = \"require\"\n")
        let plan = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        let text = Explain.text(plan)
        #expect(text.contains("LANDLOCK (second wall"))
        #expect(text.contains("  mode            require (p.toml: landlock.mode)"))
        #expect(text.contains("  kernel ABI      7"))
        #expect(text.contains("  status          enforced (kernel Landlock ABI 7)"))
        #expect(text.contains("rx   /usr"))
        #expect(text.contains("  tcp             bind: any port; connect: any port"))
        #expect(text.contains("  scoped          abstract unix sockets and signals limited to the sandbox"))
        let json = ExplainJSON.render(plan)
        #expect(json.contains("\"landlock\": {\n    \"mode\": \"require\",\n    \"origin\": \"p.toml: landlock.mode\",\n    \"abi\": 7,\n    \"enforced\": true,"))
        #expect(json.contains("{\"path\": \"/usr\", \"access\": [\"execute\", \"read_file\", \"read_dir\"], \"origin\": \"base.toml: filesystem.read_only\"}"))
        #expect(json.contains("\"tcp_bind\": null,\n    \"tcp_connect\": null,"))
        #expect(json.contains("\"scoped\": [\"abstract_unix_socket\", \"signal\"]"))
    }

    @Test func explainSaysOffHonestly() throws {
        let (s, _) = setup("extends = [\"base\"]\n[landlock]\nmode = \"off\"\n")
        let plan = try Fixture.plan("p", dirs: [s.path], host: host(abi: 7)).get()
        let text = Explain.text(plan)
        #expect(text.contains("  status          off: not applied"))
        #expect(!text.contains("  tcp "))
        #expect(ExplainJSON.render(plan).contains("\"enforced\": false,"))
        #expect(ExplainJSON.render(plan).contains("\"rules\": []"))
    }
}

/// Landlock through the built `mcpbox` binary: explain tells what run applies.
@Suite(.serialized) struct LandlockCLITests {
    static let script = "ls /dev 2>&1; echo \"ls-dev=$?\"; echo ok > /tmp/f && cat /tmp/f"

    func profiles(_ mode: String) -> Scratch {
        let s = Scratch()
        s.write("p.toml", "extends = [\"base\"]\n[landlock]\nmode = \"\(mode)\"\n")
        return s
    }

    @Test func requireShowsTheProbedABIAndRunEnforcesIt() throws {
        let abi = LandlockPolicy.probeABI()
        try #require(abi >= 1, "this kernel has no Landlock")
        let s = profiles("require")
        let path = ["--profile-path", s.path, "--profile-path", Fixture.shippedProfiles]
        let explain = try CLI.run(["explain"] + path + ["p"])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("  mode            require (p.toml: landlock.mode)"), "\(explain.stdout)")
        #expect(explain.stdout.contains("  kernel ABI      \(abi)\n"), "\(explain.stdout)")
        #expect(explain.stdout.contains("  status          enforced (kernel Landlock ABI \(abi))"), "\(explain.stdout)")
        let json = try CLI.run(["explain", "--json"] + path + ["p"])
        #expect(json.stdout.contains("\"abi\": \(abi),\n    \"enforced\": true,"), "\(json.stdout)")
        let run = try CLI.run(["run"] + path + ["p", "--", "/bin/sh", "-c", Self.script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Permission denied\nls-dev=2\nok\n"), "\(run.stdout)")
    }

    @Test func offIsShownAndNothingIsApplied() throws {
        let s = profiles("off")
        let path = ["--profile-path", s.path, "--profile-path", Fixture.shippedProfiles]
        let explain = try CLI.run(["explain"] + path + ["p"])
        #expect(explain.stdout.contains("  status          off: not applied (landlock.mode = \"off\")"), "\(explain.stdout)")
        let run = try CLI.run(["run"] + path + ["p", "--", "/bin/sh", "-c", Self.script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("null\n") && run.stdout.contains("ls-dev=0\nok\n"), "\(run.stdout)")
    }

    @Test func bestEffortIsTheDefaultAndEnforcedHere() throws {
        let abi = LandlockPolicy.probeABI()
        try #require(abi >= 1, "this kernel has no Landlock")
        let s = Scratch()
        s.write("p.toml", "extends = [\"base\"]\n")
        let explain = try CLI.run(["explain", "--profile-path", s.path, "--profile-path", Fixture.shippedProfiles, "p"])
        #expect(explain.stdout.contains("  mode            best-effort (mcpbox default)"), "\(explain.stdout)")
        #expect(explain.stdout.contains("  status          enforced (kernel Landlock ABI \(abi))"), "\(explain.stdout)")
    }
}
