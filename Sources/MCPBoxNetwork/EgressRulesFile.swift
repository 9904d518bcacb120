#if canImport(Glibc)
import Glibc
#endif

/// The rules of an `EgressPolicy` as a text file, for an enforcement point running apart from
/// `mcpbox run` (`mcpbox egress-proxy --rules FILE`, fed by a Kubernetes ConfigMap). One
/// entry a line, `#` starts a comment:
///
///     allow api.github.com:443
///     deny  *.ads.example.com
///     host  api.internal 10.1.2.3 fd00::3
///
/// `allow`/`deny` take a rule exactly as `[network] allow`/`deny` do (parsed by `EgressRule`);
/// `host` is a `[network] hosts` entry. The log path is not part of it.
public enum EgressRulesFile {
    /// Largest file read (bytes).
    public static let maxBytes = 1 << 20

    /// The file's text for `policy`, entries in the policy's order (hosts sorted by name).
    public static func render(_ policy: EgressPolicy, header: String) -> String {
        var out = header.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 }.joined(separator: "\n") + "\n"
        for r in policy.allow { out += "allow \(r.text)\n" }
        for r in policy.deny { out += "deny \(r.text)\n" }
        for name in policy.hosts.keys.sorted() {
            out += "host \(name) " + policy.hosts[name]!.map(\.description).joined(separator: " ") + "\n"
        }
        return out
    }

    /// Parses the text of `file` (named in messages); every problem, one per line, on failure.
    public static func parse(_ text: String, file: String) -> Result<EgressPolicy, RuleError> {
        var allow: [EgressRule] = [], deny: [EgressRule] = []
        var hosts: [String: [IPAddress]] = [:]
        var problems: [String] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let keyword = words.first else { continue }
            let origin = "\(file):\(i + 1)"
            switch keyword {
            case "allow", "deny":
                guard words.count == 2 else { problems.append("\(origin): `\(keyword)` takes one rule"); continue }
                switch EgressRule.parse(words[1], origin: origin) {
                case .success(let r): if keyword == "allow" { allow.append(r) } else { deny.append(r) }
                case .failure(let e): problems.append("\(origin): \(e.message)")
                }
            case "host":
                guard words.count >= 3, let name = EgressPolicy.normalize(words[1]), IPAddress(name) == nil else {
                    problems.append("\(origin): `host` takes a host name and one or more addresses")
                    continue
                }
                let addresses = words.dropFirst(2).compactMap { IPAddress($0) }
                guard addresses.count == words.count - 2 else { problems.append("\(origin): `host \(name)`: not an IP address"); continue }
                hosts[name] = addresses
            default:
                problems.append("\(origin): unknown entry `\(keyword)` (expected allow, deny or host)")
            }
        }
        if !problems.isEmpty { return .failure(RuleError(problems.joined(separator: "\n"))) }
        return .success(EgressPolicy(allow: allow, deny: deny, hosts: hosts))
    }

    /// Reads and parses `path` (at most `maxBytes`).
    public static func load(_ path: String) -> Result<EgressPolicy, RuleError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(RuleError("\(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(RuleError("\(path): \(String(cString: strerror(errno)))")) }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > maxBytes { return .failure(RuleError("\(path): larger than \(maxBytes) bytes")) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(RuleError("\(path): not UTF-8 text")) }
        return parse(text, file: path)
    }
}
