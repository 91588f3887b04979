/// A power-of-two set of amplitudes the kernels work on: one tile of a pass, or the whole state.
///
/// The tile lives in place in the state vector as `2^(qubitCount - chunkBits)` contiguous chunks
/// of `2^chunkBits` amplitudes. Local index `i` is amplitude `i & (chunkSize - 1)` of chunk
/// `i >> chunkBits`, so local bits below `chunkBits` are the state's low qubits and the bits above
/// them are the pass's high qubits. Working in place (rather than copying the tile out and back)
/// lets the hardware prefetcher overlap memory traffic with arithmetic.
struct AmplitudeBlock {
    let chunkReal: UnsafeMutablePointer<UnsafeMutablePointer<Double>>
    let chunkImaginary: UnsafeMutablePointer<UnsafeMutablePointer<Double>>
    let chunkBits: Int
    let qubitCount: Int

    var count: Int { 1 << qubitCount }
    var chunkSize: Int { 1 << chunkBits }
    var chunkCount: Int { 1 << (qubitCount - chunkBits) }

    @inline(__always)
    func real(_ index: Int) -> UnsafeMutablePointer<Double> {
        chunkReal[index >> chunkBits] + (index & ((1 << chunkBits) - 1))
    }

    @inline(__always)
    func imaginary(_ index: Int) -> UnsafeMutablePointer<Double> {
        chunkImaginary[index >> chunkBits] + (index & ((1 << chunkBits) - 1))
    }

    /// The block formed by one chunk alone, for kernels that only need low qubits.
    @inline(__always)
    func chunk(_ index: Int) -> (real: UnsafeMutablePointer<Double>, imaginary: UnsafeMutablePointer<Double>) {
        (chunkReal[index], chunkImaginary[index])
    }
}

/// A 2×2 complex matrix unpacked into scalars so the kernels keep it in registers.
struct Matrix2: Sendable {
    var m00r, m00i, m01r, m01i, m10r, m10i, m11r, m11i: Double

    init(_ matrix: [Complex]) {
        m00r = matrix[0].real; m00i = matrix[0].imaginary
        m01r = matrix[1].real; m01i = matrix[1].imaginary
        m10r = matrix[2].real; m10i = matrix[2].imaginary
        m11r = matrix[3].real; m11i = matrix[3].imaginary
    }

    /// Whether all entries are real, which roughly halves the arithmetic (Hadamard, RY, …).
    var isReal: Bool { m00i == 0 && m01i == 0 && m10i == 0 && m11i == 0 }
}

/// Without AVX (Swift targets baseline x86-64) four-wide vectors still help: they give the
/// scheduler independent work and halve the loop overhead.
private typealias Vector = SIMD4<Double>

@inline(__always)
private func load(_ pointer: UnsafeMutablePointer<Double>, _ index: Int) -> Vector {
    UnsafeRawPointer(pointer + index).loadUnaligned(as: Vector.self)
}

@inline(__always)
private func store(_ pointer: UnsafeMutablePointer<Double>, _ index: Int, _ value: Vector) {
    UnsafeMutableRawPointer(pointer + index).storeBytes(of: value, as: Vector.self)
}

/// Spreads the bits of `value` over the zero positions left by `fixedPositions` (ascending), so
/// that counting `value` up enumerates exactly the indices whose fixed bits are 0.
@inline(__always)
func insertZeroBits(_ value: Int, _ fixedPositions: UnsafeBufferPointer<Int>) -> Int {
    var result = value
    for position in fixedPositions {
        let low = result & ((1 << position) - 1)
        result = ((result >> position) << (position + 1)) | low
    }
    return result
}

/// Calls `body(start, length)` for each run of consecutive local indices whose fixed bits equal
/// `setMask` (restricted to the fixed positions); runs never cross a chunk boundary, so each one
/// is contiguous in memory and can be streamed.
@inline(__always)
func forEachRun(_ block: AmplitudeBlock, fixedPositions: UnsafeBufferPointer<Int>, setMask: Int, _ body: (Int, Int) -> Void) {
    let lengthBits = min(fixedPositions[0], block.chunkBits)
    let runs = 1 << (block.qubitCount - fixedPositions.count - lengthBits)
    let length = 1 << lengthBits
    for run in 0 ..< runs {
        body(insertZeroBits(run << lengthBits, fixedPositions) | setMask, length)
    }
}

