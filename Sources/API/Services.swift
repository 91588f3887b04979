import Domain

/// What every request may use that is built once per process from the configuration.
public final class Services: Sendable {
    let tokens: TokenService
    let authenticator: Authenticator

    /// Loads key material; unreadable or unusable keys are configuration errors (exit 78 at start).
    public init(config: Configuration) throws(ConfigError) {
        tokens = try TokenService(config: config)
        authenticator = Authenticator(tokens: tokens)
    }
}
