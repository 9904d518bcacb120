import MCPBoxCore
import MCPBoxExport

/// What `run`, `explain` and `check` add for `[isolation] runtime`: one preparation, so explain
/// refuses exactly what run refuses.
enum RuntimeView {
    /// gVisor's preparation for a gvisor plan; nil for the native runtime.
    static func prepare(_ plan: SandboxPlan) -> Result<GVisorRuntime.Prepared, GVisorRuntime.Refusal>? {
        plan.isolation.runtime == .gvisor ? GVisorRuntime.prepare(plan) : nil
    }

    /// Explain's text: the plan, then gVisor's section; or the refusal (exit 125).
    static func text(_ plan: SandboxPlan) -> Result<String, GVisorRuntime.Refusal> {
        switch prepare(plan) {
        case nil: return .success(Explain.text(plan))
        case .failure(let r)?: return .failure(r)
        case .success(let p)?: return .success(Explain.text(p.plan) + "\n" + GVisorRuntime.explainText(p))
        }
    }

    static func json(_ plan: SandboxPlan) -> Result<String, GVisorRuntime.Refusal> {
        switch prepare(plan) {
        case nil: return .success(ExplainJSON.render(plan))
        case .failure(let r)?: return .failure(r)
        case .success(let p)?:
            let node = GVisorRuntime.explainNode(plan, p).json()
            return .success(ExplainJSON.render(p.plan, runtime: String(node.dropLast())))
        }
    }

    /// `run` under gVisor.
    static func launch(_ plan: SandboxPlan, verbose: Bool) -> Int32 { GVisorRuntime.run(plan, verbose: verbose) }

    /// Prints the refusal as run does and returns 125.
    static func refuse(_ r: GVisorRuntime.Refusal) -> Int32 {
        Stderr.write(Explain.visible("mcpbox: \(r.message) (\(r.hint))"))
        return 125
    }
}
