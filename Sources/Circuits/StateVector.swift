import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The amplitudes of an n-qubit state, stored as two arrays (real parts, imaginary parts).
///
/// Split storage lets the kernels process consecutive amplitudes with plain vector arithmetic and
/// no shuffles. Basis state `i` has qubit `k` equal to bit `k` of `i`. Memory comes from `calloc`,
/// so a fresh state is zero without a pass over it and a failed allocation is reported, not fatal.
final class StateVector: @unchecked Sendable {
    // @unchecked: the buffers are shared with worker threads, which only ever touch disjoint
    // index ranges between synchronisation points (the end of `concurrentPerform`).
    let qubitCount: Int
    let count: Int
    let real: UnsafeMutablePointer<Double>
    let imaginary: UnsafeMutablePointer<Double>

    /// Allocates |0…0⟩, or returns nil when the memory is not available.
    init?(qubitCount: Int) {
        self.qubitCount = qubitCount
        count = 1 << qubitCount
        guard let realMemory = calloc(count, MemoryLayout<Double>.size) else { return nil }
        guard let imaginaryMemory = calloc(count, MemoryLayout<Double>.size) else {
            free(realMemory)
            return nil
        }
        real = realMemory.assumingMemoryBound(to: Double.self)
        imaginary = imaginaryMemory.assumingMemoryBound(to: Double.self)
        real[0] = 1
    }

    deinit {
        free(real)
        free(imaginary)
    }

    /// Overwrites this state with another of the same size.
    func copy(from other: StateVector) {
        precondition(other.count == count)
        real.update(from: other.real, count: count)
        imaginary.update(from: other.imaginary, count: count)
    }

    /// Amplitude `index` as a complex number.
    subscript(index: Int) -> Complex {
        Complex(real[index], imaginary[index])
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
