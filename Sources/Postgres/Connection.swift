import CLibPQ
import Glibc

/// One libpq connection, owned by one thread: prepared statements, transactions, LISTEN/NOTIFY.
///
/// Not `Sendable` on purpose: a worker thread creates its connection and is the only one to use it. A connection
/// that breaks (server restart, network) is reopened on the next call, so a process recovers by itself once the
/// database is back; while it is down every call throws a connection-class `DatabaseError`.
public final class Connection {
    /// The libpq connection string or URL.
    public let conninfo: String
    private var handle: OpaquePointer?
    private var preparedNames: [ObjectIdentifier: String] = [:]
    private var listenedChannels: [String] = []
    /// True between BEGIN and COMMIT/ROLLBACK of `transaction`.
    public private(set) var isInTransaction = false
    /// True once `executeAndCommit` sent the transaction's COMMIT: its body must not send anything more.
    private var isCommitted = false
    /// Commands the next round trip sends ahead of its own: the transaction's BEGIN until its first statement
    /// carries it, and writes queued with `executeBeforeCommit`. Nothing waits for them alone.
    private var pending: [PipelinedCommand] = []

    /// One command of a round trip.
    private enum PipelinedCommand {
        /// A fixed command from this file (BEGIN, COMMIT), without parameters.
        case text(String)
        /// A statement, prepared on the session before it is sent.
        case statement(key: ObjectIdentifier, sql: String, binds: [PostgresValue])
    }

    /// Creates a connection that opens on first use.
    public init(conninfo: String) {
        self.conninfo = conninfo
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// True when a session is open and healthy as far as libpq knows.
    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server process id of this session, for `pg_terminate_backend` and logs.
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    /// How many sessions this connection has opened. A statement may reconnect silently (see `roundTrip`), which
    /// ends what the old session held (advisory locks): compare this before and after to notice.
    public private(set) var sessionsOpened = 0

    /// Opens the session if it is not open, dropping a broken one first. A transaction being started keeps its
    /// bookkeeping: its first round trip opens the session and carries its BEGIN.
    public func open() throws {
        if isOpen { return }
        if let handle {
            PQfinish(handle)
            self.handle = nil
            preparedNames.removeAll()
        }
        guard let connection = PQconnectdb(conninfo) else {
            throw DatabaseError(sqlState: .connectionFailure, message: "out of memory creating a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw DatabaseError(sqlState: .connectionFailure, message: message)
        }
        handle = connection
        sessionsOpened += 1
        for channel in listenedChannels {
            try sendCommand("LISTEN \(channel)")
        }
    }

    /// Closes the session; the next call reconnects.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        preparedNames.removeAll()
        pending.removeAll()
        isInTransaction = false
    }

    // MARK: - Statements

    /// Runs a statement, preparing it on this connection the first time, and returns its raw result.
    ///
    /// Outside a transaction a statement that fails because the session was already dead (the server restarted
    /// since the last call) is retried once on a fresh session: nothing of it can have run. libpq cannot tell that
    /// case from a server that crashed while running the statement, so an autocommit write that the server
    /// committed just before it died is done twice (a rate-limit hit counted twice, an audit batch written twice);
    /// transactions are not resent once their COMMIT went out.
    /// Inside a transaction the first statement also carries the BEGIN (and the writes queued before it), in the
    /// same round trip; a session found dead then is replaced and the whole transaction start sent again.
    @discardableResult
    public func execute<S: Statement>(_ statement: S) throws -> QueryResult {
        QueryResult(handle: try roundTrip([.statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: statement.binds)])[0])
    }

