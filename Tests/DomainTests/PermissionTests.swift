import Domain
import Testing

@Suite struct PermissionTests {
    @Test(arguments: ["job:read", "storage:snapshot:create", "*", "storage:*", "node:heartbeat", "a-b:c_d:e1"])
    func wellFormedPermissionsParse(_ text: String) {
        #expect(Permission(text)?.value == text)
    }

    @Test(arguments: ["", "Job:read", "job::read", "job:read:", "*:read", "job:*:read", "a:b:c:d:e", "job read", ":read"])
    func malformedPermissionsAreRefused(_ text: String) {
        #expect(Permission(text) == nil)
    }

    @Test func exactGrantCoversOnlyItself() {
        let grant = Permission(literal: "job:read")
        #expect(grant.covers(Permission(literal: "job:read")))
        #expect(!grant.covers(Permission(literal: "job:read:all")))
        #expect(!grant.covers(Permission(literal: "job:create")))
    }

    @Test func wildcardGrantCoversItsPrefix() {
        let grant = Permission(literal: "storage:*")
        #expect(grant.covers(Permission(literal: "storage:snapshot:create")))
        #expect(grant.covers(Permission(literal: "storage:read")))
        #expect(!grant.covers(Permission(literal: "storagex:read")))
        #expect(!grant.covers(Permission(literal: "job:read")))
    }

    @Test func starCoversEverything() {
        #expect(Permission(literal: "*").covers(Permission(literal: "audit:read")))
    }

    @Test func setsCompareByCoverage() {
        let owner = PermissionSet([Permission(literal: "job:*"), Permission(literal: "device:read")])
        #expect(owner.allows(Permission(literal: "job:cancel")))
        #expect(!owner.allows(Permission(literal: "device:create")))
        #expect(owner.covers(PermissionSet([Permission(literal: "job:read"), Permission(literal: "device:read")])))
        #expect(!owner.covers(PermissionSet([Permission(literal: "device:*")])))
        #expect(!owner.covers(PermissionSet([Permission(literal: "*")])))
    }
}