// MARK: - Single-qubit matrices

@inline(__always)
private func matrix1Run(_ re0: UnsafeMutablePointer<Double>, _ im0: UnsafeMutablePointer<Double>,
                        _ re1: UnsafeMutablePointer<Double>, _ im1: UnsafeMutablePointer<Double>,
                        count: Int, _ m: Matrix2) {
    if count >= 4 {
        let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
        let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
        let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
        let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
        var index = 0
        while index < count {
            let ar = load(re0, index), ai = load(im0, index), br = load(re1, index), bi = load(im1, index)
            store(re0, index, m00r * ar - m00i * ai + m01r * br - m01i * bi)
            store(im0, index, m00r * ai + m00i * ar + m01r * bi + m01i * br)
            store(re1, index, m10r * ar - m10i * ai + m11r * br - m11i * bi)
            store(im1, index, m10r * ai + m10i * ar + m11r * bi + m11i * br)
            index += 4
        }
        return
    }
    for index in 0 ..< count {
        let ar = re0[index], ai = im0[index], br = re1[index], bi = im1[index]
        re0[index] = m.m00r * ar - m.m00i * ai + m.m01r * br - m.m01i * bi
        im0[index] = m.m00r * ai + m.m00i * ar + m.m01r * bi + m.m01i * br
        re1[index] = m.m10r * ar - m.m10i * ai + m.m11r * br - m.m11i * bi
        im1[index] = m.m10r * ai + m.m10i * ar + m.m11r * bi + m.m11i * br
    }
}

@inline(__always)
private func realMatrix1Run(_ re0: UnsafeMutablePointer<Double>, _ im0: UnsafeMutablePointer<Double>,
                            _ re1: UnsafeMutablePointer<Double>, _ im1: UnsafeMutablePointer<Double>,
                            count: Int, _ m: Matrix2) {
    let m00 = Vector(repeating: m.m00r), m01 = Vector(repeating: m.m01r)
    let m10 = Vector(repeating: m.m10r), m11 = Vector(repeating: m.m11r)
    var index = 0
    while index < count {
        let ar = load(re0, index), ai = load(im0, index), br = load(re1, index), bi = load(im1, index)
        store(re0, index, m00 * ar + m01 * br)
        store(im0, index, m00 * ai + m01 * bi)
        store(re1, index, m10 * ar + m11 * br)
        store(im1, index, m10 * ai + m11 * bi)
        index += 4
    }
}

/// Target qubit 0: the pair partners are neighbours, so vectors are regrouped into "first of
/// pair" and "second of pair" lanes before the arithmetic.
private func matrix1OnBitZero(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, count: Int, _ m: Matrix2) {
    guard count >= 8 else {
        var i0 = 0
        while i0 < count {
            matrix1Run(re + i0, im + i0, re + i0 + 1, im + i0 + 1, count: 1, m)
            i0 += 2
        }
        return
    }
    let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
    let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
    let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
    let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
    var index = 0
    while index < count {
        let r0 = load(re, index), r1 = load(re, index + 4), j0 = load(im, index), j1 = load(im, index + 4)
        let ar = Vector(r0[0], r0[2], r1[0], r1[2]), br = Vector(r0[1], r0[3], r1[1], r1[3])
        let ai = Vector(j0[0], j0[2], j1[0], j1[2]), bi = Vector(j0[1], j0[3], j1[1], j1[3])
        let nar = m00r * ar - m00i * ai + m01r * br - m01i * bi
        let nai = m00r * ai + m00i * ar + m01r * bi + m01i * br
        let nbr = m10r * ar - m10i * ai + m11r * br - m11i * bi
        let nbi = m10r * ai + m10i * ar + m11r * bi + m11i * br
        store(re, index, Vector(nar[0], nbr[0], nar[1], nbr[1]))
        store(re, index + 4, Vector(nar[2], nbr[2], nar[3], nbr[3]))
        store(im, index, Vector(nai[0], nbi[0], nai[1], nbi[1]))
        store(im, index + 4, Vector(nai[2], nbi[2], nai[3], nbi[3]))
        index += 8
    }
}

