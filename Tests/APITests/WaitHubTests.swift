import Domain
import FastCGI
import Postgres
import Testing
import Web

@testable import API

/// The hub's bookkeeping: a change that lands between reading and parking is never lost.
@Suite struct WaitHubTests {
    let app = try! App(config: Configuration())

    func parked(_ keys: [WaitKey], observed: UInt64, deadline: UInt64 = .max) -> ParkedRequest {
        let request = Request(method: "GET", path: "/api/v1/jobs/1", requestID: "r")
        let context = RequestContext(
            request: request, connection: Connection(conninfo: "host=/nonexistent"), config: Configuration(),
            services: app.services)
        return ParkedRequest(
            slot: FastCGIRequest(), request: request, context: context,
            reason: Park(keys: keys, deadline: deadline, observedSequence: observed))
    }

    @Test func aFullHubHasNoRoom() {
        let hub = WaitHub(capacity: 2)
        for job in 1...2 {
            #expect(hub.hasRoom)
            hub.park(parked([.job(Int64(job))], observed: hub.beginObserving()))
        }
        #expect(!hub.hasRoom, "a third blocking query is refused (503) instead of parking")
        hub.notify([.job(1)])
        #expect(!hub.hasRoom, "a woken request holds its connection until a resume thread takes it")
        #expect(hub.nextReady() != nil)
        #expect(hub.hasRoom, "taken, it frees its place")
    }

    /// Past the hub's capacity a new blocking query is answered 503 with Retry-After instead of parking; a woken
    /// request that parks again keeps its place.
    @Test func aBlockingQueryPastTheCapacityIs503() throws {
        let hub = WaitHub(capacity: 1)
        let services = try Services(config: Configuration(), hub: hub)
        func context(resumed: Bool = false) -> RequestContext {
            let request = Request(method: "GET", path: "/api/v1/jobs/1", requestID: "r")
            let context = RequestContext(
                request: request, connection: Connection(conninfo: "host=/nonexistent"), config: Configuration(),
                services: services)
            if resumed {
                context.isResumed = true
                context.waitDeadline = SystemClock.monotonicNanoseconds() + 30_000_000_000
            }
            return context
        }
        let query = BlockingQuery(index: 1, waitSeconds: 30)
        let unchanged: () throws -> (index: Int64, response: Response) = { (1, Response(status: 200)) }
        #expect(throws: Park.self) { try context().blockingQuery(query, keys: [.job(1)], read: unchanged) }
        hub.park(parked([.job(1)], observed: 0))
        let refused = #expect(throws: Problem.self) { try context().blockingQuery(query, keys: [.job(1)], read: unchanged) }
        #expect(refused?.kind == .unavailable)
        #expect(refused?.headers.contains { $0.name == "Retry-After" } == true)
        #expect(hub.observerCount == 0, "the refused query ended its observation (the park above ended the first's)")
        #expect(throws: Park.self) { try context(resumed: true).blockingQuery(query, keys: [.job(1)], read: unchanged) }
    }

    @Test func aChangeBeforeParkingWakesAtOnce() {
        let hub = WaitHub()
        let observed = hub.beginObserving()
        hub.notify(payload: "1:9")
        hub.park(parked([.job(1)], observed: observed))
        #expect(hub.parkedCount == 0)
        #expect(hub.nextReady() != nil)
    }

    /// Notifications are parsed only while a request waits or is between its read and parking: a parked request
    /// ends its observation, one answered at once ends it itself.
    @Test func notificationsCountOnlyWhileSomeoneObservesOrWaits() {
        let hub = WaitHub()
        hub.notify(payload: "1:9")
        #expect(hub.observerCount == 0)
        let observed = hub.beginObserving()
        #expect(hub.observerCount == 1)
        hub.park(parked([.job(1)], observed: observed))
        #expect(hub.observerCount == 0)
        #expect(hub.parkedCount == 1, "the change before the read does not wake it")
        hub.notify(payload: "1:9")
        #expect(hub.parkedCount == 0, "a change while it waits does")
        _ = hub.beginObserving()
        hub.endObserving()
        #expect(hub.observerCount == 0)
    }

    @Test func unrelatedChangesDoNotWake() {
        let hub = WaitHub()
        let observed = hub.beginObserving()
        hub.notify([.job(2), .owner(3)])
        hub.park(parked([.job(1)], observed: observed))
        #expect(hub.parkedCount == 1)
        hub.notify([.owner(4)])
        #expect(hub.parkedCount == 1)
        hub.notify([.job(1)])
        #expect(hub.parkedCount == 0)
        #expect(hub.nextReady()?.park.keys == [.job(1)])
    }

    @Test func deadlinesExpireWaiters() {
        let hub = WaitHub()
        hub.park(parked([.job(1)], observed: hub.beginObserving(), deadline: 100))
        hub.park(parked([.job(2)], observed: hub.beginObserving(), deadline: 500))
        #expect(hub.expire(now: 200) == 300)
        #expect(hub.parkedCount == 1)
        #expect(hub.expire(now: 600) == nil)
        #expect(hub.parkedCount == 0)
    }

    @Test func aLostListenSessionWakesEveryoneAndDistrustsOlderReads() {
        let hub = WaitHub()
        let observed = hub.beginObserving()
        hub.park(parked([.job(1)], observed: observed))
        hub.wakeAll()
        #expect(hub.parkedCount == 0)
        hub.park(parked([.job(7)], observed: observed))
        #expect(hub.parkedCount == 0, "read before the reconnect: answered at once")
    }

    @Test func shutdownAnswersEveryoneAndEndsTheQueue() {
        let hub = WaitHub()
        hub.park(parked([.all], observed: hub.beginObserving()))
        hub.shutDown()
        #expect(hub.nextReady() != nil)
        #expect(hub.nextReady() == nil)
    }
}
