#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why `execve` of the server's executable would fail inside the sandbox although the file
/// itself is visible there: what `run` exits with, and the message it prints.
public struct ExecProblem: Sendable, Equatable {
    /// 127 (an interpreter is missing: ENOENT) or 126 (not executable: EACCES).
    public var exitStatus: Int32
    public var message: String
    public var hint: String

    public init(exitStatus: Int32, message: String, hint: String) {
        self.exitStatus = exitStatus
        self.message = message
        self.hint = hint
    }
}

/// Follows what the kernel's exec follows, as the sandbox would see it: the ELF program
/// interpreter (PT_INTERP) and a `#!` interpreter, one level of each. The files are the host's
/// and untrusted: only the ELF header, the program header table and the interpreter string
/// are read, each with a hard size limit.
enum ExecCheck {
    /// The kernel reads this much of a file for `#!` (BINPRM_BUF_SIZE).
    static let shebangBytes = 256
    /// Limits on what is read of an ELF file (the kernel refuses larger tables too).
    static let maxProgramHeaderBytes = 65536
    static let maxInterpreterBytes = 4096

    /// How many `#!` scripts one exec follows (fs/exec.c: a sixth is ELOOP).
    static let maxScriptDepth = 5

    /// The problem exec of `path` (inside the sandbox, from the working directory `cwd`) would
    /// hit, or nil.
    static func problem(_ path: String, view: SandboxView, cwd: String = "/") -> ExecProblem? {
        check(path, view: view, cwd: cwd, depth: 0)
    }

    /// Exec of a directory: EACCES, exit 126.
    static func directoryProblem(_ path: String) -> ExecProblem? {
        guard HostFS.info(path)?.isDirectory == true else { return nil }
        return ExecProblem(exitStatus: 126, message: "\(path) is a directory, not a program (exec: permission denied)",
                           hint: "name the program file inside it")
    }

    private static func check(_ path: String, view: SandboxView, cwd: String, depth: Int) -> ExecProblem? {
        if depth == 0, view.lookup(path) == .directory {
            return ExecProblem(exitStatus: 126, message: "\(path) is a directory inside the sandbox, not a program (exec: permission denied)",
                               hint: "name the program file inside it")
        }
        guard case .file(let host, let executable) = view.lookup(path) else { return nil }
        guard executable, let host else {
            return ExecProblem(exitStatus: 126, message: "\(path) is not executable inside the sandbox (no execute permission: exec gets permission denied)",
                               hint: "chmod +x it on the host, or run it through its interpreter")
        }
        if noexecMount(host) {
            return ExecProblem(exitStatus: 126, message: "\(path) lies on a file system mounted noexec on the host, which the sandbox's bind keeps (exec: permission denied)",
                               hint: "install it on a file system that allows execution, or run it through its interpreter")
        }
        // The file's first bytes, read once for every judgement below (nil: not readable here,
        // or not a regular file: nothing is predicted).
        let head = Head(host)
        defer { head?.close() }
        if let head, head.unknownFormat {
            return ExecProblem(exitStatus: 126, message: "\(path) is neither an ELF program nor a script with a #! line (exec: exec format error)",
                               hint: "add a #! line naming its interpreter, or run it through its interpreter")
        }
        if let head, head.invalidELF {
            return ExecProblem(exitStatus: 126, message: "\(path) starts like an ELF program but its headers are not a loadable one (exec: exec format error)",
                               hint: "reinstall or rebuild it; a truncated or damaged binary cannot run")
        }
        if let head, head.emptyShebang {
            return ExecProblem(exitStatus: 126, message: "\(path) has a #! line naming no interpreter (exec: exec format error)",
                               hint: "name the interpreter after #!, e.g. #!/bin/sh")
        }
        guard let next = head?.interpreter else { return nil }
        let (written, kind) = next
        if kind == "#! interpreter", depth >= maxScriptDepth {
            return ExecProblem(exitStatus: 126, message: "the chain of #! interpreters reaches \(path), a #! script more than \(maxScriptDepth) levels deep (exec: too many levels of symbolic links)",
                               hint: "run the last interpreter directly, or shorten the chain of scripts")
        }
        // A relative #! interpreter is opened from the working directory at exec. One with `..`
        // is not predicted: the kernel resolves `..` after the symlinks before it, not by text.
        guard !Paths.components(written).contains(".."),
              let interp = written.isAbsolutePath ? written : Paths.normalize(Paths.join(cwd, written)) else { return nil }
        switch view.lookup(interp) {
        case .missing:
            let dir = Paths.dirname(interp)
            // A virtualenv's python: its bin/ alone starts a Python without the venv's pyvenv.cfg and
            // site-packages (the hint named bin/; found running real servers).
            if Paths.basename(dir) == "bin", HostFS.info(Paths.dirname(dir) + "/pyvenv.cfg")?.isRegular == true {
                return ExecProblem(exitStatus: 127,
                                   message: "\(path) needs the \(kind) \(interp), which is not visible inside the sandbox",
                                   hint: "bind its virtualenv read-only, e.g. add \"\(Paths.dirname(dir))\" to filesystem.read_only (its bin/ alone leaves out pyvenv.cfg and the packages)")
            }
            return ExecProblem(exitStatus: 127,
                               message: "\(path) needs the \(kind) \(interp), which is not visible inside the sandbox",
                               hint: "bind it read-only, e.g. add \"\(dir == "/" ? interp : dir)\" to filesystem.read_only")
        case .directory:
            return ExecProblem(exitStatus: 126, message: "\(path) names the \(kind) \(interp), a directory inside the sandbox",
                               hint: "fix the interpreter path of \(path)")
        case .file(_, let ok):
            if !ok {
                return ExecProblem(exitStatus: 126, message: "\(path) needs the \(kind) \(interp), which is not executable inside the sandbox",
                                   hint: "bind an executable \(interp)")
            }
            // The kernel nests `#!` interpreters; an ELF interpreter's own PT_INTERP is not followed.
            return kind == "ELF interpreter" ? nil : check(interp, view: view, cwd: cwd, depth: depth + 1)
        }
    }

