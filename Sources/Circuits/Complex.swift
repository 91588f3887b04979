#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A complex number in double precision.
///
/// The library keeps its own small type so that it depends on nothing beyond the standard library;
/// the hot simulation loops work on split real/imaginary arrays instead and use this type only for
/// gate matrices and small tables.
public struct Complex: Sendable, Hashable, CustomStringConvertible {
    /// The real part.
    public var real: Double
    /// The imaginary part.
    public var imaginary: Double

    /// Creates `real + imaginary·i`.
    public init(_ real: Double, _ imaginary: Double = 0) {
        self.real = real
        self.imaginary = imaginary
    }

    /// Zero.
    public static let zero = Complex(0, 0)
    /// One.
    public static let one = Complex(1, 0)
    /// The imaginary unit.
    public static let i = Complex(0, 1)

    /// `e^{iθ}`, the unit-modulus phase with angle `angle`.
    public static func phase(_ angle: Double) -> Complex {
        Complex(cos(angle), sin(angle))
    }

    /// The squared modulus `|z|²`, which is the probability of an amplitude.
    public var magnitudeSquared: Double { real * real + imaginary * imaginary }

    /// The modulus `|z|`.
    public var magnitude: Double { magnitudeSquared.squareRoot() }

    /// The argument (angle) of the number in `(-π, π]`.
    public var argument: Double { atan2(imaginary, real) }

    /// The complex conjugate.
    public var conjugate: Complex { Complex(real, -imaginary) }

    /// The sum.
    public static func + (lhs: Complex, rhs: Complex) -> Complex {
        Complex(lhs.real + rhs.real, lhs.imaginary + rhs.imaginary)
    }

    /// The difference.
    public static func - (lhs: Complex, rhs: Complex) -> Complex {
        Complex(lhs.real - rhs.real, lhs.imaginary - rhs.imaginary)
    }

    /// The negation.
    public static prefix func - (value: Complex) -> Complex {
        Complex(-value.real, -value.imaginary)
    }

    /// The product.
    public static func * (lhs: Complex, rhs: Complex) -> Complex {
        Complex(lhs.real * rhs.real - lhs.imaginary * rhs.imaginary,
                lhs.real * rhs.imaginary + lhs.imaginary * rhs.real)
    }

    /// The product with a real number.
    public static func * (lhs: Double, rhs: Complex) -> Complex {
        Complex(lhs * rhs.real, lhs * rhs.imaginary)
    }

    /// The quotient by a real number.
    public static func / (lhs: Complex, rhs: Double) -> Complex {
        Complex(lhs.real / rhs, lhs.imaginary / rhs)
    }

    /// Adds in place.
    public static func += (lhs: inout Complex, rhs: Complex) {
        lhs = lhs + rhs
    }

    /// Multiplies in place.
    public static func *= (lhs: inout Complex, rhs: Complex) {
        lhs = lhs * rhs
    }

    /// Whether the two numbers differ by at most `tolerance` in each component.
    public func isClose(to other: Complex, tolerance: Double = 1e-12) -> Bool {
        abs(real - other.real) <= tolerance && abs(imaginary - other.imaginary) <= tolerance
    }

    /// `a+bi` or `a-bi`, for diagnostics and test output.
    public var description: String {
        imaginary < 0 ? "\(real)-\(-imaginary)i" : "\(real)+\(imaginary)i"
    }
}
