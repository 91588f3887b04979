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
    /// database connection. Processes × (worker-threads + resume-threads + 1) must stay below max_connections.
    public var workerThreads = 4
    /// `max-requests`: a responder exits cleanly after this many requests and the supervisor starts a fresh one
    /// (0: never), which bounds what a leak or fragmentation can cost.
    public var maxRequests = 100_000
    /// `idle-exit-s`: a responder exits after this many seconds without a request (0: never).
    public var idleExitSeconds = 0
    /// `max-body-bytes`: larger request bodies are refused with 413 without being read into memory.
    public var maxBodyBytes = 16 * 1024 * 1024
    /// `log-requests`: one JSON line per request on standard error.
    public var logRequests = true

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
        config.maxRequests = reader.int("max-requests", default: config.maxRequests, range: 0...1_000_000_000)
        config.idleExitSeconds = reader.int("idle-exit-s", default: config.idleExitSeconds, range: 0...86_400)
        config.maxBodyBytes = reader.int("max-body-bytes", default: config.maxBodyBytes, range: 1024...1_073_741_824)
        config.logRequests = reader.bool("log-requests", default: config.logRequests)
        try reader.finish()
        return config
    }

    /// The effective settings as `key = value` lines, secrets shown as `<redacted>` (`--print-config`).
    public var printable: String {
        let lines: [(String, String)] = [
            ("db-uri", Self.redactingPassword(databaseURI)),
            ("db-statement-timeout-ms", String(statementTimeoutMilliseconds)),
            ("db-connect-timeout-s", String(connectTimeoutSeconds)),
            ("worker-threads", String(workerThreads)),
            ("max-requests", String(maxRequests)),
            ("idle-exit-s", String(idleExitSeconds)),
            ("max-body-bytes", String(maxBodyBytes)),
            ("log-requests", String(logRequests)),
        ]
        return lines.map { "\($0.0) = \($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// The libpq connection string for one program: `db-uri` plus `application_name` (so `pg_stat_activity` shows
    /// who is who), the connect timeout and the statement timeout.
    public func connectionString(applicationName: String) -> String {
        let options = "-c statement_timeout=\(statementTimeoutMilliseconds)"
        if databaseURI.hasPrefix("postgresql://") || databaseURI.hasPrefix("postgres://") {
            let separator = databaseURI.contains("?") ? "&" : "?"
            return databaseURI + separator + "application_name=\(applicationName)"
                + "&connect_timeout=\(connectTimeoutSeconds)&options=" + Self.percentEncode(options)
        }
        return databaseURI + " application_name=\(applicationName) connect_timeout=\(connectTimeoutSeconds)"
            + " options='\(options)'"
    }

    static func isConnectionString(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") || text.contains("=")
    }

    /// Hides the password of a URL (`user:secret@`) or of a `password=` pair.
    public static func redactingPassword(_ uri: String) -> String {
        if let schemeEnd = uri.firstRange(of: "://")?.upperBound {
            let rest = uri[schemeEnd...]
            if let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                return String(uri[..<rest.index(after: colon)]) + "<redacted>" + String(rest[at...])
            }
            return uri
        }
        return uri.split(separator: " ").map { part in
            part.hasPrefix("password=") ? "password=<redacted>" : String(part)
        }.joined(separator: " ")
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
