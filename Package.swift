// swift-tools-version:6.0
import PackageDescription

/// For the targets in the shipped binary: generic types used at concrete arguments get their
/// metadata through the accessor function, not by demangling the type's name at first use (the
/// runtime's demangler and its conformance scan were a quarter of a `run --dry-run`). Each function
/// in its own section, so that the linker can place the start-up code together (`startupOrder`).
let directMetadata: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors",
                                                    "-Xfrontend", "-function-sections"])]

/// The code a dry run, `explain` and `run` execute, placed first and together in the binary's
/// .text (gold's --section-ordering-file; scripts/startup-order regenerates the list): start-up
/// faults in a few contiguous pages of code instead of pages spread over 15 MB.
let startupOrder: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/Sources/mcpbox/startup.order"])]

let package = Package(
    name: "mcpbox",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mcpbox", targets: ["mcpbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(
            name: "CCap",
            pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]),
        .target(
            name: "CSandbox",
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-O2", "-Wall", "-Wextra", "-fno-strict-aliasing"])]),
        .target(
            name: "MCPBoxEvents",
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxProtocol",
            dependencies: ["MCPBoxEvents"],
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxNetwork",
            dependencies: ["CSandbox", "MCPBoxEvents"],
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxCore",
            dependencies: ["CSeccomp", "CCap", "CSandbox", "MCPBoxNetwork", "MCPBoxEvents", "MCPBoxProtocol"],
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxClients",
            dependencies: ["MCPBoxCore", "MCPBoxProtocol"],
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxExport",
            dependencies: ["CSandbox", "MCPBoxCore", "MCPBoxNetwork"],
            swiftSettings: directMetadata),
        .target(
            name: "MCPBoxCLI",
            dependencies: ["MCPBoxCore", "MCPBoxNetwork", "MCPBoxEvents", "MCPBoxClients", "MCPBoxExport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: directMetadata),
        .target(
            name: "CMCPBoxEntry",
            dependencies: ["CSandbox"],
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-O2", "-Wall", "-Wextra"])]),
        .executableTarget(
            name: "mcpbox",
            dependencies: ["MCPBoxCLI", "CMCPBoxEntry"],
            exclude: ["startup.order"],
            swiftSettings: directMetadata,
            linkerSettings: startupOrder),
        .executableTarget(
            name: "relay-harness",
            dependencies: ["CSandbox"],
            path: "Tests/RelayHarness"),
        .executableTarget(
            name: "mcp-harness",
            dependencies: ["MCPBoxProtocol", "MCPBoxEvents"],
            path: "Tests/MCPHarness"),
        .executableTarget(
            name: "landlock-harness",
            dependencies: ["CSandbox"],
            path: "Tests/LandlockHarness"),
        .testTarget(
            name: "MCPBoxNetworkTests",
            dependencies: ["MCPBoxNetwork", "MCPBoxEvents"],
            exclude: ["Corpus"]),
        .testTarget(
            name: "MCPBoxEventsTests",
            dependencies: ["MCPBoxEvents"]),
        .testTarget(
            name: "MCPBoxProtocolTests",
            dependencies: ["MCPBoxProtocol", "MCPBoxEvents"],
            exclude: ["Corpus"]),
        .testTarget(
            name: "MCPBoxCoreTests",
            dependencies: ["MCPBoxCore", "MCPBoxCLI"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "MCPBoxClientsTests",
            dependencies: ["MCPBoxClients", "MCPBoxCore", "MCPBoxCLI"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "MCPBoxExportTests",
            dependencies: ["MCPBoxExport", "MCPBoxCore", "MCPBoxTestSupport"],
            exclude: ["Fixtures"]),
        .target(
            name: "MCPBoxTestSupport",
            path: "Tests/MCPBoxTestSupport"),
        .testTarget(
            name: "SandboxTests",
            dependencies: ["MCPBoxCore", "MCPBoxTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MCPBoxCore", "MCPBoxTestSupport"],
            exclude: ["Fixtures"]),
    ]
)