/// Target qubit 1: partners are two apart, so each vector holds two pairs' first halves.
private func matrix1OnBitOne(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, count: Int, _ m: Matrix2) {
    guard count >= 8 else {
        var base = 0
        while base < count {
            matrix1Run(re + base, im + base, re + base + 2, im + base + 2, count: 2, m)
            base += 4
        }
        return
    }
    let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
    let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
    let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
    let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
    var index = 0
    while index < count {
        let r0 = load(re, index), r1 = load(re, index + 4), j0 = load(im, index), j1 = load(im, index + 4)
        let ar = Vector(r0[0], r0[1], r1[0], r1[1]), br = Vector(r0[2], r0[3], r1[2], r1[3])
        let ai = Vector(j0[0], j0[1], j1[0], j1[1]), bi = Vector(j0[2], j0[3], j1[2], j1[3])
        let nar = m00r * ar - m00i * ai + m01r * br - m01i * bi
        let nai = m00r * ai + m00i * ar + m01r * bi + m01i * br
        let nbr = m10r * ar - m10i * ai + m11r * br - m11i * bi
        let nbi = m10r * ai + m10i * ar + m11r * bi + m11i * br
        store(re, index, Vector(nar[0], nar[1], nbr[0], nbr[1]))
        store(re, index + 4, Vector(nar[2], nar[3], nbr[2], nbr[3]))
        store(im, index, Vector(nai[0], nai[1], nbi[0], nbi[1]))
        store(im, index + 4, Vector(nai[2], nai[3], nbi[2], nbi[3]))
        index += 8
    }
}

/// Target qubit 2: each group of eight holds four pairs, partners four apart.
private func matrix1OnBitTwo(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, count: Int, _ m: Matrix2) {
    let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
    let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
    let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
    let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
    var index = 0
    while index < count {
        let ar = load(re, index), ai = load(im, index), br = load(re, index + 4), bi = load(im, index + 4)
        store(re, index, m00r * ar - m00i * ai + m01r * br - m01i * bi)
        store(im, index, m00r * ai + m00i * ar + m01r * bi + m01i * br)
        store(re, index + 4, m10r * ar - m10i * ai + m11r * br - m11i * bi)
        store(im, index + 4, m10r * ai + m10i * ar + m11r * bi + m11i * br)
        index += 8
    }
}

