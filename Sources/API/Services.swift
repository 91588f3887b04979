import Domain

/// What every request may use that is built once per process from the configuration.
public final class Services: Sendable {
    let tokens: TokenService
    let authenticator: Authenticator
    /// The process's parked long-polls (idle unless the server starts its listener and resume threads).
    let hub: WaitHub
    /// The process's queue of validated submits (idle unless the server starts its batching thread).
    let submits = SubmitBatcher()

    /// Loads key material; unreadable or unusable keys are configuration errors (exit 78 at start).
    public convenience init(config: Configuration) throws(ConfigError) {
        try self.init(config: config, hub: WaitHub())
    }

    /// - Parameter hub: the parked long-polls' hub; tests pass one with a small capacity.
    /// - Parameter allowances: the process's rate-limit allowances; tests pass ones that last.
    init(config: Configuration, hub: WaitHub, allowances: RateAllowances = RateAllowances()) throws(ConfigError) {
        tokens = try TokenService(config: config)
        authenticator = Authenticator(tokens: tokens, allowances: allowances)
        self.hub = hub
    }
}
