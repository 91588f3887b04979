import Domain
import Glibc
import Postgres
import Store
import Synchronization

/// The second database session of a scheduling run. Each round hands it half of its owners: on a thread of its
/// own it locks their candidates and, once the round's one plan is made, places and fails their jobs in a
/// transaction of its own. A round thus keeps two server processes (two cores) busy, while one plan still orders
/// every candidate by priority, fair share and age.
///
/// Each session commits as soon as its writes are done, without waiting for the other: the two transactions update
/// the same device counters, so one may wait for the other's commit, never for more. A round killed between the
/// two commits leaves one half placed and the other still queued, both consistent.
final class RoundPartner: @unchecked Sendable {
    /// The half of a round the partner takes.
    struct Share: Sendable {
        let owners: [Int64]
        let perOwner: Int
        let scan: QueueScan
        let heldBy: [String: Int64]
    }

    /// What the round's plan gives the partner's jobs.
    struct Placements: Sendable {
        let assignments: [(jobID: Int64, deviceID: String)]
        let failures: [(jobID: Int64, reason: String)]
    }

    /// An error of the partner's transaction, wrapped so that `Connection.transaction` does not run its body again
    /// (the body is a conversation with the round).
    struct Failure: Error {
        let underlying: any Error
    }

    /// The round gave up before placing anything; the partner rolled its half back.
    struct Abandoned: Error {}

    private enum Message: Sendable {
        case round(Share)
        case place(Placements)
        case abandon
        case stop
    }

    private struct Mailbox: Sendable {
        var toPartner: Message?
        var candidates: Result<[SchedulingCandidate], Failure>?
        var outcome: Result<(scheduled: Int, failed: Int), Failure>?
    }

    private let conninfo: String
    private let mailbox = Mutex(Mailbox())
    private let partnerSignal = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let roundSignal = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private var thread = pthread_t()

    init(conninfo: String) {
        self.conninfo = conninfo
        sem_init(partnerSignal, 0, 0)
        sem_init(roundSignal, 0, 0)
    }

    deinit {
        sem_destroy(partnerSignal)
        sem_destroy(roundSignal)
        partnerSignal.deallocate()
        roundSignal.deallocate()
    }

    func start() {
        pthread_create(&thread, nil, roundPartnerThreadEntry, Unmanaged.passRetained(self).toOpaque())
    }

    func stop() {
        send(.stop)
        pthread_join(thread, nil)
    }

    /// Hands the partner its share of a round: it begins its transaction and locks the share's candidates.
    func begin(_ share: Share) {
        send(.round(share))
    }

    /// The candidates of the partner's share, locked by its transaction (after `begin`).
    func candidates() throws -> [SchedulingCandidate] {
        wait(roundSignal)
        return try mailbox.withLock { $0.candidates.take()! }.get()
    }

    /// Gives the partner its jobs' placements, which it writes and commits while the round writes its own; `nil`
    /// makes it roll its half back instead. `outcome()` collects the result.
    func place(_ placements: Placements?) {
        send(placements.map(Message.place) ?? .abandon)
    }

    /// Waits for the partner's commit (or rollback) after `place`; returns what it placed and failed.
    func outcome() throws -> (scheduled: Int, failed: Int) {
        wait(roundSignal)
        return try mailbox.withLock { $0.outcome.take()! }.get()
    }

    private func send(_ message: Message) {
        mailbox.withLock { $0.toPartner = message }
        sem_post(partnerSignal)
    }

    private func receive() -> Message {
        wait(partnerSignal)
        return mailbox.withLock { $0.toPartner.take()! }
    }

    private func wait(_ signal: UnsafeMutablePointer<sem_t>) {
        while sem_wait(signal) != 0 && errno == EINTR {}
    }

    fileprivate func run() {
        let connection = Connection(conninfo: conninfo)
        defer { connection.close() }
        let store = SchedulerStore(connection: connection)
        while case .round(let share) = receive() {
            let outcome: Result<(scheduled: Int, failed: Int), Failure>
            do {
                outcome = .success(try connection.transaction(synchronousCommit: true) {
                    let candidates: Result<[SchedulingCandidate], Failure>
                    do {
                        candidates = .success(
                            try store.candidates(
                                owners: share.owners, perOwner: share.perOwner, scan: share.scan, heldBy: share.heldBy))
                    } catch {
                        candidates = .failure(Failure(underlying: error))
                    }
                    mailbox.withLock { $0.candidates = candidates }
                    sem_post(roundSignal)
                    guard case .place(let placements) = receive(), case .success = candidates else {
                        throw Failure(underlying: Abandoned())
                    }
                    do {
                        return (try store.assign(placements.assignments), try store.failUnplaceable(placements.failures))
                    } catch {
                        throw Failure(underlying: error)
                    }
                })
            } catch {
                outcome = .failure(error as? Failure ?? Failure(underlying: error))
            }
            mailbox.withLock { $0.outcome = outcome }
            sem_post(roundSignal)
        }
    }
}

private func roundPartnerThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<RoundPartner>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}
