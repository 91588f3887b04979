/// Every setting of every Switchyard executable, with its default, read from one file and the environment.
///
/// One file serves the responders and the batch executables alike (README "Configuration" lists the keys); each
/// program uses what concerns it. Defaults are written here and nowhere else.
public struct Configuration: Sendable {
    /// `db-uri`: libpq connection string or URL. Default: the local socket, database `switchyard`.
    public var databaseURI = "postgresql:///switchyard"
    /// `db-statement-timeout-ms`: statements running longer are cancelled (the client gets 504).
    public var statementTimeoutMilliseconds = 5000
    /// `db-connect-timeout-s`: how long opening a connection may take before the request gets 503.
    public var connectTimeoutSeconds = 3
    /// `worker-threads`: threads per responder process that accept and serve requests, each with its own
    /// database connection. Processes × (worker-threads + resume-threads + 2: the LISTEN session and the submit
    /// batcher's) must stay below max_connections.
    public var workerThreads = 4
    /// `resume-threads`: threads per responder process that answer woken long-polls, each with its own database
    /// connection. Parked long-polls hold no thread, so a few suffice for thousands of waiters.
    public var resumeThreads = 2
    /// `max-requests`: a responder exits cleanly after this many requests and the supervisor starts a fresh one
    /// (0: never), which bounds what a leak or fragmentation can cost.
    public var maxRequests = 100_000
    /// `idle-exit-s`: a responder exits after this many seconds without a request (0: never).
    public var idleExitSeconds = 0
    /// `max-body-bytes`: larger request bodies are refused with 413 without being read into memory.
    public var maxBodyBytes = 16 * 1024 * 1024
    /// `log-requests`: one JSON line per request on standard error.
    public var logRequests = true

    /// `jwt-secret-file`: a file holding the HS256 key (at least 32 bytes) that signs the tokens
    /// `POST /auth/token` and `switchyardctl token generate` issue; unset: no HS256 tokens at all.
    public var jwtSecretFile: String?
    /// `jwt-issuer`: the `iss` of the tokens Switchyard issues (and expects of HS256 tokens).
    public var jwtIssuer = "switchyard"
    /// `jwt-audience`: every accepted token must name this in `aud`.
    public var jwtAudience = "switchyard"
    /// `jwt-public-keys`: `kid=path.pem` pairs, comma-separated: an identity provider's RS256/ES256 keys.
    public var jwtPublicKeys: [(keyID: String, path: String)] = []
    /// `jwt-trusted-issuers`: comma-separated `iss` values accepted for tokens signed with `jwt-public-keys`.
    public var jwtTrustedIssuers: [String] = []
    /// `jwt-leeway-s`: clock skew allowed when checking `exp` and `nbf`.
    public var jwtLeewaySeconds = 30
    /// `jwt-ttl-s`: lifetime of the tokens Switchyard issues.
    public var jwtTTLSeconds = 900
    /// `session-ttl-hours`: default lifetime of login session keys (a login may ask for 1 to 168).
    public var sessionTTLHours = 2
    /// `password-iterations`: PBKDF2-HMAC-SHA256 iterations for new password hashes (existing hashes keep theirs).
    public var passwordIterations = 600_000
    /// `login-attempts-per-minute`: sustained login attempts allowed per username.
    public var loginAttemptsPerMinute = 10
    /// `login-attempts-burst`: login attempts allowed at once per username.
    public var loginAttemptsBurst = 5
    /// `login-address-attempts-per-minute`: sustained login attempts allowed per client address (a shared NAT
    /// address carries many users, so this is looser than the per-username limit).
    public var loginAddressAttemptsPerMinute = 60
    /// `login-address-attempts-burst`: login attempts allowed at once per client address.
    public var loginAddressAttemptsBurst = 20

    /// `simulator-max-qubits`: circuits wider than this are refused by switchyard-simulator before it allocates
    /// anything (a state needs 16 bytes × 2^qubits: 4 GiB at 28).
    public var simulatorMaxQubits = 28
    /// `simulator-threads`: threads one simulation uses (0: every core).
    public var simulatorThreads = 0
    /// `simulator-lease-s`: a running job's lease; the executor renews it every third of this, and a job whose
    /// executor died is re-scheduled once it lapses.
    public var simulatorLeaseSeconds = 30

    public init() {}