/// Controlled 2×2 matrix (or X) when a control or the target is local bit 0 or 1, where runs of
/// consecutive indices are too short to stream: every pair of the chunk is computed four lanes at a
/// time and the result kept only in lanes whose control bits are set.
private func controlledMatrix1ByLanes(_ block: AmplitudeBlock, target: Int, controlMask: Int, _ m: Matrix2, isPauliX: Bool) {
    let chunkMask = block.chunkSize - 1
    let inChunk = controlMask & chunkMask, aboveChunk = controlMask & ~chunkMask
    // Lane i of a vector holds the pair whose first index is `start + offsets[i]`; control bits
    // below `laneBits` differ between lanes (a fixed mask), those above are the same for all lanes.
    let offsets = target >= 2 ? [0, 1, 2, 3] : target == 0 ? [0, 2, 4, 6] : [0, 1, 4, 5]
    let laneBits = target >= 2 ? 2 : 3
    let laneControls = inChunk & ((1 << laneBits) - 1), sharedControls = inChunk & ~((1 << laneBits) - 1)
    let kernel = LaneBlend(matrix: m, isPauliX: isPauliX,
                           keep: SIMD4<UInt64>((0 ..< 4).map { offsets[$0] & laneControls == laneControls ? UInt64.max : 0 }))
    for chunk in 0 ..< block.chunkCount where (chunk << block.chunkBits) & aboveChunk == aboveChunk {
        let (re, im) = block.chunk(chunk)
        if target >= 2 {
            let stride = 1 << target
            var base = 0
            while base < block.chunkSize {
                var index = base
                while index < base + stride {
                    if index & sharedControls == sharedControls {
                        var ar = load(re, index), ai = load(im, index)
                        var br = load(re, index + stride), bi = load(im, index + stride)
                        kernel.apply(&ar, &ai, &br, &bi)
                        store(re, index, ar); store(im, index, ai)
                        store(re, index + stride, br); store(im, index + stride, bi)
                    }
                    index += 4
                }
                base += 2 * stride
            }
            continue
        }
        // Target 0 or 1: eight amplitudes hold four pairs; regroup them into first/second lanes.
        var index = 0
        while index < block.chunkSize {
            defer { index += 8 }
            guard index & sharedControls == sharedControls else { continue }
            let r0 = load(re, index), r1 = load(re, index + 4), j0 = load(im, index), j1 = load(im, index + 4)
            var ar, ai, br, bi: Vector
            if target == 0 {
                ar = Vector(r0[0], r0[2], r1[0], r1[2]); br = Vector(r0[1], r0[3], r1[1], r1[3])
                ai = Vector(j0[0], j0[2], j1[0], j1[2]); bi = Vector(j0[1], j0[3], j1[1], j1[3])
            } else {
                ar = Vector(r0[0], r0[1], r1[0], r1[1]); br = Vector(r0[2], r0[3], r1[2], r1[3])
                ai = Vector(j0[0], j0[1], j1[0], j1[1]); bi = Vector(j0[2], j0[3], j1[2], j1[3])
            }
            kernel.apply(&ar, &ai, &br, &bi)
            if target == 0 {
                store(re, index, Vector(ar[0], br[0], ar[1], br[1])); store(re, index + 4, Vector(ar[2], br[2], ar[3], br[3]))
                store(im, index, Vector(ai[0], bi[0], ai[1], bi[1])); store(im, index + 4, Vector(ai[2], bi[2], ai[3], bi[3]))
            } else {
                store(re, index, Vector(ar[0], ar[1], br[0], br[1])); store(re, index + 4, Vector(ar[2], ar[3], br[2], br[3]))
                store(im, index, Vector(ai[0], ai[1], bi[0], bi[1])); store(im, index + 4, Vector(ai[2], ai[3], bi[2], bi[3]))
            }
        }
    }
}

/// The arithmetic of `controlledMatrix1ByLanes`: new values where `keep` is all ones, old elsewhere
/// (a bitwise blend, so kept lanes are exactly the uncontrolled result).
private struct LaneBlend {
    let m00r, m00i, m01r, m01i, m10r, m10i, m11r, m11i: Vector
    let isPauliX: Bool
    let keep, drop: SIMD4<UInt64>

    init(matrix m: Matrix2, isPauliX: Bool, keep: SIMD4<UInt64>) {
        m00r = Vector(repeating: m.m00r); m00i = Vector(repeating: m.m00i)
        m01r = Vector(repeating: m.m01r); m01i = Vector(repeating: m.m01i)
        m10r = Vector(repeating: m.m10r); m10i = Vector(repeating: m.m10i)
        m11r = Vector(repeating: m.m11r); m11i = Vector(repeating: m.m11i)
        self.isPauliX = isPauliX
        self.keep = keep
        drop = ~keep
    }

    @inline(__always)
    private func blend(_ new: Vector, _ old: Vector) -> Vector {
        unsafeBitCast((unsafeBitCast(new, to: SIMD4<UInt64>.self) & keep) | (unsafeBitCast(old, to: SIMD4<UInt64>.self) & drop),
                      to: Vector.self)
    }

    @inline(__always)
    func apply(_ ar: inout Vector, _ ai: inout Vector, _ br: inout Vector, _ bi: inout Vector) {
        if isPauliX {
            (ar, ai, br, bi) = (blend(br, ar), blend(bi, ai), blend(ar, br), blend(ai, bi))
            return
        }
        let nar = m00r * ar - m00i * ai + m01r * br - m01i * bi
        let nai = m00r * ai + m00i * ar + m01r * bi + m01i * br
        let nbr = m10r * ar - m10i * ai + m11r * br - m11i * bi
        let nbi = m10r * ai + m10i * ar + m11r * bi + m11i * br
        (ar, ai, br, bi) = (blend(nar, ar), blend(nai, ai), blend(nbr, br), blend(nbi, bi))
    }
}

