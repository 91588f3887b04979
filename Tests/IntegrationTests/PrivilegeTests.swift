import Postgres
import Testing

/// What `switchyard_app` may and may not do (sql/migrations/0019_least_privilege.sql), as the responders connect.
/// Each statement matches no row (`WHERE false`): the privilege is checked all the same, and nothing changes.
@Suite(.enabled(if: TestDatabase.appURL != nil)) struct PrivilegeTests {
    @Test(arguments: [
        "UPDATE api_key SET secret_hash = secret_hash WHERE false",
        "DELETE FROM api_key WHERE false",
        "UPDATE job_event SET kind = kind WHERE false",
        "DELETE FROM job_event WHERE false",
        "DELETE FROM principal WHERE false",
        "DELETE FROM principal_certificate WHERE false",
        "UPDATE principal_certificate SET description = description WHERE false",
        "DELETE FROM device WHERE false",
        "UPDATE reservation SET during = during WHERE false",
        "DELETE FROM audit_log WHERE false",
        "UPDATE audit_log SET hash = hash WHERE false",
        "TRUNCATE audit_log",
    ])
    func theApplicationRoleCannot(_ sql: String) throws {
        let app = Connection(conninfo: TestDatabase.appURL!)
        defer { app.close() }
        let error = #expect(throws: DatabaseError.self) { try app.executeScript(unsafeSQL: sql) }
        #expect(error?.sqlState == .insufficientPrivilege, "\(sql): \(error?.sqlState.code ?? "allowed")")
    }

    @Test(arguments: [
        "UPDATE api_key SET last_used_at = last_used_at, revoked_at = revoked_at, replaced_by = replaced_by WHERE false",
        "UPDATE job_event SET seq = seq WHERE false",
        "DELETE FROM reservation WHERE false",
        "DELETE FROM job WHERE false",
    ])
    func theApplicationRoleCan(_ sql: String) throws {
        let app = Connection(conninfo: TestDatabase.appURL!)
        defer { app.close() }
        try app.executeScript(unsafeSQL: sql)
    }
}
