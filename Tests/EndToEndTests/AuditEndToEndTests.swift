import Foundation
import Testing

/// The audit trail through the API, the command line and the database's privileges.
@Suite(.enabled(if: Stack.isAvailable), .serialized) struct AuditEndToEndTests {
    let ctl = Stack.environment["TEST_BIN_DIR"].map { $0 + "/switchyardctl" } ?? ""

    @Test func everyRequestLeavesOneRowAndRefusedChangesLeaveNoChange() throws {
        let role = "audit" + UUID().uuidString.prefix(6).lowercased()
        let created = try Fixtures.admin.send("PUT", "/api/v1/roles/\(role)", json: #"{"permissions":["job:read"]}"#)
        #expect(created.status == 201)
        let refused = try Fixtures.admin.send("PUT", "/api/v1/roles/admin", json: #"{"permissions":["job:read"]}"#)
        #expect(refused.status == 409)
        let anonymous = try Stack.client.get("/api/v1/me")
        #expect(anonymous.status == 401)
        #expect(try Stack.eventually(within: 5) {
            try Fixtures.sql("SELECT count(*) FROM audit_log WHERE request_id = '\(anonymous.header("X-Request-Id")!)'") == "1"
        })
        let createdRow = try Fixtures.sql(
            "SELECT event || ' ' || status FROM audit_log WHERE request_id = '\(created.header("X-Request-Id")!)'")
        #expect(createdRow == "role.created 201")
        let refusedRow = try Fixtures.sql(
            "SELECT event || ' ' || status FROM audit_log WHERE request_id = '\(refused.header("X-Request-Id")!)'")
        #expect(refusedRow == "request 409", "one row for the refused request, none for a change that rolled back")
        #expect(try Fixtures.sql("SELECT permissions::text FROM role WHERE name = 'admin'") == "{*}")
        let anonymousRow = try Fixtures.sql(
            "SELECT event || ' ' || status || ' ' || (detail->>'reason') FROM audit_log WHERE request_id = '\(anonymous.header("X-Request-Id")!)'")
        #expect(anonymousRow == "auth.failure 401 missing-credentials")
    }

    @Test func listingFiltersPagesAndExports() throws {
        for _ in 0..<3 {
            _ = try Stack.client.get("/api/v1/me", headers: [("X-API-Key", "sy_" + String(repeating: "Z", count: 43))])
        }
        #expect(try Stack.eventually(within: 5) {
            try Fixtures.sql("SELECT count(*) >= 3 FROM audit_log WHERE event = 'auth.failure'") == "t"
        })
        let page = try Fixtures.admin.get("/api/v1/audit?event=auth.failure&limit=2")
        #expect(page.status == 200)
        let bad = try Fixtures.admin.get("/api/v1/audit?status=abc&limit=0&from=yesterday&cursor=x")
        #expect(bad.status == 400)
        let named = Set(((bad.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
        #expect(named == ["status", "limit", "from"], "every bad parameter in one answer (a cursor needs a valid page)")
        let items = try #require(page.json?["items"] as? [[String: Any]])
        #expect(items.allSatisfy { $0["event"] as? String == "auth.failure" })
        let cursor = try #require(page.json?["next_cursor"] as? String)
        let next = try Fixtures.admin.get("/api/v1/audit?event=auth.failure&limit=2&cursor=\(cursor)")
        #expect(next.status == 200)
        let nextItems = (next.json?["items"] as? [[String: Any]]) ?? []
        let firstIDs = items.compactMap { $0["id"] as? Int }
        #expect(!nextItems.isEmpty, "three or more rows match and a page holds two")
        #expect(nextItems.compactMap { $0["id"] as? Int }.allSatisfy { $0 < firstIDs.min()! })

        let byPrincipal = try Fixtures.admin.get("/api/v1/audit?principal=admin&limit=5")
        let principalItems = (byPrincipal.json?["items"] as? [[String: Any]]) ?? []
        #expect(!principalItems.isEmpty, "the admin's own requests are audited")
        #expect(principalItems.allSatisfy { $0["principal"] as? String == "admin" })
        #expect(try Fixtures.admin.get("/api/v1/audit?status=abc").status == 400)
        #expect(try Fixtures.admin.get("/api/v1/audit?colour=red").status == 400)

        let single = try Fixtures.admin.get("/api/v1/audit/\(firstIDs[0])")
        #expect(single.json?["id"] as? Int == firstIDs[0])

        let export = try Fixtures.admin.get("/api/v1/audit/export?from=2000-01-01T00:00:00Z")
        #expect(export.status == 200)
        #expect(export.header("Content-Type") == "application/x-ndjson")
        let lines = export.text.split(separator: "\n")
        #expect(lines.count >= 3)
        let ids = lines.compactMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["id"] as? Int
        }
        #expect(ids.count == lines.count, "every line is a JSON object")
        #expect(ids == ids.sorted())

        let user = try Fixtures.user("no-audit", roles: ["operator"])
        #expect(try user.get("/api/v1/audit").status == 403)
        #expect(try user.get("/api/v1/audit/export").status == 403)
    }

    @Test func anExportThatFailsHalfWayIsCutOffNotShortened() throws {
        // More than a page of rows, and a policy under which the first statement that reads audit rows in a session
        // succeeds and any later one fails once it reaches row `cut`: the first page is read, the second fails.
        try Fixtures.sql("""
            INSERT INTO audit_log (at, request_id, event, method, status, latency_us)
            SELECT timestamptz '2001-02-03 00:00:00+00' + n * interval '1 second', 'export-cut-' || n, 'request', 'GET', 200, 1
            FROM generate_series(1, 1001) n
            """)
        let cut = try Fixtures.sql("SELECT id FROM audit_log ORDER BY id OFFSET 1000 LIMIT 1")
        try Fixtures.sql("""
            CREATE FUNCTION export_cut_trap(row_id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF coalesce(current_setting('export_cut.first_statement', true), '') = '' THEN
                    PERFORM set_config('export_cut.first_statement', statement_timestamp()::text, false);
                END IF;
                IF row_id < \(cut) OR current_setting('export_cut.first_statement') = statement_timestamp()::text THEN
                    RETURN true;
                END IF;
                RAISE EXCEPTION 'the export is cut here' USING ERRCODE = 'query_canceled';
            END
            $$;
            CREATE POLICY export_cut ON audit_log FOR SELECT USING (export_cut_trap(id));
            CREATE POLICY export_cut_inserts ON audit_log FOR INSERT WITH CHECK (true);
            ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY
            """)
        defer {
            _ = try? Fixtures.sql("""
                ALTER TABLE audit_log DISABLE ROW LEVEL SECURITY;
                DROP POLICY export_cut ON audit_log;
                DROP POLICY export_cut_inserts ON audit_log;
                DROP FUNCTION export_cut_trap(bigint)
                """)
        }
        #expect(throws: HTTPClientError.self, "the body must not end as if it were whole") {
            try Fixtures.admin.get("/api/v1/audit/export")
        }
        let aborted = """
            SELECT count(*) FROM audit_log
            WHERE route = '/api/v1/audit/export' AND detail->>'delivery' = 'aborted' AND at > now() - interval '1 minute'
            """
        #expect(try Stack.eventually(within: 10) { try Fixtures.sql(aborted) != "0" }, "its audit row says it was cut off")
    }

    @Test func theApplicationRoleCannotChangeDeleteOrPlaceAuditRows() throws {
        let url = Stack.environment["TEST_APP_DATABASE_URL"]!
        // A row inserted with its chain fields set could never be removed and would stop `audit verify` for good.
        let presealed = """
            INSERT INTO audit_log (request_id, event, method, status, latency_us, seq, prev_hash, hash)
            VALUES ('forged', 'request', 'GET', 200, 1, 999999999, '\\x00', '\\x00')
            """
        for statement in ["UPDATE audit_log SET status = 200", "DELETE FROM audit_log", presealed] {
            let result = try Stack.run("/usr/bin/psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement])
            #expect(result.status != 0, "\(statement)")
            #expect(result.error.contains("permission denied"), "\(statement): \(result.error)")
        }
    }

    @Test func commandLineSealsAndVerifiesTheLiveChain() throws {
        let seal = try Stack.run(ctl, ["audit", "seal"])
        #expect(seal.status == 0, "\(seal.error)")
        let verify = try Stack.run(ctl, ["audit", "verify"])
        #expect(verify.status == 0, "\(verify.output) \(verify.error)")
        #expect(verify.output.contains("audit chain intact"))
    }

    @Test func nothingSecretReachesLogsOrAuditRows() throws {
        let password = "a very secret passphrase 42"
        let user = try Fixtures.user("secrets", roles: ["user"], password: password)
        let created = try user.post("/api/v1/keys", json: "{}")
        let key = try #require(created.json?["key"] as? String)
        let login = try Stack.client.post(
            "/api/v1/auth/login", json: #"{"username":"\#(user.name)","password":"\#(password)x"}"#)
        let issued = try user.post("/api/v1/auth/token", json: "{}")
        let token = try #require(issued.json?["token"] as? String)
        let responses = [created, try Caller(key: key).get("/api/v1/me"), login, issued, try Caller(key: token).get("/api/v1/me")]
        let requestIDs = try responses.map { try #require($0.header("X-Request-Id")) }
        // Rows and log lines of reads are written in batches: wait until every one of these requests has both, so
        // that the checks below look at them.
        var auditText = ""
        var logText = ""
        #expect(try Stack.eventually(within: 10) {
            auditText = try Fixtures.sql("SELECT string_agg(row_to_json(a)::text, E'\\n') FROM audit_log a")
            logText = try String(contentsOfFile: Stack.environment["TEST_RESPONDER_LOG"]!, encoding: .utf8)
            return requestIDs.allSatisfy { auditText.contains($0) && logText.contains($0) }
        })
        for secret in [password, key, user.key, token, String(key.dropFirst(12))] {
            #expect(!auditText.contains(secret))
            #expect(!logText.contains(secret))
        }
        #expect(auditText.contains(String(key.prefix(12))), "the public key id is recorded")
    }
}
