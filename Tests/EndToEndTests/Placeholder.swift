import Testing
@testable import MCPBoxCore

@Test func placeholderEndToEndTests() { #expect(Bool(true)) }
