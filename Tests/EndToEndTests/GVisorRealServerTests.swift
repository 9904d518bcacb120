import Foundation
import MCPBoxTestSupport
import Testing

/// The native real-server checks (RealServerTests, FetchServerTests, ShippedServerTests) run
/// unchanged with `[isolation] runtime = "gvisor"` added to the profile, started by root: the same
/// servers, the same Python SDK client, the same assertions (none differs under gVisor). Not run
/// by an ordinary user: git needs `[user]`, and `allow` refuses the fetch site's loopback address
/// to an ordinary user under either runtime; GVisorTimeTests covers an ordinary user's session.
@Suite("gVisor runtime: the real-server end-to-end checks", .serialized,
       .enabled(if: TestSupport.isRoot && GVisorSupport.runsc != nil, "needs root and runsc"))
struct GVisorRealServerTests {
    @Test("mcp-server-git under gvisor: status, log, add and commit in its repository; the commit object is the account's")
    func gitInRepository() throws {
        try RealServerTests.gitInRepository(launch: .rootDedicatedAccount, runtime: "gvisor")
    }

    @Test("mcp-server-git under gvisor without --repository: the sibling repository is invisible, the granted one works")
    func gitSiblingInvisible() throws {
        try RealServerTests.gitSiblingInvisible(launch: .rootDedicatedAccount, runtime: "gvisor")
    }

    @Test("mcp-server-git under gvisor on a repository its account may not write: status and log work, add and commit fail")
    func gitReadOnlyRepository() throws {
        try RealServerTests.gitReadOnlyRepository(launch: .rootDedicatedAccount, runtime: "gvisor")
    }

    @Test("mcp-server-fetch under gvisor (network.mode = \"allow\", the in-sandbox forwarder): allowed host fetched; other hosts, loopback and redirects refused",
          arguments: RealServerTests.Launch.allCases)
    func fetch(launch: RealServerTests.Launch) throws {
        try FetchServerTests.fetch(launch: launch, runtime: "gvisor")
    }

    @Test("mcp-server-sqlite under gvisor: creates, writes and reads its database; the host sees the rows, owned by the account")
    func sqlite() throws {
        try ShippedServerTests().sqlite(runtime: "gvisor")
    }

    @Test("filesystem-mcp under gvisor: reads the input tree, writes the output tree, cannot write the input or read elsewhere")
    func filesystem() throws {
        try ShippedServerTests().filesystem(runtime: "gvisor")
    }

    @Test("mcp-python-interpreter under gvisor: the model's code runs in its work directory and its escapes fail")
    func pythonInterpreter() throws {
        try ShippedServerTests().pythonInterpreter(runtime: "gvisor")
    }

    @Test("mcp-server-everything-wrong under gvisor: the environment dump shows only the sandbox's, fetch and run_command are contained")
    func everythingWrong() throws {
        try ShippedServerTests().everythingWrong(runtime: "gvisor")
    }
}