    /// Reads the settings; throws one `ConfigError` naming every bad setting.
    public static func load(fileText: String?, fileName: String = "config file", environment: [String: String])
        throws(ConfigError) -> Configuration
    {
        var reader = SettingsReader(fileText: fileText, fileName: fileName, environment: environment)
        var config = Configuration()
        config.databaseURI = reader.string("db-uri", default: config.databaseURI)
        if !Self.isConnectionString(config.databaseURI) {
            reader.addProblem("db-uri: expected a postgresql:// URL or a key=value connection string")
        }
        config.statementTimeoutMilliseconds = reader.int(
            "db-statement-timeout-ms", default: config.statementTimeoutMilliseconds, range: 100...600_000)
        config.connectTimeoutSeconds = reader.int(
            "db-connect-timeout-s", default: config.connectTimeoutSeconds, range: 1...60)
        config.workerThreads = reader.int("worker-threads", default: config.workerThreads, range: 1...256)
        config.resumeThreads = reader.int("resume-threads", default: config.resumeThreads, range: 1...64)
        config.maxRequests = reader.int("max-requests", default: config.maxRequests, range: 0...1_000_000_000)
        config.idleExitSeconds = reader.int("idle-exit-s", default: config.idleExitSeconds, range: 0...86_400)
        config.maxBodyBytes = reader.int("max-body-bytes", default: config.maxBodyBytes, range: 1024...1_073_741_824)
        config.logRequests = reader.bool("log-requests", default: config.logRequests)
        config.jwtSecretFile = reader.optionalString("jwt-secret-file")
        config.jwtIssuer = reader.string("jwt-issuer", default: config.jwtIssuer)
        config.jwtAudience = reader.string("jwt-audience", default: config.jwtAudience)
        for pair in Self.list(reader.optionalString("jwt-public-keys")) {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
                config.jwtPublicKeys.append((parts[0], parts[1]))
            } else {
                reader.addProblem("jwt-public-keys: expected kid=path.pem pairs separated by commas, got '\(pair)'")
            }
        }
        config.jwtTrustedIssuers = Self.list(reader.optionalString("jwt-trusted-issuers"))
        config.jwtLeewaySeconds = reader.int("jwt-leeway-s", default: config.jwtLeewaySeconds, range: 0...600)
        config.jwtTTLSeconds = reader.int("jwt-ttl-s", default: config.jwtTTLSeconds, range: 60...86_400)
        config.sessionTTLHours = reader.int("session-ttl-hours", default: config.sessionTTLHours, range: 1...168)
        config.passwordIterations = reader.int(
            "password-iterations", default: config.passwordIterations, range: 100_000...10_000_000)
        config.loginAttemptsPerMinute = reader.int(
            "login-attempts-per-minute", default: config.loginAttemptsPerMinute, range: 1...10_000)
        config.loginAttemptsBurst = reader.int("login-attempts-burst", default: config.loginAttemptsBurst, range: 1...1000)
        config.loginAddressAttemptsPerMinute = reader.int(
            "login-address-attempts-per-minute", default: config.loginAddressAttemptsPerMinute, range: 1...1_000_000)
        config.loginAddressAttemptsBurst = reader.int(
            "login-address-attempts-burst", default: config.loginAddressAttemptsBurst, range: 1...1_000_000)
        config.simulatorMaxQubits = reader.int("simulator-max-qubits", default: config.simulatorMaxQubits, range: 1...40)
        config.simulatorThreads = reader.int("simulator-threads", default: config.simulatorThreads, range: 0...256)
        config.simulatorLeaseSeconds = reader.int("simulator-lease-s", default: config.simulatorLeaseSeconds, range: 3...3600)
        try reader.finish()
        return config
    }

    /// The effective settings as `key = value` lines, secrets shown as `<redacted>` (`--print-config`).
    public var printable: String {
        // Secrets live in files; only their paths are printed.
        let lines: [(String, String)] = [
            ("db-uri", Self.redactingPassword(databaseURI)),
            ("db-statement-timeout-ms", String(statementTimeoutMilliseconds)),
            ("db-connect-timeout-s", String(connectTimeoutSeconds)),
            ("worker-threads", String(workerThreads)),
            ("resume-threads", String(resumeThreads)),
            ("max-requests", String(maxRequests)),
            ("idle-exit-s", String(idleExitSeconds)),
            ("max-body-bytes", String(maxBodyBytes)),
            ("log-requests", String(logRequests)),
            ("jwt-secret-file", jwtSecretFile ?? ""),
            ("jwt-issuer", jwtIssuer),
            ("jwt-audience", jwtAudience),
            ("jwt-public-keys", jwtPublicKeys.map { "\($0.keyID)=\($0.path)" }.joined(separator: ",")),
            ("jwt-trusted-issuers", jwtTrustedIssuers.joined(separator: ",")),
            ("jwt-leeway-s", String(jwtLeewaySeconds)),
            ("jwt-ttl-s", String(jwtTTLSeconds)),
            ("session-ttl-hours", String(sessionTTLHours)),
            ("password-iterations", String(passwordIterations)),
            ("login-attempts-per-minute", String(loginAttemptsPerMinute)),
            ("login-attempts-burst", String(loginAttemptsBurst)),
            ("login-address-attempts-per-minute", String(loginAddressAttemptsPerMinute)),
            ("login-address-attempts-burst", String(loginAddressAttemptsBurst)),
            ("simulator-max-qubits", String(simulatorMaxQubits)),
            ("simulator-threads", String(simulatorThreads)),
            ("simulator-lease-s", String(simulatorLeaseSeconds)),
        ]
        return lines.map { "\($0.0) = \($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// The libpq connection string for one program: `db-uri` plus `application_name` (so `pg_stat_activity` shows
    /// who is who), the connect timeout and the statement timeout.
    /// - Parameter asynchronousCommit: makes commits outside explicit transactions asynchronous (the responders'
    ///   reads and their audit rows); transactions that change state ask for synchronous commit themselves.
    /// - Parameter deferJobNotifications: job changes collect their NOTIFY until the session calls `job_announce()`
    ///   after COMMIT (sql/migrations/0006_deferred_job_notifications.sql); whoever sets it must call it.
    public func connectionString(
        applicationName: String, asynchronousCommit: Bool = false, deferJobNotifications: Bool = false
    ) -> String {
        var options = "-c statement_timeout=\(statementTimeoutMilliseconds)"
        if asynchronousCommit { options += " -c synchronous_commit=off" }
        if deferJobNotifications { options += " -c switchyard.defer_notify=on" }
        // Over TCP, a link that goes silent (a partition, a host lost without a reset) is given up within about
        // 25 s instead of the kernel's 15 minutes, in which a thread would wait on it; libpq ignores these for unix
        // sockets.
        let liveness = [
            ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
            ("tcp_user_timeout", "25000"),
        ]
        if databaseURI.hasPrefix("postgresql://") || databaseURI.hasPrefix("postgres://") {
            let separator = databaseURI.contains("?") ? "&" : "?"
            return databaseURI + separator + "application_name=\(applicationName)"
                + "&connect_timeout=\(connectTimeoutSeconds)"
                + liveness.map { "&\($0)=\($1)" }.joined()
                + "&options=" + Self.percentEncode(options)
        }
        return databaseURI + " application_name=\(applicationName) connect_timeout=\(connectTimeoutSeconds)"
            + liveness.map { " \($0)=\($1)" }.joined()
            + " options='\(options)'"
    }

    /// Splits a comma-separated setting, dropping blanks.
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingBlanks() }.filter { !$0.isEmpty }
    }

    static func isConnectionString(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") || text.contains("=")
    }

    /// Hides the password of a connection string: in a URL, `user:secret@` and a `password=` query parameter; in
    /// `key=value` form, the value of `password`, quoted (`'a b'`, with `\\'` escapes) or not.
    public static func redactingPassword(_ conninfo: String) -> String {
        if let schemeEnd = conninfo.firstRange(of: "://")?.upperBound {
            var uri = conninfo
            let rest = uri[schemeEnd...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                uri = String(uri[...colon]) + "<redacted>" + String(uri[at...])
            }
            guard let question = uri.firstIndex(of: "?") else { return uri }
            let parameters = uri[uri.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("password=") ? "password=<redacted>" : String($0) }
            return String(uri[...question]) + parameters.joined(separator: "&")
        }
        var result = ""
        var rest = Substring(conninfo)
        while let first = rest.first {
            if first == " " {
                result.append(first)
                rest = rest.dropFirst()
                continue
            }
            let key = rest.prefix { $0 != "=" && $0 != " " }
            rest = rest.dropFirst(key.count)
            let spaced = rest.prefix { $0 == " " || $0 == "=" }
            rest = rest.dropFirst(spaced.count)
            var value = Substring()
            if rest.first == "'" {
                var index = rest.index(after: rest.startIndex)
                while index < rest.endIndex, rest[index] != "'" {
                    if rest[index] == "\\" { index = rest.index(after: index) }
                    if index < rest.endIndex { index = rest.index(after: index) }
                }
                value = rest[..<min(rest.index(after: index), rest.endIndex)]
            } else {
                value = rest.prefix { $0 != " " }
            }
            rest = rest.dropFirst(value.count)
            result += key + spaced + (key == "password" ? "<redacted>" : value)
        }
        return result
    }

    private static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return result
    }
}
