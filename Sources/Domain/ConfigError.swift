/// Every problem found in the configuration at once, each naming its setting, so one start-up fixes them all.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - " + $0 }.joined(separator: "\n")
    }
}

/// Reads settings from a `key = value` file and `SWITCHYARD_*` environment variables, collecting errors.
///
/// A setting's environment twin is its key upper-cased with dashes as underscores and the `SWITCHYARD_` prefix
/// (`db-uri` ⇔ `SWITCHYARD_DB_URI`); the environment wins over the file. Unknown keys in the file are errors
/// (typos must not pass silently); unknown environment variables are ignored, since scripts set their own.
public struct SettingsReader {
    private var fileValues: [String: (value: String, line: Int)] = [:]
    private let environment: [String: String]
    private let fileName: String
    /// Problems found so far.
    public private(set) var problems: [String] = []
    private var readKeys: Set<String> = []

    /// Parses the file text (may be nil: no file). Lines are `key = value`; `#` starts a comment line; values may
    /// be wrapped in double quotes.
    public init(fileText: String?, fileName: String = "config file", environment: [String: String]) {
        self.environment = environment
        self.fileName = fileName
        guard let fileText else { return }
        for (index, rawLine) in fileText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingBlanks()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("\(fileName):\(index + 1): expected 'key = value'")
                continue
            }
            let key = line[..<equals].trimmingBlanks()
            var value = line[line.index(after: equals)...].trimmingBlanks()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            fileValues[key] = (value, index + 1)
        }
    }

    /// The environment variable that overrides `key`.
    public static func environmentName(for key: String) -> String {
        "SWITCHYARD_" + key.uppercased().replacingDashes()
    }

    private mutating func raw(_ key: String) -> (value: String, origin: String)? {
        readKeys.insert(key)
        let name = Self.environmentName(for: key)
        if let value = environment[name] { return (value, name) }
        if let entry = fileValues[key] { return (entry.value, "\(key) (\(fileName):\(entry.line))") }
        return nil
    }

    /// A text setting.
    public mutating func string(_ key: String, default defaultValue: String) -> String {
        raw(key)?.value ?? defaultValue
    }

    /// A text setting that may be absent or empty (nil then).
    public mutating func optionalString(_ key: String) -> String? {
        guard let value = raw(key)?.value, !value.isEmpty else { return nil }
        return value
    }

    /// An integer setting within `range`.
    public mutating func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let (text, origin) = raw(key) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            problems.append("\(origin): expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
            return defaultValue
        }
        return value
    }

    /// A boolean setting (`true`/`false`, `on`/`off`, `1`/`0`).
    public mutating func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let (text, origin) = raw(key) else { return defaultValue }
        switch text.lowercased() {
        case "true", "on", "1", "yes": return true
        case "false", "off", "0", "no": return false
        default:
            problems.append("\(origin): expected true or false, got '\(text)'")
            return defaultValue
        }
    }

    /// Records a problem found by a cross-setting check.
    public mutating func addProblem(_ problem: String) {
        problems.append(problem)
    }

    /// Throws every problem at once, including file keys no setting reads.
    public func finish() throws(ConfigError) {
        var all = problems
        for (key, entry) in fileValues.sorted(by: { $0.value.line < $1.value.line }) where !readKeys.contains(key) {
            all.append("\(fileName):\(entry.line): unknown setting '\(key)'")
        }
        if !all.isEmpty { throw ConfigError(problems: all) }
    }
}

extension StringProtocol {
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }

    fileprivate func replacingDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}
