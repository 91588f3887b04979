/// A power-of-two window of amplitudes the kernels work on: a gathered tile or the whole state.
///
/// Indices are local: local bit `k` is the k-th qubit of the window, whatever its global number.
struct AmplitudeBlock {
    var real: UnsafeMutablePointer<Double>
    var imaginary: UnsafeMutablePointer<Double>
    var qubitCount: Int

    var count: Int { 1 << qubitCount }
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

/// Calls `body(start)` for each run of `1 << fixedPositions[0]` consecutive indices whose fixed
/// bits equal `setMask` (restricted to the fixed positions): the runs are what a kernel can stream.
@inline(__always)
func forEachRun(qubitCount: Int, fixedPositions: UnsafeBufferPointer<Int>, setMask: Int, _ body: (Int) -> Void) {
    let lowest = fixedPositions[0]
    let runs = 1 << (qubitCount - fixedPositions.count - lowest)
    for run in 0 ..< runs {
        body(insertZeroBits(run << lowest, fixedPositions) | setMask)
    }
}

// MARK: - Single-qubit matrices

@inline(__always)
private func matrix1Run(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                        from start: Int, count: Int, stride: Int, _ m: Matrix2) {
    if count >= 4 {
        let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
        let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
        let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
        let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
        var i0 = start
        while i0 < start + count {
            let i1 = i0 + stride
            let ar = load(re, i0), ai = load(im, i0), br = load(re, i1), bi = load(im, i1)
            store(re, i0, m00r * ar - m00i * ai + m01r * br - m01i * bi)
            store(im, i0, m00r * ai + m00i * ar + m01r * bi + m01i * br)
            store(re, i1, m10r * ar - m10i * ai + m11r * br - m11i * bi)
            store(im, i1, m10r * ai + m10i * ar + m11r * bi + m11i * br)
            i0 += 4
        }
        return
    }
    for i0 in start ..< start + count {
        let i1 = i0 + stride
        let ar = re[i0], ai = im[i0], br = re[i1], bi = im[i1]
        re[i0] = m.m00r * ar - m.m00i * ai + m.m01r * br - m.m01i * bi
        im[i0] = m.m00r * ai + m.m00i * ar + m.m01r * bi + m.m01i * br
        re[i1] = m.m10r * ar - m.m10i * ai + m.m11r * br - m.m11i * bi
        im[i1] = m.m10r * ai + m.m10i * ar + m.m11r * bi + m.m11i * br
    }
}

@inline(__always)
private func realMatrix1Run(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                            from start: Int, count: Int, stride: Int, _ m: Matrix2) {
    let m00 = Vector(repeating: m.m00r), m01 = Vector(repeating: m.m01r)
    let m10 = Vector(repeating: m.m10r), m11 = Vector(repeating: m.m11r)
    var i0 = start
    while i0 < start + count {
        let i1 = i0 + stride
        let ar = load(re, i0), ai = load(im, i0), br = load(re, i1), bi = load(im, i1)
        store(re, i0, m00 * ar + m01 * br)
        store(im, i0, m00 * ai + m01 * bi)
        store(re, i1, m10 * ar + m11 * br)
        store(im, i1, m10 * ai + m11 * bi)
        i0 += 4
    }
}

/// Target qubit 0: the pair partners are neighbours, so vectors are regrouped into "first of
/// pair" and "second of pair" lanes before the arithmetic.
private func matrix1OnBitZero(_ block: AmplitudeBlock, _ m: Matrix2) {
    let re = block.real, im = block.imaginary
    guard block.count >= 8 else {
        var i0 = 0
        while i0 < block.count {
            matrix1Run(re, im, from: i0, count: 1, stride: 1, m)
            i0 += 2
        }
        return
    }
    let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
    let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
    let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
    let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
    var index = 0
    while index < block.count {
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
private func matrix1OnBitOne(_ block: AmplitudeBlock, _ m: Matrix2) {
    let re = block.real, im = block.imaginary
    guard block.count >= 8 else {
        var base = 0
        while base < block.count {
            matrix1Run(re, im, from: base, count: 2, stride: 2, m)
            base += 4
        }
        return
    }
    let m00r = Vector(repeating: m.m00r), m00i = Vector(repeating: m.m00i)
    let m01r = Vector(repeating: m.m01r), m01i = Vector(repeating: m.m01i)
    let m10r = Vector(repeating: m.m10r), m10i = Vector(repeating: m.m10i)
    let m11r = Vector(repeating: m.m11r), m11i = Vector(repeating: m.m11i)
    var index = 0
    while index < block.count {
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

/// Applies a 2×2 matrix to local qubit `target` on the indices whose control bits are all 1.
///
/// `fixedPositions` is the ascending list of the control positions and the target.
func applyMatrix1(_ block: AmplitudeBlock, target: Int, fixedPositions: [Int], controlMask: Int, _ m: Matrix2) {
    let re = block.real, im = block.imaginary
    let stride = 1 << target
    if controlMask == 0 {
        if target == 0 { return matrix1OnBitZero(block, m) }
        if target == 1 { return matrix1OnBitOne(block, m) }
        let isReal = m.isReal
        var base = 0
        while base < block.count {
            if isReal {
                realMatrix1Run(re, im, from: base, count: stride, stride: stride, m)
            } else {
                matrix1Run(re, im, from: base, count: stride, stride: stride, m)
            }
            base += 2 * stride
        }
        return
    }
    fixedPositions.withUnsafeBufferPointer { positions in
        let runLength = 1 << positions[0]
        forEachRun(qubitCount: block.qubitCount, fixedPositions: positions, setMask: controlMask) { start in
            matrix1Run(re, im, from: start, count: runLength, stride: stride, m)
        }
    }
}

@inline(__always)
private func swapRun(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                     from start: Int, count: Int, stride: Int) {
    if count >= 4 {
        var i0 = start
        while i0 < start + count {
            let i1 = i0 + stride
            let ar = load(re, i0), ai = load(im, i0)
            store(re, i0, load(re, i1)); store(im, i0, load(im, i1))
            store(re, i1, ar); store(im, i1, ai)
            i0 += 4
        }
        return
    }
    for i0 in start ..< start + count {
        let i1 = i0 + stride
        let ar = re[i0], ai = im[i0]
        re[i0] = re[i1]; im[i0] = im[i1]
        re[i1] = ar; im[i1] = ai
    }
}

/// Applies X to local qubit `target` where the control bits are 1: a pure exchange of amplitudes.
func applyPauliX(_ block: AmplitudeBlock, target: Int, fixedPositions: [Int], controlMask: Int) {
    let re = block.real, im = block.imaginary
    let stride = 1 << target
    fixedPositions.withUnsafeBufferPointer { positions in
        let runLength = 1 << positions[0]
        forEachRun(qubitCount: block.qubitCount, fixedPositions: positions, setMask: controlMask) { start in
            swapRun(re, im, from: start, count: runLength, stride: stride)
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
    let re = block.real, im = block.imaginary
    let dimension = 1 << targets.count
    let intOffsets = UnsafeMutablePointer<Int>.allocate(capacity: dimension)
    defer { intOffsets.deallocate() }
    for index in 0 ..< dimension {
        var offset = 0
        for (bit, target) in targets.enumerated() where index & (1 << bit) != 0 { offset |= 1 << target }
        intOffsets[index] = offset
    }
    // The scratch holds the gathered inputs: 4 lanes per matrix column, real then imaginary.
    let inputReal = scratch, inputImaginary = scratch + dimension * 4
    fixedPositions.withUnsafeBufferPointer { positions in
        let runLength = 1 << positions[0]
        forEachRun(qubitCount: block.qubitCount, fixedPositions: positions, setMask: controlMask) { start in
            if runLength >= 4 {
                var base = start
                while base < start + runLength {
                    for index in 0 ..< dimension {
                        let address = base + intOffsets[index]
                        UnsafeMutableRawPointer(inputReal + 4 * index).storeBytes(of: load(re, address), as: Vector.self)
                        UnsafeMutableRawPointer(inputImaginary + 4 * index).storeBytes(of: load(im, address), as: Vector.self)
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
                        store(re, base + intOffsets[row], sumReal)
                        store(im, base + intOffsets[row], sumImaginary)
                    }
                    base += 4
                }
                return
            }
            for base in start ..< start + runLength {
                for index in 0 ..< dimension {
                    inputReal[index] = re[base + intOffsets[index]]
                    inputImaginary[index] = im[base + intOffsets[index]]
                }
                for row in 0 ..< dimension {
                    var sumReal = 0.0, sumImaginary = 0.0
                    let rowStart = 2 * row * dimension
                    for column in 0 ..< dimension {
                        let mr = matrix[rowStart + 2 * column], mi = matrix[rowStart + 2 * column + 1]
                        sumReal += mr * inputReal[column] - mi * inputImaginary[column]
                        sumImaginary += mr * inputImaginary[column] + mi * inputReal[column]
                    }
                    re[base + intOffsets[row]] = sumReal
                    im[base + intOffsets[row]] = sumImaginary
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
    multiplyRun(block.real, block.imaginary, from: 0, count: block.count, by: w)
}

/// Multiplies amplitudes with local bit `bit` clear by `whenZero` and set by `whenOne`; a factor of
/// exactly 1 is skipped, which makes a controlled phase touch only half the block.
func applyDiagonal1(_ block: AmplitudeBlock, bit: Int, whenZero: Complex, whenOne: Complex) {
    let re = block.real, im = block.imaginary
    let stride = 1 << bit
    let skipZero = whenZero == .one, skipOne = whenOne == .one
    var base = 0
    while base < block.count {
        if !skipZero { multiplyRun(re, im, from: base, count: stride, by: whenZero) }
        if !skipOne { multiplyRun(re, im, from: base + stride, count: stride, by: whenOne) }
        base += 2 * stride
    }
}

/// Multiplies the amplitudes whose local bits `first` and `second` are both set by `w`.
func applyPairPhase(_ block: AmplitudeBlock, _ first: Int, _ second: Int, _ w: Complex) {
    let re = block.real, im = block.imaginary
    let low = min(first, second), high = max(first, second)
    let lowStride = 1 << low, highStride = 1 << high
    // Indices with both bits set: blocks of `highStride` at odd multiples, runs of `lowStride` inside.
    var outer = highStride
    while outer < block.count {
        var inner = outer + lowStride
        while inner < outer + highStride {
            multiplyRun(re, im, from: inner, count: lowStride, by: w)
            inner += 2 * lowStride
        }
        outer += 2 * highStride
    }
}