    /// Whether the host file system holding `host` is mounted noexec (exec then fails with
    /// EACCES, in the sandbox too: a bind keeps the flag).
    /// Whether the host file system holding `path` is mounted read-only.
    static func readOnlyMount(_ path: String) -> Bool {
        var fs = statvfs()
        let readOnly: UInt = 1  // ST_RDONLY (sys/statvfs.h; an enum the Glibc module does not export)
        return statvfs(path, &fs) == 0 && fs.f_flag & readOnly != 0
    }

    static func noexecMount(_ host: String) -> Bool {
        var fs = statvfs()
        let noexec: UInt = 8  // ST_NOEXEC (sys/statvfs.h; an enum the Glibc module does not export)
        return statvfs(host, &fs) == 0 && fs.f_flag & noexec != 0
    }

    /// The start of a host file as exec reads it: open once (the caller's judgements share it).
    struct Head {
        let fd: Int32
        let size: Int
        /// The first `shebangBytes` bytes (fewer for a shorter file).
        let bytes: [UInt8]

        init?(_ host: String) {
            let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
            guard fd >= 0 else { return nil }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
                  let bytes = ExecCheck.readAt(fd, 0, min(ExecCheck.shebangBytes, Int(st.st_size))) else {
                _ = Glibc.close(fd)
                return nil
            }
            self.fd = fd
            self.size = Int(st.st_size)
            self.bytes = bytes
        }

        func close() { _ = Glibc.close(fd) }

        var isScript: Bool { bytes.count >= 2 && bytes[0] == UInt8(ascii: "#") && bytes[1] == UInt8(ascii: "!") }
        var hasELFMagic: Bool { bytes.count >= 4 && bytes[0...3] == [0x7f, 0x45, 0x4c, 0x46] }

        /// Whether exec would refuse the format (ENOEXEC): neither an ELF file nor a `#!` script.
        /// Never when binfmt_misc has handlers registered (they may take any format).
        var unknownFormat: Bool { !ExecCheck.binfmtMiscHandlers && !isScript && !hasELFMagic }

        /// Whether it starts with the ELF magic but exec would refuse its headers (ENOEXEC):
        /// shorter than an ELF header, a class or byte order that is no ELF's, or (for this
        /// machine's 64-bit ELF) a program header table that is not one or lies past the end.
        /// Only what every kernel's ELF loader refuses; never when binfmt_misc has handlers.
        var invalidELF: Bool {
            guard !ExecCheck.binfmtMiscHandlers, hasELFMagic else { return false }
            guard bytes.count >= 52, bytes[4] == 1 || bytes[4] == 2, bytes[5] == 1 || bytes[5] == 2 else { return true }
            guard bytes[4] == 2, bytes[5] == 1 else { return false }   // judged: little-endian 64-bit only
            guard bytes.count >= 64 else { return true }
            func int(_ r: Range<Int>) -> UInt64 { r.reversed().reduce(0) { $0 << 8 | UInt64(bytes[$1]) } }
            // Neither a program nor a shared object (ET_EXEC, ET_DYN), or another machine's.
            guard int(16..<18) == 2 || int(16..<18) == 3 else { return true }
            if let machine = ExecCheck.machine, int(18..<20) != machine { return true }
            let phoff = int(32..<40), phentsize = int(54..<56), phnum = int(56..<58)
            guard phentsize == 56, phnum >= 1 else { return true }
            return phoff > UInt64(size) || UInt64(size) - phoff < phentsize * phnum
        }

