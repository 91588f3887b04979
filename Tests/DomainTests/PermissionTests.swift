import Domain
import Testing

@Suite struct PermissionTests {
    @Test(arguments: ["job:read", "storage:snapshot:create", "*", "storage:*", "node:heartbeat", "a-b:c_d:e1"])
    func wellFormedPermissionsParse(_ text: String) {
        #expect(Permission(text)?.value == text)
    }

    @Test(arguments: ["", "Job:read", "job::read", "job:read:", "*:read", "job:*:read", "a:b:c:d:e", "job read", ":read",
                       "**", "job:**", "job:a*", "job:*a", ":", "é:read"])
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

    @Test func setsAreSortedAndDistinctHoweverGiven() {
        let grants = ["job:read", "device:read", "job:read", "*"].map { Permission(literal: $0) }
        #expect(PermissionSet(grants).grants.map(\.value) == ["*", "device:read", "job:read"])
        #expect(PermissionSet(grants.reversed()) == PermissionSet(grants))
        let sorted = ["circuit:*", "device:read", "job:*"].map { Permission(literal: $0) }
        #expect(PermissionSet(sorted).grants == sorted)
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

@Suite struct PermissionIntersectionTests {
    func set(_ values: [String]) -> PermissionSet { PermissionSet(values.map { Permission(literal: $0) }) }

    @Test func scopesNarrowAnOwner() {
        let owner = set(["job:*", "device:read", "circuit:*"])
        let effective = owner.intersection(set(["job:read", "device:*"]))
        #expect(effective == set(["job:read", "device:read"]))
        #expect(effective.allows(Permission(literal: "job:read")))
        #expect(!effective.allows(Permission(literal: "job:create")))
        #expect(!effective.allows(Permission(literal: "device:create")))
    }

    @Test func everythingScopeKeepsTheOwner() {
        let owner = set(["job:create", "job:read"])
        #expect(owner.intersection(set(["*"])) == owner)
        #expect(set(["*"]).intersection(owner) == owner)
    }

    @Test func intersectionAllowsExactlyWhatBothAllow() {
        let grants = ["*", "job:*", "job:read", "job:read:all", "device:*", "device:read", "storage:snapshot:*"]
        let probes = ["job:read", "job:create", "job:read:all", "device:reserve", "storage:snapshot:create", "audit:read"]
        for a in 0..<grants.count {
            for b in 0..<grants.count {
                let left = set([grants[a], grants[(a + 3) % grants.count]])
                let right = set([grants[b]])
                let both = left.intersection(right)
                for probe in probes.map({ Permission(literal: $0) }) {
                    #expect(both.allows(probe) == (left.allows(probe) && right.allows(probe)), "\(left) ∩ \(right) on \(probe)")
                }
            }
        }
    }
}
