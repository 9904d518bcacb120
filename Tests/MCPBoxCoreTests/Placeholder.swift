import Testing
@testable import MCPBoxCore

@Test func placeholderMCPBoxCoreTests() { #expect(Bool(true)) }
