#if canImport(Glibc)
import Glibc
#endif

extension EgressProxy {
    /// A listening TCP socket on `address:port` (port 0: the kernel picks one), close-on-exec,
    /// with the port it got; nil with errno.
    public static func listen(_ address: IPAddress, port: UInt16) -> (fd: Int32, port: UInt16)? {
        let family = address.isV4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var ss = sockaddr_storage()
        var len: socklen_t
        if address.isV4 {
            len = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &ss) { p in
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sa in
                    sa.pointee.sin_family = sa_family_t(AF_INET)
                    sa.pointee.sin_port = port.bigEndian
                    withUnsafeMutableBytes(of: &sa.pointee.sin_addr) { $0.copyBytes(from: address.bytes) }
                }
            }
        } else {
            len = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutablePointer(to: &ss) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sa in
                    sa.pointee.sin6_family = sa_family_t(AF_INET6)
                    sa.pointee.sin6_port = port.bigEndian
                    withUnsafeMutableBytes(of: &sa.pointee.sin6_addr) { $0.copyBytes(from: address.bytes) }
                }
            }
        }
        let ok = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && Glibc.listen(fd, 128) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else {
            let e = errno
            close(fd)
            errno = e
            return nil
        }
        let bound = withUnsafePointer(to: &ss) { p in
            address.isV4 ? p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                : p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
        return (fd, bound)
    }
}