/// Whether a controlled single-qubit gate should use the lane-blending kernel: its runs would be
/// shorter than a vector and all its positions fit the vector layout of a chunk.
@inline(__always)
private func prefersLanes(_ block: AmplitudeBlock, target: Int, fixedPositions: [Int], controlMask: Int) -> Bool {
    controlMask != 0 && fixedPositions[0] < 2 && target < block.chunkBits && block.chunkBits >= 3
}

/// Applies a 2×2 matrix to local qubit `target` on the indices whose control bits are all 1.
///
/// `fixedPositions` is the ascending list of the control positions and the target.
func applyMatrix1(_ block: AmplitudeBlock, target: Int, fixedPositions: [Int], controlMask: Int, _ m: Matrix2) {
    if prefersLanes(block, target: target, fixedPositions: fixedPositions, controlMask: controlMask) {
        return controlledMatrix1ByLanes(block, target: target, controlMask: controlMask, m, isPauliX: false)
    }
    let stride = 1 << target
    if controlMask == 0 && target < 3 && block.chunkBits >= 3 {
        for chunk in 0 ..< block.chunkCount {
            let (re, im) = block.chunk(chunk)
            switch target {
            case 0: matrix1OnBitZero(re, im, count: block.chunkSize, m)
            case 1: matrix1OnBitOne(re, im, count: block.chunkSize, m)
            default: matrix1OnBitTwo(re, im, count: block.chunkSize, m)
            }
        }
        return
    }
    let isReal = m.isReal
    fixedPositions.withUnsafeBufferPointer { positions in
        forEachRun(block, fixedPositions: positions, setMask: controlMask) { start, length in
            let re0 = block.real(start), im0 = block.imaginary(start)
            let re1 = block.real(start + stride), im1 = block.imaginary(start + stride)
            if isReal && length >= 4 {
                realMatrix1Run(re0, im0, re1, im1, count: length, m)
            } else {
                matrix1Run(re0, im0, re1, im1, count: length, m)
            }
        }
    }
}

@inline(__always)
private func swapRun(_ re0: UnsafeMutablePointer<Double>, _ im0: UnsafeMutablePointer<Double>,
                     _ re1: UnsafeMutablePointer<Double>, _ im1: UnsafeMutablePointer<Double>, count: Int) {
    if count >= 4 {
        var index = 0
        while index < count {
            let ar = load(re0, index), ai = load(im0, index)
            store(re0, index, load(re1, index)); store(im0, index, load(im1, index))
            store(re1, index, ar); store(im1, index, ai)
            index += 4
        }
        return
    }
    for index in 0 ..< count {
        let ar = re0[index], ai = im0[index]
        re0[index] = re1[index]; im0[index] = im1[index]
        re1[index] = ar; im1[index] = ai
    }
}

/// Exchanges neighbouring amplitudes (X on qubit 0) or neighbouring pairs (X on qubit 1) in
/// place with lane shuffles, four amplitudes at a time.
private func swapWithinVectors(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, count: Int, target: Int) {
    var index = 0
    while index < count {
        let r = load(re, index), j = load(im, index)
        if target == 0 {
            store(re, index, Vector(r[1], r[0], r[3], r[2]))
            store(im, index, Vector(j[1], j[0], j[3], j[2]))
        } else {
            store(re, index, Vector(r[2], r[3], r[0], r[1]))
            store(im, index, Vector(j[2], j[3], j[0], j[1]))
        }
        index += 4
    }
}

