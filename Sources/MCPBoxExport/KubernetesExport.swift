import MCPBoxCore

/// `SandboxPlan` → Kubernetes objects for one server: a Deployment (one replica), a
/// NetworkPolicy, a Secret with the values passed from the caller's environment, a ConfigMap
/// with the synthesized files, the seccomp policy as a Security
/// Profiles Operator `SeccompProfile` and as the plain JSON file, with the carry-over report;
/// for `network.mode = "allow"` the egress proxy's objects too (`KubernetesEgress`).
public enum KubernetesExport {
    /// The egress proxy's image unless `--proxy-image` names one.
    public static let defaultProxyImage = KubernetesEgress.placeholderImage

    /// Host paths a cluster node's image provides (the container image replaces them).
    static let imagePaths = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc"]

    /// The RuntimeClass a `[isolation] runtime = "gvisor"` plan's Pod names (GKE Sandbox's, and
    /// gVisor's documentation's, name for the runsc handler).
    public static let runtimeClass = "gvisor"

    /// A Kubernetes object name from a profile name: lower-case letters, digits and '-'.
    public static func objectName(_ plan: SandboxPlan) -> String {
        var base = plan.profileName
        if let slash = base.lastIndex(of: "/") { base = String(base[base.index(after: slash)...]) }
        if base.hasSuffix(".toml") { base = String(base.dropLast(5)) }
        var out = ""
        for c in base.lowercased().unicodeScalars {
            let ok = (c.value >= 0x61 && c.value <= 0x7a) || (c.value >= 0x30 && c.value <= 0x39)
            out += ok ? String(c) : "-"
        }
        var collapsed = ""
        for c in out where !(c == "-" && collapsed.last == "-") { collapsed.append(c) }
        out = collapsed
        out = String(out.drop { $0 == "-" }.reversed().drop { $0 == "-" }.reversed())
        return "mcpbox-" + String((out.isEmpty ? "server" : out).prefix(40))
    }

