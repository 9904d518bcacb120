import MCPBoxCore
import MCPBoxNetwork

/// `network.mode = "allow"` in Kubernetes: mcpbox's own enforcement point (`mcpbox egress-proxy`)
/// in a Deployment and Service of its own, its rules in a ConfigMap, and NetworkPolicies that let
/// the server reach only the proxy's port and the proxy reach only what the refused address
/// classes leave. A sidecar would share the server's network namespace, where no NetworkPolicy
/// can keep the server from going around it; a separate pod can be enforced.
enum KubernetesEgress {
    /// The image `--proxy-image` replaces: one holding mcpbox's static binary at /mcpbox (README).
    static let placeholderImage = "REPLACE-WITH-AN-MCPBOX-EGRESS-PROXY-IMAGE"
    static let port: UInt16 = 3128
    static let rulesPath = "/etc/mcpbox/egress.rules"
    /// The proxy's own account in its image (nobody).
    static let proxyUid: UInt64 = 65534

    struct Objects {
        var documents: [(String, Node)]
        /// The server NetworkPolicy's egress rules.
        var serverEgress: [Node]
        /// The value each proxy variable of the server gets (by name).
        var environment: [String: String]
        var rules: String
        var rulesFile: String
        var rows: [Carryover]
    }

    /// The objects for `egress`; `serverLabels` select the server's pods.
    static func build(_ plan: SandboxPlan, _ egress: EgressPlan, name: String, serverLabels: Node, proxyImage: String) -> Objects {
        let proxyName = name + "-egress"
        let labels = proxyLabels(name)
        let policy = egress.policy
        let rules = EgressRulesFile.render(policy, header: "egress rules of profile \(plan.profileName) (mcpbox export); read by mcpbox egress-proxy")
        let tcp = { (p: UInt16) -> Node in .object([("protocol", .string("TCP")), ("port", .int(Int64(p)))]) }

        // The server: every proxy variable names the Service's cluster IP through the kubelet's
        // service-link variable (no DNS in the server's pod); NO_PROXY and the rest stay.
        let hostVariable = proxyName.uppercased().replacingAll("-", "_") + "_SERVICE_HOST"
        let url = "http://$(\(hostVariable)):\(port)"
        var environment: [String: String] = [:]
        for v in plan.environment where egress.variables.contains(v.name) && v.value == egress.proxyURL { environment[v.name] = url }
        let serverEgress: [Node] = [.object([
            ("to", .array([.object([("podSelector", .object([("matchLabels", labels)]))])])),
            ("ports", .array([tcp(port)])),
        ])]

        // The proxy's egress: everything but the refused classes (and deny ranges) on the rules'
        // ports; ranges the rules name explicitly; the cluster DNS when a name needs resolving.
        let denyRanges = policy.deny.compactMap(range)
        // NAT64 addresses are judged by the IPv4 address they carry: the IPv4 ranges' NAT64 forms too.
        let refusedV4 = IPAddress.Restricted.allCases.flatMap(\.ranges).compactMap { IPAddress.parseRange($0) }
        let refused = refusedV4 + (refusedV4 + denyRanges).filter { $0.0.isV4 }.map(IPAddress.nat64Range)
        var proxyEgress: [Node] = []
        let nameRules = policy.allow.filter { if case .range = $0.host { return false } else { return true } }
        let namePorts = Set(nameRules.flatMap(\.effectivePorts)).sorted()
        if !namePorts.isEmpty {
            var peers: [Node] = []
            for v4 in [true, false] {
                let all = IPAddress(v4 ? "0.0.0.0" : "::")!
                let except = (refused + denyRanges).filter { $0.0.isV4 == v4 }.map(cidr)
                peers.append(.object([("ipBlock", .object([("cidr", .string("\(all)/0")), ("except", .array(unique(except).map(Node.string)))]))]))
            }
            proxyEgress.append(.object([("to", .array(peers)), ("ports", .array(namePorts.map(tcp)))]))
        }
        for r in policy.allow {
            guard let (net, prefix) = range(r) else { continue }
            let inside = denyRanges.filter { $0.0.isV4 == net.isV4 && $0.1 > prefix && $0.0.within(net, prefix: prefix) }.map(cidr)
            var block: [(String, Node)] = [("cidr", .string(cidr((net, prefix))))]
            if !inside.isEmpty { block.append(("except", .array(unique(inside).map(Node.string)))) }
            proxyEgress.append(.object([("to", .array([.object([("ipBlock", .object(block))])])), ("ports", .array(r.effectivePorts.map(tcp)))]))
        }
        let needsDNS = nameRules.contains { r in
            if case .name(let n) = r.host { return policy.hosts[n] == nil }
            return true
        }
        if needsDNS {
            proxyEgress.append(.object([
                ("to", .array([.object([
                    ("namespaceSelector", .object([("matchLabels", .object([("kubernetes.io/metadata.name", .string("kube-system"))]))])),
                    ("podSelector", .object([("matchLabels", .object([("k8s-app", .string("kube-dns"))]))])),
                ])])),
                ("ports", .array([.object([("protocol", .string("UDP")), ("port", .int(53))]), tcp(53)])),
            ]))
        }
        let proxyPolicy: Node = .object([
            ("apiVersion", .string("networking.k8s.io/v1")),
            ("kind", .string("NetworkPolicy")),
            ("metadata", .object([("name", .string(proxyName)), ("labels", labels)])),
            ("spec", .object([
                ("podSelector", .object([("matchLabels", labels)])),
                ("policyTypes", .array([.string("Ingress"), .string("Egress")])),
                ("ingress", .array([.object([
                    ("from", .array([.object([("podSelector", .object([("matchLabels", serverLabels)]))])])),
                    ("ports", .array([tcp(port)])),
                ])])),
                ("egress", .array(proxyEgress)),
            ])),
        ])

        let security: [(String, Node)] = [
            ("runAsNonRoot", .bool(true)),
            ("runAsUser", .uint(proxyUid)),
            ("runAsGroup", .uint(proxyUid)),
            ("seccompProfile", .object([("type", .string("RuntimeDefault"))])),
        ]
        let container: Node = .object([
            ("name", .string("egress-proxy")),
            ("image", .string(proxyImage)),
            ("command", .array(["/mcpbox", "egress-proxy", "--rules", rulesPath, "--listen", "0.0.0.0:\(port)", "--profile", plan.profileName.literalForKubelet].map(Node.string))),
            ("ports", .array([.object([("name", .string("proxy")), ("containerPort", .int(Int64(port))), ("protocol", .string("TCP"))])])),
            ("securityContext", .object([
                ("allowPrivilegeEscalation", .bool(false)),
                ("privileged", .bool(false)),
                ("capabilities", .object([("drop", .array([.string("ALL")]))])),
                ("readOnlyRootFilesystem", .bool(true)),
            ] + security)),
            ("resources", .object([
                ("limits", .object([("memory", .string("128Mi")), ("cpu", .string("500m"))])),
                ("requests", .object([("memory", .string("32Mi")), ("cpu", .string("50m"))])),
            ])),
            ("readinessProbe", .object([("tcpSocket", .object([("port", .int(Int64(port)))]))])),
            ("volumeMounts", .array([.object([("name", .string("rules")), ("mountPath", .string("/etc/mcpbox")), ("readOnly", .bool(true))])])),
        ])
        let deployment: Node = .object([
            ("apiVersion", .string("apps/v1")),
            ("kind", .string("Deployment")),
            ("metadata", .object([("name", .string(proxyName)), ("labels", labels)])),
            ("spec", .object([
                ("replicas", .int(1)),
                ("selector", .object([("matchLabels", labels)])),
                ("template", .object([
                    ("metadata", .object([("labels", labels), ("annotations", .object([
                        ("mcpbox.dev/profile", .string(plan.profileName)),
                        ("mcpbox.dev/events", .string("egress events (JSON Lines) on stderr: kubectl logs deploy/\(proxyName)")),
                    ]))])),
                    ("spec", .object([
                        ("hostUsers", .bool(false)),
                        ("automountServiceAccountToken", .bool(false)),
                        ("enableServiceLinks", .bool(false)),
                        ("securityContext", .object(security)),
                        ("containers", .array([container])),
                        ("volumes", .array([.object([("name", .string("rules")), ("configMap", .object([("name", .string(proxyName + "-rules"))]))])])),
                    ])),
                ])),
            ])),
        ])
        let service: Node = .object([
            ("apiVersion", .string("v1")),
            ("kind", .string("Service")),
            ("metadata", .object([("name", .string(proxyName)), ("labels", labels)])),
            ("spec", .object([
                ("type", .string("ClusterIP")),
                ("selector", labels),
                ("ports", .array([.object([("name", .string("proxy")), ("protocol", .string("TCP")), ("port", .int(Int64(port))), ("targetPort", .int(Int64(port)))])])),
            ])),
        ])
        let configMap: Node = .object([
            ("apiVersion", .string("v1")),
            ("kind", .string("ConfigMap")),
            ("metadata", .object([("name", .string(proxyName + "-rules")), ("labels", labels)])),
            ("data", .object([("egress.rules", .string(rules))])),
        ])

        var rows: [Carryover] = []
        rows.append(Carryover("network allow", .carried,
            "Deployment \(proxyName) runs mcpbox egress-proxy (image \(proxyImage)) with the plan's \(policy.allow.count) allow and \(policy.deny.count) deny rules "
            + "(ConfigMap \(proxyName)-rules): the same rule matching, refusal of the restricted address classes (NAT64 forms judged by their IPv4), TLS server-name check and 403 reasons as run; "
            + "NetworkPolicy \(name) lets the server reach only the proxy's port \(port), NetworkPolicy \(proxyName) lets only the server in and the proxy out to "
            + "0.0.0.0/0 and ::/0 except the refused classes\(denyRanges.isEmpty ? "" : " and deny ranges")"
            + (namePorts.isEmpty ? "" : " on ports \(namePorts.map(String.init).joined(separator: ","))")
            + (needsDNS ? ", and kube-dns" : "") + " (needs a CNI that enforces NetworkPolicy)"))
        if !policy.hosts.isEmpty {
            rows.append(Carryover("network hosts", .carried, "`host` lines of the rules file: the proxy answers those names with the plan's addresses"))
        }
        rows.append(Carryover("proxy variables", .partial,
            "\(environment.keys.sorted().joined(separator: ", ")) = \(url): the kubelet fills $(\(hostVariable)) from the Service (enableServiceLinks: true, so the server also sees the namespace's service-link variables); "
            + "apply egress-service.yaml before deployment.yaml — a server pod started before the Service exists keeps the literal $(…) and reaches nothing until restarted; "
            + "IPv4 service addresses only (an IPv6 cluster IP would need brackets)"))
        rows.append(Carryover("transparent capture and DNS stub", .partial,
            "proxy-aware programs only: the server's pod has no DNS and no capture of direct connections, so a program that ignores HTTP(S)_PROXY reaches nothing "
            + "(its packets are dropped by the NetworkPolicy) where run would capture its connections to allowed names"))
        if let log = policy.logPath {
            rows.append(Carryover("network.log", .partial, "egress events go to the proxy's stderr (kubectl logs deploy/\(proxyName)), not to \(log); the hash chain of a log file is not kept"))
        }
        return Objects(documents: [("egress-configmap.yaml", configMap), ("egress-service.yaml", service), ("egress-deployment.yaml", deployment),
                                   ("egress-networkpolicy.yaml", proxyPolicy)],
                       serverEgress: serverEgress, environment: environment, rules: rules, rulesFile: "\(name)-egress.rules", rows: rows)
    }

    /// The proxy pods' labels.
    static func proxyLabels(_ name: String) -> Node {
        .object([("app.kubernetes.io/name", .string(name + "-egress")), ("app.kubernetes.io/managed-by", .string("mcpbox")),
                 ("mcpbox.dev/role", .string("egress-proxy")), ("mcpbox.dev/profile", .string(name))])
    }

    /// The address range an address rule names.
    static func range(_ r: EgressRule) -> (IPAddress, Int)? {
        guard case .range(let net, let prefix) = r.host else { return nil }
        return (net, prefix)
    }

    /// Canonical CIDR text (host bits cleared).
    static func cidr(_ r: (IPAddress, Int)) -> String {
        var bytes = r.0.bytes
        var bits = r.1
        for i in 0..<bytes.count {
            let keep = min(8, max(0, bits))
            bytes[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - keep))
            bits -= 8
        }
        return "\(IPAddress(bytes: bytes)!)/\(r.1)"
    }

    static func unique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
