import Glibc

/// Small file and environment access for configuration and migrations, without Foundation.
public enum TextFile {
    /// The whole file as UTF-8 text, or nil when it cannot be read or is not UTF-8.
    public static func read(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        if ferror(file) != 0 { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// The process environment as a dictionary; only executables call this, libraries get values passed in.
public enum ProcessEnvironment {
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}

extension Configuration {
    /// Loads the configuration of a program: the file named by `path` (or by `SWITCHYARD_CONFIG`; none is
    /// fine) and the `SWITCHYARD_*` variables of `environment`.
    public static func load(path: String?, environment: [String: String]) throws(ConfigError) -> Configuration {
        guard let path = path ?? environment["SWITCHYARD_CONFIG"] else {
            return try load(fileText: nil, environment: environment)
        }
        guard let text = TextFile.read(path) else {
            throw ConfigError(problems: ["config file \(path) cannot be read"])
        }
        return try load(fileText: text, fileName: path, environment: environment)
    }
}

/// Standard error for command-line programs (Swift 6 forbids touching the C `stderr` global).
public enum StandardError {
    /// Writes `line` and a newline in one `write(2)`.
    public static func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
