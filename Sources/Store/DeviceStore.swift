import Domain
import Postgres

/// A new device.
public struct DeviceDefinition: Sendable, Equatable {
    public var id: String
    public var kind: DeviceKind
    public var status: DeviceStatus
    public var capacity: Int
    public var labels: [String]
    public var propertiesJSON: String
    public var description: String

    public init(
        id: String, kind: DeviceKind, status: DeviceStatus, capacity: Int, labels: [String], propertiesJSON: String,
        description: String
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.capacity = capacity
        self.labels = labels
        self.propertiesJSON = propertiesJSON
        self.description = description
    }
}

/// Changes to a device; nil fields stay as they are.
public struct DeviceChange: Sendable, Equatable {
    public var status: DeviceStatus?
    public var capacity: Int?
    public var labels: [String]?
    public var propertiesJSON: String?
    public var description: String?

    public init() {}
}

/// Devices and their reservations.
public struct DeviceStore {
    private let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Devices as JSON, by id.
    public func list(kind: String?, status: String?, label: String?, availableOnly: Bool, caller: Int64?) throws -> [String] {
        try connection.rows(DeviceList(kind: kind, status: status, label: label, availableOnly: availableOnly, caller: caller))
    }

    /// One device as JSON, or nil.
    public func get(id: String) throws -> String? {
        try connection.first(DeviceGet(id: id))
    }

    /// Whether a device exists.
    public func exists(id: String) throws -> Bool {
        try connection.first(DeviceExists(id: id)) ?? false
    }

    /// Adds a device. Throws `DatabaseError` (device_pkey) when the id is taken.
    public func create(_ definition: DeviceDefinition) throws -> String {
        guard let json = try connection.first(DeviceInsert(definition: definition)) else {
            throw DatabaseError(sqlState: SQLState("P0002"), message: "insert returned no row")
        }
        return json
    }

    /// Changes a device; nil when there is no such device.
    public func update(id: String, _ change: DeviceChange) throws -> String? {
        try connection.first(DeviceUpdate(id: id, change: change))
    }

    /// The outcome of retiring a device.
    public enum RetireResult {
        case retired
        case notFound
        /// It still has scheduled or running jobs.
        case busy
    }

    /// Retires a device with no active jobs.
    public func retire(id: String) throws -> RetireResult {
        if try connection.first(DeviceRetire(id: id)) != nil { return .retired }
        return try exists(id: id) ? .busy : .notFound
    }

    /// A device's load as JSON, or nil.
    public func status(id: String, viewer: Int64?) throws -> String? {
        try connection.first(DeviceStatusGet(id: id, viewer: viewer))
    }

    /// A device's kind and properties (JSON text), or nil.
    public func properties(id: String) throws -> (kind: DeviceKind, propertiesJSON: String)? {
        try connection.first(DeviceProperties(id: id))
    }

    /// Reserves a device; nil when there is no such device. Throws `DatabaseError` (reservation_no_overlap) on an
    /// overlap.
    public func reserve(deviceID: String, principalID: Int64, start: Timestamp, end: Timestamp) throws -> String? {
        try connection.first(ReservationInsert(deviceID: deviceID, principalID: principalID, start: start, end: end))
    }

    /// Reservations of a device that have not ended.
    public func reservations(deviceID: String, viewer: Int64?) throws -> [String] {
        try connection.rows(ReservationList(deviceID: deviceID, viewer: viewer))
    }

    /// Deletes a reservation; false when it is not visible to the owner filter.
    public func deleteReservation(id: Int64, deviceID: String, ownerFilter: Int64?) throws -> Bool {
        try connection.first(ReservationDelete(id: id, deviceID: deviceID, ownerFilter: ownerFilter)) != nil
    }
}
