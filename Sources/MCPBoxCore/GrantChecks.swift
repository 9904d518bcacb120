#if canImport(Glibc)
import Glibc
#endif

/// Grants that are never silent: a plan that hands the server one of these is refused, with the
/// fix in the message, unless the profile acknowledges the host path in `filesystem.accept`.
///
/// - Never acceptable: a read-write bind that contains, or lies inside, a directory of the profile
///   search path, mcpbox's configuration or state, or the mcpbox executable.
/// - Acceptable: a read-write bind touching one of the user's "run later" places (shell start-up
///   files, `~/.ssh`, autostart, systemd user units, `~/.local/bin`, git configuration, …); `/`,
///   a home directory or an ancestor of one bound read-write; a credentials path exposed
///   read-only or read-write (by the bind itself, through a symlink, or inside a bound directory
///   without `hide`); when root starts mcpbox for an account, a bind source the account could not
///   reach on the host.
public enum GrantChecks {
    /// What a bind of mcpbox's package cache root exposes (see `Packages.cacheRoot`).
    static let packageCachesWhat = "mcpbox's package caches (other profiles' server code, run again by their later sandboxes)"
    /// System places the host runs or trusts later (as root, at boot, at every login or sudo).
    public static let systemRunLater: [(path: String, what: String)] = [
        ("/etc/crontab", "system cron table"), ("/etc/cron.d", "system cron jobs"), ("/etc/cron.hourly", "system cron jobs"),
        ("/etc/cron.daily", "system cron jobs"), ("/etc/cron.weekly", "system cron jobs"), ("/etc/cron.monthly", "system cron jobs"),
        ("/var/spool/cron", "users' cron tables"), ("/etc/profile", "login shell start-up file"),
        ("/etc/profile.d", "login shell start-up files"), ("/etc/bash.bashrc", "shell start-up file"),
        ("/etc/zsh", "shell start-up files"), ("/etc/environment", "login environment"),
        ("/etc/ld.so.preload", "libraries preloaded into every program"), ("/etc/ld.so.conf.d", "library search path"),
        ("/etc/sudoers", "sudo rules"), ("/etc/sudoers.d", "sudo rules"), ("/etc/pam.d", "login modules"),
        ("/etc/systemd", "systemd units"), ("/etc/xdg/autostart", "desktop autostart entries"),
        ("/etc/init.d", "init scripts"), ("/etc/rc.local", "boot script"), ("/etc/passwd", "accounts"),
        ("/etc/shadow", "account passwords"), ("/etc/ssh", "ssh server configuration"),
        // Found missing by a red-team pass (2026-12-03): more of what root or every login runs.
        ("/etc/bashrc", "shell start-up file"), ("/etc/zshrc", "shell start-up file"), ("/etc/zshenv", "shell start-up file"),
        ("/etc/zprofile", "shell start-up file"), ("/etc/zlogin", "shell start-up file"), ("/etc/csh.cshrc", "shell start-up file"),
        ("/etc/csh.login", "shell start-up file"),
        ("/etc/bash_completion.d", "shell completions (sourced by every interactive bash)"),
        ("/etc/apt/apt.conf.d", "APT configuration (its hooks run as root at every apt run)"),
        ("/etc/apt/sources.list", "package sources (root installs what they serve)"),
        ("/etc/apt/sources.list.d", "package sources (root installs what they serve)"),
        ("/etc/logrotate.d", "logrotate scripts (run as root daily)"), ("/etc/update-motd.d", "login scripts (run as root at every login)"),
        ("/etc/X11/Xsession.d", "X session start-up files"), ("/etc/udev/rules.d", "udev rules (their programs run as root)"),
        ("/etc/modprobe.d", "module options (their install commands run as root)"),
        ("/etc/sysctl.d", "kernel settings (core_pattern runs a program as root)"), ("/etc/sysctl.conf", "kernel settings"),
        ("/etc/network/if-up.d", "network hooks (run as root)"), ("/etc/NetworkManager/dispatcher.d", "network hooks (run as root)"),
        ("/etc/default", "settings the init scripts source as root"), ("/etc/security", "login module settings"),
    ]
    /// What a directory on the caller's PATH is, in messages.
    /// Entries of one run-later directory looked at for symlinks (~/.local/bin holds dozens).
    static let linkedEntriesLimit = 4096
    static let pathDirectoryWhat = "a directory on your PATH: a program planted there runs when you next type its name"
    /// How a place a shell start-up file only names is described; such a place is judged only
    /// when a bind holds it (`startupFilePlaces`).
    static let namedPlace = "a path named in"
    /// Credentials, relative to a home directory; a bind whose path has these components exposes them.
    public static let credentials: [String] = [
        ".ssh", ".gnupg", ".aws", ".kube", ".docker", ".azure", ".password-store", ".netrc", ".git-credentials",
        ".pgpass", ".vault-token", ".npmrc", ".pypirc", ".config/gh", ".config/gcloud", ".config/hub", ".config/rclone",
        ".local/share/keyrings", ".cargo/credentials", ".cargo/credentials.toml", ".gem/credentials",
        ".terraform.d/credentials.tfrc.json",
        // AI clients' and tools' sign-ins, git's XDG credential store, registries, browser
        // profiles (cookies, saved passwords), shell histories (tokens typed on command lines).
        ".claude/.credentials.json", ".codex/auth.json", ".gemini/oauth_creds.json", ".config/git/credentials",
        ".config/containers/auth.json", ".config/github-copilot", ".mozilla", ".config/google-chrome", ".config/chromium",
        ".config/BraveSoftware", ".bash_history", ".zsh_history", ".local/share/fish/fish_history", ".python_history",
    ]
    /// `credentials`, split into components once.
    static let credentialComponents: [(name: String, parts: [Substring])] = credentials.map { ($0, $0.split(separator: "/")) }
    /// Credentials directories also looked for directly inside every bound directory (a project
    /// tree holding its own `.ssh`); the file-sized names are only looked for under home directories.
    public static let credentialDirectories = [".ssh", ".gnupg", ".aws", ".kube", ".docker", ".azure", ".password-store"]

