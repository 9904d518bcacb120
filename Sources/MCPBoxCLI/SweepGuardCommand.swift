import ArgumentParser
import MCPBoxCore

/// The after-session git sweep guard `run` starts (internal: see `SweepGuard`); not listed.
struct SweepGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: SweepGuard.subcommand,
        abstract: "Internal: the git sweep guard `run` starts.",
        shouldDisplay: false)

    func run() throws {
        throw ExitCode(SweepGuard.serve())
    }
}