/// Applies X to local qubit `target` where the control bits are 1: a pure exchange of amplitudes.
func applyPauliX(_ block: AmplitudeBlock, target: Int, fixedPositions: [Int], controlMask: Int) {
    if prefersLanes(block, target: target, fixedPositions: fixedPositions, controlMask: controlMask) {
        return controlledMatrix1ByLanes(block, target: target, controlMask: controlMask, Matrix2(StandardGate.pauliX), isPauliX: true)
    }
    let stride = 1 << target
    if controlMask == 0 && target < block.chunkBits && block.chunkBits >= 2 {
        for chunk in 0 ..< block.chunkCount {
            let (re, im) = block.chunk(chunk)
            if target < 2 {
                swapWithinVectors(re, im, count: block.chunkSize, target: target)
                continue
            }
            var base = 0
            while base < block.chunkSize {
                swapRun(re + base, im + base, re + base + stride, im + base + stride, count: stride)
                base += 2 * stride
            }
        }
        return
    }
    fixedPositions.withUnsafeBufferPointer { positions in
        forEachRun(block, fixedPositions: positions, setMask: controlMask) { start, length in
            swapRun(block.real(start), block.imaginary(start), block.real(start + stride), block.imaginary(start + stride),
                    count: length)
        }
    }
}

// MARK: - Multi-qubit matrices

/// Applies a `2^k × 2^k` matrix (row-major, interleaved re/im) to local `targets` (operand order)
/// where the control bits are 1; `fixedPositions` are the controls and targets, ascending.
///
/// Four consecutive base indices are processed together when the runs allow it, which covers the
/// common case of two-qubit blocks on qubits above 1.
func applyMatrixK(_ block: AmplitudeBlock, targets: [Int], fixedPositions: [Int], controlMask: Int,
                  _ matrix: UnsafeBufferPointer<Double>, scratch: UnsafeMutablePointer<Double>) {
    let dimension = 1 << targets.count
    let offsets = UnsafeMutablePointer<Int>.allocate(capacity: dimension)
    let realPointers = UnsafeMutablePointer<UnsafeMutablePointer<Double>>.allocate(capacity: dimension)
    let imaginaryPointers = UnsafeMutablePointer<UnsafeMutablePointer<Double>>.allocate(capacity: dimension)
    defer {
        offsets.deallocate()
        realPointers.deallocate()
        imaginaryPointers.deallocate()
    }
    for index in 0 ..< dimension {
        var offset = 0
        for (bit, target) in targets.enumerated() where index & (1 << bit) != 0 { offset |= 1 << target }
        offsets[index] = offset
    }
    // The scratch holds the gathered inputs: 4 lanes per matrix column, real then imaginary.
    let inputReal = scratch, inputImaginary = scratch + dimension * 4
    fixedPositions.withUnsafeBufferPointer { positions in
        forEachRun(block, fixedPositions: positions, setMask: controlMask) { start, length in
            for index in 0 ..< dimension {
                realPointers[index] = block.real(start + offsets[index])
                imaginaryPointers[index] = block.imaginary(start + offsets[index])
            }
            if length >= 4 {
                var position = 0
                while position < length {
                    for index in 0 ..< dimension {
                        UnsafeMutableRawPointer(inputReal + 4 * index).storeBytes(of: load(realPointers[index], position), as: Vector.self)
                        UnsafeMutableRawPointer(inputImaginary + 4 * index).storeBytes(of: load(imaginaryPointers[index], position), as: Vector.self)
                    }
                    for row in 0 ..< dimension {
                        var sumReal = Vector(), sumImaginary = Vector()
                        let rowStart = 2 * row * dimension
                        for column in 0 ..< dimension {
                            let mr = Vector(repeating: matrix[rowStart + 2 * column])
                            let mi = Vector(repeating: matrix[rowStart + 2 * column + 1])
                            let xr = load(inputReal, 4 * column), xi = load(inputImaginary, 4 * column)
                            sumReal += mr * xr - mi * xi
                            sumImaginary += mr * xi + mi * xr
                        }
                        store(realPointers[row], position, sumReal)
                        store(imaginaryPointers[row], position, sumImaginary)
                    }
                    position += 4
                }
                return
            }
            for position in 0 ..< length {
                for index in 0 ..< dimension {
                    inputReal[index] = realPointers[index][position]
                    inputImaginary[index] = imaginaryPointers[index][position]
                }
                for row in 0 ..< dimension {
                    var sumReal = 0.0, sumImaginary = 0.0
                    let rowStart = 2 * row * dimension
                    for column in 0 ..< dimension {
                        let mr = matrix[rowStart + 2 * column], mi = matrix[rowStart + 2 * column + 1]
                        sumReal += mr * inputReal[column] - mi * inputImaginary[column]
                        sumImaginary += mr * inputImaginary[column] + mi * inputReal[column]
                    }
                    realPointers[row][position] = sumReal
                    imaginaryPointers[row][position] = sumImaginary
                }
            }
        }
    }
}