    /// `proxyImage`: the egress proxy's image (`allow` mode only).
    public static func build(_ plan: SandboxPlan, proxyImage: String = defaultProxyImage) throws -> Manifests {
        let name = objectName(plan)
        let labels: Node = .object([("app.kubernetes.io/name", .string(name)), ("app.kubernetes.io/managed-by", .string("mcpbox")),
                                    ("mcpbox.dev/role", .string("server")), ("mcpbox.dev/profile", .string(name))])
        let egress = plan.egress.map { KubernetesEgress.build(plan, $0, name: name, serverLabels: labels, proxyImage: proxyImage) }
        var rows: [Carryover] = []
        var volumes: [Node] = []
        var volumeMounts: [Node] = []
        var annotations: [(String, Node)] = [("mcpbox.dev/profile", .string(plan.profileName)),
                                             ("mcpbox.dev/stdio", .string("stdin is open: talk MCP with `kubectl attach -i deploy/\(name) -c server` (no tty)"))]
        var configData: [(String, Node)] = []
        var index = 0

        func fromImage(_ path: String) -> Bool { imagePaths.contains { $0 != "/" && Paths.isWithin(path, $0) } }
        func mountNode(_ volume: String, _ path: String, readOnly: Bool, subPath: String? = nil) -> Node {
            var f: [(String, Node)] = [("name", .string(volume)), ("mountPath", .string(path)), ("readOnly", .bool(readOnly))]
            if let subPath { f.append(("subPath", .string(subPath))) }
            return .object(f)
        }

        rows.append(Carryover("root", .partial, "readOnlyRootFilesystem: the container image's filesystem, read-only; mcpbox shows an empty root with only the listed paths, an image shows everything it holds"))
        for m in plan.mounts {
            switch m.kind {
            case .bind(let source, let ro):
                if fromImage(m.target) && ro {
                    rows.append(Carryover("mount \(m.target)", .partial, "provided by the container image (read-only root), not bound from a node"))
                    continue
                }
                index += 1
                let volume = "bind-\(index)"
                volumes.append(.object([("name", .string(volume)), ("hostPath", .object([("path", .string(source)), ("type", .string(""))]))]))
                volumeMounts.append(mountNode(volume, m.target, readOnly: ro))
                annotations.append(("mcpbox.dev/placeholder-\(volume)", .string("hostPath \(source) is this machine's path; replace it with a volume (PVC, image volume) holding the same data on the cluster")))
                rows.append(Carryover("mount \(m.target)", .partial, "volume \(volume): hostPath \(source) as a PLACEHOLDER (a node has no such path; replace it), \(ro ? "read-only" : "read-write")"))
            case .tmpfs(let size):
                index += 1
                let volume = "tmpfs-\(index)"
                volumes.append(.object([("name", .string(volume)), ("emptyDir", .object([("medium", .string("Memory")), ("sizeLimit", .string(String(size)))]))]))
                volumeMounts.append(mountNode(volume, m.target, readOnly: false))
                rows.append(Carryover("mount \(m.target)", .carried, "emptyDir medium Memory, sizeLimit \(size) (counted against the memory limit; the kubelet evicts past the size instead of ENOSPC)"))
            case .proc:
                rows.append(Carryover("mount \(m.target)", .carried, "the runtime's procfs with procMount Default (masked and read-only paths like mcpbox's)"))
            case .dev:
                rows.append(Carryover("mount \(m.target)", .partial, "the runtime's /dev (the spec's default devices: tty, console, ptmx beyond mcpbox's five); /dev/shm is the runtime's 64 MiB"))
            case .file(let contents):
                let key = "file-" + String(m.target.dropFirst()).replacingAll("/", "-")
                configData.append((key, .string(contents)))
                index += 1
                volumeMounts.append(mountNode("mcpbox-files", m.target, readOnly: true, subPath: key))
                rows.append(Carryover("mount \(m.target)", .carried, "ConfigMap \(name)-files key \(key), mounted read-only with subPath"))
            case .hide(let isDir):
                index += 1
                if isDir {
                    let volume = "hide-\(index)"
                    volumes.append(.object([("name", .string(volume)), ("emptyDir", .object([("medium", .string("Memory")), ("sizeLimit", .string("1Ki"))]))]))
                    volumeMounts.append(mountNode(volume, m.target, readOnly: true))
                } else {
                    configData.append(("hide-empty", .string("")))
                    volumeMounts.append(mountNode("mcpbox-files", m.target, readOnly: true, subPath: "hide-empty"))
                }
                rows.append(Carryover("hide \(m.target)", .partial, "an empty read-only volume over it; inside a hostPath volume the kubelet creates the mount point on the node when it is missing"))
            case .symlink(let to):
                rows.append(Carryover("symlink \(m.target)", .partial, "from the container image (mcpbox mirrors the host's link -> \(to))"))
            }
        }
        if !configData.isEmpty {
            volumes.append(.object([("name", .string("mcpbox-files")), ("configMap", .object([("name", .string(name + "-files"))]))]))
        }

        let id = plan.identity
        let seccompFile = "operator/default/\(name).json"
        let seccomp = try OCISeccomp.translate(plan.seccomp)
        let seccompContext: Node = .object([("type", .string("Localhost")), ("localhostProfile", .string(seccompFile))])
        rows.append(Carryover("seccomp", seccomp.differences.isEmpty ? .carried : .partial,
            "SeccompProfile \(name) (Security Profiles Operator; localhostProfile \(seccompFile)) and \(name)-seccomp.json for the kubelet's seccomp directory"
            + (seccomp.differences.isEmpty ? "" : "; " + seccomp.differences.joined(separator: "; "))))
        rows.append(Carryover("identity", .carried, "runAsUser \(id.insideUid), runAsGroup \(id.insideGid), runAsNonRoot, hostUsers: false (a user namespace, the host ids are the kubelet's choice)"))
        rows.append(Carryover("capabilities", .carried, "capabilities.drop [ALL]"))
        rows.append(Carryover("no_new_privs", .carried, "allowPrivilegeEscalation: false"))
        rows.append(Carryover("securebits", .dropped, "not expressible in a Pod"))
        rows.append(Carryover("namespaces", .carried, "a Pod has its own mount, pid (shareProcessNamespace false), net, ipc and uts namespaces; hostUsers false adds the user namespace"))
        rows.append(Carryover("hostname", .carried, "spec.hostname \(plan.hostname)"))
        // Values copied from the caller's environment (env.pass) are what a profile passes
        // tokens with: they go to a Secret, which clusters keep apart from the Deployment (RBAC,
        // encryption at rest) and which `kubectl get deploy -o yaml` does not show.
        let secretName = name + "-env"
        var secretData: [(String, Node)] = []
        var env: [Node] = []
        for v in plan.environment {
            if let proxy = egress?.environment[v.name] {
                env.append(.object([("name", .string(v.name)), ("value", .string(proxy))]))
            } else if v.origin == "pass" {
                let key = secretKey(v.name, taken: Set(secretData.map(\.0)))
                secretData.append((key, .string(v.value)))
                // Values from a Secret are never expanded by the kubelet: no `$$(` here.
                env.append(.object([("name", .string(v.name)), ("valueFrom", .object([
                    ("secretKeyRef", .object([("name", .string(secretName)), ("key", .string(key))])),
                ]))]))
            } else {
                // The kubelet expands $(VAR) in values: only the proxy URL may; `$$(` keeps the rest literal.
                env.append(.object([("name", .string(v.name)), ("value", .string(v.value.literalForKubelet))]))
            }
        }
        rows.append(Carryover("environment", .carried, "container env: \(plan.environment.count) variables, values as resolved at export"
            + (secretData.isEmpty ? "" : "; the \(secretData.count) passed from the caller's environment (env.pass) from Secret \(secretName) (secret.yaml) by secretKeyRef")))
        rows.append(Carryover("open_files", .dropped, "Pods cannot set RLIMIT_NOFILE (the container runtime's default applies)"))
        if let n = plan.limits.processes {
            rows.append(Carryover("processes", .dropped, "Pods cannot set RLIMIT_NPROC (\(n)); only the node-wide podPidsLimit of the kubelet bounds them"))
        }
        var limits: [(String, Node)] = []
        if let mem = plan.limits.memoryBytes {
            limits.append(("memory", .string(String(mem))))
            rows.append(Carryover("memory", .carried, "resources.limits.memory \(mem)"))
        } else if let o = plan.limits.optionalMemory {
            rows.append(Carryover("memory (optional)", .dropped, "not applied in the plan on this host: \(o.reason)"))
        }
        if let cpu = plan.limits.cpu {
            limits.append(("cpu", .string("\(Int((cpu * 1000).rounded()))m")))
            rows.append(Carryover("cpu", .carried, "resources.limits.cpu \(cpu)"))
        }
        if plan.limits.wallTimeSeconds > 0 {
            rows.append(Carryover("wall_time", .dropped, "a Deployment restarts its Pod; activeDeadlineSeconds exists only for Jobs and bare Pods"))
        }
        if plan.limits.inotifyInstances != nil || plan.limits.inotifyWatches != nil {
            rows.append(Carryover("inotify limits", .dropped, "user.max_inotify_* is not an allowed Pod sysctl"))
        }
        if plan.landlock.enforced {
            rows.append(Carryover("landlock", .dropped, "Kubernetes has no Landlock; the volumes alone draw the wall"))
        }
        if plan.mcp != nil {
            rows.append(Carryover("MCP policy layer ([tools]/[prompts]/[client])", .dropped, "enforced by mcpbox's relay; the attached stdio reaches the server directly"))
        }
        if !plan.gitWatched.isEmpty || !plan.gitTrees.isEmpty {
            rows.append(Carryover("git protection (after the session)", .dropped, "nothing runs after the Pod's session to move a planted commondir or nested .git aside"))
        }
        rows.append(Carryover("stdio relay", .dropped, "stdin: true, tty: false; clients attach (kubectl attach -i) straight to the server"))
        // A Pod without runtimeClassName runs on the node's default runtime, the host kernel.
        // Naming the class keeps gVisor or keeps the Pod from starting; what the node's runsc
        // does with the Pod is the cluster's configuration, not the plan's.
        let gvisor = plan.isolation.runtime == .gvisor
        if gvisor {
            rows.append(Carryover(OCIExport.isolationRow, .partial, "runtimeClassName \(runtimeClass): the cluster must define a RuntimeClass of that name whose handler is runsc "
                + "(GKE Sandbox has one; without it the Pod is not admitted, it never falls back to the host kernel); the node's runsc applies the Pod's seccomp profile only "
                + "when configured with --oci-seccomp, and its platform is the node's choice (mcpbox runs --platform=ptrace --oci-seccomp)"))
        }

        var policySpec: [(String, Node)] = [("podSelector", .object([("matchLabels", labels)])), ("policyTypes", .array([.string("Ingress"), .string("Egress")]))]
        switch plan.network {
        case .none:
            policySpec += [("ingress", .array([])), ("egress", .array([]))]
            rows.append(Carryover("network none", .carried, "NetworkPolicy \(name): no ingress, no egress (the Pod keeps its loopback; needs a CNI that enforces NetworkPolicy)"))
        case .allow:
            policySpec += [("ingress", .array([])), ("egress", .array(egress?.serverEgress ?? []))]
            rows += egress?.rows ?? []
        case .host:
            policySpec += [("ingress", .array([]))]
            rows.append(Carryover("network host", .partial, "the Pod network, egress unrestricted (no host network); ingress denied"))
        }

        let containerSecurity: Node = .object([
            ("allowPrivilegeEscalation", .bool(false)),
            ("privileged", .bool(false)),
            ("capabilities", .object([("drop", .array([.string("ALL")]))])),
            ("readOnlyRootFilesystem", .bool(true)),
            ("runAsNonRoot", .bool(true)),
            ("runAsUser", .uint(UInt64(id.insideUid))),
            ("runAsGroup", .uint(UInt64(id.insideGid))),
            ("procMount", .string("Default")),
            ("seccompProfile", seccompContext),
        ])
        var args = plan.argv
        if let exe = plan.executable, !args.isEmpty { args[0] = exe }
        var container: [(String, Node)] = [
            ("name", .string("server")),
            ("image", .string("REPLACE-WITH-AN-IMAGE-HOLDING-THE-SERVER")),
            // The kubelet expands $(VAR) in command too.
            ("command", .array(args.map { .string($0.literalForKubelet) })),
            ("workingDir", .string(plan.cwd)),
            ("env", .array(env)),
            ("stdin", .bool(true)),
            ("stdinOnce", .bool(false)),
            ("tty", .bool(false)),
            ("securityContext", containerSecurity),
        ]
        if !limits.isEmpty { container.append(("resources", .object([("limits", .object(limits)), ("requests", .object(limits))]))) }
        container.append(("volumeMounts", .array(volumeMounts)))

        var podSpec: [(String, Node)] = [("hostUsers", .bool(false))]
        if gvisor { podSpec.append(("runtimeClassName", .string(runtimeClass))) }
        podSpec += [
            ("hostname", .string(plan.hostname)),
            ("automountServiceAccountToken", .bool(false)),
            // In allow mode the proxy variables name the Service through its link variable.
            ("enableServiceLinks", .bool(egress != nil)),
            ("shareProcessNamespace", .bool(false)),
            ("securityContext", .object([
                ("runAsNonRoot", .bool(true)),
                ("runAsUser", .uint(UInt64(id.insideUid))),
                ("runAsGroup", .uint(UInt64(id.insideGid))),
                ("seccompProfile", seccompContext),
            ])),
            ("containers", .array([.object(container)])),
            ("volumes", .array(volumes)),
        ]
        let deployment: Node = .object([
            ("apiVersion", .string("apps/v1")),
            ("kind", .string("Deployment")),
            ("metadata", .object([("name", .string(name)), ("labels", labels)])),
            ("spec", .object([
                ("replicas", .int(1)),
                ("selector", .object([("matchLabels", labels)])),
                ("template", .object([
                    ("metadata", .object([("labels", labels), ("annotations", .object(annotations))])),
                    ("spec", .object(podSpec)),
                ])),
            ])),
        ])
        let networkPolicy: Node = .object([
            ("apiVersion", .string("networking.k8s.io/v1")),
            ("kind", .string("NetworkPolicy")),
            ("metadata", .object([("name", .string(name)), ("labels", labels)])),
            ("spec", .object(policySpec)),
        ])
        // The SPO CRD takes the OCI seccomp fields except defaultErrnoRet (its ERRNO default is
        // EPERM, the only errno the plan's default uses).
        guard case .object(let seccompFields) = seccomp.node else { throw ExportError("seccomp: not an object") }
        if case .uint(let e)? = seccomp.node["defaultErrnoRet"], e != 1 {
            throw ExportError("seccomp: the SeccompProfile CRD cannot state a default errno other than EPERM (\(e))")
        }
        let spo: Node = .object([
            ("apiVersion", .string("security-profiles-operator.x-k8s.io/v1beta1")),
            ("kind", .string("SeccompProfile")),
            ("metadata", .object([("name", .string(name)), ("namespace", .string("default")), ("labels", labels)])),
            ("spec", .object(seccompFields.filter { $0.0 != "defaultErrnoRet" })),
        ])
        var documents: [(String, Node)] = []
        if !secretData.isEmpty {
            documents.append(("secret.yaml", .object([
                ("apiVersion", .string("v1")),
                ("kind", .string("Secret")),
                ("metadata", .object([("name", .string(secretName)), ("labels", labels)])),
                ("type", .string("Opaque")),
                ("stringData", .object(secretData)),
            ])))
        }
        documents += [("deployment.yaml", deployment), ("networkpolicy.yaml", networkPolicy)]
        if !configData.isEmpty {
            documents.append(("configmap.yaml", .object([
                ("apiVersion", .string("v1")),
                ("kind", .string("ConfigMap")),
                ("metadata", .object([("name", .string(name + "-files")), ("labels", labels)])),
                ("data", .object(configData)),
            ])))
        }
        documents.append(("seccompprofile.yaml", spo))
        documents += egress?.documents ?? []
        var files: [(String, String)] = []
        if let egress { files.append((egress.rulesFile, egress.rules)) }
        return Manifests(name: name, documents: documents, seccompJSON: seccomp.node, files: files, rows: rows)
    }
}

