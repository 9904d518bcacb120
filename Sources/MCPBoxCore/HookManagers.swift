/// What a git hooks directory's own scripts run from the worktree: a hook manager's dispatcher
/// is bound read-only with the hooks directory, but the files it hands control to lie beside it
/// in the tree the server writes.
///
/// husky 9 (`core.hooksPath = .husky/_`): every hook in `.husky/_` sources `.husky/_/h`, which
/// runs `.husky/NAME` (the directory above the hooks directory) with `sh`, after putting the
/// relative `node_modules/.bin` first in `PATH` — so a `.husky/pre-commit`, or a
/// `node_modules/.bin/sh`, written by the server would run at the host's next `git commit`.
enum HookManagers {
    /// A path a hooks directory's dispatcher runs from, and how it uses it (for messages).
    struct Delegate: Equatable {
        var path: String
        var what: String
    }

    /// The paths that the dispatcher found in `hooksDir` runs from (`top`: the worktree top,
    /// where hooks run); empty when it holds none mcpbox knows.
    static func delegates(hooksDir: String, top: String) -> [Delegate] {
        guard let h = HostFS.readFile(Paths.join(hooksDir, "h"), limit: 64 << 10), h.contains("husky"),
              h.contains("dirname \"$(dirname \"$0\")\"") || h.contains("${0%/*/*}") else { return [] }
        let dispatcher = "husky's dispatcher \(Paths.join(hooksDir, "h"))"
        var out = [Delegate(path: Paths.dirname(hooksDir), what: "\(dispatcher), which runs the hook scripts there")]
        if h.contains("node_modules/.bin") {
            out.append(Delegate(path: Paths.join(top, "node_modules/.bin"),
                                what: "\(dispatcher), which puts it first in PATH and runs `sh` and every command of a hook from there"))
        }
        return out
    }
}
