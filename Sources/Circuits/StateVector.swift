import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The amplitudes of an n-qubit state, stored as two arrays (real parts, imaginary parts).
///
/// Split storage lets the kernels process consecutive amplitudes with plain vector arithmetic and
/// no shuffles. Basis state `i` has qubit `k` equal to bit `k` of `i`. Memory comes zeroed from the
/// kernel, so a fresh state costs no pass, and a failed allocation is reported, not fatal.
final class StateVector: @unchecked Sendable {
    // @unchecked: the buffers are shared with worker threads, which only ever touch disjoint
    // index ranges between synchronisation points (the end of `concurrentPerform`).
    let qubitCount: Int
    let count: Int
    let real: UnsafeMutablePointer<Double>
    let imaginary: UnsafeMutablePointer<Double>
    private let realAllocation: ZeroedAllocation
    private let imaginaryAllocation: ZeroedAllocation

    /// Allocates |0…0⟩, or returns nil when the memory is not available.
    init?(qubitCount: Int) {
        self.qubitCount = qubitCount
        count = 1 << qubitCount
        guard let realAllocation = ZeroedAllocation(bytes: count * MemoryLayout<Double>.size),
              let imaginaryAllocation = ZeroedAllocation(bytes: count * MemoryLayout<Double>.size, offset: 2112)
        else { return nil }
        self.realAllocation = realAllocation
        self.imaginaryAllocation = imaginaryAllocation
        // Both arrays are faulted in at once: the kernel's page zeroing then uses two cores.
        let allocations = [realAllocation, imaginaryAllocation]
        runInParallel(workers: 2) { allocations[$0].populate() }
        real = realAllocation.pointer.assumingMemoryBound(to: Double.self)
        imaginary = imaginaryAllocation.pointer.assumingMemoryBound(to: Double.self)
        real[0] = 1
    }

    /// Overwrites this state with another of the same size.
    func copy(from other: StateVector) {
        precondition(other.count == count)
        real.update(from: other.real, count: count)
        imaginary.update(from: other.imaginary, count: count)
    }

    /// Sets the state back to |0…0⟩.
    func resetToZeroState() {
        real.update(repeating: 0, count: count)
        imaginary.update(repeating: 0, count: count)
        real[0] = 1
    }

    /// Amplitude `index` as a complex number.
    subscript(index: Int) -> Complex {
        Complex(real[index], imaginary[index])
    }
}

/// Zero-filled memory straight from the kernel, backed by transparent huge pages when large.
///
/// With 4 KiB pages the first pass over a large state spends most of its time in page faults
/// (hundreds of thousands, contended between threads); 2 MiB pages cut that by a factor of 512.
private final class ZeroedAllocation: @unchecked Sendable {
    // @unchecked: immutable after init; `populate` only asks the kernel to fault pages in.
    private static let hugePage = 2 << 20
    let pointer: UnsafeMutableRawPointer
    private let mapping: UnsafeMutableRawPointer?
    private let mappingLength: Int
    private let offset: Int
    private let populatedRegion: (UnsafeMutableRawPointer?, Int)?

    /// `offset` shifts the start so that two arrays walked in lockstep do not share the same
    /// address bits below 4 KiB, which would make loads wait on unrelated stores (4K aliasing).
    init?(bytes: Int, offset: Int = 0) {
        if bytes < Self.hugePage {
            guard let memory = calloc(bytes + offset, 1) else { return nil }
            pointer = memory + offset
            self.offset = offset
            populatedRegion = nil
            mapping = nil
            mappingLength = 0
            return
        }
        // One extra huge page lets the usable region start on a huge-page boundary.
        let length = bytes + offset + Self.hugePage
        guard let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { return nil }
        let address = Int(bitPattern: memory)
        let aligned = (address + Self.hugePage - 1) & ~(Self.hugePage - 1)
        pointer = UnsafeMutableRawPointer(bitPattern: aligned + offset)!
        mapping = memory
        mappingLength = length
        self.offset = offset
        #if os(Linux)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: aligned), bytes + offset, Int32(MADV_HUGEPAGE))
        #endif
        populatedRegion = (UnsafeMutableRawPointer(bitPattern: aligned), bytes + offset)
    }

    /// Faults the pages in now, in one system call, rather than one by one during the first gate
    /// pass; older kernels without MADV_POPULATE_WRITE (23) simply fault on first touch.
    func populate() {
        #if os(Linux)
        if let (region, length) = populatedRegion { _ = madvise(region, length, 23) }
        #endif
    }

    deinit {
        if let mapping {
            munmap(mapping, mappingLength)
        } else {
            free(pointer - offset)
        }
    }
}

/// Runs `body(worker)` for `workers` workers in parallel and waits for all of them.
///
/// Dispatch's pool is used instead of structured concurrency because the kernels are synchronous,
/// CPU-bound loops that must not hop threads or suspend.
func runInParallel(workers: Int, _ body: @Sendable (Int) -> Void) {
    if workers <= 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }
}