// MARK: - Diagonal kernels

@inline(__always)
func multiplyRun(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                 from start: Int, count: Int, by w: Complex) {
    if count >= 4 {
        let wr = Vector(repeating: w.real), wi = Vector(repeating: w.imaginary)
        var index = start
        while index < start + count {
            let ar = load(re, index), ai = load(im, index)
            store(re, index, ar * wr - ai * wi)
            store(im, index, ar * wi + ai * wr)
            index += 4
        }
        return
    }
    let wr = w.real, wi = w.imaginary
    for index in start ..< start + count {
        let ar = re[index], ai = im[index]
        re[index] = ar * wr - ai * wi
        im[index] = ar * wi + ai * wr
    }
}

/// Multiplies each amplitude of a run by the matching entry of a phase table (split re/im).
@inline(__always)
func multiplyRunByTable(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, from start: Int,
                        count: Int, tableReal: UnsafeMutablePointer<Double>, tableImaginary: UnsafeMutablePointer<Double>) {
    var offset = 0
    if count >= 4 {
        while offset < count {
            let wr = load(tableReal, offset), wi = load(tableImaginary, offset)
            let ar = load(re, start + offset), ai = load(im, start + offset)
            store(re, start + offset, ar * wr - ai * wi)
            store(im, start + offset, ar * wi + ai * wr)
            offset += 4
        }
        return
    }
    while offset < count {
        let wr = tableReal[offset], wi = tableImaginary[offset]
        let ar = re[start + offset], ai = im[start + offset]
        re[start + offset] = ar * wr - ai * wi
        im[start + offset] = ar * wi + ai * wr
        offset += 1
    }
}

/// Multiplies every amplitude by `w`.
func scaleBlock(_ block: AmplitudeBlock, by w: Complex) {
    for chunk in 0 ..< block.chunkCount {
        let (re, im) = block.chunk(chunk)
        multiplyRun(re, im, from: 0, count: block.chunkSize, by: w)
    }
}

/// Multiplies amplitudes with local bit `bit` clear by `whenZero` and set by `whenOne`; a factor of
/// exactly 1 is skipped, which makes a controlled phase touch only half the block.
func applyDiagonal1(_ block: AmplitudeBlock, bit: Int, whenZero: Complex, whenOne: Complex) {
    if bit >= 2 && bit < block.chunkBits {
        let stride = 1 << bit
        for chunk in 0 ..< block.chunkCount {
            let (re, im) = block.chunk(chunk)
            var base = 0
            while base < block.chunkSize {
                if whenZero != .one { multiplyRun(re + base, im + base, from: 0, count: stride, by: whenZero) }
                if whenOne != .one { multiplyRun(re + base + stride, im + base + stride, from: 0, count: stride, by: whenOne) }
                base += 2 * stride
            }
        }
        return
    }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { positions in
        positions[0] = bit
        let fixed = UnsafeBufferPointer(positions)
        if whenZero != .one {
            forEachRun(block, fixedPositions: fixed, setMask: 0) { start, length in
                multiplyRun(block.real(start), block.imaginary(start), from: 0, count: length, by: whenZero)
            }
        }
        if whenOne != .one {
            forEachRun(block, fixedPositions: fixed, setMask: 1 << bit) { start, length in
                multiplyRun(block.real(start), block.imaginary(start), from: 0, count: length, by: whenOne)
            }
        }
    }
}

/// Multiplies the amplitudes whose local bits `first` and `second` are both set by `w`.
func applyPairPhase(_ block: AmplitudeBlock, _ first: Int, _ second: Int, _ w: Complex) {
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2) { positions in
        positions[0] = min(first, second)
        positions[1] = max(first, second)
        forEachRun(block, fixedPositions: UnsafeBufferPointer(positions), setMask: (1 << first) | (1 << second)) { start, length in
            multiplyRun(block.real(start), block.imaginary(start), from: 0, count: length, by: w)
        }
    }
}
