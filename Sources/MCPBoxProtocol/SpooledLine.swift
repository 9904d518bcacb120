#if canImport(Glibc)
import Glibc
#endif

/// A line held out of mcpbox's memory while it arrives: past `MCPFilter.spoolThreshold` bytes
/// its bytes go to an anonymous memory file (memfd: no name, no directory, this process's only;
/// kernel memory the session's cgroup is charged for, not mcpbox's resident set). At its newline
/// it is mapped read-only and scanned (`MessageScan(mapped:)`, which gives back the pages behind
/// it); a line passed on unchanged is then written from the file (`splice`: its pages move to the
/// destination pipe, nothing is copied). One file per line, closed once written, so pages already
/// handed to a pipe are never written again.
final class SpooledLine {
    let fd: Int32
    private(set) var count = 0
    private var mapping: UnsafeMutableRawPointer?

    /// nil: the file could not be created (errno says why).
    init?() {
        let fd = memfdCreate("mcpbox-line", 1 /* MFD_CLOEXEC */)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit {
        unmap()
        close(fd)
    }

    /// Appends `bytes`; false (errno set) when the file refuses them.
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(count))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { if n == 0 { errno = ENOSPC }; return false }
            done += n
            count += n
        }
        return true
    }

    /// The whole line, mapped read-only (valid until `unmap`); nil (errno set) when it cannot be.
    func map() -> UnsafeRawBufferPointer? {
        if mapping == nil {
            guard let p = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
            mapping = p
        }
        return UnsafeRawBufferPointer(start: mapping, count: count)
    }

    func unmap() {
        if let mapping { munmap(mapping, count) }
        mapping = nil
    }
}

/// glibc's memfd_create(2) (2.27+), which the Glibc module leaves out (it is behind _GNU_SOURCE).
@_silgen_name("memfd_create")
private func memfdCreate(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
