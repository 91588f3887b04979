import Foundation
import Testing

/// Devices through the API: listing, filters, details, administration.
@Suite(.enabled(if: Stack.isAvailable)) struct DeviceEndToEndTests {
    @Test func freshInstallHasTheStateVectorSimulator() throws {
        let user = try Fixtures.user("devices", roles: ["user"])
        let device = try user.get("/api/v1/devices/sim-statevector")
        #expect(device.status == 200)
        #expect(device.json?["kind"] as? String == "simulator")
        #expect((device.json?["properties"] as? [String: Any])?["qubits"] as? Int == 28)
        let simulators = try user.get("/api/v1/devices?kind=simulator")
        #expect(((simulators.json?["items"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "sim-statevector" })
        #expect(try user.get("/api/v1/devices?kind=toaster").status == 400)
        #expect(try user.get("/api/v1/devices?available=maybe").status == 400)
        #expect(try user.get("/api/v1/devices/nope").status == 404)
        #expect(try user.post("/api/v1/devices", json: #"{"id":"x","kind":"gpu"}"#).status == 403)
    }

    @Test func operatorsAdministerDevices() throws {
        let operatorUser = try Fixtures.user("op", roles: ["operator"])
        let id = Fixtures.uniqueName("gpu")
        let created = try operatorUser.post(
            "/api/v1/devices",
            json: #"{"id":"\#(id)","kind":"gpu","capacity":2,"labels":["a100"],"properties":{"gpu_type":"A100","gpu_count":8}}"#)
        #expect(created.status == 201)
        #expect(created.header("Location") == "/api/v1/devices/\(id)")
        #expect(try operatorUser.post("/api/v1/devices", json: #"{"id":"\#(id)","kind":"gpu"}"#).status == 409)
        let bad = try operatorUser.post(
            "/api/v1/devices", json: #"{"id":"Bad ID","kind":"quantum","capacity":0,"properties":{"qubits":-1}}"#)
        #expect(bad.status == 400)
        let fields = Set(((bad.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
        #expect(fields == ["id", "kind", "capacity", "properties.qubits"])
        // Properties every reader takes as integers must be written as integers, and a coupling map stays within
        // its device (a qubits of 28.0 stored as such once stopped every scheduling round of the fleet).
        for (properties, field) in [
            (#"{"qubits":28.0}"#, "properties.qubits"), (#"{"qubits":2.8e1}"#, "properties.qubits"),
            (#"{"coupling_map":[[0,9223372036854775807]]}"#, "properties.coupling_map"),
            (#"{"qubits":5,"coupling_map":[[0,5]]}"#, "properties.coupling_map"),
        ] {
            let refused = try operatorUser.send("PATCH", "/api/v1/devices/\(id)", json: #"{"properties":\#(properties)}"#)
            #expect(refused.status == 400, "\(properties)")
            #expect((refused.json?["errors"] as? [[String: Any]])?.first?["field"] as? String == field, "\(properties)")
        }
        #expect(try Fixtures.sql("SELECT count(*) FROM device WHERE properties ->> 'qubits' LIKE '%.%'") == "0")
        let patched = try operatorUser.send("PATCH", "/api/v1/devices/\(id)", json: #"{"status":"maintenance","capacity":4}"#)
        #expect(patched.json?["status"] as? String == "maintenance")
        #expect(patched.json?["capacity"] as? Int == 4)
        let labelled = try operatorUser.get("/api/v1/devices?label=a100&status=maintenance")
        #expect(((labelled.json?["items"] as? [[String: Any]]) ?? []).map { $0["id"] as? String } == [id])
        let badFilters = try operatorUser.get("/api/v1/devices?available=x&kind=bogus")
        #expect(Set(((badFilters.json?["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            == ["available", "kind"])
        let available = try operatorUser.get("/api/v1/devices?available=true")
        #expect(available.status == 200)
        #expect(!((available.json?["items"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == id })
        #expect(try operatorUser.send("DELETE", "/api/v1/devices/\(id)").status == 204)
        #expect(try operatorUser.get("/api/v1/devices/\(id)").status == 404)
    }
}
