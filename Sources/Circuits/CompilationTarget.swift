/// Which physical qubits of a device can take part in one two-qubit gate together.
public struct CouplingMap: Sendable, Hashable {
    /// Number of physical qubits (one more than the largest index in `edges`, or more).
    public let qubitCount: Int
    /// Allowed (control, target) pairs; for an undirected map both orders are listed.
    public let edges: Set<[Int]>
    /// Whether `edges` only allows each pair in the listed direction.
    public let isDirected: Bool

    /// The most physical qubits a map may have: routing keeps a distance table of every pair (4096 qubits: 16M
    /// entries), and no device built so far comes near.
    public static let maximumQubits = 4096

    /// Creates a map from an edge list such as `[[0, 1], [1, 2]]`.
    ///
    /// `qubitCount` defaults to the largest index plus one. When `directed` is false every edge
    /// works both ways. Throws on malformed edges and on more than `maximumQubits` qubits.
    public init(edges: [[Int]], directed: Bool = false, qubitCount: Int? = nil) throws(CompilationError) {
        var set: Set<[Int]> = []
        var largest = -1
        for edge in edges {
            guard edge.count == 2, edge[0] != edge[1], edge.allSatisfy({ (0..<Self.maximumQubits).contains($0) }) else {
                throw .invalidCouplingMap(
                    "edge \(edge) must be two different qubit indices from 0 to \(Self.maximumQubits - 1)")
            }
            largest = max(largest, edge[0], edge[1])
            set.insert(edge)
            if !directed { set.insert([edge[1], edge[0]]) }
        }
        let count = qubitCount ?? largest + 1
        guard count > largest, count > 0 else {
            throw .invalidCouplingMap("qubit count \(count) does not cover the edges")
        }
        guard count <= Self.maximumQubits else {
            throw .invalidCouplingMap("\(count) qubits; a coupling map may have at most \(Self.maximumQubits)")
        }
        self.qubitCount = count
        self.edges = set
        isDirected = directed
    }

    private init(validatedEdges: Set<[Int]>, qubitCount: Int, isDirected: Bool) {
        edges = validatedEdges
        self.qubitCount = qubitCount
        self.isDirected = isDirected
    }

    /// A line of qubits `0 - 1 - … - (count-1)`, undirected.
    public static func line(_ count: Int) -> CouplingMap {
        var edges: Set<[Int]> = []
        for qubit in 0 ..< max(0, count - 1) {
            edges.insert([qubit, qubit + 1])
            edges.insert([qubit + 1, qubit])
        }
        return CouplingMap(validatedEdges: edges, qubitCount: max(1, count), isDirected: false)
    }

    /// Whether a two-qubit gate may act on the two physical qubits in this order.
    public func allows(_ control: Int, _ target: Int) -> Bool {
        edges.contains([control, target])
    }

    /// Whether the two physical qubits are coupled in either direction.
    public func areAdjacent(_ a: Int, _ b: Int) -> Bool {
        edges.contains([a, b]) || edges.contains([b, a])
    }

    /// Neighbours of each qubit, ignoring direction.
    var neighbours: [[Int]] {
        var result = [[Int]](repeating: [], count: qubitCount)
        for edge in edges where !result[edge[0]].contains(edge[1]) {
            result[edge[0]].append(edge[1])
            result[edge[1]].append(edge[0])
        }
        return result.map { Array(Set($0)).sorted() }
    }

    /// Breadth-first distances between all pairs; `Int.max` between disconnected qubits.
    func distances() -> [[Int]] {
        let neighbours = self.neighbours
        return (0 ..< qubitCount).map { source in
            var distance = [Int](repeating: .max, count: qubitCount)
            distance[source] = 0
            var queue = [source]
            var head = 0
            while head < queue.count {
                let node = queue[head]
                head += 1
                for next in neighbours[node] where distance[next] == .max {
                    distance[next] = distance[node] + 1
                    queue.append(next)
                }
            }
            return distance
        }
    }
}

/// What a circuit is compiled for: the gates a device runs natively and, optionally, its connectivity.
public struct CompilationTarget: Sendable, Hashable {
    /// Names of the allowed gates, such as `["rz", "sx", "x", "cx"]` or `["u3", "cx"]`.
    /// `measure`, `reset` and `barrier` are always allowed.
    public var basisGates: Set<String>
    /// The device's connectivity; nil means all-to-all (no routing).
    public var couplingMap: CouplingMap?

    /// Creates a target.
    public init(basisGates: Set<String>, couplingMap: CouplingMap? = nil) {
        self.basisGates = basisGates
        self.couplingMap = couplingMap
    }
}

/// Why a circuit could not be compiled.
public enum CompilationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A basis gate name is not a known gate.
    case unknownBasisGate(String)
    /// The basis cannot express some gate of the circuit; the message says which.
    case basisCannotExpress(String)
    /// The coupling map is malformed.
    case invalidCouplingMap(String)
    /// The device has fewer qubits than the circuit, or the qubits that must interact are not connected.
    case deviceTooSmall(String)
    /// The compiled circuit would have more than `Compiler.maximumInstructions` instructions.
    case tooLarge(Int)

    /// A message for users.
    public var description: String {
        switch self {
        case .unknownBasisGate(let name): "unknown basis gate '\(name)'"
        case .basisCannotExpress(let what): "the basis gates cannot express \(what)"
        case .invalidCouplingMap(let reason): "invalid coupling map: \(reason)"
        case .deviceTooSmall(let reason): "the circuit does not fit the device: \(reason)"
        case .tooLarge(let limit): "the compiled circuit would have more than \(limit) instructions"
        }
    }
}

/// A compiled circuit with the facts needed to interpret it.
public struct CompilationResult: Sendable {
    /// The compiled circuit; with a coupling map its qubits are the device's physical qubits
    /// (one register `q`), and its classical registers are the original ones.
    public var circuit: Circuit
    /// `initialLayout[logical] = physical` at the start.
    public var initialLayout: [Int]
    /// `finalLayout[logical] = physical` at the end, after the inserted SWAPs; measurements already
    /// follow it, so counts keys are unchanged by compilation.
    public var finalLayout: [Int]
    /// Statistics of the input circuit.
    public var before: CircuitStatistics
    /// Statistics of the compiled circuit.
    public var after: CircuitStatistics
    /// SWAPs inserted by routing.
    public var swapsInserted: Int
}

/// An optimized circuit with before/after statistics.
public struct OptimizationResult: Sendable {
    /// The optimized circuit: same registers, same gate names, fewer gates.
    public var circuit: Circuit
    /// Statistics of the input.
    public var before: CircuitStatistics
    /// Statistics of the output.
    public var after: CircuitStatistics
}
