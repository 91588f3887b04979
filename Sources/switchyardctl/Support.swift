import API
import ArgumentParser
import Domain
import Glibc
import OpenSSL
import Postgres
import Store

/// Loads the configuration or exits 78 with every problem listed.
func loadConfiguration(_ options: GlobalOptions) throws -> Configuration {
    do {
        return try Configuration.load(path: options.config, environment: ProcessEnvironment.current())
    } catch {
        StandardError.write(error.description)
        throw ExitCode(78)
    }
}

/// A connection for an administrative command.
func openConnection(_ config: Configuration) -> Connection {
    Connection(conninfo: config.connectionString(applicationName: "switchyardctl"))
}

/// Runs a change and its audit row in one transaction, mapping failures to exit codes: 69 when the database is
/// unreachable, 65 for data the database refuses, 70 otherwise, also when the connection broke during the COMMIT
/// (the change may have been made, so "unreachable, try again" would be wrong).
func auditedChange(
    _ connection: Connection, command: String, event: String, detail: [(String, String)], _ body: () throws -> Void
) throws {
    do {
        try connection.transaction(synchronousCommit: true) {
            try body()
            let operator_ = ProcessEnvironment.current()["USER"] ?? "unknown"
            let fields = (detail + [("os_user", operator_)]).map { ($0.0, JSON.string($0.1)) }
            try AuditStore(connection: connection).insert([
                AuditEntry(
                    at: SystemClock.now(), requestID: "cli-" + Hex.encode(try SecureRandom.bytes(count: 8)), event: event, principalID: nil,
                    principalName: nil, credentialKind: nil, keyPrefix: nil, method: "CLI", route: "switchyardctl " + command,
                    status: 200, latencyMicroseconds: 0, clientAddress: nil, userAgent: nil, detail: .object(fields))
            ])
        }
    } catch let error as DatabaseError where error.sqlState == .transactionResolutionUnknown {
        StandardError.write(
            "switchyardctl \(command): the connection broke while committing; the change may or may not have been "
                + "made: check before running this again (\(error.debugDescription))")
        throw ExitCode(70)
    } catch let error as DatabaseError {
        StandardError.write("switchyardctl \(command): \(error.debugDescription)")
        throw ExitCode(error.isConnectionFailure ? 69 : 65)
    } catch CommandFailure.notFound(let message) {
        StandardError.write("switchyardctl \(command): \(message)")
        throw ExitCode(65)
    }
}

/// Reads one line from standard input (a password), without the newline.
func readSecretLine() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        StandardError.write("expected the password on standard input")
        throw ExitCode(64)
    }
    return line
}

/// Fails with exit 64 when a value breaks a field rule.
func check(_ message: String?, _ what: String) throws {
    if let message {
        StandardError.write("\(what) \(message)")
        throw ExitCode(64)
    }
}
