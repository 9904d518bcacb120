import Testing
@testable import MCPBoxCore

@Test func placeholderSandboxTests() { #expect(Bool(true)) }