    /// Places under a home directory that the host runs or trusts later, with what they are.
    public static let runLater: [(path: String, what: String)] = [
        (".profile", "shell start-up file"), (".bash_profile", "shell start-up file"), (".bash_login", "shell start-up file"),
        (".bashrc", "shell start-up file"), (".bash_logout", "shell start-up file"), (".bash_aliases", "shell start-up file"),
        (".zshenv", "shell start-up file"), (".zprofile", "shell start-up file"), (".zshrc", "shell start-up file"),
        (".zlogin", "shell start-up file"), (".zlogout", "shell start-up file"), (".cshrc", "shell start-up file"),
        (".tcshrc", "shell start-up file"), (".login", "shell start-up file"), (".logout", "shell start-up file"),
        (".kshrc", "shell start-up file"), (".mkshrc", "shell start-up file"), (".config/fish", "shell start-up files"),
        (".pam_environment", "login environment"), (".config/environment.d", "login environment"),
        (".xprofile", "X session start-up file"), (".xsession", "X session start-up file"),
        (".xsessionrc", "X session start-up file"), (".xinitrc", "X session start-up file"),
        (".ssh", "ssh keys and configuration"), (".config/autostart", "desktop autostart entries"),
        (".config/systemd", "systemd user units"), (".local/share/systemd", "systemd user units"),
        (".local/bin", "programs in PATH"), ("bin", "programs in PATH"),
        (".local/lib", "user site-packages (.pth files and usercustomize run at every python start)"),
        (".local/share/applications", "desktop entries"), (".cargo", "cargo configuration and installed programs"),
        (".config/pip", "pip configuration (package index)"), (".pip", "pip configuration (package index)"),
        (".tmux.conf", "tmux start-up file"), (".config/tmux", "tmux start-up files"),
        (".ipython", "IPython start-up files"), (".jupyter", "Jupyter configuration"),
        (".config/direnv", "direnv configuration"), (".direnvrc", "direnv start-up file"),
        (".vscode", "VS Code extensions"), (".config/Code/User", "VS Code settings and tasks"),
        (".local/share/direnv", "direnv's allow list (which .envrc files run)"),
        // MCP clients' own configuration: a server added there runs unsandboxed at the client's next start.
        (".claude.json", "Claude Code's MCP servers"), (".claude", "Claude Code settings (hooks, MCP servers)"),
        (".config/Claude", "Claude Desktop's MCP servers"), (".cursor", "Cursor's MCP servers and extensions"),
        (".codex", "Codex's MCP servers"), (".gemini", "Gemini CLI's settings and MCP servers"),
        (".gitconfig", "git configuration"), (".config/git", "git configuration"),
        (".hgrc", "Mercurial configuration (hooks and extensions host hg runs)"),
        (".config/hg", "Mercurial configuration (hooks and extensions host hg runs)"),
        // Code that shell start-up files source, or that the user's tools run or install later.
        (".nvm", "nvm (its nvm.sh is sourced by shell start-up files)"), (".oh-my-zsh", "zsh start-up framework"),
        (".bash_it", "bash start-up framework"), (".sdkman", "SDKMAN (sourced by shell start-up files; shims in PATH)"),
        (".pyenv", "pyenv (shims in PATH, sourced by shell start-up files)"), ("go/bin", "programs in PATH"),
        (".local/share/nvim", "editor plugins (run at every editor start)"),
        (".gradle", "Gradle init scripts (run by every build)"), (".m2", "Maven settings (repositories, extensions)"),
        (".rustup", "Rust toolchains (run by cargo and rustc)"), (".config/uv", "uv configuration (package index)"),
        (".npm", "npm's cache (packages npx runs again)"), (".cache/uv", "uv's cache (packages uvx runs again)"),
        (".cache/pip", "pip's cache (wheels installed again)"),
        (".vimrc", "editor start-up file"), (".vim", "editor start-up files"), (".config/nvim", "editor start-up files"),
        (".emacs", "editor start-up file"), (".emacs.d", "editor start-up files"),
        // Tools whose programs the user's PATH (not necessarily mcpbox's: GUI clients start
        // with another) runs, or that `~/.local/bin` links into, and more shell start-up places.
        (".local/share/uv", "uv tools and Pythons (what the links uv puts in PATH, and virtualenvs, point to)"),
        (".local/share/pipx", "pipx venvs (what the links pipx puts in PATH point to)"), (".local/pipx", "pipx venvs (what the links pipx puts in PATH point to)"),
        (".bashrc.d", "shell start-up files (sourced by .bashrc)"), (".config/zsh", "zsh start-up files (ZDOTDIR)"),
        (".vscode-server", "VS Code server and extensions"), (".bun", "bun (its bin is in PATH)"),
        (".deno", "deno (its bin is in PATH)"), (".volta", "volta (shims in PATH)"), (".asdf", "asdf (shims in PATH)"),
        (".local/share/mise", "mise (shims in PATH)"), (".config/mise", "mise configuration (tasks, hooks)"),
        // Found missing by a red-team pass (2026-12-02): what node's require() finds from any
        // directory, version managers' shims and package tools' global bins (in PATH), editors'
        // extensions and settings, other MCP clients' configuration, shell completions and
        // session services, window managers' start-up, and tools' own start-up files.
        (".node_modules", "node modules (require() finds them from every directory)"),
        (".node_libraries", "node modules (require() finds them from every directory)"),
        (".rbenv", "rbenv (shims in PATH)"), (".nodenv", "nodenv (shims in PATH)"), (".goenv", "goenv (shims in PATH)"),
        (".jenv", "jenv (shims in PATH)"), (".yarn", "yarn's global packages and bin (in PATH)"),
        (".local/share/pnpm", "pnpm's global packages and bin (in PATH)"), (".npm-global", "npm's global prefix (its bin in PATH)"),
        (".dotnet", ".NET tools (in PATH)"), (".ghcup", "ghcup (its bin in PATH)"), (".cabal", "cabal's installed programs (in PATH)"),
        (".elan", "elan (its bin in PATH)"), (".juliaup", "juliaup (its bin in PATH)"), (".opam", "opam switches (in PATH)"),
        (".vscode-insiders", "VS Code extensions"), (".vscode-oss", "VS Code extensions"), (".windsurf", "Windsurf extensions"),
        (".cursor-server", "Cursor server and extensions"), (".config/Code - Insiders/User", "VS Code settings and tasks"),
        (".config/VSCodium/User", "VSCodium settings and tasks"), (".config/Cursor/User", "Cursor settings and tasks"),
        (".config/zed", "Zed's settings and MCP servers"), (".codeium/windsurf", "Windsurf's MCP servers"),
        (".config/goose", "Goose's MCP servers"), (".lmstudio", "LM Studio's MCP servers"), (".config/opencode", "opencode's MCP servers"),
        (".kiro", "Kiro's user settings and MCP servers"), (".aws/amazonq", "Amazon Q Developer's MCP servers"),
        (".qwen", "Qwen Code's settings and MCP servers"), (".config/crush", "Crush's MCP servers"),
        (".local/share/crush", "Crush's configuration"),
        (".bash_completion", "shell start-up file (sourced by bash-completion)"),
        (".local/share/bash-completion", "shell completions (sourced by bash)"),
        (".local/share/dbus-1/services", "D-Bus session services"), (".config/containers/systemd", "systemd user units (Quadlet)"),
        (".config/plasma-workspace/env", "KDE session start-up scripts"), (".config/i3", "window manager start-up"),
        (".config/sway", "window manager start-up"), (".config/hypr", "window manager start-up"),
        (".config/openbox", "window manager start-up"), (".wezterm.lua", "terminal start-up file"),
        (".config/emacs", "editor start-up files"), (".exrc", "editor start-up file"),
        (".gdbinit", "gdb start-up file"), (".pdbrc", "pdb start-up file"), (".Rprofile", "R start-up file"),
        (".julia/config", "Julia start-up files"), (".irbrc", "irb start-up file"), (".psqlrc", "psql start-up file"),
        (".sqliterc", "sqlite3 start-up file"), (".terraform.d/plugins", "Terraform plugins"),
        // Found missing by a red-team pass (2026-12-03): files tools read at every use that
        // run commands or rewrite what is typed (less runs LESSOPEN at every pager use, git's
        // and man's included; readline macros rewrite a command line before it runs), and
        // more shells', terminals' and tools' start-up files.
        (".lesskey", "less key bindings and environment (LESSOPEN runs at every pager use)"),
        (".config/lesskey", "less key bindings and environment (LESSOPEN runs at every pager use)"),
        (".lessfilter", "lesspipe's filter (runs at every pager use)"),
        (".inputrc", "readline key bindings (rewrite what you type before it runs)"),
        (".config/readline", "readline key bindings (rewrite what you type before it runs)"),
        (".selected_editor", "the editor sensible-editor runs"), (".mailcap", "programs that open files by type"),
        (".config/mimeapps.list", "programs that open files by type"), (".screenrc", "screen start-up file"),
        (".lldbinit", "lldb start-up file"), (".ghci", "GHCi start-up file"), (".erlang", "Erlang start-up file"),
        (".config/starship.toml", "prompt configuration (runs commands at every prompt)"),
        (".config/nushell", "shell start-up files"), (".xonshrc", "shell start-up file"), (".config/xonsh", "shell start-up files"),
        (".config/powershell", "shell start-up files"), (".config/kitty", "terminal start-up files"),
        (".config/alacritty", "terminal configuration (programs it runs)"), (".config/wezterm", "terminal start-up files"),
        (".config/lazygit", "lazygit configuration (custom commands)"), (".wgetrc", "wget configuration (programs it runs)"),
        (".curlrc", "curl's default options (where it writes)"), (".yarnrc", "yarn configuration (package registry)"),
        (".yarnrc.yml", "yarn configuration (package registry, plugins)"), (".bunfig.toml", "bun configuration (package registry, preloads)"),
        (".terraformrc", "Terraform configuration (provider installation)"), (".xbindkeysrc", "key bindings that run commands"),
        (".pythonstartup", "Python start-up file"), (".pythonrc", "Python start-up file"), (".pythonrc.py", "Python start-up file"),
    ]

