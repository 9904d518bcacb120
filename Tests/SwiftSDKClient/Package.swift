// swift-tools-version:6.1
// A test-only MCP client built with the official Swift SDK. Kept out of mcpbox's own Package.swift
// so that the SDK's dependency graph (swift-nio, a branch-pinned docc plugin, ...) never touches
// mcpbox's build; Tests/EndToEndTests/SwiftSDKClientTests.swift builds and runs it.
import PackageDescription

let package = Package(
    name: "SwiftSDKClient",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
    ],
    targets: [
        .executableTarget(
            name: "mcp-sdk-client",
            dependencies: [.product(name: "MCP", package: "swift-sdk")]),
    ]
)
