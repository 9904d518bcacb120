import Foundation
import Testing
@testable import MCPBoxCore

/// A private temporary directory holding test profiles and host files; removed on deinit.
final class Scratch {
    let path: String

    /// A new directory under `parent` (default: the temporary directory, usually /tmp).
    init(in parent: String = NSTemporaryDirectory()) {
        var template = Array(((parent.hasSuffix("/") ? parent : parent + "/") + "mcpbox-test-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = HostFS.realPath(String(cString: p!))!
        // Traversable like an ordinary directory, so binds inside it widen no one's access.
        chmod(path, 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` (relative), creating directories; returns the absolute path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) -> String {
        let full = path + "/" + name
        try! FileManager.default.createDirectory(atPath: Paths.dirname(full), withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
        try! text.write(toFile: full, atomically: false, encoding: .utf8)
        chmod(full, mode_t(mode))
        return full
    }

    @discardableResult
    func mkdir(_ name: String, mode: Int = 0o755) -> String {
        let full = path + "/" + name
        try! FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: mode])
        chmod(full, mode_t(mode))
        return full
    }
}

enum Fixture {
    /// Runs real git (a fixed identity, output discarded); fails the test when git does.
    static func git(_ args: [String]) throws {
        let r = Process()
        r.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        r.arguments = ["-c", "user.name=t", "-c", "user.email=t@t"] + args
        r.standardOutput = FileHandle.nullDevice
        r.standardError = FileHandle.nullDevice
        try r.run()
        r.waitUntilExit()
        try #require(r.terminationStatus == 0, "git \(args)")
    }

    /// The package root, from this file's path.
    static let packageRoot: String = {
        var dir = Paths.dirname(#filePath)
        while dir != "/" && !FileManager.default.fileExists(atPath: dir + "/Package.swift") { dir = Paths.dirname(dir) }
        return dir
    }()
    static let shippedProfiles = packageRoot + "/profiles"

    /// A host context with the test process's own uid and a chosen environment.
    static func host(uid: UInt32 = HostFS.uid, gid: UInt32 = HostFS.gid, env: [String: String] = [:],
                     accounts: Accounts = Accounts()) -> HostContext {
        var environment: [(String, String)] = [("HOME", "/root"), ("PATH", "/usr/bin:/bin")]
        for (k, v) in env.sorted(by: { $0.key < $1.key }) {
            environment.removeAll { $0.0 == k }
            environment.append((k, v))
        }
        return HostContext(callerUid: uid, callerGid: gid, environment: environment, accounts: accounts)
    }

    static func loader(_ dirs: [String], vars: [String: String] = [:], env: [String: String] = [:],
                       command: [String] = []) -> ProfileLoader {
        var e = ["HOME": "/root", "PATH": "/usr/bin:/bin"]
        for (k, v) in env { e[k] = v }
        return ProfileLoader(searchPath: dirs, variables: vars, environment: e, callerUid: HostFS.uid, commandLine: command)
    }

    /// Runs a host tool (`/bin/mount` …) and requires exit status 0.
    static func tool(_ path: String, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "\(path) \(args)", sourceLocation: sourceLocation)
    }

    /// Loads and builds; the error's diagnostics on failure.
    static func plan(_ ref: String, dirs: [String], vars: [String: String] = [:], env: [String: String] = [:],
                     command: [String] = [], host: HostContext? = nil) -> Result<SandboxPlan, ProfileError> {
        do throws(ProfileError) {
            let profile = try loader(dirs, vars: vars, env: env, command: command).load(ref)
            let plan = try PlanBuilder(profile: profile, host: host ?? Fixture.host(env: env), command: command).build()
            return .success(plan)
        } catch {
            return .failure(error)
        }
    }

    static func errors(_ ref: String, dirs: [String], vars: [String: String] = [:], env: [String: String] = [:],
                       command: [String] = [], host: HostContext? = nil) -> [Diagnostic] {
        switch plan(ref, dirs: dirs, vars: vars, env: env, command: command, host: host) {
        case .success: return []
        case .failure(let e): return e.diagnostics
        }
    }
}

extension Result {
    var plan: Success? { if case .success(let p) = self { p } else { nil } }
}
