import Glibc
import Postgres
import Testing

private struct Echo: Statement {
    static let sql = "SELECT $1::text, $2::bigint, $3::bytea, $4::boolean, $5::text IS NULL, $6::text[]"
    typealias Row = (String, Int64, [UInt8], Bool, Bool, [String])
    let text: String
    let number: Int64
    let bytes: [UInt8]
    var binds: [PostgresValue] {
        [.text(text), .int(number), .bytes(bytes), .bool(true), .null, .textArray(["a b", "c\"d", ""])]
    }
    static func decode(_ row: ResultRow) throws -> Row {
        (try row.string(0), try row.int(1), try row.bytes(2), try row.bool(3), try row.bool(4), try row.stringArray(5))
    }
}

private struct ScratchCreate: Statement {
    static let sql = "CREATE TEMP TABLE IF NOT EXISTS scratch (name text CONSTRAINT scratch_name_unique UNIQUE)"
    var binds: [PostgresValue] { [] }
}

private struct ScratchInsert: Statement {
    static let sql = "INSERT INTO scratch (name) VALUES ($1::text)"
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
}

private struct ScratchInsertReturning: Statement {
    static let sql = "INSERT INTO scratch (name) VALUES ($1::text) RETURNING name"
    typealias Row = String
    let name: String
    var binds: [PostgresValue] { [.text(name)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

private struct ScratchCount: Statement {
    static let sql = "SELECT count(*) FROM scratch"
    typealias Row = Int64
    var binds: [PostgresValue] { [] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

private struct Notify: Statement {
    static let sql = "SELECT pg_notify('test_channel', $1::text)"
    let payload: String
    var binds: [PostgresValue] { [.text(payload)] }
}

private struct NotifyOn: Statement {
    static let sql = "SELECT pg_notify($1::text, 'x')"
    let channel: String
    var binds: [PostgresValue] { [.text(channel)] }
}

private struct DivideByZero: Statement {
    static let sql = "SELECT 1 / $1::integer"
    var binds: [PostgresValue] { [.int(0)] }
}

private struct TerminateBackend: Statement {
    // With a timeout, PostgreSQL returns only once the backend has exited.
    static let sql = "SELECT pg_terminate_backend($1::integer, 5000)"
    let pid: Int32
    var binds: [PostgresValue] { [.int(Int64(pid))] }
}

@Suite(.enabled(if: TestDatabase.isAvailable)) struct ConnectionTests {
    @Test func parametersRoundTripWithoutQuotingProblems() throws {
        let connection = TestDatabase.superuser()
        let hostile = "'; DROP TABLE schema_migration; --"
        let row = try #require(try connection.first(Echo(text: hostile, number: -42, bytes: [0, 255, 7])))
        #expect(row.0 == hostile)
        #expect(row.1 == -42)
        #expect(row.2 == [0, 255, 7])
        #expect(row.3 == true)
        #expect(row.4 == true)
        #expect(row.5 == ["a b", "c\"d", ""])
    }

    @Test func violationsCarrySQLStateAndConstraint() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.execute(ScratchInsert(name: "one"))
        #expect {
            try connection.execute(ScratchInsert(name: "one"))
        } throws: { error in
            let error = error as? DatabaseError
            return error?.sqlState == .uniqueViolation && error?.constraint == "scratch_name_unique"
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Abort: Error {}
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        #expect(throws: Abort.self) {
            try connection.transaction {
                try connection.execute(ScratchInsert(name: "rolled back"))
                throw Abort()
            }
        }
        #expect(try connection.first(ScratchCount()) == 0)
        try connection.transaction { try connection.execute(ScratchInsert(name: "kept")) }
        #expect(try connection.first(ScratchCount()) == 1)
        #expect(!connection.isInTransaction)
    }

    @Test func writesQueuedBeforeCommitCommitWithTheTransaction() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.transaction {
            connection.executeBeforeCommit(ScratchInsert(name: "queued first"))
            try connection.execute(ScratchInsert(name: "sent"))
            connection.executeBeforeCommit(ScratchInsert(name: "queued last"))
        }
        try connection.transaction { connection.executeBeforeCommit(ScratchInsert(name: "queued alone")) }
        #expect(try connection.first(ScratchCount()) == 4)
    }

    /// The first round trip of a session that was never opened opens it: the transaction it starts stays one.
    @Test func aTransactionMayBeTheSessionsFirstUse() throws {
        let connection = TestDatabase.superuser()
        #expect(!connection.isOpen)
        try connection.transaction {
            try connection.execute(ScratchCreate())
            #expect(connection.isInTransaction)
            connection.executeBeforeCommit(ScratchInsert(name: "queued after the opening round trip"))
        }
        #expect(try connection.first(ScratchCount()) == 1)
    }

    @Test func aFailingQueuedWriteRollsTheWholeTransactionBack() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.execute(ScratchInsert(name: "taken"))
        #expect {
            try connection.transaction {
                try connection.execute(ScratchInsert(name: "rolled back"))
                connection.executeBeforeCommit(ScratchInsert(name: "taken"))
            }
        } throws: { error in
            (error as? DatabaseError)?.sqlState == .uniqueViolation
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.first(ScratchCount()) == 1, "neither the statement nor the queued write is kept")
    }

