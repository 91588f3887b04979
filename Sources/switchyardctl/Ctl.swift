import ArgumentParser

/// The administrator's command line: migrations now; users, keys, tokens and the audit trail as they arrive.
@main
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyardctl",
        abstract: "Administer a Switchyard installation.",
        discussion: "Settings come from --config (or SWITCHYARD_CONFIG) and SWITCHYARD_* environment variables.",
        subcommands: [MigrateCommand.self])
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "A configuration file of 'key = value' lines.")
    var config: String?
}
