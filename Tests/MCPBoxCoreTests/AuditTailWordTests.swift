import Testing
@testable import MCPBoxCore

/// `mcpbox audit tail` shows one record per line. A tool, method or server name is the
/// server's or the client's choice: one holding spaces could forge fields of the line (a
/// denied call shown as `ok`), so anything but a plain word is shown quoted (red-team pass,
/// 2026-12-02; fails before the change).
@Suite struct AuditTailWordTests {
    @Test("a name holding spaces, `=` or brackets is shown quoted; plain words as they are")
    func namesCannotForgeFields() {
        let record = #"{"time":"2026-12-02T18:00:00Z","kind":"mcp.request","direction":"client_to_server","method":"tools/call","id":7,"tool":"x  ok  12µs","argument_keys":["a b","path"],"outcome":"denied","rule":"[tools] deny \"x*\""}"#
        let line = AuditLogReader.humanLine(record)
        #expect(line.contains(#"tool="x  ok  12µs""#) && line.contains(#"args=["a b",path]"#), "\(line)")
        #expect(line.contains(#"tools/call #7"#) && line.contains(#"denied ([tools] deny "x*")"#), "\(line)")
        let server = #"{"time":"t","kind":"mcp.request","direction":"client_to_server","method":"initialize","id":"1","outcome":"ok","server_name":"evil protocol=2099","server_version":"","protocol_version":"2025-06-18"}"#
        let s = AuditLogReader.humanLine(server)
        #expect(s.contains(#"server="evil protocol=2099" "" protocol=2025-06-18"#), "\(s)")
        let other = #"{"time":"t","kind":"egress","host":"a b=c","port":443}"#
        #expect(AuditLogReader.humanLine(other).contains(#"host="a b=c" port=443"#), "\(AuditLogReader.humanLine(other))")
    }
}