    @Test func aFailingFirstStatementLeavesNoTransactionOpen() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.execute(ScratchInsert(name: "taken"))
        #expect(throws: DatabaseError.self) {
            try connection.transaction(synchronousCommit: true) { try connection.execute(ScratchInsert(name: "taken")) }
        }
        try connection.execute(ScratchInsert(name: "after"))
        #expect(try connection.first(ScratchCount()) == 2, "the session is back in autocommit")
    }

    @Test func aReadSentAheadComesBackFromTheSameRoundTrip() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        let ahead = ReadAhead(ScratchCount())
        #expect(ahead.result(of: ScratchCount()) == nil, "nothing before it was sent")
        let echoed = try connection.first(Echo(text: "first", number: 1, bytes: []), readingAhead: ahead)
        #expect(echoed?.0 == "first")
        let count = try #require(ahead.result(of: ScratchCount()))
        #expect(try ScratchCount.decode(count[0]) == 0)
        #expect(ahead.result(of: Echo(text: "first", number: 1, bytes: [])) == nil, "another statement's result is not it")
    }

    @Test func aFailingReadAheadFailsItsWholeRoundTrip() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        let ahead = ReadAhead(DivideByZero())
        #expect {
            try connection.execute(ScratchInsert(name: "with a failing read"), readingAhead: ahead)
        } throws: { error in
            (error as? DatabaseError)?.sqlState == SQLState("22012")
        }
        #expect(ahead.result(of: DivideByZero()) == nil)
        #expect(try connection.first(ScratchCount()) == 0, "the statement and its read were one implicit transaction")
    }

    @Test func aFailingFollowUpLeavesTheCommitStanding() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        var failures: [any Error] = []
        let value = try connection.transaction(followedBy: DivideByZero(), followUpFailed: { failures.append($0) }) {
            try connection.execute(ScratchInsert(name: "committed"))
            return 7
        }
        #expect(value == 7)
        #expect(failures.count == 1 && (failures.first as? DatabaseError)?.sqlState == SQLState("22012"))
        #expect(!connection.isInTransaction)
        #expect(try connection.first(ScratchCount()) == 1, "the follow-up's failure did not undo the commit")
    }

    @Test func aFollowUpRunsOnlyAfterACommit() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.execute(ScratchInsert(name: "taken"))
        var failures: [any Error] = []
        #expect {
            try connection.transaction(followedBy: ScratchInsert(name: "follow-up"), followUpFailed: { failures.append($0) }) {
                connection.executeBeforeCommit(ScratchInsert(name: "taken"))
            }
        } throws: { error in
            (error as? DatabaseError)?.sqlState == .uniqueViolation
        }
        try connection.transaction(followedBy: ScratchInsert(name: "follow-up"), followUpFailed: { failures.append($0) }) {}
        #expect(failures.isEmpty)
        #expect(try connection.first(ScratchCount()) == 1, "no follow-up after a failed commit or an empty transaction")
        try connection.transaction(followedBy: ScratchInsert(name: "follow-up"), followUpFailed: { failures.append($0) }) {
            try connection.execute(ScratchInsert(name: "second"))
        }
        #expect(failures.isEmpty)
        #expect(try connection.first(ScratchCount()) == 3, "the follow-up ran after the commit")
    }

    @Test func aStatementCanCommitInItsOwnRoundTrip() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        let count = ReadAhead(ScratchCount())
        let (result, followUpFailure) = try connection.transaction {
            connection.executeBeforeCommit(ScratchInsert(name: "queued"))
            return try connection.executeAndCommit(
                ScratchInsertReturning(name: "last"), readingAhead: count, followedBy: DivideByZero())
        }
        #expect(try ScratchInsertReturning.decode(result[0]) == "last")
        #expect(try count.result(of: ScratchCount()).map { try ScratchCount.decode($0[0]) } == 2, "the read saw both")
        #expect((followUpFailure as? DatabaseError)?.sqlState == SQLState("22012"))
        #expect(!connection.isInTransaction)
        #expect(try connection.first(ScratchCount()) == 2, "committed, and the follow-up's failure undid nothing")
    }

    @Test func aStatementThatFailsBeforeItsCommitRollsTheTransactionBack() throws {
        let connection = TestDatabase.superuser()
        try connection.execute(ScratchCreate())
        try connection.execute(ScratchInsert(name: "taken"))
        #expect {
            try connection.transaction {
                connection.executeBeforeCommit(ScratchInsert(name: "queued"))
                _ = try connection.executeAndCommit(
                    ScratchInsertReturning(name: "taken"), readingAhead: ReadAhead(ScratchCount()),
                    followedBy: ScratchInsert(name: "follow-up"))
            }
        } throws: { error in
            (error as? DatabaseError)?.sqlState == .uniqueViolation
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.first(ScratchCount()) == 1, "neither the queued write nor the follow-up stayed")
    }

    @Test func aCommitInOneRoundTripIsSentOnAFreshSessionWhenTheOldOneDied() throws {
        let (victim, firstPID) = try connectionWithADeadSession()
        let (result, followUpFailure) = try victim.transaction {
            try victim.executeAndCommit(
                Echo(text: "committed", number: 7, bytes: []), readingAhead: ReadAhead(Echo(text: "read", number: 8, bytes: [])),
                followedBy: Echo(text: "follow-up", number: 9, bytes: []))
        }
        #expect(try Echo.decode(result[0]).0 == "committed")
        #expect(followUpFailure == nil)
        #expect(victim.backendPID != firstPID, "the session the server had closed was noticed before sending")
    }

    /// A connection whose session the server has just ended, and that session's process id.
    func connectionWithADeadSession() throws -> (connection: Connection, deadPID: Int32) {
        let victim = TestDatabase.superuser()
        try victim.open()
        let firstPID = victim.backendPID
        try TestDatabase.superuser().execute(TerminateBackend(pid: firstPID))
        return (victim, firstPID)
    }

    @Test func aTransactionStartsOnAFreshSessionWhenTheOldOneDied() throws {
        let (victim, firstPID) = try connectionWithADeadSession()
        let row = try victim.transaction { try victim.first(Echo(text: "in a transaction", number: 2, bytes: [])) }
        #expect(row?.0 == "in a transaction")
        #expect(victim.backendPID != firstPID)
    }

    @Test func notificationsReachListeners() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("test_channel")
        let sender = TestDatabase.superuser()
        try sender.execute(Notify(payload: "hello 1"))
        var received: [Notification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try listener.waitForNotifications(timeoutMilliseconds: 100)
        }
        #expect(received.map(\.payload) == ["hello 1"])
        #expect(received.first?.channel == "test_channel")
        #expect(try listener.waitForNotifications(timeoutMilliseconds: 10).isEmpty)
    }

    @Test func anEndedSubscriptionReceivesNothingAndIsNotRenewed() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("test_unlisten")
        try listener.unlisten("test_unlisten")
        let sender = TestDatabase.superuser()
        try sender.execute(NotifyOn(channel: "test_unlisten"))
        #expect(try listener.waitForNotifications(timeoutMilliseconds: 200).isEmpty)
        listener.close()
        try listener.open()
        try sender.execute(NotifyOn(channel: "test_unlisten"))
        #expect(try listener.waitForNotifications(timeoutMilliseconds: 200).isEmpty, "a new session does not subscribe again")
    }

    @Test func aSubscriptionIsRenewedWhenTheSessionReconnects() throws {
        let listener = TestDatabase.superuser()
        try listener.listen("test_renewed")
        let firstPID = listener.backendPID
        try TestDatabase.superuser().execute(TerminateBackend(pid: firstPID))
        var noticed = false
        for _ in 0..<50 where !noticed {
            do { _ = try listener.waitForNotifications(timeoutMilliseconds: 100) } catch is DatabaseError { noticed = true }
        }
        try #require(noticed, "the listener notices that its session ended")
        try listener.open()
        #expect(listener.backendPID != firstPID)
        try TestDatabase.superuser().execute(NotifyOn(channel: "test_renewed"))
        var received: [Notification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try listener.waitForNotifications(timeoutMilliseconds: 100)
        }
        #expect(received.map(\.channel) == ["test_renewed"])
    }

    @Test func aCommitWhoseConnectionBreaksHasAnUnknownOutcome() throws {
        let victim = TestDatabase.superuser()
        let error = #expect(throws: DatabaseError.self) {
            try victim.transaction {
                _ = try victim.first(Echo(text: "in the transaction", number: 3, bytes: []))
                try TestDatabase.superuser().execute(TerminateBackend(pid: victim.backendPID))
            }
        }
        #expect(error?.sqlState == .transactionResolutionUnknown, "not sent again, and not reported as retryable")
        #expect(try victim.first(Echo(text: "afterwards", number: 4, bytes: []))?.0 == "afterwards")
    }

    @Test func connectionReopensAfterTheServerDropsIt() throws {
        let (victim, firstPID) = try connectionWithADeadSession()
        // The dead session is noticed and replaced within the same call.
        let row = try victim.first(Echo(text: "again", number: 1, bytes: []))
        #expect(row?.0 == "again")
        #expect(victim.backendPID != firstPID)
        #expect(victim.sessionsOpened == 2, "what the old session held is gone, and its holder can tell")
    }

    @Test func unreachableServerIsAConnectionFailure() {
        let connection = Connection(conninfo: "host=/nonexistent-directory connect_timeout=1")
        #expect {
            try connection.execute(ScratchCount())
        } throws: { error in
            (error as? DatabaseError)?.isConnectionFailure == true
        }
    }
}
