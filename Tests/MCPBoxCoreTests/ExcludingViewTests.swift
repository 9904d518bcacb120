import Foundation
import Testing
@testable import MCPBoxCore

/// The view of a mount list without the mounts at one target (`SandboxView(mounts:excluding:)`,
/// issue 12: the plan's symlink passes no longer copy the list per bind) answers exactly what a
/// view of the filtered list answered.
@Suite struct ExcludingViewTests {
    /// Host objects of every kind a plan meets: directories, files, a symlink to a directory
    /// (relative and absolute), a symlink to a file, a masked directory.
    func layout(_ s: Scratch) -> [Mount] {
        s.mkdir("usr/bin")
        s.mkdir("usr/lib")
        s.write("usr/bin/tool", "#!/bin/sh\n", mode: 0o755)
        s.mkdir("etc/ssl/certs")
        s.write("usr/share/zoneinfo/UTC", "tz")
        s.mkdir("srv/data/secret")
        #expect(symlink("usr/bin", s.path + "/bin") == 0)
        #expect(symlink(s.path + "/usr/lib", s.path + "/lib") == 0)
        #expect(symlink("../usr/share/zoneinfo/UTC", s.path + "/etc/localtime") == 0)
        let r = s.path
        let o = "test"
        return [
            Mount(target: "/", kind: .tmpfs(sizeBytes: 1 << 20), origin: o),
            Mount(target: "/usr", kind: .bind(source: r + "/usr", readOnly: true), origin: o),
            Mount(target: "/bin", kind: .bind(source: r + "/usr/bin", readOnly: true), origin: o),
            Mount(target: "/lib", kind: .bind(source: r + "/usr/lib", readOnly: true), origin: o),
            Mount(target: "/etc", kind: .bind(source: r + "/etc", readOnly: true), origin: o),
            Mount(target: "/etc/localtime", kind: .bind(source: r + "/usr/share/zoneinfo/UTC", readOnly: true), origin: o),
            Mount(target: "/etc/ssl/certs", kind: .bind(source: r + "/etc/ssl/certs", readOnly: false), origin: o),
            Mount(target: "/srv", kind: .bind(source: r + "/srv", readOnly: false), origin: o),
            Mount(target: "/srv/data/secret", kind: .hide(isDirectory: true), origin: o),
            Mount(target: "/bin2", kind: .symlink(to: "usr/bin"), origin: o),
            Mount(target: "/tmp", kind: .tmpfs(sizeBytes: 1 << 20), origin: o),
            Mount(target: "/proc", kind: .proc, origin: o),
        ]
    }

    @Test func aViewExcludingATargetAnswersAsTheFilteredList() throws {
        let s = Scratch()
        let mounts = layout(s)
        let paths = ["/", "/usr", "/usr/bin", "/usr/bin/tool", "/bin", "/bin/tool", "/bin2/tool", "/lib", "/lib/x",
                     "/etc", "/etc/localtime", "/etc/ssl", "/etc/ssl/certs", "/srv/data", "/srv/data/secret",
                     "/srv/data/secret/k", "/tmp", "/proc/self", "/missing", "/etc/../usr/bin/tool"]
        for target in Set(mounts.map(\.target)) {
            let fast = SandboxView(mounts: mounts, excluding: target)
            let slow = SandboxView(mounts: mounts.filter { $0.target != target })
            for p in paths {
                #expect(fast.covering(p) == slow.covering(p), "covering \(p) without \(target)")
                #expect(fast.hostPath(p) == slow.hostPath(p), "hostPath \(p) without \(target)")
                #expect(fast.isSkeleton(p) == slow.isSkeleton(p), "isSkeleton \(p) without \(target)")
                #expect(fast.lookup(p) == slow.lookup(p), "lookup \(p) without \(target)")
                #expect(fast.resolve(p) == slow.resolve(p), "resolve \(p) without \(target)")
            }
        }
    }

    /// The two plan passes that use it keep their answers: a bind on a path the sandbox reaches
    /// through a symlink is dropped, a bind of a host symlink becomes that symlink.
    @Test func symlinkPassesKeepTheirAnswers() throws {
        let s = Scratch()
        let mounts = layout(s)
        let kept = PlanBuilder.withoutBindsOnSymlinks(mounts).map(\.target)
        // /etc/localtime: the sandbox already follows /etc/localtime (in the /etc bind) to the
        // same object in /usr, read-only: dropped. Everything else stays.
        #expect(kept == mounts.map(\.target).filter { $0 != "/etc/localtime" })
        // Binds of host symlinks whose sources are elsewhere (the scratch directory) stay binds.
        let mirrored = PlanBuilder.withMirroredSymlinks(mounts)
        #expect(mirrored.count == mounts.count)
        #expect(mirrored.filter { if case .symlink = $0.kind { true } else { false } }.map(\.target) == ["/bin2"])
        // The host's own merged /usr: /bin (a link to usr/bin on Debian 12) bound from /usr/bin
        // with /usr bound read-only becomes that link; anywhere /bin is a directory it stays a bind.
        // (The plan's root is not in its list: a mount at "/" would hold the link too.)
        let host = [Mount(target: "/tmp", kind: .tmpfs(sizeBytes: 1 << 20), origin: "test"),
                    Mount(target: "/usr", kind: .bind(source: "/usr", readOnly: true), origin: "test"),
                    Mount(target: "/bin", kind: .bind(source: "/usr/bin", readOnly: true), origin: "test")]
        let expected: Mount.Kind = HostFS.readLink("/bin") == "usr/bin" ? .symlink(to: "usr/bin") : .bind(source: "/usr/bin", readOnly: true)
        #expect(PlanBuilder.withMirroredSymlinks(host).map(\.kind) == [host[0].kind, host[1].kind, expected])
        // With something else mounted below it, it stays a bind.
        let below = host + [Mount(target: "/bin/x", kind: .tmpfs(sizeBytes: 1 << 20), origin: "test")]
        #expect(PlanBuilder.withMirroredSymlinks(below)[2].kind == .bind(source: "/usr/bin", readOnly: true))
    }
}