    /// Whether two host paths are the same directory (device and inode): a host bind mount
    /// (`mount --bind /home/alice /x`) shows one tree at two paths.
    /// Device and inode of the directories on a path, up to `/`, looked up once each: what
    /// path comparison misses is the same directory mounted twice (a second mount of a home
    /// shows its `.local/state/mcpbox` under another name).
    final class Identities {
        private var known: [PathKey: FileIdentity?] = [:]
        /// (`FileIdentity`, not a tuple: an array or optional of tuples has its metadata built at run time.)
        func of(_ path: String) -> FileIdentity? {
            let key = PathKey(path)
            if let hit = known[key] { return hit }
            var st = stat()
            let id: FileIdentity? = stat(path, &st) == 0 ? FileIdentity(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino)) : nil
            known[key] = id
            return id
        }
        /// Whether `inner` (which need not exist) is `outer` or lies under it as the kernel
        /// sees objects: some existing directory on `inner`'s way up is `outer` itself.
        func contains(_ outer: String, _ inner: String) -> Bool {
            guard let o = of(outer) else { return false }
            return chain(inner).contains { $0.dev == o.dev && $0.ino == o.ino }
        }

        private var chains: [PathKey: [FileIdentity]] = [:]
        /// Device and inode of `path` and of each existing directory on its way up to `/`,
        /// `path` first (one walk per path; the walks of its ancestors are shared).
        private func chain(_ path: String) -> [FileIdentity] {
            let key = PathKey(path)
            if let hit = chains[key] { return hit }
            var ids: [FileIdentity] = []
            if let id = of(path) { ids.append(id) }
            let parent = Paths.dirname(path)
            if parent != path { ids += chain(parent) }
            chains[key] = ids
            return ids
        }

        /// The first existing path on `inner`'s way up (`inner` itself first) that is one of
        /// `outers` (device and inode), with the index of the first such outer; nil if none.
        func ancestor(of inner: String, sameAs outers: [String]) -> (outer: Int, dir: String)? {
            let ids = outers.map(of)
            guard ids.contains(where: { $0 != nil }) else { return nil }
            var dir = inner
            while true {
                if let i = of(dir), let k = ids.firstIndex(where: { $0?.dev == i.dev && $0?.ino == i.ino }) { return (k, dir) }
                if dir == "/" { return nil }
                dir = Paths.dirname(dir)
            }
        }
    }

    public static func sameObject(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// `path` with the longest existing prefix resolved (`realpath`) and the rest appended, so a
    /// place that does not exist yet is compared where it would be created.
    public static func resolved(_ path: String) -> String { resolvedExisting(path).path }

    /// `resolved(path)`, and the longest prefix of it that exists (itself when it does): what
    /// the kernel finds on the way there.
    static func resolvedExisting(_ path: String) -> (path: String, existing: String) {
        var head = path
        var tail: [String] = []
        // The longest prefix `stat` reaches, as its count of components cut from the end, when
        // `realpath` cannot name it (its real path is not UTF-8, or longer than PATH_MAX): it
        // exists all the same, and the identity checks must ask the object it is.
        var reached: (count: Int, head: String)?
        while head != "/" {
            if let real = HostFS.realPath(head) {
                let parts = Array(tail.reversed())
                let full = parts.reduce(real) { Paths.join($0, $1) }
                guard let k = reached?.count else { return (full, real) }
                return (full, parts.prefix(parts.count - k).reduce(real) { Paths.join($0, $1) })
            }
            if reached == nil, HostFS.info(head) != nil { reached = (tail.count, head) }
            tail.append(Paths.basename(head))
            head = Paths.dirname(head)
        }
        return (path, reached?.head ?? "/")
    }

    /// The credentials path that `path` is or lies inside (its prefix up to the matching components), or nil.
    public static func credentialsPrefix(_ path: String) -> (prefix: String, name: String)? {
        guard path.utf8.contains(UInt8(ascii: ".")) else { return nil }
        let parts = Paths.components(path)
        for (i, part) in parts.enumerated() where part.utf8.first == UInt8(ascii: ".") {
            for (name, c) in credentialComponents {
                guard c[0] == part, i + c.count <= parts.count, parts[i..<(i + c.count)].elementsEqual(c) else { continue }
                return ("/" + Paths.slashJoined(parts[0..<(i + c.count)]), name)
            }
        }
        return nil
    }

    /// `resolvedExisting(Paths.join(realBase, rest))` for a `realBase` without symlinks, with one
    /// `lstat` per component until one is missing (the usual case for start-up files), memoized
    /// in `known`.
    static func resolved(under realBase: String, _ rest: String, known: inout [PathKey: Bool?]) -> (path: String, existing: String, linked: Bool) {
        // By bytes (called for every place of every home): `current` grows one component at a
        // time, joined as `Paths.join` joins (no second `/` after a base of `/`).
        let slash = UInt8(ascii: "/")
        let r = Array(rest.utf8)
        var parts: [Range<Int>] = []
        var start = 0
        for k in 0...r.count where k == r.count || r[k] == slash {
            if k > start { parts.append(start..<k) }
            start = k + 1
        }
        func joined(_ base: [UInt8], _ from: Int) -> [UInt8] {
            var out = base
            for p in parts[from...] {
                if out != [slash] { out.append(slash) }
                out.append(contentsOf: r[p])
            }
            return out
        }
        var current = Array(realBase.utf8)
        for (i, part) in parts.enumerated() {
            var next = current
            if next != [slash] { next.append(slash) }
            next.append(contentsOf: r[part])
            // Memoized by the path's bytes (a `String` key would answer for a canonically
            // equivalent other name).
            let key = PathKey(bytes: next)
            // A missing path is remembered too (`.some(nil)`: assigning nil would remove the key).
            let isLink: Bool?
            if let hit = known[key] {
                isLink = hit
            } else {
                var st = stat()
                isLink = (next + [0]).withUnsafeBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) == 0 }
                } ? (st.st_mode & S_IFMT) == S_IFLNK : nil
                known[key] = .some(isLink)
            }
            guard let isLink else {
                return (String(decoding: joined(current, i), as: UTF8.self), String(decoding: current, as: UTF8.self), false)
            }
            if isLink {
                let r = resolvedExisting(String(decoding: joined(next, i + 1), as: UTF8.self))
                return (r.path, r.existing, true)
            }
            current = next
        }
        let path = String(decoding: current, as: UTF8.self)
        return (path, path, false)
    }
}

