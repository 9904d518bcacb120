import Foundation
@testable import MCPBoxCore
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mcpbox doctor` through the built binary: as root, as an ordinary throwaway account, and inside
/// a sandbox where no user namespace can be made (so `run` cannot work).
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to create the test account"))
struct DoctorTests {
    static func lines(_ out: String) -> [String: String] {
        var found: [String: String] = [:]
        for line in out.split(separator: "\n") {
            for status in ["works", "partial", "missing", "n/a"] where line.hasPrefix(status + " ") {
                let rest = line.dropFirst(status.count).drop { $0 == " " }
                for name in ["WSL", "user namespaces", "seccomp", "Landlock", "memory limit", "cpu limit",
                             "processes, open_files", "newuidmap/newgidmap", "subordinate ids"] where rest.hasPrefix(name + " ") {
                    found[name] = status
                }
            }
        }
        return found
    }

    @Test func asRoot() throws {
        let r = try runProcess([try TestSupport.mcpboxBinary(), "doctor"], timeout: 60)
        #expect(r.status == 0, "\(r.stdoutText)\(r.stderr)")
        let found = Self.lines(r.stdoutText)
        #expect(found["user namespaces"] == "works", "\(r.stdoutText)")
        #expect(found["seccomp"] == "works")
        #expect(found["WSL"] != nil && found["memory limit"] != nil && found["cpu limit"] != nil)
        #expect(found["newuidmap/newgidmap"] == "n/a")
        // The Landlock line states the ABI the syscall reports.
        let abi = LandlockPolicy.probeABI()
        #expect(abi == 0 ? r.stdoutText.contains("(ABI 0)") : r.stdoutText.contains("ABI \(abi):"), "\(r.stdoutText)")
        #expect(r.stdoutText.hasPrefix("mcpbox doctor: kernel "))
        #expect(r.stdoutText.contains("\nrun: can work here"))
        // Whether the memory line says "works" agrees with what a launch would decide.
        #expect((found["memory limit"] == "works") == Cgroups.memoryUsable().usable)
    }

    @Test func asAnOrdinaryUser() throws {
        let account = try TestAccount.create(prefix: "mcpdoc")
        defer { account.delete() }
        let r = try runProcess(["/usr/bin/setpriv", "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups", "--",
                                try TestSupport.mcpboxBinary(), "doctor"],
                               environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"], currentDirectory: "/", timeout: 60)
        let found = Self.lines(r.stdoutText)
        #expect(r.stdoutText.contains("uid \(account.uid) (\(account.name))"), "\(r.stdoutText)")
        #expect(found["user namespaces"] == "works", "\(r.stdoutText)")
        #expect(r.status == 0)
        // No subordinate ranges for a fresh account: [user] is unavailable to it, and the fix says how.
        #expect(found["subordinate ids"] == "missing", "\(r.stdoutText)")
        #expect(r.stdoutText.contains("has subuid none, subgid none"))
        #expect(r.stdoutText.contains("disables: [user] name when you start mcpbox"))
        // The cgroup root belongs to root: limits need root here, and the line says so.
        if access("/sys/fs/cgroup/memory", W_OK) == 0 || access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) == 0 {
            #expect(found["memory limit"] == "missing", "\(r.stdoutText)")
            #expect(r.stdoutText.contains("fix: start mcpbox as root"))
        }
    }

    @Test func exitsNonZeroWhereRunCannotWork() throws {
        // bubblewrap's --disable-userns: no user namespace can be created inside, as in a locked-down container.
        let bin = try TestSupport.mcpboxBinary()
        let r = try runProcess(["/usr/bin/bwrap", "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", bin, "doctor"], timeout: 60)
        #expect(r.status == 1, "\(r.stdoutText)\(r.stderr)")
        #expect(Self.lines(r.stdoutText)["user namespaces"] == "missing")
        #expect(r.stdoutText.contains("run: CANNOT WORK here: user namespaces missing"))
        #expect(r.stdoutText.contains("fix: the user namespace limit is reached"))
        // And run agrees: it cannot start a server there.
        let run = try runProcess(["/usr/bin/bwrap", "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", bin, "run", "base", "--", "/bin/true"], timeout: 60)
        #expect(run.status == 125, "\(run.stderr)")
    }

    @Test func findingsForOtherHosts() {
        var f = Doctor.Facts.current()
        f.uid = 1000
        f.userName = "alice"
        f.kernelRelease = "4.4.0-19041-Microsoft"
        f.namespaceProbe = (EPERM, 2)
        f.apparmorRestrictUserns = 1
        f.seccompActions = nil
        f.landlockABI = 0
        f.newuidmap = (nil, false)
        let out = Doctor.findings(f)
        #expect(Doctor.runCannotWork(out))
        let byName = Dictionary(out.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byName["WSL"]?.status == .missing && byName["WSL"]?.essential == true)
        #expect(byName["user namespaces"]?.fix.contains("AppArmor restricts unprivileged user namespaces") == true)
        #expect(byName["seccomp"]?.status == .missing)
        #expect(byName["Landlock"]?.status == .missing && byName["Landlock"]?.essential == false)
        #expect(byName["newuidmap/newgidmap"]?.status == .missing)
        f.kernelRelease = "5.15.153.1-microsoft-standard-WSL2"
        f.namespaceProbe = (0, 0)
        f.seccompActions = ["kill_process", "errno", "allow"]
        f.landlockABI = 3
        let wsl2 = Doctor.findings(f)
        #expect(!Doctor.runCannotWork(wsl2))
        #expect(wsl2.first { $0.name == "WSL" }?.status == .works)
        #expect(wsl2.first { $0.name == "seccomp" }?.status == .partial)
        #expect(wsl2.first { $0.name == "Landlock" }?.status == .partial)
    }
}
