import CSandbox
import MCPBoxEvents
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `run`'s side of `[audit]`: opens the log before the server starts and writes the session's
/// first record.
enum AuditSession {
    /// Why the log could not be opened or written.
    struct StartError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// The trail, with `session.start` written; a message when the log cannot be opened or written.
    static func open(_ plan: SandboxPlan, audit: AuditPlan) -> Result<AuditTrail, StartError> {
        guard let sink = EventSink.file(audit.path, rotation: audit.rotation, makeParents: true) else {
            return .failure(StartError("audit log \(audit.path): \(String(cString: strerror(errno))) (fix the path or its directory's permissions; "
                + "the log is opened without following symlinks)"))
        }
        let hash = profileHash(plan.profileFiles)
        let trail = AuditTrail(sink: sink, profile: plan.profileName, profileHash: hash, payloads: audit.payloads,
                               required: audit.required, say: { mcpbox_relay_say($0) })
        let files = JSON.array(plan.profileFiles.map { .string($0) }).serialized
        let ok = trail.start(fields: [
            ("profile_hash_of", .string("profile files")), ("profile_files", .json(files)),
            ("command", .string(plan.argv.first ?? "")), ("mcpbox_pid", .int(Int64(getpid()))), ("uid", .int(Int64(getuid()))),
            ("mcpbox_version", .string(MCPBoxVersion.current)),
        ])
        guard ok else {
            return .failure(StartError("audit log \(audit.path): cannot write (\(String(cString: strerror(sink.lastError))))"))
        }
        return .success(trail)
    }

    /// `profile_hash`: SHA-256 over the bytes of the profile files in load order (the base
    /// first, the named profile last), as `cat FILES | sha256sum` computes it; an unreadable
    /// file contributes nothing.
    static func profileHash(_ files: [String]) -> String {
        var h = SHA256()
        for f in files {
            if let bytes = HostFS.readBytes(f, limit: ProfileLoader.maxFileSize) { h.update(bytes) }
        }
        return SHA256.hex(h.finalize())
    }
}