extension Profile {
    /// The `filesystem.accept` entry that acknowledges host path `path` (compared as written and
    /// with symlinks resolved), or nil. The one question every grant check asks.
    public func acceptEntry(for path: String) -> Sourced<PathEntry>? {
        let real = GrantChecks.resolved(path)
        return accept.first { $0.value.path == path || $0.value.path == real || GrantChecks.resolved($0.value.path) == real }
    }
}

extension PlanBuilder {
    /// Whether the profile acknowledges `path`; when it does, the acceptance is recorded for
    /// `explain` (`reason` says what the grant exposes).
    func acknowledged(_ paths: [String], reason: String, _ d: inout Draft) -> Bool {
        for p in paths {
            guard let e = profile.acceptEntry(for: p) else { continue }
            let grant = AcceptedGrant(path: e.value.path, reason: reason, origin: "\(Paths.basename(e.file)):\(e.line): \(e.key)")
            if !d.accepted.contains(grant) { d.accepted.append(grant) }
            return true
        }
        return false
    }

    /// Where a mount came from, for an error: the profile entry that named it.
    func location(of m: Mount) -> (file: String?, line: Int?, key: String) {
        for e in profile.readWrite + profile.readOnly where Paths.same(e.value.path, m.target) { return (e.file, e.line, e.key) }
        if let b = profile.bindCommand, m.origin == b.origin { return (b.file, b.line, b.key) }
        if let n = profile.networkMode, m.origin == n.origin { return (n.file, n.line, n.key) }
        return (nil, nil, "filesystem")
    }

    func refuse(_ d: inout Draft, _ m: Mount, _ message: String, hint: String) {
        // A host mount a bind carries: at the entry of that bind, saying where it comes from.
        if let bind = d.carried[PathKey(m.target)], case .bind(let source, _) = m.kind {
            let at = location(of: bind)
            d.sink.add(Diagnostic(file: at.file, line: at.line, key: at.key,
                                  "refused: " + message + " (\(m.target) is a host mount\(Paths.same(m.target, source) ? "" : " of \(source)") inside \(bind.target), which the bind carries into the sandbox: binds are recursive)",
                                  hint: "unmount it, or " + hint))
            return
        }
        let at = location(of: m)
        d.sink.add(Diagnostic(file: at.file, line: at.line, key: at.key, "refused: " + message, hint: hint))
    }

    static func acceptHint(_ path: String, _ alternative: String) -> String {
        "\(alternative), or acknowledge it in the profile: [filesystem] accept = [\"\(path)\"]"
    }

    /// The caller's home directories: `HOME` and the passwd entry of the caller's uid; for root
    /// started through sudo, also the home of the user who ran sudo (`SUDO_UID`).
    /// `raw` normalized, or when it holds `..`, where the kernel's walk of it arrives (`a/link/..`
    /// is the link target's parent, not `a`); nil for a relative path.
    static func pathOrWalked(_ raw: String) -> String? {
        Paths.normalize(raw) ?? (raw.isAbsolutePath ? HostFS.followed(raw).target : nil)
    }

    /// How a read-write bind of host path `source` reaches into the walk to a place that
    /// resolves to `real`, for the refusal's "… is bound read-write and RELATION PLACE"; nil if it
    /// does not: a symlink on the way inside it (the server repoints it), another point of the
    /// walk (a directory there can be swapped for a link, a missing one created), the missing
    /// target (the server creates it), or a part of the walk mcpbox cannot follow.
    static func walkRelation(_ f: HostFS.Followed, real: String, source: String, identities: GrantChecks.Identities) -> String? {
        func inside(_ p: String) -> String? {
            if Paths.isWithin(p, source) { return "" }
            return identities.contains(source, p) ? " (as another mount of it)" : nil
        }
        if let o = f.opaque {
            return "may hold what lies past \(o) (mcpbox cannot follow it there: a name that is not UTF-8, or too long), on the way to"
        }
        for l in f.links { if let how = inside(l) { return "contains the symlink \(l)\(how) on the way to" } }
        if f.target != real, let how = inside(f.target) {
            return "contains \(f.target)\(how)\(HostFS.exists(f.target) ? "" : " (not there yet)"), at the end of the walk to"
        }
        for p in f.points { if let how = inside(p) { return "contains \(p)\(how), on the way to" } }
        return nil
    }

    func callerHomes() -> [String] {
        var homes: [String] = []
        let sudoer = host.callerUid == 0 ? host[env: "SUDO_UID"].flatMap { UInt32($0) }.flatMap { host.accounts.user(uid: $0)?.home } : nil
        for h in [host[env: "HOME"], host.accounts.user(uid: host.callerUid)?.home, sudoer] {
            if let h, let n = Self.pathOrWalked(h), n != "/", !homes.contains(n) { homes.append(n) }
        }
        return homes
    }

    /// The caller's run-later places (`GrantChecks.runLater` under each home and where XDG moves
    /// them), the system's, and every absolute directory on the caller's PATH, with what each is.
    func runLaterPlaces(homes: [String]) -> [(String, String)] {
        var places: [(String, String)] = []
        for h in homes { places += GrantChecks.runLater.map { (Paths.join(h, $0.path), $0.what) } }
        // Every run-later place under ~/.config and ~/.local/share, where XDG moves them too.
        for (variable, prefix) in [("XDG_CONFIG_HOME", ".config/"), ("XDG_DATA_HOME", ".local/share/")] {
            guard let x = host[env: variable].flatMap(Self.pathOrWalked) else { continue }
            for p in GrantChecks.runLater where p.path.hasPrefix(prefix) { places.append((Paths.join(x, String(p.path.dropFirst(prefix.count))), p.what)) }
        }
        places += GrantChecks.systemRunLater
        // Every directory on the caller's PATH, wherever it lies: a program planted there runs
        // when the caller next types its name (or a same-named command earlier in PATH).
        for entry in (host[env: "PATH"] ?? "").split(separator: ":") {
            // `~` and `~/x`: bash expands them in PATH entries when it searches (red-team pass,
            // 2026-12-03: judged as relative, only warned about).
            guard let dir = Self.pathEntry(entry, home: host[env: "HOME"], homeOf: { host.accounts.user(named: $0)?.home }) else { continue }
            // An entry with `..` as written: it is resolved, and its walk followed, below as
            // the kernel walks it (`a/link/..` is the link target's parent, not `a`).
            let n = Paths.normalize(dir) ?? dir
            if n != "/" { places.append((n, GrantChecks.pathDirectoryWhat)) }
        }
        places += startupPlaces.places(homes) { Self.startupFilePlaces(homes: homes, system: true) }
        return places
    }

