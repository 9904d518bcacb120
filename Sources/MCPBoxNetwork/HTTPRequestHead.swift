/// A parsed HTTP/1.x request head from the sandbox (untrusted): request line and headers,
/// with hard limits and the smuggling shapes refused.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request target as sent (`host:port` for CONNECT, `http://host/path` otherwise).
    public var target: String
    public var version: String
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]

    /// Upper bound of a whole head, request line included.
    public static let maxHeadBytes = 16 * 1024
    public static let maxLineBytes = 8 * 1024
    public static let maxHeaders = 100

    public enum ParseError: Error, Equatable, Sendable {
        /// More bytes are needed (no blank line yet) and the limit is not reached.
        case incomplete
        case tooLarge
        case malformed(String)
    }

    public static func == (a: HTTPRequestHead, b: HTTPRequestHead) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// Where the head ends in `bytes` (the index just past CRLF CRLF), or nil.
    public static func headEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        var i = bytes.startIndex
        while i + 3 < bytes.endIndex {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Parses the head at the start of `bytes`; returns it and its length.
    public static func parse(_ bytes: [UInt8]) -> Result<(HTTPRequestHead, Int), ParseError> {
        guard let end = headEnd(bytes[0..<min(bytes.count, maxHeadBytes)]) else {
            return .failure(bytes.count >= maxHeadBytes ? .tooLarge : .incomplete)
        }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i < end - 2 {
            if bytes[i] == 13 {
                guard bytes[i + 1] == 10 else { return .failure(.malformed("bare CR")) }
                lines.append(bytes[start..<i])
                i += 2
                start = i
                continue
            }
            if bytes[i] == 10 { return .failure(.malformed("bare LF")) }
            if bytes[i] == 0 { return .failure(.malformed("NUL byte")) }
            i += 1
        }
        guard let first = lines.first else { return .failure(.malformed("empty request")) }
        guard first.count <= maxLineBytes else { return .failure(.tooLarge) }
        guard lines.count - 1 <= maxHeaders else { return .failure(.tooLarge) }
        let parts = first.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformed("request line")) }
        guard let method = ascii(parts[0]), !method.isEmpty, method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else {
            return .failure(.malformed("method"))
        }
        guard let target = ascii(parts[1]), !target.isEmpty, target.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            return .failure(.malformed("request target"))
        }
        guard let version = ascii(parts[2]), version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(.malformed("version"))
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard line.count <= maxLineBytes else { return .failure(.tooLarge) }
            if line.first == 32 || line.first == 9 { return .failure(.malformed("obsolete line folding")) }
            guard let colon = line.firstIndex(of: 58), colon > line.startIndex else { return .failure(.malformed("header line")) }
            guard let name = ascii(line[line.startIndex..<colon]), name.utf8.allSatisfy(isTokenChar) else {
                return .failure(.malformed("header name"))
            }
            guard let raw = ascii(line[(colon + 1)...]), raw.utf8.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
                return .failure(.malformed("header value"))
            }
            headers.append((name, trim(raw)))
        }
        let head = HTTPRequestHead(method: method, target: target, version: version, headers: headers)
        if let problem = head.smugglingProblem { return .failure(.malformed(problem)) }
        return .success((head, end))
    }

    /// Values of a header (case-insensitive name).
    public func values(_ name: String) -> [String] {
        let n = name.lowercased()
        return headers.filter { $0.name.lowercased() == n }.map(\.value)
    }

    /// Framing a proxy and a server could read differently: refused outright.
    var smugglingProblem: String? {
        let te = values("Transfer-Encoding")
        let cl = values("Content-Length")
        if !te.isEmpty && !cl.isEmpty { return "both Transfer-Encoding and Content-Length" }
        if te.count > 1 || (te.count == 1 && te[0].lowercased() != "chunked") { return "unsupported Transfer-Encoding" }
        if cl.count > 1 { return "several Content-Length headers" }
        if let v = cl.first, v.isEmpty || v.count > 18 || !v.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return "invalid Content-Length" }
        if values("Host").count > 1 { return "several Host headers" }
        return nil
    }

    /// The authority a request names: (host, port). CONNECT: `host:port` (port required);
    /// otherwise an absolute `http://` URI (default port 80), whose authority must agree with
    /// the Host header when there is one.
    public func authority() -> Result<(host: String, port: UInt16), ParseError> {
        if method == "CONNECT" {
            guard let (h, p) = HTTPRequestHead.splitAuthority(target, defaultPort: nil) else {
                return .failure(.malformed("CONNECT target must be host:port"))
            }
            return .success((h, p))
        }
        let lower = target.lowercased()
        guard lower.hasPrefix("http://") else {
            return .failure(.malformed(lower.hasPrefix("https://") ? "https:// through a plain request; use CONNECT" : "request target must be an absolute http:// URI"))
        }
        let rest = target.dropFirst(7)
        let auth = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !auth.contains("@"), let (h, p) = HTTPRequestHead.splitAuthority(String(auth), defaultPort: 80) else {
            return .failure(.malformed("URI authority"))
        }
        if let host = values("Host").first {
            guard let (hh, hp) = HTTPRequestHead.splitAuthority(host, defaultPort: 80),
                  EgressPolicy.normalize(hh) == EgressPolicy.normalize(h), hp == p else {
                return .failure(.malformed("Host header differs from the request target"))
            }
        }
        return .success((h, p))
    }

    /// The request target in origin form (`/path?query`), for the upstream server.
    public var originForm: String {
        let rest = target.dropFirst(7)
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        let path = rest[slash...].prefix { $0 != "#" }
        return path.hasPrefix("?") ? "/" + path : String(path)
    }

    /// `host:port`, `[v6]:port`, or a bare host when `defaultPort` is given.
    static func splitAuthority(_ s: String, defaultPort: UInt16?) -> (String, UInt16)? {
        guard !s.isEmpty, s.utf8.count <= 300 else { return nil }
        var host = Substring(s)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = EgressRule.parsePort(after.dropFirst()) else { return nil }
                port = p
            }
            host = host[host.index(after: host.startIndex)..<close]
            guard IPAddress(String(host)) != nil else { return nil }
        } else if let c = host.lastIndex(of: ":") {
            guard let p = EgressRule.parsePort(host[host.index(after: c)...]) else { return nil }
            port = p
            host = host[..<c]
        }
        guard let port, !host.isEmpty, EgressPolicy.normalize(String(host)) != nil else { return nil }
        return (String(host), port)
    }

    static func ascii(_ b: ArraySlice<UInt8>) -> String? {
        guard b.allSatisfy({ $0 < 128 }) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    static func trim(_ s: String) -> String {
        var v = Substring(s)
        while let f = v.first, f == " " || f == "\t" { v = v.dropFirst() }
        while let l = v.last, l == " " || l == "\t" { v = v.dropLast() }
        return String(v)
    }

    static func isTokenChar(_ c: UInt8) -> Bool {
        if (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return true }
        return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
    }
}
