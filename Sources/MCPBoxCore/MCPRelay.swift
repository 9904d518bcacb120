import CSandbox
import MCPBoxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Connects an `MCPFilter` to the C relay's hook (`struct mcpbox_relay_filter`).
final class MCPRelayHook {
    let filter: MCPFilter
    private(set) var hook = mcpbox_relay_filter()

    init(_ policy: MCPPolicy) {
        filter = MCPFilter(policy: policy, say: { mcpbox_relay_say($0) })
        hook.context = Unmanaged.passUnretained(self).toOpaque()
        hook.input = { ctx, dir, bytes, len in
            let me = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue()
            return me.filter.input(Int(dir), UnsafeRawBufferPointer(start: bytes, count: len)) ? 0 : -1
        }
        hook.passes_through = { ctx, dir in
            Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue().filter.passesThrough(Int(dir)) ? 1 : 0
        }
        hook.input_verbatim = { ctx, dir, bytes, len, verbatim in
            let me = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue()
            var n = 0
            defer { verbatim?.pointee = n }
            return me.filter.input(Int(dir), UnsafeRawBufferPointer(start: bytes, count: len), verbatim: &n) ? 0 : -1
        }
        hook.pending = { ctx, dir, out in
            let me = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue()
            let (p, n) = me.filter.pending(Int(dir))
            out?.pointee = p.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
            return n
        }
        hook.pending_file = { ctx, dir, offset in
            let me = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue()
            let (fd, at) = me.filter.pendingFile(Int(dir))
            offset?.pointee = Int64(at)
            return fd
        }
        hook.consumed = { ctx, dir, n in
            let me = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue()
            me.filter.consumed(Int(dir), n)
        }
    }

    /// Runs the relay with this hook installed (the hook lives as long as the call).
    func run(_ config: inout mcpbox_relay_config) -> Int32 {
        // An audit record is written right after the line completing its exchange is passed on
        // (at the next loop turn's tick, before the relay reads anything else).
        filter.audit?.holding = true
        // A clock only where the filter needs one ([tools] confirm deadlines, held records).
        if filter.needsClock {
            hook.tick = { ctx, now in
                let t = Unmanaged<MCPRelayHook>.fromOpaque(ctx!).takeUnretainedValue().filter.tick(now: now)
                return t == MCPFilter.stopSession ? Int64(MCPBOX_RELAY_FILTER_STOP) : t
            }
        }
        return withUnsafePointer(to: &hook) { h in
            config.filter = h
            defer { config.filter = nil }
            return mcpbox_relay_run(&config)
        }
    }
}
