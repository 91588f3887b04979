import API
import ArgumentParser
import Domain
import Glibc
import Postgres
import Store

/// `switchyardctl key`: API keys.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Issue and revoke API keys.", subcommands: [Issue.self, Revoke.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a long-lived API key for a principal and print it (it is shown only this once).",
            discussion: "With --output the key goes to a new file (mode 600) instead of standard output.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The principal's name.") var name: String
        @Option(name: .customLong("scope"), help: "A permission the key is limited to; repeat for several (default: *).")
        var scopes: [String] = []
        @Option(name: .long, help: "What the key is for.") var description = ""
        @Option(name: .long, help: "Hours until the key expires (default: never).") var ttlHours: Int?
        @Option(name: .long, help: "Write the key to this file (created with mode 600).") var output: String?

        func run() throws {
            let config = try loadConfiguration(global)
            let scopeList = scopes.isEmpty ? ["*"] : scopes
            for scope in scopeList where Permission(scope) == nil {
                StandardError.write("--scope \(scope) is not a permission")
                throw ExitCode(64)
            }
            if let ttlHours, ttlHours < 1 {
                StandardError.write("--ttl-hours must be at least 1")
                throw ExitCode(64)
            }
            let (key, prefix, hash) = try ApiKeySecret.generate()
            let connection = openConnection(config)
            try auditedChange(connection, command: "key issue", event: "key.created", detail: [("user", name), ("key_id", prefix)]) {
                guard let principal = try PrincipalStore(connection: connection).get(name: name) else {
                    throw CommandFailure.notFound("no principal \(name)")
                }
                _ = try ApiKeyStore(connection: connection).insert(
                    prefix: prefix, hash: hash, principalID: principal.id, isSession: false, scopes: scopeList,
                    description: description, expiresAt: ttlHours.map { SystemClock.now().adding(seconds: Int64($0) * 3600) })
            }
            if let output {
                let descriptor = open(output, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                guard descriptor >= 0 else {
                    StandardError.write("cannot create \(output) (it must not exist yet)")
                    throw ExitCode(73)
                }
                let line = Array((key + "\n").utf8)
                _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
                print("key \(prefix) for \(name) written to \(output)")
            } else {
                print(key)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key now, by its key id (prefix).")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The key id, e.g. sy_AbCdEfGhI.") var keyID: String

        func run() throws {
            let config = try loadConfiguration(global)
            let connection = openConnection(config)
            try auditedChange(connection, command: "key revoke", event: "key.revoked", detail: [("key_id", keyID)]) {
                guard try ApiKeyStore(connection: connection).revoke(prefix: keyID, ownerFilter: nil) != nil else {
                    throw CommandFailure.notFound("no key \(keyID)")
                }
            }
            print("key \(keyID) revoked")
        }
    }
}

/// `switchyardctl token generate`: a signed JWT.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Sign JSON Web Tokens.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an HS256 token for a subject, signed with jwt-secret-file.",
            discussion: """
                The subject need not exist yet: it is created on first use, as an external principal whose rights are \
                its tokens' roles or permissions. For a subject that is a local account, the token only narrows what \
                that account may do. The token expires after jwt-ttl-s.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(name: [.short, .customLong("role")], help: "A role the token carries; repeat for several.")
        var roles: [String] = []
        @Option(name: [.customShort("u"), .customLong("user")], help: "The subject (principal name).") var subject: String
        @Option(name: [.short, .customLong("permission")], help: "An exact permission; when given, replaces role expansion.")
        var permissions: [String] = []

        func run() throws {
            let config = try loadConfiguration(global)
            try check(Validation.principalName(subject), "subject")
            let parsed = permissions.compactMap(Permission.init)
            guard parsed.count == permissions.count else {
                StandardError.write("every --permission must be a permission such as job:read")
                throw ExitCode(64)
            }
            do {
                let issued = try TokenIssuer.issue(
                    config: config, subject: subject, roles: roles, permissions: parsed.isEmpty ? nil : parsed)
                print(issued.token)
            } catch let error as ConfigError {
                StandardError.write(error.description)
                throw ExitCode(78)
            }
        }
    }
}
