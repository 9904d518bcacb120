import Foundation
import MCPBoxExport
import MCPBoxTestSupport
import Testing

/// `mcpbox export` through the built binary: Kubernetes objects against the offline schemas,
/// the report, `--strict`, refusals.
@Suite("Export: command line and Kubernetes manifests")
struct ExportCLITests {
    /// `kubernetes-validate` from the venv scripts/setup prepares (or MCPBOX_K8S_VALIDATE).
    static var validator: String? {
        let env = ProcessInfo.processInfo.environment
        let candidates: [String?] = [env["MCPBOX_K8S_VALIDATE"], env["MCPBOX_VENV"].map { $0 + "/bin/kubernetes-validate" },
                          TestSupport.packageRoot.appendingPathComponent(".venv/bin/kubernetes-validate").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func export(_ args: [String]) throws -> (ProcessResult, TempDir, String) {
        let tmp = try TempDir(prefix: "mcpbox-export-cli")
        let out = tmp.sub("out")
        let r = try runProcess([try TestSupport.mcpboxBinary(), "export", "--output", out] + args)
        return (r, tmp, out)
    }

    @Test("every shipped profile's Kubernetes objects validate against the Kubernetes 1.33 schemas",
          .enabled(if: validator != nil, "kubernetes-validate missing: run scripts/setup"),
          arguments: RoundTripTests.shipped)
    func kubernetesValidates(profile: String) throws {
        var args = [profile, "--profile-path", TestSupport.profilesDir, "--format", "kubernetes"]
        let tmpRepo = try TempDir(prefix: "mcpbox-export-repo")
        defer { tmpRepo.remove() }
        args += try RoundTripTests.variables(profile, tmpRepo)
        if RoundTripTests.bases.contains(profile) { args += ["--", "/usr/bin/true"] }
        let (r, tmp, out) = try Self.export(args)
        defer { tmp.remove() }
        try #require(r.status == 0, "export: \(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files.contains("deployment.yaml") && files.contains("networkpolicy.yaml") && files.contains("seccompprofile.yaml"), "\(files)")
        // The SeccompProfile CRD is not in the Kubernetes schemas; its fields are the OCI ones.
        let core = files.filter { $0.hasSuffix(".yaml") && $0 != "seccompprofile.yaml" }.map { out + "/" + $0 }
        let v = try runProcess([Self.validator!, "-k", "1.33.0", "--strict"] + core)
        #expect(v.status == 0, "kubernetes-validate: \(v.stdoutText) \(v.stderr)")
        let deployment = try String(contentsOfFile: out + "/deployment.yaml", encoding: .utf8)
        for field in ["runAsNonRoot: true", "allowPrivilegeEscalation: false", "readOnlyRootFilesystem: true", "hostUsers: false",
                      "type: \"Localhost\"", "- \"ALL\"", "stdin: true", "replicas: 1"] {
            #expect(deployment.contains(field), "\(profile): deployment.yaml lacks \(field)")
        }
        let policy = try String(contentsOfFile: out + "/networkpolicy.yaml", encoding: .utf8)
        if files.contains("egress-networkpolicy.yaml") {
            // mode = "allow": the server's only egress is the proxy's port (EgressProxyCommandTests).
            #expect(policy.contains("ingress: []") && policy.contains("mcpbox.dev/role: \"egress-proxy\"") && !policy.contains("ipBlock"), "\(profile): \(policy)")
        } else {
            #expect(policy.contains("egress: []") && policy.contains("ingress: []"), "\(profile): \(policy)")
        }
        let seccomp = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/\(KubernetesName.of(profile))-seccomp.json"))) as? [String: Any]
        #expect(seccomp?["defaultAction"] as? String == "SCMP_ACT_ERRNO")
    }

    @Test("the report lists dropped restrictions; --strict exits 125, --json is JSON")
    func strictAndJSON() throws {
        let (r, tmp, _) = try Self.export(["time", "--profile-path", TestSupport.profilesDir, "--format", "kubernetes", "--strict", "--json"])
        defer { tmp.remove() }
        #expect(r.status == 125, "strict export with dropped restrictions exited \(r.status)")
        #expect(r.stderr.contains("export --strict") && r.stderr.contains("landlock"), "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
        let rows = report?["restrictions"] as? [[String: Any]] ?? []
        let dropped = rows.filter { $0["status"] as? String == "dropped" }.compactMap { $0["restriction"] as? String }
        for name in ["open_files", "processes", "landlock", "stdio relay"] {
            #expect(dropped.contains(name), "\(name) should be reported dropped in Kubernetes: \(dropped)")
        }
        let (text, tmp2, _) = try Self.export(["time", "--profile-path", TestSupport.profilesDir, "--format", "oci"])
        defer { tmp2.remove() }
        #expect(text.status == 0)
        #expect(text.stdoutText.contains("dropped landlock") && text.stdoutText.contains("carried mount /usr"), "\(text.stdoutText)")
    }

    @Test("[isolation] runtime = \"gvisor\": OCI reports the runtime dropped, Kubernetes names RuntimeClass gvisor (partial); --strict refuses both")
    func gvisorRuntime() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-gvisor")
        defer { tmp.remove() }
        let body = "extends = [\"base\"]\ncommand = [\"/usr/bin/true\"]\n"
        let gvisor = try tmp.write("p4.toml", body + "[isolation]\nruntime = \"gvisor\"\n")
        let native = try tmp.write("native.toml", body)
        let mcpbox = try TestSupport.mcpboxBinary()
        func export(_ profile: String, _ format: String, _ out: String, strict: Bool = false) throws -> (ProcessResult, [String: String]) {
            let r = try runProcess([mcpbox, "export", profile, "--profile-path", TestSupport.profilesDir, "--format", format,
                                    "--output", tmp.sub(out), "--json"] + (strict ? ["--strict"] : []))
            let report = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
            var rows: [String: String] = [:]
            for row in report?["restrictions"] as? [[String: Any]] ?? [] {
                rows[row["restriction"] as? String ?? ""] = row["status"] as? String
            }
            return (r, rows)
        }
        let row = "isolation runtime gvisor"

        let (oci, ociRows) = try export(gvisor, "oci", "b5")
        #expect(oci.status == 0, "\(oci.stderr)")
        #expect(ociRows[row] == "dropped", "OCI rows: \(ociRows)")
        let (ociStrict, _) = try export(gvisor, "oci", "b5-strict", strict: true)
        #expect(ociStrict.status == 125 && ociStrict.stderr.contains(row), "\(ociStrict.status) \(ociStrict.stderr)")
        let (plain, plainRows) = try export(native, "oci", "b-native")
        #expect(plain.status == 0 && plainRows[row] == nil, "a native profile's OCI rows: \(plainRows)")

        let (k8s, k8sRows) = try export(gvisor, "kubernetes", "k5")
        #expect(k8s.status == 0, "\(k8s.stderr)")
        #expect(k8sRows[row] == "partial", "Kubernetes rows: \(k8sRows)")
        let deployment = try String(contentsOfFile: tmp.sub("k5/deployment.yaml"), encoding: .utf8)
        #expect(deployment.contains("runtimeClassName: \"gvisor\""), "\(deployment)")
        if let validator = Self.validator {
            let v = try runProcess([validator, "-k", "1.33.0", "--strict", tmp.sub("k5/deployment.yaml")])
            #expect(v.status == 0, "kubernetes-validate: \(v.stdoutText) \(v.stderr)")
        }
        let (k8sStrict, _) = try export(gvisor, "kubernetes", "k5-strict", strict: true)
        #expect(k8sStrict.status == 125 && k8sStrict.stderr.contains(row), "\(k8sStrict.status) \(k8sStrict.stderr)")
        let (k8sNative, k8sNativeRows) = try export(native, "kubernetes", "k-native")
        let nativeDeployment = try String(contentsOfFile: tmp.sub("k-native/deployment.yaml"), encoding: .utf8)
        #expect(k8sNative.status == 0 && k8sNativeRows[row] == nil && !nativeDeployment.contains("runtimeClassName"), "\(k8sNativeRows)")
    }

    @Test("an existing non-empty output directory and an unknown --rootfs are refused with 125")
    func refusals() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-cli")
        defer { tmp.remove() }
        _ = try tmp.makeDir("out")
        _ = try tmp.write("out/keep", "x")
        let mcpbox = try TestSupport.mcpboxBinary()
        let r = try runProcess([mcpbox, "export", "time", "--profile-path", TestSupport.profilesDir, "--format", "oci", "--output", tmp.sub("out")])
        #expect(r.status == 125 && r.stderr.contains("not empty"), "\(r.stderr)")
        let r2 = try runProcess([mcpbox, "export", "time", "--profile-path", TestSupport.profilesDir, "--format", "oci", "--rootfs", "image",
                                 "--output", tmp.sub("out2")])
        #expect(r2.status == 125 && r2.stderr.contains("--rootfs"), "\(r2.stderr)")
    }