    /// Queues a write whose result nobody reads (an audit row, say) to go with the transaction's next statement or
    /// its COMMIT, in the same round trip. An error in it fails that round trip, so the transaction rolls back.
    public func executeBeforeCommit<S: Statement>(_ statement: S) {
        precondition(isInTransaction, "only a transaction has a next round trip that is sure to come")
        pending.append(.statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: statement.binds))
    }

    /// Runs a statement and, in the same round trip right after it (so it sees the statement's effects), a read
    /// whose result lands in `ahead`. A failure of either fails both, as one round trip.
    @discardableResult
    public func execute<S: Statement>(_ statement: S, readingAhead ahead: ReadAhead) throws -> QueryResult {
        let results = try roundTrip([
            .statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: statement.binds),
            .statement(key: ahead.key, sql: ahead.sql, binds: ahead.binds),
        ])
        ahead.result = QueryResult(handle: results[1])
        return QueryResult(handle: results[0])
    }

    /// Runs a statement and decodes its first row, sending `ahead` (if any) in the same round trip.
    public func first<S: Statement>(_ statement: S, readingAhead ahead: ReadAhead?) throws -> S.Row? {
        guard let ahead else { return try first(statement) }
        let result = try execute(statement, readingAhead: ahead)
        return result.rowCount > 0 ? try S.decode(result[0]) : nil
    }

    /// Runs a statement and decodes every row.
    public func rows<S: Statement>(_ statement: S) throws -> [S.Row] {
        let result = try execute(statement)
        return try (0..<result.rowCount).map { try S.decode(result[$0]) }
    }

    /// Runs a statement and decodes its first row, or returns nil when there is none.
    public func first<S: Statement>(_ statement: S) throws -> S.Row? {
        let result = try execute(statement)
        return result.rowCount > 0 ? try S.decode(result[0]) : nil
    }

    /// Runs a script of one or more statements without parameters (migrations, fixtures).
    ///
    /// The text is sent as it is, so it must never contain request data; the name says so.
    public func executeScript(unsafeSQL sql: String) throws {
        try flushPending()
        try open()
        let result = PQexec(handle, sql)
        try check(result, handle: handle)
        PQclear(result)
    }

    /// Sends the pending commands and then `wanted` in one round trip and returns the results of `wanted`.
    ///
    /// A round trip that fails because the session was already dead is sent again once on a fresh session when
    /// nothing of it can have taken effect: outside a transaction, or when it starts the transaction (carries its
    /// BEGIN) and does not end it.
    private func roundTrip(_ wanted: [PipelinedCommand]) throws -> [OpaquePointer] {
        let commands = pending + wanted
        pending.removeAll()
        let startsTransaction = commands.contains { if case .text("BEGIN") = $0 { true } else { false } }
        let endsTransaction = if case .text("COMMIT")? = wanted.last { true } else { false }
        do {
            return try send(commands, keeping: (commands.count - wanted.count)..<commands.count).kept
        } catch let error as DatabaseError
            where error.isConnectionFailure && (!isInTransaction || startsTransaction) && !endsTransaction
        {
            let wasInTransaction = isInTransaction
            close()
            isInTransaction = wasInTransaction
            return try send(commands, keeping: (commands.count - wanted.count)..<commands.count).kept
        }
    }

    /// What came back from one round trip.
    private struct Replies {
        /// The results of the commands asked for, in order.
        var kept: [OpaquePointer] = []
        /// How the independent last command failed, if it did (see `send`).
        var independentFailure: (any Error)?
    }

    /// One round trip: a lone statement is executed as it is; several go in libpq's pipeline mode, ending in one
    /// Sync, so the server runs them in order and stops at the first error. Returns the results of the commands at
    /// the positions `kept`.
    ///
    /// With `independentLast`, the last command follows a COMMIT and runs in a transaction of its own: its failure
    /// cannot undo what came before it, so it is returned in `independentFailure` instead of thrown.
    private func send(
        _ commands: [PipelinedCommand], keeping kept: Range<Int>, independentLast: Bool = false
    ) throws -> Replies {
        try open()
        if commands.count == 1 {
            let result: OpaquePointer?
            switch commands[0] {
            case .text(let sql):
                result = PQexec(handle, sql)
            case .statement(let key, let sql, let binds):
                let name = try preparedName(key: key, sql: sql)
                result = Self.withWireParameters(binds) { count, values, lengths, formats in
                    PQexecPrepared(handle, name, count, values, lengths, formats, 0)
                }
            }
            try check(result, handle: handle)
            return Replies(kept: [result!])
        }
        let names = try commands.map { command -> String? in
            guard case .statement(let key, let sql, _) = command else { return nil }
            return try preparedName(key: key, sql: sql)
        }
        guard PQenterPipelineMode(handle) == 1 else { throw brokenSession() }
        for (command, name) in zip(commands, names) {
            let queued: Int32
            switch command {
            case .text(let sql):
                queued = PQsendQueryParams(handle, sql, 0, nil, nil, nil, nil, 0)
            case .statement(_, _, let binds):
                queued = Self.withWireParameters(binds) { count, values, lengths, formats in
                    PQsendQueryPrepared(handle, name, count, values, lengths, formats, 0)
                }
            }
            guard queued == 1 else { throw brokenSession() }
        }
        guard PQpipelineSync(handle) == 1 else { throw brokenSession() }
        var keptResults: [OpaquePointer] = []
        var firstError: (any Error)?
        var independentFailure: (any Error)?
        // Set once every command before the independent last one came back without error: from then on a broken
        // session is that command's failure, not the round trip's.
        var reachedIndependent = false
        func fail(_ error: any Error) throws -> Replies {
            if reachedIndependent { return Replies(kept: keptResults, independentFailure: error) }
            keptResults.forEach { PQclear($0) }
            throw error
        }
        for index in commands.indices {
            if independentLast, index == commands.count - 1, firstError == nil { reachedIndependent = true }
            guard let result = PQgetResult(handle) else { return try fail(brokenSession()) }
            while let extra = PQgetResult(handle) { PQclear(extra) }
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
            } else if reachedIndependent {
                do { try check(result, handle: handle); PQclear(result) } catch { independentFailure = error }
            } else if firstError == nil, kept.contains(index) {
                do { try check(result, handle: handle); keptResults.append(result) } catch { firstError = error }
            } else if firstError == nil {
                do { try check(result, handle: handle); PQclear(result) } catch { firstError = error }
            } else {
                PQclear(result)
            }
            if handle == nil { return try fail(independentFailure ?? firstError ?? brokenSession()) }
        }
        let sync = PQgetResult(handle)
        defer { PQclear(sync) }
        guard PQresultStatus(sync) == PGRES_PIPELINE_SYNC, PQexitPipelineMode(handle) == 1 else {
            let broken = brokenSession()
            return try fail(independentFailure ?? broken)
        }
        if let firstError {
            keptResults.forEach { PQclear($0) }
            throw firstError
        }
        return Replies(kept: keptResults, independentFailure: independentFailure)
    }

    /// The name of the statement prepared on this session for `key`, preparing it the first time.
    private func preparedName(key: ObjectIdentifier, sql: String) throws -> String {
        if let existing = preparedNames[key] { return existing }
        let name = "s\(preparedNames.count)"
        let prepared = PQprepare(handle, name, sql, 0, nil)
        try check(prepared, handle: handle)
        PQclear(prepared)
        preparedNames[key] = name
        return name
    }

    /// Sends what is pending, if anything, before a call that cannot go in a pipeline.
    private func flushPending() throws {
        guard let last = pending.popLast() else { return }
        try roundTrip([last]).forEach { PQclear($0) }
    }

    /// Closes a session that stopped following the protocol and returns the error to throw.
    private func brokenSession() -> DatabaseError {
        let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
        close()
        return DatabaseError(sqlState: .connectionFailure, message: message)
    }

    /// Lays the parameters out in one buffer (each value NUL-terminated, as text format needs) and passes
    /// libpq the pointer, length and format arrays it wants.
    private static func withWireParameters<R>(
        _ binds: [PostgresValue],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        if binds.isEmpty { return body(0, nil, nil, nil) }
        var storage: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for bind in binds {
            if let (bytes, isBinary) = bind.wireBytes {
                offsets.append(storage.count)
                storage.append(contentsOf: bytes)
                storage.append(0)
                lengths.append(Int32(bytes.count))
                formats.append(isBinary ? 1 : 0)
            } else {
                offsets.append(nil)
                lengths.append(0)
                formats.append(0)
            }
        }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { base + $0 } }
            return body(Int32(binds.count), pointers, lengths, formats)
        }
    }

    // MARK: - Transactions

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    ///
    /// Serialization failures and deadlocks (40001, 40P01) are retried up to three attempts in all, since the
    /// server asks for exactly that; `body` must therefore be safe to run again.
    /// - Parameters:
    ///   - synchronousCommit: true makes COMMIT wait for the WAL flush even when the session's default is
    ///     asynchronous (the responders read asynchronously and change synchronously).
    ///   - followUp: a statement to run right after a COMMIT, in the same round trip but in a transaction of its own
    ///     (an announcement of what was committed, say). Its failure cannot undo the commit: it goes to
    ///     `followUpFailed` and the transaction still returns its value. Nothing committed, nothing follows.
    @discardableResult
    public func transaction<T>(
        synchronousCommit: Bool = false, followedBy followUp: (any Statement)? = nil,
        followUpFailed: (any Error) -> Void = { _ in }, _ body: () throws -> T
    ) throws -> T {
        precondition(!isInTransaction, "transactions do not nest")
        var attempt = 1
        while true {
            let start: [PipelinedCommand] =
                [.text("BEGIN")] + (synchronousCommit ? [.text("SET LOCAL synchronous_commit = on")] : [])
            pending = start
            isInTransaction = true
            isCommitted = false
            do {
                let value = try body()
                if isCommitted {
                    precondition(pending.isEmpty && followUp == nil, "executeAndCommit sent the COMMIT and its follow-up")
                } else if pending.count == start.count, case .text("BEGIN")? = pending.first {
                    // The body sent and queued nothing: there is no transaction to commit.
                    pending.removeAll()
                } else {
                    do {
                        if let followUp {
                            if let failure = try commit(followedBy: followUp) { followUpFailed(failure) }
                        } else {
                            try roundTrip([.text("COMMIT")]).forEach { PQclear($0) }
                        }
                    } catch let error as DatabaseError where SQLState.connectionException ~= error.sqlState {
                        // The connection went silent or closed: the COMMIT may have been carried out. (A server that
                        // says it is shutting down, 57P01, answered for a statement it did not finish.)
                        throw DatabaseError(
                            sqlState: .transactionResolutionUnknown,
                            message: "the connection broke while committing: \(error.message)")
                    }
                }
                isInTransaction = false
                return value
            } catch let error as DatabaseError
                where (error.sqlState ~= .serializationFailure || error.sqlState ~= .deadlockDetected) && attempt < 3
            {
                rollback()
                attempt += 1
            } catch {
                rollback()
                throw error
            }
        }
    }

    /// Ends the transaction in the round trip of its last statement: what is pending, `statement`, the read `ahead`
    /// (which sees the statement's effects), COMMIT and `followUp` (in a transaction of its own, as with
    /// `transaction(followedBy:)`) go together. Returns the statement's result and the follow-up's failure; the
    /// transaction's body then sends nothing more. A failure before the COMMIT rolls the transaction back, as any
    /// statement's does. Never sent again: a session the server closed while idle is noticed and replaced before
    /// anything is sent, but a COMMIT that may have arrived must not be repeated.
    public func executeAndCommit<S: Statement>(
        _ statement: S, readingAhead ahead: ReadAhead, followedBy followUp: any Statement
    ) throws -> (result: QueryResult, followUpFailure: (any Error)?) {
        precondition(isInTransaction && !isCommitted, "executeAndCommit ends a transaction that is open")
        replaceSessionClosedByServer()
        let commands =
            pending + [
                .statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: statement.binds),
                .statement(key: ahead.key, sql: ahead.sql, binds: ahead.binds), .text("COMMIT"), Self.command(followUp),
            ]
        pending.removeAll()
        let replies: Replies
        do {
            replies = try send(commands, keeping: (commands.count - 4)..<(commands.count - 2), independentLast: true)
        } catch let error as DatabaseError where SQLState.connectionException ~= error.sqlState {
            throw DatabaseError(
                sqlState: .transactionResolutionUnknown,
                message: "the connection broke while committing: \(error.message)")
        }
        isCommitted = true
        ahead.result = QueryResult(handle: replies.kept[1])
        return (QueryResult(handle: replies.kept[0]), replies.independentFailure)
    }

    private static func command<S: Statement>(_ statement: S) -> PipelinedCommand {
        .statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: statement.binds)
    }

    /// Reads what the server sent while the session was idle: a server that shut down or ended the session has said
    /// so (57P01) and closed it, and the session is replaced before a round trip that cannot be sent twice. The
    /// transaction being started keeps its bookkeeping. The second read meets the end of a closed session when the
    /// first one read its last message.
    private func replaceSessionClosedByServer() {
        guard let handle, PQconsumeInput(handle) == 0 || PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK
        else { return }
        let (queued, inTransaction) = (pending, isInTransaction)
        close()
        (pending, isInTransaction) = (queued, inTransaction)
    }

    /// Sends COMMIT (after what is pending) and `followUp` in one round trip; returns the follow-up's failure.
    /// Never sent again: a COMMIT that may have arrived must not be repeated.
    private func commit<S: Statement>(followedBy followUp: S) throws -> (any Error)? {
        let commands = pending + [
            .text("COMMIT"), .statement(key: ObjectIdentifier(S.self), sql: S.sql, binds: followUp.binds),
        ]
        pending.removeAll()
        return try send(commands, keeping: 0..<0, independentLast: true).independentFailure
    }

    private func rollback() {
        isInTransaction = false
        pending.removeAll()
        guard isOpen, PQtransactionStatus(handle) != PQTRANS_IDLE else { return }
        PQclear(PQexec(handle, "ROLLBACK"))
    }

    /// Sends a fixed command such as LISTEN (the commands come from this file only), like `execute` a statement.
    private func command(_ sql: String) throws {
        try roundTrip([.text(sql)]).forEach { PQclear($0) }
    }

    private func sendCommand(_ sql: String) throws {
        try open()
        let result = PQexec(handle, sql)
        try check(result, handle: handle)
        PQclear(result)
    }

    // MARK: - LISTEN / NOTIFY

    /// Subscribes this session to a channel; the subscription is renewed whenever the session reconnects.
    ///
    /// - Parameter channel: a lower-case SQL identifier chosen by the program, never by a request.
    public func listen(_ channel: String) throws {
        precondition(channel.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || $0 == 95 }, "channel must be [a-z_]+")
        if !listenedChannels.contains(channel) { listenedChannels.append(channel) }
        try command("LISTEN \(channel)")
    }

    /// Ends a subscription of `listen(_:)`.
    public func unlisten(_ channel: String) throws {
        precondition(channel.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || $0 == 95 }, "channel must be [a-z_]+")
        listenedChannels.removeAll { $0 == channel }
        try command("UNLISTEN \(channel)")
    }

    /// Waits up to `timeoutMilliseconds` for notifications on the subscribed channels and returns what arrived.
    ///
    /// Returns at once when notifications are already buffered. Throws a connection error when the session
    /// breaks; the caller reconnects with `open()`, which renews the subscriptions.
    public func waitForNotifications(timeoutMilliseconds: Int32) throws -> [Notification] {
        try open()
        var received = try drainNotifications()
        if !received.isEmpty { return received }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 && errno != EINTR {
            throw DatabaseError(sqlState: .connectionFailure, message: "poll failed: errno \(errno)")
        }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                let message = String(cString: PQerrorMessage(handle))
                close()
                throw DatabaseError(sqlState: .connectionFailure, message: message)
            }
            received = try drainNotifications()
        }
        return received
    }

    private func drainNotifications() throws -> [Notification] {
        var received: [Notification] = []
        while let notify = PQnotifies(handle) {
            let channel = String(cString: notify.pointee.relname)
            let payload = String(cString: notify.pointee.extra)
            received.append(Notification(channel: channel, payload: payload, senderPID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        if PQstatus(handle) != CONNECTION_OK {
            close()
            throw DatabaseError(sqlState: .connectionFailure, message: "connection lost while listening")
        }
        return received
    }

    // MARK: - Errors

    /// Turns a failed result into a `DatabaseError` (freeing the result); a nil result means the session broke.
    private func check(_ result: OpaquePointer?, handle: OpaquePointer?) throws {
        guard let result else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
            close()
            throw DatabaseError(sqlState: .connectionFailure, message: message)
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return }
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let state = field(UInt8(ascii: "C"))
        let error = DatabaseError(
            sqlState: state.map { SQLState($0) } ?? .connectionFailure,
            message: field(UInt8(ascii: "M")) ?? String(cString: PQerrorMessage(handle)),
            detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")),
            constraint: field(UInt8(ascii: "n")),
            table: field(UInt8(ascii: "t")),
            column: field(UInt8(ascii: "c"))
        )
        PQclear(result)
        if handle.map({ PQstatus($0) }) != CONNECTION_OK || error.isConnectionFailure {
            close()
        }
        throw error
    }
}

/// A NOTIFY delivered to a listening session.
public struct Notification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let senderPID: Int32
}