        /// Whether it is a `#!` script whose line names no interpreter (ENOEXEC). A line cut at
        /// the buffer's end may go on past it: not judged.
        var emptyShebang: Bool {
            guard isScript, bytes.dropFirst(2).contains(UInt8(ascii: "\n")) || bytes.count < ExecCheck.shebangBytes else { return false }
            return ExecCheck.shebang(bytes) == nil
        }

        /// The interpreter exec would load: (path, "ELF interpreter") or (path, "#! interpreter");
        /// nil for a static ELF, an unknown format, or a read error.
        var interpreter: (String, String)? {
            guard bytes.count >= 2 else { return nil }
            if isScript { return ExecCheck.shebang(bytes).map { ($0, "#! interpreter") } }
            return ExecCheck.elfInterpreter(fd, head: bytes, size: size).map { ($0, "ELF interpreter") }
        }
    }

    /// This machine's ELF `e_machine` (nil: not judged).
    static let machine: UInt64? = {
        #if arch(x86_64)
        return 62
        #elseif arch(arm64)
        return 183
        #else
        return nil
        #endif
    }()

    /// Whether binfmt_misc is mounted with any handler (entries besides `register` and `status`).
    static let binfmtMiscHandlers: Bool = {
        guard let dir = opendir("/proc/sys/fs/binfmt_misc") else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !["", ".", "..", "register", "status"].contains(name) { return true }
        }
        return false
    }()

    /// The interpreter exec would load for the host file at `host` (see `Head.interpreter`).
    static func interpreter(ofHostFile host: String) -> (String, String)? {
        guard let head = Head(host) else { return nil }
        defer { head.close() }
        return head.interpreter
    }

    /// The interpreter path of a `#!` line, as the kernel splits it (spaces and tabs).
    static func shebang(_ head: [UInt8]) -> String? {
        var line = head.dropFirst(2)
        if let nl = line.firstIndex(of: UInt8(ascii: "\n")) { line = line[..<nl] }
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let start = line.drop(while: blank)
        let word = start.prefix { !blank($0) && $0 != 0 }
        guard !word.isEmpty else { return nil }
        return String(decoding: word, as: UTF8.self)
    }

    /// PT_INTERP of an ELF file (32- or 64-bit, either byte order), bounded reads only.
    static func elfInterpreter(_ fd: Int32, head: [UInt8], size: Int) -> String? {
        guard head.count >= 52, head[0] == 0x7F, head[1] == UInt8(ascii: "E"), head[2] == UInt8(ascii: "L"),
              head[3] == UInt8(ascii: "F") else { return nil }
        let is64 = head[4] == 2
        let little = head[5] == 1
        guard head[4] == 1 || is64, head[5] == 1 || head[5] == 2, !is64 || head.count >= 64 else { return nil }
        func int(_ bytes: ArraySlice<UInt8>) -> Int {
            var v: UInt64 = 0
            for b in (little ? Array(bytes.reversed()) : Array(bytes)) { v = v << 8 | UInt64(b) }
            return v > UInt64(Int.max) ? -1 : Int(v)
        }
        let phoff = is64 ? int(head[32..<40]) : int(head[28..<32])
        let phentsize = is64 ? int(head[54..<56]) : int(head[42..<44])
        let phnum = is64 ? int(head[56..<58]) : int(head[44..<46])
        guard phentsize == (is64 ? 56 : 32), phnum > 0, phoff > 0 else { return nil }
        let tableBytes = phentsize * phnum
        guard tableBytes <= maxProgramHeaderBytes, phoff <= size - tableBytes,
              let table = readAt(fd, phoff, tableBytes), table.count == tableBytes else { return nil }
        for i in 0..<phnum {
            let e = table[(i * phentsize)..<((i + 1) * phentsize)]
            let b = e.startIndex
            guard int(e[b..<(b + 4)]) == 3 else { continue }  // PT_INTERP
            let offset = is64 ? int(e[(b + 8)..<(b + 16)]) : int(e[(b + 4)..<(b + 8)])
            let length = is64 ? int(e[(b + 32)..<(b + 40)]) : int(e[(b + 16)..<(b + 20)])
            guard offset >= 0, length > 1, length <= maxInterpreterBytes, offset <= size - length,
                  let bytes = readAt(fd, offset, length), bytes.count == length, bytes.last == 0 else { return nil }
            return String(decoding: bytes.dropLast().prefix { $0 != 0 }, as: UTF8.self)
        }
        return nil
    }

    /// `pread(2)` of up to `count` bytes at `offset` (retried on EINTR and short reads).
    static func readAt(_ fd: Int32, _ offset: Int, _ count: Int) -> [UInt8]? {
        guard count >= 0, offset >= 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(offset + got)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return Array(buf[0..<got])
    }
}
