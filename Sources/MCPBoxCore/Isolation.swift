#if canImport(Glibc)
import Glibc
#endif

/// `[isolation] runtime`: what runs the sandbox.
public enum IsolationRuntime: String, Sendable, Equatable, CaseIterable {
    /// mcpbox's own child stage: namespaces, seccomp and Landlock on the host kernel.
    case native
    /// The same plan as an OCI bundle under gVisor's `runsc`: a second kernel in between.
    case gvisor
}

/// The runtime of a plan and, for gVisor, which `runsc` runs it.
public struct IsolationPlan: Sendable, Equatable {
    public var runtime: IsolationRuntime
    /// Where the runtime was chosen ("profile.toml:12", or "default").
    public var origin: String
    /// The `runsc` program, when it was found (gvisor only).
    public var runsc: String?
    /// How `runsc` was looked for ("[isolation] runsc = ..." or "PATH"), for messages.
    public var runscLookup: String

    public static let native = IsolationPlan(runtime: .native, origin: "default", runsc: nil, runscLookup: "")

    /// Resolves the profile's `[isolation]`: an explicit `runsc` path must be an executable
    /// file; otherwise the first `runsc` on mcpbox's PATH.
    static func build(_ profile: Profile, environment: [String: String]) -> IsolationPlan {
        guard let r = profile.isolationRuntime, r.value == .gvisor else {
            return profile.isolationRuntime.map { IsolationPlan(runtime: .native, origin: $0.origin, runsc: nil, runscLookup: "") } ?? .native
        }
        if let path = profile.isolationRunsc {
            return IsolationPlan(runtime: .gvisor, origin: r.origin, runsc: executable(path.value) ? path.value : nil,
                                 runscLookup: "[isolation] runsc = \"\(path.value)\" (\(path.origin))")
        }
        let dirs = (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { $0.isAbsolutePath }
        let found = dirs.lazy.map { $0 + "/runsc" }.first(where: executable)
        return IsolationPlan(runtime: .gvisor, origin: r.origin, runsc: found,
                             runscLookup: "PATH (\(dirs.isEmpty ? "empty" : dirs.joined(separator: ":")))")
    }

    static func executable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }
}