    /// `startupFilePlaces` of the caller's homes, kept for the plan being built.
    final class StartupPlacesMemo {
        private var known: (homes: [String], places: [(String, String)])?
        func places(_ homes: [String], _ read: () -> [(String, String)]) -> [(String, String)] {
            if let k = known, k.homes.elementsEqual(homes, by: Paths.same) { return k.places }
            let p = read()
            known = (homes, p)
            return p
        }
    }

    /// A PATH entry as the shell searches it: absolute, or `~` / `~/x` under `home`; nil for a
    /// relative one.
    /// `~user` and `~user/x` under that account's home (`homeOf`).
    static func pathEntry(_ entry: Substring, home: String?, homeOf: (String) -> String? = { _ in nil }) -> String? {
        if entry.isAbsolutePath { return String(entry) }
        guard entry.utf8.first == UInt8(ascii: "~") else { return nil }
        let name = entry.dropFirst().prefix { $0 != "/" }
        let rest = entry.dropFirst(1 + name.count)
        guard let base = name.isEmpty ? home : homeOf(String(name)), base.isAbsolutePath else { return nil }
        return base + "/" + rest.drop { $0 == "/" }
    }

    /// The places the shell start-up files of `homes` (and the system's) name
    /// (`StartupFileScan`), with what each is.
    /// A file one sources, or a PATH directory one adds, is judged as every run-later place is;
    /// a path one only names (an argument, a variable's value: `export PROJECTS=~/src`), or one
    /// cut before a variable (`/tmp/$USER` is `/tmp`), only when a bind holds it
    /// (`GrantChecks.namedPlace`): a bind inside `~/.cache` is not refused because `.bashrc`
    /// sets `XDG_CACHE_HOME=~/.cache` (review, 2026-12-03).
    static func startupFilePlaces(homes: [String], system: Bool, account: String? = nil) -> [(String, String)] {
        StartupFileScan.places(homes: homes, system: system).map { p in
            let of = " the shell start-up file \(p.file)" + (account.map { " of the account \($0)" } ?? "")
            // Cut (the part before a variable or a glob): a sourced file or PATH directory is
            // somewhere below it, and stays judged in full (review, 2026-12-03).
            let cut = p.cut ? " (the part before a variable or a glob)" : ""
            switch p.use {
            case .sourced: return (p.path, (p.cut ? "the directory of a file sourced by" : "a file sourced by") + of + cut)
            case .path: return (p.path, "a PATH directory added by" + of + cut)
            case .named: return (p.path, GrantChecks.namedPlace + of + cut)
            }
        }
    }

    /// Why each log mcpbox appends to (`[audit] log`, `[network] log`) may not live at its
    /// path: its lines carry what the server chose (tool names and arguments, host names,
    /// payloads), so a log that is, or lies in, a place the host runs or trusts later (a shell
    /// start-up file, `/etc/profile.d`, a PATH directory, git configuration, mcpbox's profiles)
    /// would hand the server's words to the host (`$(…)` in a JSON string runs when `.bashrc`
    /// is sourced). By the path as written and as resolved; nil for a log that may live there.
    /// The places are gathered once for all the logs.
    func logPlaceProblems(_ logs: [(path: String, what: String)]) -> [(message: String, hint: String)?] {
        guard !logs.isEmpty else { return [] }
        let homes = callerHomes()
        var places = runLaterPlaces(homes: homes)
        for h in homes { places += GrantChecks.credentials.map { (Paths.join(h, $0), "credentials") } }
        // Where mcpbox loads profiles from: a log named like one (`NAME.toml`) would be loaded
        // as a profile by name (a JSON line is no valid TOML, but mcpbox's profiles are no place
        // for the server's words); other logs beside profiles are left alone.
        var profilePlaces = profile.searchPath.filter(\.isAbsolutePath).map { ($0, "a directory of the profile search path") }
        profilePlaces.append(("/etc/mcpbox", "mcpbox's system configuration"))
        profilePlaces += homes.map { (Paths.join($0, ".config/mcpbox"), "mcpbox's configuration") }
        if let x = host[env: "XDG_CONFIG_HOME"].flatMap(Self.pathOrWalked) { profilePlaces.append((Paths.join(x, "mcpbox"), "mcpbox's configuration")) }
        return logs.map { log in
            let path = log.path, real = GrantChecks.resolved(path)
            let candidates = Paths.basename(path).hasSuffix(".toml") ? places + profilePlaces : places
            for (place, what) in candidates {
                if what.hasPrefix(GrantChecks.namedPlace) {
                    // Only named: a log at that very path.
                    guard Paths.same(path, place) || Paths.same(real, place) else { continue }
                } else {
                    guard Paths.isWithin(path, place) || Paths.isWithin(real, place) || Paths.isWithin(real, GrantChecks.resolved(place)) else { continue }
                }
                return ("refused: the \(log.what) \(path) \(Paths.same(path, place) ? "is" : "lies inside") \(place) (\(what)), which the host runs or trusts later; mcpbox appends what the server sends there (tool names, arguments, host names)",
                        "keep logs in a directory nothing reads as code or configuration, such as ~/.local/state/mcpbox")
            }
            return nil
        }
    }

