import Domain
import Glibc
import Web

/// One JSON object per line on standard error: the request log and the reasons behind 500s.
///
/// Lines are written with one `write(2)` each, so lines from different threads never interleave (pipes keep
/// writes under 4 KiB whole). Nothing secret is ever passed in: routes are logged by pattern, never by raw path
/// or query, and headers are not logged.
public enum Log {
    public enum Level: String, Sendable {
        case debug, info, warn, error
    }

    /// Writes one line with `time`, `level` and the given fields.
    public static func write(_ level: Level, _ fields: [(String, JSON)]) {
        var members: [(String, JSON)] = [("time", .string(SystemClock.now().rfc3339)), ("level", .string(level.rawValue))]
        members.append(contentsOf: fields)
        var bytes = JSON.object(members).bytes
        bytes.append(0x0A)
        bytes.withUnsafeBytes { raw in
            _ = Glibc.write(2, raw.baseAddress, raw.count)
        }
    }

    /// A message with optional context fields.
    public static func message(_ level: Level, _ text: String, _ fields: [(String, JSON)] = []) {
        write(level, [("message", .string(text))] + fields)
    }
}
