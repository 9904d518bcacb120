import Foundation
import MCPBoxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A profile passing a token from the caller's environment (`[env] pass`): the export holds it,
/// and no other host user may read it; on Kubernetes it is a Secret, not an inline value.
@Suite("Export: passed environment values stay private")
struct ExportSecretsTests {
    static let token = "sk-test-\(UInt32.random(in: 0...UInt32.max))-secret"

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o7777
    }

    /// Every path under `dir` (itself excluded), depth first.
    static func tree(_ dir: String) -> [String] {
        (FileManager.default.subpaths(atPath: dir) ?? []).map { dir + "/" + $0 }
    }

    static func export(_ tmp: TempDir, format: String, output: String) throws -> ProcessResult {
        let profile = try tmp.write("p8.toml", """
            extends = ["base"]
            command = ["/usr/bin/true"]
            [env]
            pass = ["FAKE_API_TOKEN"]
            set = { PLAIN_SETTING = "visible" }

            """)
        var env = ProcessInfo.processInfo.environment
        env["FAKE_API_TOKEN"] = token
        return try runProcess([try TestSupport.mcpboxBinary(), "export", profile, "--profile-path", TestSupport.profilesDir,
                               "--format", format, "--output", output], environment: env)
    }

    @Test("OCI: config.json (holding the token) is 0600, the bundle directory 0711 (the runtime must reach rootfs/ from the container's user namespace); the server's tree keeps its modes")
    func ociPrivate() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-secret")
        defer { tmp.remove() }
        let out = tmp.sub("b8")
        let r = try Self.export(tmp, format: "oci", output: out)
        try #require(r.status == 0, "export: \(r.stderr)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(config.contains("FAKE_API_TOKEN=\(Self.token)"), "the passed value is the server's environment")
        #expect(Self.mode(out) == 0o711, "bundle directory mode \(String(Self.mode(out), radix: 8))")
        #expect(Self.mode(out + "/config.json") == 0o600, "config.json mode \(String(Self.mode(out + "/config.json"), radix: 8))")
        // The server (maybe another uid than the writer) must still read its root and files.
        #expect(Self.mode(out + "/rootfs") == 0o755 && Self.mode(out + "/files/etc/passwd") == 0o644,
                "rootfs \(String(Self.mode(out + "/rootfs"), radix: 8)), files/etc/passwd \(String(Self.mode(out + "/files/etc/passwd"), radix: 8))")
        for path in Self.tree(out) where (try? String(contentsOfFile: path, encoding: .utf8))?.contains(Self.token) == true {
            #expect(Self.mode(path) & 0o077 == 0, "\(path) holds the token with mode \(String(Self.mode(path), radix: 8))")
        }
    }

    @Test("an existing empty --output directory is made 0700 (Kubernetes) or 0711 (an OCI bundle); missing parents are made 0711")
    func existingDirectory() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-secret")
        defer { tmp.remove() }
        for (format, mode) in [("kubernetes", 0o700), ("oci", 0o711)] as [(String, mode_t)] {
            let out = try tmp.makeDir("out-\(format)", mode: 0o755)
            let r = try Self.export(tmp, format: format, output: out)
            try #require(r.status == 0, "export: \(r.stderr)")
            #expect(Self.mode(out) == mode, "\(format): mode \(String(Self.mode(out), radix: 8))")
            let nested = tmp.sub("new-\(format)/parent/out")
            let n = try Self.export(tmp, format: format, output: nested)
            try #require(n.status == 0, "export: \(n.stderr)")
            #expect(Self.mode(nested) == mode && Self.mode(tmp.sub("new-\(format)/parent")) == 0o711 && Self.mode(tmp.sub("new-\(format)")) == 0o711,
                    "\(format): modes \([nested, tmp.sub("new-\(format)/parent"), tmp.sub("new-\(format)")].map { String(Self.mode($0), radix: 8) })")
        }
    }

    @Test("Kubernetes: the token is in Secret mcpbox-p8-env, referenced by secretKeyRef; env.set stays inline; every file 0600 in a 0700 directory; the objects validate",
          .enabled(if: ExportCLITests.validator != nil, "kubernetes-validate missing: run scripts/setup"))
    func kubernetesSecret() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-secret")
        defer { tmp.remove() }
        let out = tmp.sub("k8")
        let r = try Self.export(tmp, format: "kubernetes", output: out)
        try #require(r.status == 0, "export: \(r.stderr)")
        let deployment = try String(contentsOfFile: out + "/deployment.yaml", encoding: .utf8)
        let secret = try String(contentsOfFile: out + "/secret.yaml", encoding: .utf8)
        #expect(!deployment.contains(Self.token), "deployment.yaml holds the token inline")
        let reference = ["- name: \"FAKE_API_TOKEN\"", "  valueFrom:", "    secretKeyRef:", "      name: \"mcpbox-p8-env\"",
                         "      key: \"FAKE_API_TOKEN\""].map { "        " + $0 + "\n" }.joined()
        #expect(deployment.contains(reference), "\(deployment)")
        #expect(deployment.contains("- name: \"PLAIN_SETTING\"\n") && deployment.contains("value: \"visible\""), "\(deployment)")
        #expect(secret.contains("kind: \"Secret\"") && secret.contains("name: \"mcpbox-p8-env\"")
                && secret.contains("FAKE_API_TOKEN: \"\(Self.token)\"") && !secret.contains("PLAIN_SETTING"), "\(secret)")
        #expect(Self.mode(out) == 0o700, "output directory mode \(String(Self.mode(out), radix: 8))")
        for path in Self.tree(out) {
            #expect(Self.mode(path) == 0o600, "\(path) mode \(String(Self.mode(path), radix: 8))")
        }
        let v = try runProcess([ExportCLITests.validator!, "-k", "1.33.0", "--strict", out + "/secret.yaml", out + "/deployment.yaml"])
        #expect(v.status == 0, "kubernetes-validate: \(v.stdoutText) \(v.stderr)")
        #expect(r.stdoutText.contains("Secret mcpbox-p8-env"), "\(r.stdoutText)")
    }
}
