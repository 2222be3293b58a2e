import Testing
import MoeAPI
@testable import Service

@Suite("Who may do what, and what non-admins see")
struct AccessTests {
    static let daemonUID: UInt32 = 998
    static let policy = AccessPolicy(daemonUID: daemonUID, adminGroup: .init(name: "moedadm", gid: 1234))

    @Test("admins: root, moed's user, and the admin group as primary or supplementary group", arguments: [
        (PeerCredentials(pid: 1, uid: 0, gid: 0), true),
        (PeerCredentials(pid: 1, uid: daemonUID, gid: 5), true),
        (PeerCredentials(pid: 1, uid: 1000, gid: 1234), true),
        (PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27, 1234]), true),
        (PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27]), false),
        (PeerCredentials(pid: 1, uid: 65534, gid: 65534), false),
        (PeerCredentials.unknown, false),
    ])
    func admins(peer: PeerCredentials, isAdmin: Bool) {
        #expect(Self.policy.isAdmin(peer) == isAdmin)
    }

    @Test("without admin_group only root and moed's user are admins")
    func noGroup() {
        let policy = AccessPolicy(daemonUID: Self.daemonUID)
        #expect(policy.isAdmin(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(policy.isAdmin(PeerCredentials(pid: 1, uid: Self.daemonUID, gid: 0)))
        #expect(!policy.isAdmin(PeerCredentials(pid: 1, uid: 1000, gid: 0, groups: [0])))
    }

    @Test("load, unload, use and reload are refused to non-admins with PERMISSION_DENIED naming the verb and the way in")
    func refusals() throws {
        let stranger = PeerCredentials(pid: 1, uid: 1000, gid: 1000)
        for call in [Call.load(tier: "a"), .unload(tier: "a"), .use(tier: "a"), .reload] {
            let error = try #require(Self.policy.refusal(of: call, from: stranger))
            #expect(error.code == .permissionDenied)
            #expect(error.message.hasPrefix("\(call.name) is for admins"))
            #expect(error.message.contains("uid 1000") && error.message.contains("group moedadm (admin_group)"))
        }
        let hint = try #require(AccessPolicy(daemonUID: 5).refusal(of: .reload, from: stranger))
        #expect(hint.message.contains("set [daemon] admin_group"))
        for call in [Call.status, .tiers, .plugins, .stats, .cancel(targetID: 1), .generate(GenerateRequest()),
                     .tokenize(TokenizeRequest())] {
            #expect(Self.policy.refusal(of: call, from: stranger) == nil, "\(call.name) is open to every peer")
        }
        #expect(Self.policy.refusal(of: .reload, from: PeerCredentials(pid: 1, uid: 0, gid: 0)) == nil)
    }

    @Test("admin_group resolves a name or a gid; an unknown name is refused")
    func groupLookup() throws {
        #expect(try AccessPolicy(adminGroupNamed: "root").adminGroup?.gid == 0)
        #expect(try AccessPolicy(adminGroupNamed: "0").adminGroup?.name == "root")
        #expect(try AccessPolicy(adminGroupNamed: "424242").adminGroup?.gid == 424_242)
        #expect(try AccessPolicy(adminGroupNamed: nil).adminGroup == nil)
        #expect(throws: AccessPolicyError.self) { try AccessPolicy(adminGroupNamed: "no-such-group-moed") }
    }

    static let redactor = PathRedactor(knownPaths: ["/etc/moed/moed.toml", "models/local.gguf", "/srv/models/big.gguf",
                                                    "/usr/lib/moed/plugins", "toy"])

    static func tier() -> TierStatus {
        var tier = TierStatus()
        tier.name = "haiku"
        tier.plugin = "/opt/plugins/libmoe_custom.so"
        tier.model = "/srv/models/big.gguf"
        tier.lastError = "dlopen /opt/plugins/libmoe_custom.so: /opt/plugins/libmoe_custom.so: cannot open shared object file"
        return tier
    }

    @Test("status, tiers and tier replies keep names and drop the config, socket, model and plugin paths")
    func statusRedacted() throws {
        var status = StatusReply()
        status.configPath = "/etc/moed/moed.toml"
        status.socket = "/run/moed/moed.sock"
        status.tiers = [Self.tier()]
        guard case .status(let seen) = Self.redactor.redact(Response(id: 1, isFinal: true, result: .status(status))).result else {
            Issue.record("not a status"); return
        }
        #expect(seen.configPath.isEmpty && seen.socket.isEmpty)
        let tier = try #require(seen.tiers.first)
        #expect(tier.name == "haiku" && tier.model.isEmpty && tier.plugin == "libmoe_custom.so")
        #expect(tier.lastError == "dlopen <path>: <path>: cannot open shared object file")
        guard case .tiers(let tiers) = Self.redactor.redact(Response(id: 1, isFinal: true, result: .tiers(TiersReply(tiers: [Self.tier()])))).result,
              case .tier(let one) = Self.redactor.redact(Response(id: 1, isFinal: true, result: .tier(Self.tier()))).result else {
            Issue.record("wrong result kinds"); return
        }
        #expect(tiers.tiers.first?.model == "" && one.model == "" && !one.lastError.contains("/opt"))
    }

    @Test("plugin replies give file names, and errors in any reply lose their paths")
    func pluginsAndErrors() {
        var plugin = PluginInfo()
        plugin.name = "custom"
        plugin.path = "/usr/lib/moed/plugins/libmoe_custom.so"
        plugin.error = "libmoe_x.so not found in /usr/lib/moed/plugins, /work/build"
        guard case .plugins(let seen) = Self.redactor.redact(Response(id: 1, isFinal: true, result: .plugins([plugin]))).result else {
            Issue.record("not plugins"); return
        }
        #expect(seen.first?.path == "libmoe_custom.so")
        #expect(seen.first?.error == "libmoe_x.so not found in <path>, <path>")
        let failure = Response.failure(id: 2, RemoteError(.failedPrecondition, "cannot open models/local.gguf (from '/etc/moed/moed.toml')"))
        #expect(Self.redactor.redact(failure).error?.message == "cannot open <path> (from '<path>')")
        var reload = ReloadReply()
        reload.configPath = "/etc/moed/moed.toml"
        guard case .reload(let r) = Self.redactor.redact(Response(id: 3, isFinal: true, result: .reload(reload))).result else {
            Issue.record("not reload"); return
        }
        #expect(r.configPath.isEmpty)
    }

    @Test("text that is not a path stays: rates, fractions, bare names, and generated text", arguments: [
        "12.5 tokens/s", "1/2 of the budget", "tier toy is loading", "a / b",
    ])
    func notPaths(text: String) {
        #expect(Self.redactor.redact(text: text) == text)
        let chunk = Response(id: 1, isFinal: false, result: .chunk(GenerateChunk(text: "see /etc/passwd", tokens: [1])))
        #expect(Self.redactor.redact(chunk) == chunk)
    }
}
