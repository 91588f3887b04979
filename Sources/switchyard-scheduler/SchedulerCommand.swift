import ArgumentParser
import Domain
import Jobs
import Postgres

/// The scheduler, run by cron every minute: places queued jobs for up to 55 s, woken by NOTIFY.
@main
struct SchedulerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-scheduler",
        abstract: "Place queued jobs on devices (run by cron every minute).",
        discussion: """
            Works for up to --seconds (55) and exits; a second run started meanwhile, on any host, exits 75 at once. \
            Exits 69 when the database is unreachable, 70 on another database error, 78 on bad configuration. Prints \
            one summary line.
            """)

    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?

    @Option(name: .long, help: "Seconds to work before exiting.")
    var seconds = 55.0

    @Option(name: .long, help: "Owners and jobs considered per round.")
    var batchSize = 3000

    @Flag(name: .long, help: "Exit as soon as a round has nothing to place (benchmarks, tests).")
    var untilIdle = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be more than 0 and at most 3600") }
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be from 1 to 100000") }
    }

    func run() throws {
        let settings: Configuration
        do {
            settings = try Configuration.load(path: config, environment: ProcessEnvironment.current())
        } catch {
            StandardError.write(error.description)
            throw ExitCode(78)
        }
        var schedule = Scheduler.Settings()
        schedule.runSeconds = seconds
        schedule.batchSize = batchSize
        schedule.stopWhenIdle = untilIdle
        let connection = Connection(conninfo: settings.connectionString(applicationName: "switchyard-scheduler"))
        do {
            guard let summary = try Scheduler(connection: connection, settings: schedule).run() else {
                print("switchyard-scheduler: another run holds the lock; nothing done")
                throw ExitCode(75)
            }
            print("switchyard-scheduler: \(summary)")
        } catch let error as DatabaseError {
            StandardError.write("switchyard-scheduler: \(error.debugDescription)")
            throw ExitCode(error.isConnectionFailure ? 69 : 70)
        }
    }
}
