import ArgumentParser
import Circuits
import Domain
import Jobs
import Postgres

/// The simulator: `run FILE.qasm` without a database, or (the default) the cron batch that executes circuit jobs.
@main
struct SimulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-simulator",
        abstract: "Execute circuit jobs on the state-vector simulator, or simulate one OpenQASM file.",
        subcommands: [BatchCommand.self, RunCommand.self],
        defaultSubcommand: BatchCommand.self)
}

/// `switchyard-simulator [batch]`: claims and runs scheduled circuit jobs (run by cron every minute).
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run scheduled circuit jobs of simulator devices for up to --seconds (55), woken by NOTIFY.",
        discussion: """
            Several runs may work at once, on any host; each job is claimed by exactly one under a lease. Exits 69 \
            when the database is unreachable, 70 on another database error, 78 on bad configuration. Prints one \
            summary line.
            """)

    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?

    @Option(name: .long, help: "Seconds to claim new jobs before exiting (a job in progress is finished).")
    var seconds = 55.0

    @Flag(name: .long, help: "Exit as soon as there is nothing to run (benchmarks, tests).")
    var untilIdle = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be more than 0 and at most 3600") }
    }

    func run() throws {
        let settings: Configuration
        do {
            settings = try Configuration.load(path: config, environment: ProcessEnvironment.current())
        } catch {
            StandardError.write(error.description)
            throw ExitCode(78)
        }
        var runner = SimulationRunner.Settings()
        runner.runSeconds = seconds
        runner.stopWhenIdle = untilIdle
        runner.maxQubits = settings.simulatorMaxQubits
        runner.leaseSeconds = settings.simulatorLeaseSeconds
        if settings.simulatorThreads > 0 { runner.threads = settings.simulatorThreads }
        do {
            let summary = try SimulationRunner(
                conninfo: settings.connectionString(applicationName: "switchyard-simulator"), settings: runner
            ).run()
            print("switchyard-simulator: \(summary)")
        } catch let error as DatabaseError {
            StandardError.write("switchyard-simulator: \(error.debugDescription)")
            throw ExitCode(error.isConnectionFailure ? 69 : 70)
        }
    }
}
