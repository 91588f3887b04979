import API
import ArgumentParser
import Domain
import OpenSSL
import Postgres
import Store

/// `switchyardctl user`: principals.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Create principals and set passwords.", subcommands: [Add.self, Passwd.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a principal (a person, a service or an agent).",
            discussion: "With --password-stdin the password is read from standard input, so it never shows in ps.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The principal's name (letters, digits, '.', '_', '@', '-').") var name: String
        @Option(name: [.short, .customLong("role")], help: "A role to grant; repeat for several (default: user).")
        var roles: [String] = []
        @Option(name: .long, help: "user, service or agent.") var kind = "user"
        @Option(name: .long, help: "A name for people to read.") var displayName = ""
        @Option(name: .long, help: "An e-mail address.") var email: String?
        @Flag(name: .long, help: "Read a password from standard input (one line).") var passwordStdin = false

        func run() throws {
            let config = try loadConfiguration(global)
            try check(Validation.principalName(name), "name")
            guard let principalKind = PrincipalKind(rawValue: kind) else {
                StandardError.write("--kind must be user, service or agent")
                throw ExitCode(64)
            }
            let roleNames = roles.isEmpty ? ["user"] : roles
            for role in roleNames { try check(Validation.roleName(role), "role \(role)") }
            if let email { try check(Validation.email(email), "email") }
            var passwordHash: String?
            if passwordStdin {
                let password = try readSecretLine()
                try check(Validation.password(password), "password")
                passwordHash = try PasswordHash.make(password: password, iterations: config.passwordIterations)
            }
            let connection = openConnection(config)
            try auditedChange(connection, command: "user add", event: "user.created", detail: [("user", name), ("roles", roleNames.joined(separator: ","))]) {
                _ = try PrincipalStore(connection: connection).create(
                    name: name, kind: principalKind, displayName: displayName, email: email, passwordHash: passwordHash,
                    roles: roleNames)
            }
            print("created \(principalKind.rawValue) \(name) with roles \(roleNames.joined(separator: ", "))")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a principal's password, read from standard input.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The principal's name.") var name: String

        func run() throws {
            let config = try loadConfiguration(global)
            let password = try readSecretLine()
            try check(Validation.password(password), "password")
            let hash = try PasswordHash.make(password: password, iterations: config.passwordIterations)
            let connection = openConnection(config)
            try auditedChange(connection, command: "user passwd", event: "user.password_changed", detail: [("user", name)]) {
                guard try PrincipalStore(connection: connection).update(name: name, passwordHash: hash) != nil else {
                    throw CommandFailure.notFound("no principal \(name)")
                }
            }
            print("password of \(name) changed")
        }
    }
}

/// A failure a command reports with a message and exit status 65.
enum CommandFailure: Error {
    case notFound(String)
}
