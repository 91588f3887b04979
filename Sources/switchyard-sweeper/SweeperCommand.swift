import ArgumentParser
import Domain
import Jobs
import Postgres

/// Housekeeping, run by cron every minute: seals the audit trail, prunes stale rate-limit state.
@main
struct SweeperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-sweeper",
        abstract: "Seal the audit trail and prune stale state (run by cron every minute).",
        discussion: """
            Exits 75 without doing anything when another run (on any host) is working; 69 when the database is \
            unreachable; 70 when a step failed (the others still ran); 78 on bad configuration. Prints one summary \
            line. Works at most 45 s; a larger backlog is worked off over the next runs.
            """)

    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?

    func run() throws {
        let settings: Configuration
        do {
            settings = try Configuration.load(path: config, environment: ProcessEnvironment.current())
        } catch {
            StandardError.write(error.description)
            throw ExitCode(78)
        }
        let connection = Connection(conninfo: settings.connectionString(applicationName: "switchyard-sweeper"))
        let started = SystemClock.monotonicNanoseconds()
        do {
            guard let summary = try Sweeper(connection: connection).run() else {
                print("switchyard-sweeper: another run holds the lock; nothing done")
                throw ExitCode(75)
            }
            let elapsed = (SystemClock.monotonicNanoseconds() - started) / 1_000_000
            print("switchyard-sweeper: \(summary) elapsed_ms=\(elapsed)")
            for (step, error) in summary.failures {
                StandardError.write("switchyard-sweeper: \(step) failed: \(error.debugDescription)")
            }
            if !summary.failures.isEmpty { throw ExitCode(70) }
        } catch let error as DatabaseError {
            StandardError.write("switchyard-sweeper: \(error.debugDescription)")
            throw ExitCode(error.isConnectionFailure ? 69 : 70)
        }
    }
}
