import ArgumentParser
import Domain
import Glibc

/// Loads the configuration or exits 78 with every problem listed.
func loadConfiguration(_ options: GlobalOptions) throws -> Configuration {
    do {
        return try Configuration.load(path: options.config, environment: ProcessEnvironment.current())
    } catch {
        printError(error.description)
        throw ExitCode(78)
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    var line = Array(text.utf8)
    line.append(0x0A)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}