    /// Runs every check of `GrantChecks` over the draft's binds.
    func checkGrants(_ d: inout Draft, identity: Identity?) {
        let homes = callerHomes()
        // The host mounts the binds carry are judged as binds of their own.
        let binds = (d.mounts + d.carriedMounts).compactMap { m -> (m: Mount, source: String, ro: Bool)? in
            if case .bind(let source, let ro) = m.kind { (m, source, ro) } else { nil }
        }
        let writable = binds.filter { !$0.ro }
        let resolvedHomes = homes.map { ($0, GrantChecks.resolved($0)) }
        let identities = GrantChecks.Identities()
        // Other accounts' homes (each owned by its account) that a read-write bind contains or
        // lies in: their start-up files run at their owner's next login, their mcpbox profiles
        // load at their owner's next launch, whoever started this one.
        var otherHomes: [(home: String, account: String)] = []
        if !writable.isEmpty {
            // (Not the server's own account: its home is the server's to write.)
            for u in host.accounts.users where u.uid != identity?.hostUid {
                guard let h = Paths.normalize(u.home), h != "/", !homes.contains(where: { Paths.same($0, h) }),
                      !otherHomes.contains(where: { Paths.same($0.home, h) }),
                      // By name, or as objects (a home reached through another mount of its file system).
                      writable.contains(where: { Paths.isWithin(h, $0.source) || Paths.isWithin($0.source, h)
                          || identities.contains(h, $0.source) || identities.contains($0.source, h) }),
                      let info = HostFS.info(h), info.isDirectory, info.uid == u.uid else { continue }
                otherHomes.append((h, u.name))
            }
        }
        let trustedHomes = homes + otherHomes.map(\.home)
        var known: [PathKey: Bool?] = [:]
        /// A path resolved per component (cheap; under one of the homes from its real path);
        /// with the longest prefix of the result that exists.
        func resolveExisting(_ path: String) -> (path: String, existing: String, linked: Bool) {
            if let home = resolvedHomes.first(where: { Paths.isWithin(path, $0.0) }), home.0 != path {
                return GrantChecks.resolved(under: home.1, Paths.remainder(path, under: home.0), known: &known)
            }
            // Any other normalized path the same way from `/` (one `lstat` per new component;
            // `realpath` only where a symlink is met), else with realpath.
            if path != "/", Paths.normalize(path) == path {
                return GrantChecks.resolved(under: "/", Paths.remainder(path, under: "/"), known: &known)
            }
            let r = GrantChecks.resolvedExisting(path)
            return (r.path, r.existing, true)
        }

        // Never acceptable: what mcpbox itself reads later.
        if !writable.isEmpty {
            // A relative --profile-path is searched relative to the working directory.
            var protected: [(String, String)] = profile.searchPath.compactMap { p in
                (p.isAbsolutePath ? p : HostFS.realPath(p)).map { ($0, "a directory of the profile search path") }
            }
            protected.append(("/etc/mcpbox", "mcpbox's system configuration"))
            // The shipped profiles' places too where they do not exist (yet): one the server
            // created would be searched (`ProfileLoader.shippedProfileCandidates`).
            protected += ProfileLoader.shippedProfileCandidates().map { ($0, "a directory mcpbox searches for shipped profiles") }
            var configs = trustedHomes.map { Paths.join($0, ".config/mcpbox") }
            var states = trustedHomes.map { Paths.join($0, ".local/state/mcpbox") }
            if let x = host[env: "XDG_CONFIG_HOME"].flatMap(Self.pathOrWalked) { configs.append(Paths.join(x, "mcpbox")) }
            if let x = host[env: "XDG_STATE_HOME"].flatMap(Self.pathOrWalked) { states.append(Paths.join(x, "mcpbox")) }
            protected += configs.map { ($0, "mcpbox's configuration") }
            protected += states.map { ($0, "mcpbox's state (pins, logs, caches it trusts later)") }
            // Package caches: each profile's server code, run again by that profile's later
            // sandboxes (`Packages.cacheRoot`); only the profile's own cache is bound, by mcpbox.
            var caches = trustedHomes.map { Paths.join($0, ".cache/mcpbox") }
            if let x = host[env: "XDG_CACHE_HOME"].flatMap(Self.pathOrWalked) { caches.append(Paths.join(x, "mcpbox")) }
            if host.callerUid == 0 { caches.append("/var/cache/mcpbox") }
            protected += caches.map { ($0, GrantChecks.packageCachesWhat) }
            if let exe = host.executablePath { protected.append((exe, "the mcpbox executable")) }
            // gVisor's runsc runs as root at every launch: a server that could replace it would
            // run its own program as root at the next one.
            if let runsc = IsolationPlan.build(profile, environment: host.environmentDictionary).runsc {
                protected.append((runsc, "gVisor's runsc, which mcpbox runs as root"))
            }
            let resolvedProtected = protected.compactMap { p in
                Paths.normalize(p.0).map { n in
                    let r = resolveExisting(n)
                    return (n, r.path, p.1, r.linked ? HostFS.followed(n) : nil)
                }
            }
            for w in writable {
                var hits: [(path: String, relation: String, what: String)] = []
                for (n, real, what, followed) in resolvedProtected {
                    // The profile's own package cache, which mcpbox binds itself.
                    if what == GrantChecks.packageCachesWhat, packageCacheDirs.contains(w.m.target) { continue }
                    if Paths.isWithin(w.source, real) || Paths.isWithin(w.source, n) { hits.append((n, "lies inside", what)) }
                    else if Paths.isWithin(real, w.source) || Paths.isWithin(n, w.source) { hits.append((n, "contains", what)) }
                    else if identities.contains(w.source, real) { hits.append((n, "contains (as another mount of it)", what)) }
                    else if identities.contains(real, w.source) { hits.append((n, "lies inside (as another mount of it)", what)) }
                    // Reached through symlinks: the walk there (see `walkRelation`).
                    else if let f = followed, let how = Self.walkRelation(f, real: real, source: w.source, identities: identities) {
                        hits.append((n, how, what))
                    }
                }
                // A bind containing ~/.config/mcpbox need not also name ~/.config/mcpbox/profiles.
                hits = hits.filter { h in
                    h.relation != "contains" || !hits.contains { $0.relation == "contains" && $0.path != h.path && Paths.isWithin(h.path, $0.path) }
                }
                var named = Set<PathKey>()
                for (n, relation, what) in hits where named.insert(PathKey(n)).inserted {
                    refuse(&d, w.m, "\(w.m.target) is bound read-write and \(relation) \(n), \(what); the server could change what mcpbox trusts at a later launch",
                           hint: "bind a directory that holds none of mcpbox's files; this cannot be accepted")
                }
            }
        }

        // The user's run-later places, `/`, home directories and their ancestors, read-write.
        var places: [(String, String)] = []
        // Only a read-write bind is judged against them: none, nothing to gather.
        if !writable.isEmpty {
            places = runLaterPlaces(homes: homes)
            for o in otherHomes {
                places += GrantChecks.runLater.map { (Paths.join(o.home, $0.path), "\($0.what) of the account \(o.account)") }
                places += Self.startupFilePlaces(homes: [o.home], system: false, account: o.account)
            }
            // A relative PATH entry (`.`, `node_modules/.bin`, an empty one) is searched from whatever
            // directory the caller's shell is in: inside a read-write bind, a program the server
            // plants there runs when the caller types its name there. Who runs mcpbox decides it.
            if let path = host[env: "PATH"], !path.isEmpty {
                let relative = path.split(separator: ":", omittingEmptySubsequences: false).filter { Self.pathEntry($0, home: host[env: "HOME"], homeOf: { host.accounts.user(named: $0)?.home }) == nil }
                if !relative.isEmpty {
                    let shown = relative.map { $0.isEmpty ? "an empty entry (the current directory)" : "`\($0)`" }.joined(separator: ", ")
                    d.warnings.append(PlanBuilder.invocationWarningPrefix + "your PATH holds the relative \(shown): in the read-write "
                        + "\(writable.map(\.m.target).joined(separator: ", ")), a program the server plants there runs when you type its "
                        + "name in that directory; use only absolute PATH entries")
                }
            }
            // What the symlinks inside those directories under a home point at runs too: `uv tool
            // install` links ~/.local/bin/NAME into ~/.local/share/uv/tools, GNU stow links
            // ~/.config/fish/config.fish into ~/dotfiles; a read-write bind of the target let the
            // server rewrite what the host runs next (the place itself was checked, not its entries).
            var linked: [(String, String)] = []
            // The system's run-later directories too (`/etc/profile.d/x.sh -> /srv/w/x.sh`): few
            // entries each. Not the PATH directories outside the homes (`/usr/bin` holds thousands).
            let systemPlaces = Set(GrantChecks.systemRunLater.map { PathKey($0.path) })
            for (place, what) in places where !what.hasPrefix(GrantChecks.namedPlace)
                && (systemPlaces.contains(PathKey(place)) || homes.contains(where: { $0 != "/" && Paths.isWithin(place, $0) })) {
                guard HostFS.info(place)?.isDirectory == true else { continue }
                for name in HostFS.symlinkNames(in: place, limit: GrantChecks.linkedEntriesLimit) {
                    let entry = Paths.join(place, name)
                    linked.append((entry, "the target of the symlink \(entry), in \(what)"))
                }
            }
            places += linked
        }
        // Paths are told apart by their bytes (`String` equality is canonical equivalence: two
        // directories `caf\u{E9}` and `cafe\u{301}` are one to Swift and two to the kernel).
        var seenPlaces = Set<PathKey>()
        var seenPathDirs = Set<PathKey>()
        // Each with the longest prefix of its resolved path that exists: a place that does not
        // exist (most start-up files) is the same object as nothing, and lies inside whatever
        // that prefix is (the identity checks below ask the prefix, shared by many places).
        // The walk to each home that is reached through symlinks (as written differs from real).
        let homeWalks: [((String, String), HostFS.Followed)] = writable.isEmpty ? [] : resolvedHomes.filter { $0.0 != $0.1 }.map { ($0, HostFS.followed($0.0)) }
        // Where the places lie comes from these variables: one that is not UTF-8 was decoded with
        // replacement characters, and every place under it judged at a path that does not exist.
        if let w = writable.first {
            for name in ["HOME", "PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"]
            where host[env: name]?.unicodeScalars.contains("\u{FFFD}") == true {
                refuse(&d, w.m, "\(name) is not valid UTF-8: mcpbox cannot judge the read-write \(w.m.target) against the places under it that the host runs or trusts later",
                       hint: "run mcpbox with \(name) in UTF-8, or bind nothing read-write")
            }
        }
        // A place reached through symlinks also carries each link on the way and where they lead
        // when that does not exist yet (`HostFS.followed`): a server that can replace a link, or
        // create the missing target, decides what the host opens there.
        // A place named twice is judged as its strictest naming says (a path one file only names
        // and another sources; review, 2026-12-03).
        let ordered = places.filter { !$0.1.hasPrefix(GrantChecks.namedPlace) } + places.filter { $0.1.hasPrefix(GrantChecks.namedPlace) }
        let resolvedPlaces: [(String, String, String, String, HostFS.Followed?)] = writable.isEmpty ? [] : ordered.filter { seenPlaces.insert(PathKey($0.0)).inserted }.map { place, what in
            let r = resolveExisting(place)
            return (place, r.path, what, r.existing, r.linked ? HostFS.followed(place) : nil)
        }.filter { $0.2 != GrantChecks.pathDirectoryWhat || seenPathDirs.insert(PathKey($0.1)).inserted }
        for w in writable {
            var wholeRefused = false
            if w.source == "/" || w.m.target == "/" {
                wholeRefused = !acknowledged(["/"], reason: "/ read-write", &d)
                if wholeRefused {
                    refuse(&d, w.m, "/ is bound read-write: the server can change the whole host filesystem",
                           hint: Self.acceptHint("/", "bind only the directories the server needs"))
                }
            } else if let home = resolvedHomes.first(where: { Paths.isWithin($0.1, w.source) || Paths.isWithin($0.0, w.m.target)
                        || GrantChecks.sameObject($0.1, w.source) }) {
                wholeRefused = !acknowledged([w.m.target, w.source], reason: "read-write, contains the home directory \(home.0)", &d)
                if wholeRefused {
                    refuse(&d, w.m, "\(w.m.target) is bound read-write and contains your home directory \(home.0); the server can modify it",
                           hint: Self.acceptHint(w.m.target, "bind only the directories the server needs"))
                }
            } else if let other = otherHomes.first(where: { Paths.isWithin($0.home, w.source) || GrantChecks.sameObject($0.home, w.source)
                        || identities.contains(w.source, $0.home) }) {
                wholeRefused = !acknowledged([w.m.target, w.source], reason: "read-write, contains the home directory \(other.home) of the account \(other.account)", &d)
                if wholeRefused {
                    refuse(&d, w.m, "\(w.m.target) is bound read-write and contains the home directory \(other.home) of the account \(other.account); the server could plant what that account runs at its next login (its shell start-up files, its ~/.ssh/authorized_keys)",
                           hint: Self.acceptHint(w.m.target, "bind only the directories the server needs"))
                }
            } else if let (home, how) = homeWalks.lazy.compactMap({ h in
                          Self.walkRelation(h.1, real: h.0.1, source: w.source, identities: identities).map { (h.0.0, $0) } }).first {
                // A home reached through a symlink inside the bind: the server repoints it.
                wholeRefused = !acknowledged([w.m.target, w.source], reason: "read-write, on the way to the home directory \(home)", &d)
                if wholeRefused {
                    refuse(&d, w.m, "\(w.m.target) is bound read-write and \(how) your home directory \(home); the server can redirect it",
                           hint: Self.acceptHint(w.m.target, "bind only the directories the server needs"))
                }
            }
            // Once `/` or a home is refused, naming every start-up file inside would only add noise.
            if wholeRefused { continue }
            for (place, real, what, existing, followed) in resolvedPlaces {
                let relation: String
                if Paths.isWithin(real, w.source) || Paths.isWithin(place, w.m.target) { relation = "contains" }
                else if what.hasPrefix(GrantChecks.namedPlace) {
                    // Only named: judged when the bind holds it, by name or as another mount of it.
                    guard identities.contains(w.source, existing) else { continue }
                    relation = "contains (as another mount of it)"
                }
                else if Paths.isWithin(w.source, real) { relation = "lies inside" }
                else if identities.contains(w.source, existing) { relation = "contains (as another mount of it)" }
                else if existing == real, identities.contains(real, w.source) { relation = "lies inside (as another mount of it)" }
                else if let f = followed, let how = Self.walkRelation(f, real: real, source: w.source, identities: identities) {
                    relation = how
                }
                // A file with other hard links on the bind's file system: one may lie inside it,
                // and the server would change the file through it (mcpbox cannot find them).
                else if let id = HostFS.identity(real), id.links > 1, HostFS.info(real, follow: false)?.isRegular == true,
                        HostFS.identity(w.source)?.dev == id.dev {
                    relation = "may hold one of the \(id.links) hard links of"
                }
                else { continue }
                if acknowledged([place], reason: "read-write, \(what)", &d) { continue }
                refuse(&d, w.m, "\(w.m.target) is bound read-write and \(relation) \(place) (\(what)), which the host runs or trusts later; the server could plant code there",
                       hint: Self.acceptHint(place, relation.hasPrefix("may hold") ? "make it a file of its own (cp -p \(place) \(place).new && mv \(place).new \(place))" : "bind a narrower directory"))
            }
        }

        // Credentials, read-only or read-write.
        // Other accounts' homes as passwd names them; only a home owned by its account counts
        // (not /usr/games, /var/www, /bin …), and only when a bind contains it.
        var credentialHomes = resolvedHomes.map(\.1)
        let sources = binds.map(\.source)
        for u in host.accounts.users {
            guard let h = Paths.normalize(u.home), h != "/", !credentialHomes.contains(h),
                  sources.contains(where: { Paths.isWithin(h, $0) }), HostFS.info(h)?.uid == u.uid else { continue }
            credentialHomes.append(h)
        }
        let view = SandboxView(mounts: d.mounts)
        var shownThroughMounts = Set<PathKey>()
        // The credentials of every home that exist, with their real paths (looked up once).
        let homeCredentials: [(String, String)] = credentialHomes.flatMap { h in
            GrantChecks.credentials.compactMap { cred -> (String, String)? in
                let c = Paths.join(h, cred)
                guard HostFS.info(c, follow: false) != nil, let real = HostFS.realPath(c) else { return nil }
                return (c, real)
            }
        }
        for b in binds {
            let mode = b.ro ? "read-only" : "read-write"
            if let c = GrantChecks.credentialsPrefix(b.source) ?? GrantChecks.credentialsPrefix(b.m.target) {
                // A host mount already named through the bind that carries it: said once.
                if d.carried[PathKey(b.m.target)] != nil, shownThroughMounts.contains(PathKey(b.m.target)) { continue }
                if !acknowledged([c.prefix, b.source, b.m.target], reason: "credentials (\(c.name)), \(mode)", &d) {
                    let via = b.source == b.m.target ? "" : " (it resolves to \(b.source))"
                    refuse(&d, b.m, "\(b.m.target)\(via) exposes the credentials \(c.prefix) to the server \(mode)",
                           hint: Self.acceptHint(c.prefix, "remove it"))
                }
                continue
            }
            var candidates: [(String, String)] = []
            if HostFS.info(b.source)?.isDirectory == true {
                for name in GrantChecks.credentialDirectories {
                    let c = Paths.join(b.source, name)
                    if HostFS.info(c, follow: false) != nil, let real = HostFS.realPath(c) { candidates.append((c, real)) }
                }
            }
            // Every home's credentials, by their real paths too (`~/.ssh -> dotfiles/ssh`: a bind
            // of `~/dotfiles`, or of `~/dotfiles/ssh/keys`, holds or lies in them).
            candidates += homeCredentials
            var seen = Set<PathKey>()
            for (c, real) in candidates where seen.insert(PathKey(c)).inserted {
                let inside: String
                if Paths.isWithin(real, b.source) {
                    inside = Paths.join(b.m.target, Paths.remainder(real, under: b.source))
                    guard view.hostPath(inside) == real || d.carried[PathKey(b.m.target)] != nil else { continue }
                } else if Paths.isWithin(b.source, real), !Paths.isWithin(b.source, c) || !Paths.same(real, c) {
                    // The bind lies inside them, reached by another name than theirs.
                    inside = b.m.target
                } else { continue }
                if shownThroughMounts.contains(PathKey(inside)) { continue }
                let name = GrantChecks.credentialsPrefix(c)?.name ?? Paths.basename(c)
                if acknowledged([c, real], reason: "credentials (\(name)) inside \(b.m.target), \(mode)", &d) { continue }
                shownThroughMounts.insert(PathKey(inside))
                refuse(&d, b.m, "\(b.m.target) exposes the credentials \(inside)\(Paths.same(real, c) ? "" : " (\(c))") to the server \(mode)",
                       hint: "add \"\(inside)\" to filesystem.hide, or acknowledge it: [filesystem] accept = [\"\(c)\"]")
            }
            // A host mount at or inside the bound directory that shows credentials of a home (a
            // bind mount of the home, of a directory above it, or of `~/.ssh` itself): they are
            // inside the bind under another name, which the path comparisons above cannot see.
            guard HostFS.info(b.source)?.isDirectory == true else { continue }
            let mounts = HostFS.mountPoints(below: b.source).paths + (HostFS.isMountPoint(b.source) ? [b.source] : [])
            for mp in mounts {
                for h in credentialHomes where !Paths.isWithin(h, b.source) {
                    for cred in GrantChecks.credentials {
                        let c = Paths.join(h, cred)
                        guard HostFS.info(c, follow: false) != nil, let (_, dir) = identities.ancestor(of: c, sameAs: [mp]) else { continue }
                        let inside = Paths.join(Paths.join(b.m.target, Paths.remainder(mp, under: b.source)), Paths.remainder(c, under: dir))
                        // Once per path inside: a bind's host mounts are also judged as binds of their own.
                        guard seen.insert(PathKey(inside)).inserted, shownThroughMounts.insert(PathKey(inside)).inserted,
                              view.hostPath(inside) != nil else { continue }
                        if acknowledged([c, inside], reason: "credentials (\(cred)) inside \(b.m.target) through the mount at \(mp), \(mode)", &d) { continue }
                        refuse(&d, b.m, "\(b.m.target) exposes the credentials \(inside) to the server \(mode): the host mount at \(mp) shows \(dir)",
                               hint: "add \"\(inside)\" to filesystem.hide, or acknowledge it: [filesystem] accept = [\"\(c)\"]")
                    }
                }
            }
        }

        // Root starts mcpbox for an account: a bind must not reach what the account cannot.
        guard let identity, identity.mechanism == .rootAccount || identity.mechanism == .rootNobody else { return }
        var traversable: [String: Bool] = [:]
        // (Not the host mounts a bind carries: inside the sandbox they lie behind the same
        // directories as on the host, with the same permissions.)
        for b in binds where d.carried[PathKey(b.m.target)] == nil {
            var dir = b.source
            var blocked: String?
            while dir != "/" {
                dir = Paths.dirname(dir)
                if traversable[dir] == nil {
                    traversable[dir] = HostFS.permits(dir, uid: identity.hostUid, gids: [identity.hostGid], want: 0o1) ?? false
                }
                if traversable[dir] == false { blocked = dir }
            }
            guard let blocked, !forGrant else { continue }
            if acknowledged([b.m.target, b.source], reason: "\(b.ro ? "read-only" : "read-write"), not reachable by uid \(identity.hostUid) on the host", &d) { continue }
            let info = HostFS.info(blocked)
            refuse(&d, b.m, "\(b.m.target) lies under \(blocked) (owner \(info?.uid ?? 0), mode \(String((info?.mode ?? 0) & 0o7777, radix: 8))), which the server's account (uid \(identity.hostUid)) cannot traverse on the host; the bind would widen its access",
                   hint: Self.acceptHint(b.m.target, "bind a path the account can reach, or give it access (chmod o+x, setfacl)"))
        }
    }
}
