import MoeAPI

/// The access policy and the paths to hide, shared by every connection
/// and replaced as a whole on reload. Loop thread only.
public final class AccessControl {
    public private(set) var policy: AccessPolicy
    public private(set) var redactor: PathRedactor

    public init(policy: AccessPolicy = AccessPolicy(), redactor: PathRedactor = PathRedactor()) {
        self.policy = policy
        self.redactor = redactor
    }

    public func update(policy: AccessPolicy, redactor: PathRedactor) {
        self.policy = policy
        self.redactor = redactor
    }

    /// The response as `peer` may see it.
    func visible(_ response: Response, to peer: PeerCredentials) -> Response {
        policy.isAdmin(peer) ? response : redactor.redact(response)
    }
}

extension Configuration {
    /// Every path the config names, for the redactor: a non-admin peer
    /// learns tier names, not where files live.
    func privatePaths(extraPluginDirectories: [String]) -> [String] {
        [path] + daemon.pluginDirectories + extraPluginDirectories + tiers.flatMap { [$0.model, $0.plugin] }
    }
}
