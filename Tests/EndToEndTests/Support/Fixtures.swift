import Foundation
import Testing

/// Principals and keys made through the API for a test, with names unique to the run.
enum Fixtures {
    static let admin = Caller(key: Stack.environment["TEST_ADMIN_KEY"] ?? "")

    /// A name no other test uses.
    static func uniqueName(_ stem: String) -> String {
        "\(stem)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates a principal with a password and roles, logs it in and returns a caller with its session key.
    static func user(_ stem: String, roles: [String], password: String = "correct horse battery staple") throws -> Caller {
        let name = uniqueName(stem)
        let rolesJSON = roles.map { "\"\($0)\"" }.joined(separator: ",")
        let created = try admin.post(
            "/api/v1/users", json: #"{"username":"\#(name)","password":"\#(password)","roles":[\#(rolesJSON)]}"#)
        guard created.status == 201 else { throw FixtureError.unexpected("create user: \(created.status) \(created.text)") }
        let login = try Stack.client.post("/api/v1/auth/login", json: #"{"username":"\#(name)","password":"\#(password)"}"#)
        guard login.status == 200, let key = login.json?["key"] as? String else {
            throw FixtureError.unexpected("login: \(login.status) \(login.text)")
        }
        return Caller(key: key, name: name)
    }

    /// Runs SQL as the superuser (test setup only) and returns psql's unaligned output.
    @discardableResult
    static func sql(_ statement: String) throws -> String {
        let result = try Stack.run(
            "/usr/bin/psql", [Stack.environment["TEST_DATABASE_URL"]!, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", statement])
        guard result.status == 0 else { throw FixtureError.unexpected("psql: \(result.error)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

enum FixtureError: Error {
    case unexpected(String)
}

/// A client that sends one credential with every request.
struct Caller {
    let key: String
    var name: String = ""
    var header: (String, String) { ("Authorization", "Bearer \(key)") }

    func get(_ path: String) throws -> HTTPResponse {
        try Stack.client.get(path, headers: [header])
    }

    func post(_ path: String, json: String) throws -> HTTPResponse {
        try Stack.client.post(path, json: json, headers: [header])
    }

    func send(_ method: String, _ path: String, json: String? = nil) throws -> HTTPResponse {
        var headers = [header]
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try Stack.client.send(method, path, headers: headers, body: json.map { Array($0.utf8) })
    }
}
