import Domain
import Postgres

/// A device as the API shows it, with its current load.
private let deviceJSON = """
    json_build_object(
        'id', d.id, 'kind', d.kind, 'status', d.status, 'capacity', d.capacity, 'labels', d.labels,
        'properties', d.properties, 'description', d.description, 'created_at', rfc3339(d.created_at),
        'updated_at', rfc3339(d.updated_at), 'active', d.active_jobs)::text
    """

/// Devices matching the filters (retired ones never), by id. `available` keeps online devices with free
/// capacity that nobody else has reserved right now.
struct DeviceList: Statement {
    static let sql = """
        SELECT \(deviceJSON) FROM device d
        WHERE d.retired_at IS NULL
          AND ($1::text IS NULL OR d.kind::text = $1::text)
          AND ($2::text IS NULL OR d.status::text = $2::text)
          AND ($3::text IS NULL OR $3::text = ANY (d.labels))
          AND (NOT $4::boolean OR (d.status = 'online' AND d.active_jobs < d.capacity
               AND NOT EXISTS (SELECT 1 FROM reservation r WHERE r.device_id = d.id AND r.during @> now()
                               AND r.principal_id <> coalesce($5::bigint, 0))))
        ORDER BY d.id
        """
    typealias Row = String
    let kind: String?
    let status: String?
    let label: String?
    let availableOnly: Bool
    let caller: Int64?
    var binds: [PostgresValue] { [.text(kind), .text(status), .text(label), .bool(availableOnly), .int(caller)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// One device.
struct DeviceGet: Statement {
    static let sql = "SELECT \(deviceJSON) FROM device d WHERE d.id = $1::text AND d.retired_at IS NULL"
    typealias Row = String
    let id: String
    var binds: [PostgresValue] { [.text(id)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Adds a device; a taken id fails on device_pkey.
struct DeviceInsert: Statement {
    static let sql = """
        INSERT INTO device AS d (id, kind, status, capacity, labels, properties, description)
        VALUES ($1::text, $2::device_kind, $3::device_status, $4::integer, $5::text[], $6::jsonb, $7::text)
        RETURNING \(deviceJSON)
        """
    typealias Row = String
    let definition: DeviceDefinition
    var binds: [PostgresValue] {
        [.text(definition.id), .text(definition.kind.rawValue), .text(definition.status.rawValue),
         .int(Int64(definition.capacity)), .textArray(definition.labels), .text(definition.propertiesJSON),
         .text(definition.description)]
    }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Changes the given fields of a device (nil: unchanged).
struct DeviceUpdate: Statement {
    static let sql = """
        UPDATE device d SET
            status = coalesce($2::device_status, d.status), capacity = coalesce($3::integer, d.capacity),
            labels = coalesce($4::text[], d.labels), properties = coalesce($5::jsonb, d.properties),
            description = coalesce($6::text, d.description), updated_at = now()
        WHERE d.id = $1::text AND d.retired_at IS NULL
        RETURNING \(deviceJSON)
        """
    typealias Row = String
    let id: String
    let change: DeviceChange
    var binds: [PostgresValue] {
        [.text(id), .text(change.status?.rawValue), .int(change.capacity), change.labels.map(PostgresValue.textArray) ?? .null,
         .text(change.propertiesJSON), .text(change.description)]
    }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Retires a device with no scheduled or running jobs; returns its id, or nothing when it has some (or none exists).
///
/// `active_jobs` is on the row itself, so a scheduler that placed a job on the device just before (its trigger
/// raised the count) makes this UPDATE wait for it and then see the placed job; the scheduler in turn places
/// nothing on a retired device (`JobAssign`).
struct DeviceRetire: Statement {
    static let sql = """
        UPDATE device d SET retired_at = now(), status = 'offline', updated_at = now()
        WHERE d.id = $1::text AND d.retired_at IS NULL AND d.active_jobs = 0
          AND NOT EXISTS (SELECT 1 FROM job j WHERE j.device_id = d.id AND j.state IN ('scheduled', 'running'))
        RETURNING d.id
        """
    typealias Row = String
    let id: String
    var binds: [PostgresValue] { [.text(id)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// A device's load: queue for it, scheduled, running, utilization and the next reservation.
struct DeviceStatusGet: Statement {
    static let sql = """
        SELECT json_build_object(
            'id', d.id, 'status', d.status, 'capacity', d.capacity,
            'queued', (SELECT count(*) FROM job j WHERE j.state = 'queued' AND j.target = d.id),
            'scheduled', (SELECT count(*) FROM job j WHERE j.device_id = d.id AND j.state = 'scheduled'),
            'running', (SELECT count(*) FROM job j WHERE j.device_id = d.id AND j.state = 'running'),
            'utilization', round(d.active_jobs::numeric / d.capacity, 3),
            'next_reservation', (SELECT \(reservationJSON(viewer: "$2"))
                                 FROM reservation r
                                 WHERE r.device_id = d.id AND upper(r.during) > now()
                                 ORDER BY lower(r.during) LIMIT 1))::text
        FROM device d WHERE d.id = $1::text AND d.retired_at IS NULL
        """
    typealias Row = String
    let id: String
    let viewer: Int64?
    var binds: [PostgresValue] { [.text(id), .int(viewer)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// A reservation as JSON. Its times are public, so that anyone can plan around it; who holds it only to the holder
/// and to callers who see every owner (`viewer`, a parameter, is NULL for them).
private func reservationJSON(viewer: String) -> String {
    """
    json_build_object('id', r.id, 'device_id', r.device_id,
                      'holder', CASE WHEN \(viewer)::bigint IS NULL OR r.principal_id = \(viewer)::bigint
                                     THEN (SELECT p.name FROM principal p WHERE p.id = r.principal_id) END,
                      'start', rfc3339(lower(r.during)), 'end', rfc3339(upper(r.during)), 'created_at', rfc3339(r.created_at))
    """
}

/// Reserves a device for a time range; an overlap fails on reservation_no_overlap, an unknown device on the key.
struct ReservationInsert: Statement {
    static let sql = """
        INSERT INTO reservation AS r (device_id, principal_id, during)
        SELECT d.id, $2::bigint, tstzrange($3::timestamptz, $4::timestamptz, '[)') FROM device d
        WHERE d.id = $1::text AND d.retired_at IS NULL
        RETURNING \(reservationJSON(viewer: "$2"))::text
        """
    typealias Row = String
    let deviceID: String
    let principalID: Int64
    let start: Timestamp
    let end: Timestamp
    var binds: [PostgresValue] { [.text(deviceID), .int(principalID), .text(start.rfc3339), .text(end.rfc3339)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// A device's reservations that have not ended, by start.
struct ReservationList: Statement {
    static let sql = """
        SELECT \(reservationJSON(viewer: "$2"))::text FROM reservation r
        WHERE r.device_id = $1::text AND upper(r.during) > now() ORDER BY lower(r.during)
        """
    typealias Row = String
    let deviceID: String
    let viewer: Int64?
    var binds: [PostgresValue] { [.text(deviceID), .int(viewer)] }
    static func decode(_ row: ResultRow) throws -> String { try row.string(0) }
}

/// Deletes a reservation of the caller (or anyone's, for admins).
struct ReservationDelete: Statement {
    static let sql = """
        DELETE FROM reservation r
        WHERE r.id = $1::bigint AND r.device_id = $2::text AND ($3::bigint IS NULL OR r.principal_id = $3::bigint)
        RETURNING r.id
        """
    typealias Row = Int64
    let id: Int64
    let deviceID: String
    let ownerFilter: Int64?
    var binds: [PostgresValue] { [.int(id), .text(deviceID), .int(ownerFilter)] }
    static func decode(_ row: ResultRow) throws -> Int64 { try row.int(0) }
}

/// Whether a (not retired) device exists.
struct DeviceExists: Statement {
    static let sql = "SELECT true FROM device WHERE id = $1::text AND retired_at IS NULL"
    typealias Row = Bool
    let id: String
    var binds: [PostgresValue] { [.text(id)] }
    static func decode(_ row: ResultRow) throws -> Bool { try row.bool(0) }
}

/// A device's placement facts for compilation: basis gates and coupling map from its properties.
struct DeviceProperties: Statement {
    static let sql = "SELECT kind, properties::text FROM device WHERE id = $1::text AND retired_at IS NULL"
    typealias Row = (kind: DeviceKind, propertiesJSON: String)
    let id: String
    var binds: [PostgresValue] { [.text(id)] }
    static func decode(_ row: ResultRow) throws -> Row { (DeviceKind(rawValue: try row.string(0)) ?? .host, try row.string(1)) }
}
