/// The states of a job, as the database's `job_state` enum spells them (a test keeps the two equal).
public enum JobState: String, Sendable, CaseIterable {
    case queued, scheduled, running, succeeded, failed, cancelled
    case timedOut = "timed_out"

    /// True once the job will not change again unless retried.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .timedOut: true
        case .queued, .scheduled, .running: false
        }
    }

    /// The transitions the database allows (`job_transition_allowed`); clients get 409 for any other.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .scheduled), (.queued, .cancelled), (.queued, .failed),
            (.scheduled, .running), (.scheduled, .queued), (.scheduled, .cancelled), (.scheduled, .failed),
            (.running, .succeeded), (.running, .failed), (.running, .cancelled), (.running, .timedOut),
            (.running, .scheduled),
            (.failed, .queued), (.cancelled, .queued), (.timedOut, .queued):
            true
        default:
            false
        }
    }
}

/// What a job runs: an OpenQASM 2.0 circuit, or a JSON command for an agent.
public enum JobKind: String, Sendable, CaseIterable {
    case circuit, command
}

/// Kinds of devices and what they can run.
public enum DeviceKind: String, Sendable, CaseIterable {
    case simulator, qpu, gpu, host

    /// True when a job of `kind` can run on a device of this kind: circuits on simulators and QPUs, commands on
    /// GPUs and hosts.
    public func runs(_ kind: JobKind) -> Bool {
        switch (self, kind) {
        case (.simulator, .circuit), (.qpu, .circuit), (.gpu, .command), (.host, .command): true
        default: false
        }
    }
}

/// Whether a device takes work.
public enum DeviceStatus: String, Sendable, CaseIterable {
    case online, offline, maintenance
}

/// Where a job may run: one device, any device that fits, or any device with a label.
public enum JobTarget: Sendable, Equatable, CustomStringConvertible {
    case device(String)
    case any
    case group(String)

    /// Parses `_any`, `group:LABEL` or a device id; nil for anything else.
    public init?(_ text: String) {
        if text == "_any" {
            self = .any
        } else if text.hasPrefix("group:") {
            let label = String(text.dropFirst(6))
            guard Self.isLabel(label) else { return nil }
            self = .group(label)
        } else {
            guard Self.isDeviceID(text) else { return nil }
            self = .device(text)
        }
    }

    public var description: String {
        switch self {
        case .device(let id): id
        case .any: "_any"
        case .group(let label): "group:" + label
        }
    }

    /// Device ids: 1–63 of lower-case letters, digits and `-`, starting with a letter or digit.
    public static func isDeviceID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), isLowerAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// Labels: 1–63 of lower-case letters, digits, `_`, `.`, `-`, starting with a letter or digit.
    public static func isLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), isLowerAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || "_.-".utf8.contains($0) }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (97...122).contains(byte) || (48...57).contains(byte)
    }
}

/// Job names: 1–100 characters (code points, as the table's `char_length` counts them) without control characters
/// or `< > " '` (they end up in dashboards and logs).
public func jobNameProblem(_ name: String) -> String? {
    guard (1...100).contains(name.unicodeScalars.count) else { return "must be 1 to 100 characters" }
    if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || "<>\"'".unicodeScalars.contains($0) }) {
        return "must not contain control characters or < > \" '"
    }
    return nil
}

/// Go-style durations for `wait` (`10s`, `2m`, `1m30s`, `250ms`), as Consul and Nomad take them.
public enum WaitDuration {
    /// The longest a blocking query waits; longer requests are shortened to this.
    public static let maximumSeconds: Double = 60

    /// The duration in seconds, or nil when the text is not a duration (a bare number, a negative value, an
    /// unknown unit).
    public static func parse(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        if text == "0" { return 0 }
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != ".", let value = Double(number) else {
                return nil
            }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) })
            else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return total.isFinite ? total : nil
    }
}
