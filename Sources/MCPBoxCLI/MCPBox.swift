import ArgumentParser

public struct MCPBox: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mcpbox",
        abstract: "Run MCP servers in a sandbox.")
    public init() {}
}