    @Test("--rootfs empty: binds name placeholders inside the bundle, listed in binds.txt")
    func rootfsEmpty() throws {
        let (r, tmp, out) = try Self.export(["time", "--profile-path", TestSupport.profilesDir, "--format", "oci", "--rootfs", "empty"])
        defer { tmp.remove() }
        try #require(r.status == 0, "\(r.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
        let usr = (config?["mounts"] as? [[String: Any]])?.first { $0["destination"] as? String == "/usr" }
        #expect(usr?["source"] as? String == "binds/usr")
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: out + "/binds/usr", isDirectory: &isDir) && isDir.boolValue)
        let list = try String(contentsOfFile: out + "/binds.txt", encoding: .utf8)
        #expect(list.contains("binds/usr <- /usr"), "\(list)")
        #expect(r.stdoutText.contains("partial mount /usr"), "\(r.stdoutText)")
    }
}

/// The object name `export` gives a shipped profile.
enum KubernetesName {
    static func of(_ profile: String) -> String { "mcpbox-" + profile }
}

/// The OCI export pins every directory between a read-write bind and a mount nested in it (so
/// the server cannot rename it away), found with Character prefix tests: a directory whose name
/// begins with a combining mark (`w/\u{301}a`) was not seen as inside `w`, and no pin was written.
/// Found by review; fails before the fix.
@Suite("Export: pins are found by bytes")
struct ExportPinBytesTests {
    @Test func combiningMarkAfterSlash() throws {
        let tmp = try TempDir(prefix: "mcpbox-export-pin")
        defer { tmp.remove() }
        let w = tmp.sub("w")
        let inner = w + "/\u{301}a/b/c"
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        chmod(tmp.path, 0o755)
        let profile = try tmp.write("pin.toml", "extends = [\"base\"]\n[filesystem]\nread_write = [\"\(w)\"]\nread_only = [\"\(inner)\"]\n")
        let (r, dir, out) = try ExportCLITests.export([profile, "--profile-path", TestSupport.profilesDir, "--format", "oci", "--", "/bin/true"])
        defer { dir.remove() }
        try #require(r.status == 0, "\(r.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
        let mounts = (config?["mounts"] as? [[String: Any]]) ?? []
        let destinations = mounts.compactMap { $0["destination"] as? String }.map { Array($0.utf8) }
        for pinned in [w + "/\u{301}a", w + "/\u{301}a/b"] {
            #expect(destinations.contains(Array(pinned.utf8)), "no pin for \(pinned): \(mounts.compactMap { $0["destination"] as? String })")
        }
    }
}
