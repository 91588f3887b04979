import API
import ArgumentParser
import Domain

/// The FastCGI responder: started by spawn-fcgi under multiwatch, with the listening socket on standard input.
@main
struct ResponderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-fcgi",
        abstract: "Serve the Switchyard API over FastCGI (run under spawn-fcgi and multiwatch).",
        discussion: """
            The listening socket is standard input, as spawn-fcgi passes it. Settings come from --config (or \
            SWITCHYARD_CONFIG) and SWITCHYARD_* environment variables; see README.md, "Configuration".
            """)

    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?

    @Flag(name: .long, help: "Print the effective configuration (secrets redacted) and exit.")
    var printConfig = false

    func run() throws {
        let settings: Configuration
        do {
            settings = try Configuration.load(path: config, environment: ProcessEnvironment.current())
        } catch {
            Log.message(.error, error.description)
            throw ExitCode(78)
        }
        if printConfig {
            print(settings.printable, terminator: "")
            return
        }
        let status = Server.run(config: settings)
        if status != 0 { throw ExitCode(status) }
    }
}
