import ArgumentParser
import MCPBoxCore
import MCPBoxExport

/// `mcpbox export`: the plan as an OCI bundle or Kubernetes objects, with the carry-over report.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write PROFILE's sandbox as an OCI runtime bundle or Kubernetes manifests, and list what could not be carried over.",
        discussion: "The report (stdout; --json for JSON) names every restriction of the plan and how it was carried over. With --strict, any restriction not fully carried over exits 125 (the files are still written, for inspection).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case oci, kubernetes
    }

    @Argument(help: "Profile NAME or path to a .toml file.", completion: .custom(MCPBox.completeProfileNames))
    var profile: String

    @OptionGroup var options: ProfileOptions

    @Option(help: "oci (runtime bundle: config.json, rootfs/, files/) or kubernetes (manifests).")
    var format: Format

    @Option(help: ArgumentHelp("host: binds name the host paths (runs on this machine); empty: binds name placeholders under the bundle's binds/ (fill them first). OCI only.", valueName: "host|empty"))
    var rootfs: String = "host"

    @Option(help: ArgumentHelp("Kubernetes, network.mode = \"allow\": the egress proxy's image (mcpbox's static binary at /mcpbox; see README). Default: a placeholder to replace.", valueName: "IMAGE"))
    var proxyImage = KubernetesExport.defaultProxyImage

    @Option(help: "Directory to write into (created; must be new or empty).")
    var output: String

    @Flag(help: "Exit 125 when any restriction is not fully carried over.")
    var strict = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The server command (after `--`); default: the profile's `command`.")
    var command: [String] = []

    func run() throws {
        guard let mode = OCIExport.Rootfs(rawValue: rootfs) else {
            Stderr.write("mcpbox: --rootfs \(Explain.visible(rootfs)): expected host or empty")
            throw ExitCode(125)
        }
        let plan: SandboxPlan
        do { plan = try options.selection.plan(profile, command: command, requireCommand: true) } catch { throw fail(error) }
        let rows: [Carryover]
        let files: [String]
        do {
            try BundleWriter.prepare(output)
            switch format {
            case .oci:
                let bundle = try OCIExport.build(plan, rootfs: mode, isDirectory: BundleWriter.isDirectory)
                files = try BundleWriter.write(bundle, to: output)
                rows = bundle.rows
            case .kubernetes:
                let manifests = try KubernetesExport.build(plan, proxyImage: proxyImage)
                files = try BundleWriter.write(manifests, to: output)
                rows = manifests.rows
            }
        } catch {
            Stderr.write(Explain.visible("mcpbox: export: \(error)"))
            throw ExitCode(125)
        }
        if json {
            print(CarryoverReport.node(format: format.rawValue, output: output, files: files, rows: rows).json(), terminator: "")
        } else {
            print(CarryoverReport.text(format: format.rawValue, rows: rows), terminator: "")
        }
        let lost = CarryoverReport.lost(rows)
        if strict && !lost.isEmpty {
            Stderr.write("mcpbox: export --strict: \(lost.count) restriction\(lost.count == 1 ? " is" : "s are") not fully carried over: "
                + lost.map { Explain.visible($0.restriction) }.joined(separator: ", "))
            throw ExitCode(125)
        }
    }
}
