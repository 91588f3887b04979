extension Request {
    /// What a limit per client address counts: the IPv4 address itself, or the /64 network of an IPv6 one
    /// (`2001:db8:1:2::/64`). A single IPv6 client usually holds a whole /64 and could take a fresh address for
    /// every attempt; an IPv4-mapped address (`::ffff:192.0.2.1`) and one translated by NAT64 under the well-known
    /// prefix (`64:ff9b::192.0.2.1`, RFC 6052) count as their IPv4 address.
    public var clientNetwork: String {
        guard clientAddress.contains(":"), let groups = Self.ipv6Groups(clientAddress) else { return clientAddress }
        let isMapped = groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF
        let isTranslated = groups[0] == 0x64 && groups[1] == 0xFF9B && groups[2..<6].allSatisfy({ $0 == 0 })
        if isMapped || isTranslated {
            return [groups[6] >> 8, groups[6] & 0xFF, groups[7] >> 8, groups[7] & 0xFF].map(String.init)
                .joined(separator: ".")
        }
        return groups[0..<4].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    /// The eight 16-bit groups of an IPv6 address in text (RFC 4291 §2.2, with `::` and a trailing IPv4 part; a
    /// zone such as `%eth0` is ignored), or nil when it is not one.
    static func ipv6Groups(_ text: String) -> [UInt16]? {
        let address = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let halves = address.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring, last: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if last && index == pieces.count - 1 && piece.contains(".") {
                    let octets = piece.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
                    guard octets.count == 4 else { return nil }
                    result += [UInt16(octets[0]) << 8 | UInt16(octets[1]), UInt16(octets[2]) << 8 | UInt16(octets[3])]
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        guard let head = groups(halves[0], last: halves.count == 1) else { return nil }
        if halves.count == 1 { return head.count == 8 ? head : nil }
        guard let tail = groups(halves[1], last: true), head.count + tail.count <= 7 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}