extension KubernetesExport {
    /// A Secret key for the variable `name`: the name itself when a key may be spelled so
    /// (letters, digits, `-`, `_`, `.`), else `env-N`; never one of `taken`.
    static func secretKey(_ name: String, taken: Set<String>) -> String {
        let valid = !name.isEmpty && name != "." && name != ".." && name.utf8.count <= 253 && name.unicodeScalars.allSatisfy {
            ($0.value >= 0x61 && $0.value <= 0x7a) || ($0.value >= 0x41 && $0.value <= 0x5a)
                || ($0.value >= 0x30 && $0.value <= 0x39) || "-_.".unicodeScalars.contains($0)
        }
        if valid && !taken.contains(name) { return name }
        var n = taken.count + 1
        while taken.contains("env-\(n)") { n += 1 }
        return "env-\(n)"
    }
}

/// The Kubernetes objects (one per file) and the plain seccomp JSON.
public struct Manifests: Sendable {
    public var name: String
    /// File name and object, in the order `kubectl apply -f DIR` should see them.
    public var documents: [(String, Node)]
    public var seccompJSON: Node
    /// Plain files beside the objects (file name, contents): the egress rules in allow mode.
    public var files: [(String, String)] = []
    public var rows: [Carryover]
}

extension BundleWriter {
    /// Writes each object to its own YAML file and the seccomp JSON (0600, in the 0700 output
    /// directory `prepare` made: secret.yaml holds passed values in plain text).
    public static func write(_ m: Manifests, to dir: String) throws -> [String] {
        var written: [String] = []
        for (file, node) in m.documents {
            try write(dir + "/" + file, node.yaml())
            written.append(dir + "/" + file)
        }
        try write(dir + "/\(m.name)-seccomp.json", m.seccompJSON.json())
        written.append(dir + "/\(m.name)-seccomp.json")
        for (file, contents) in m.files {
            try write(dir + "/" + file, contents)
            written.append(dir + "/" + file)
        }
        return written
    }
}

extension String {
    /// The value with every `$(` written `$$(`, which the kubelet turns back into `$(` instead
    /// of expanding a variable.
    var literalForKubelet: String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: "$(") {
            out += rest[..<r.lowerBound] + "$$("
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    /// Every `a` replaced by `b` (single characters).
    func replacingAll(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
