#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real-valued expression in a gate call or a gate body, such as `-pi/4 + theta`.
///
/// Parameters of a gate definition are referred to by position; constant sub-expressions are folded
/// while parsing, so calls in the main program always carry plain numbers.
indirect enum ParameterExpression: Sendable {
    case number(Double)
    case parameter(Int)
    case negate(ParameterExpression)
    case binary(BinaryOperator, ParameterExpression, ParameterExpression)
    case function(MathFunction, ParameterExpression)

    enum BinaryOperator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", power = "^"

        func apply(_ lhs: Double, _ rhs: Double) -> Double {
            switch self {
            case .add: lhs + rhs
            case .subtract: lhs - rhs
            case .multiply: lhs * rhs
            case .divide: lhs / rhs
            case .power: pow(lhs, rhs)
            }
        }
    }

    /// The unary functions of OpenQASM 2, plus the inverse trigonometric ones Qiskit also accepts.
    enum MathFunction: String, Sendable, CaseIterable {
        case sin, cos, tan, exp, ln, sqrt, asin, acos, atan

        func apply(_ value: Double) -> Double {
            evaluateMathFunction(self, value)
        }
    }

    /// Depth of the tree; the parser refuses trees deeper than `ParseLimits.maxExpressionDepth`, which
    /// is what bounds the recursion of `evaluate`.
    var depth: Int {
        switch self {
        case .number, .parameter: 1
        case .negate(let operand), .function(_, let operand): operand.depth + 1
        case .binary(_, let lhs, let rhs): max(lhs.depth, rhs.depth) + 1
        }
    }

    /// Nodes in the tree: what evaluating it costs.
    var nodeCount: Int {
        switch self {
        case .number, .parameter: 1
        case .negate(let operand), .function(_, let operand): operand.nodeCount + 1
        case .binary(_, let lhs, let rhs): lhs.nodeCount + rhs.nodeCount + 1
        }
    }

    /// The value with `arguments` bound to the parameters; may be infinite or NaN, which callers reject.
    func evaluate(_ arguments: [Double]) -> Double {
        switch self {
        case .number(let value): value
        case .parameter(let index): arguments[index]
        case .negate(let operand): -operand.evaluate(arguments)
        case .binary(let op, let lhs, let rhs): op.apply(lhs.evaluate(arguments), rhs.evaluate(arguments))
        case .function(let function, let operand): function.apply(operand.evaluate(arguments))
        }
    }

    /// Folds the node when its operands are constants, keeping long constant chains flat.
    static func negated(_ operand: ParameterExpression) -> ParameterExpression {
        if case .number(let value) = operand { return .number(-value) }
        return .negate(operand)
    }

    static func combined(_ op: BinaryOperator, _ lhs: ParameterExpression, _ rhs: ParameterExpression) -> ParameterExpression {
        if case .number(let a) = lhs, case .number(let b) = rhs { return .number(op.apply(a, b)) }
        return .binary(op, lhs, rhs)
    }

    static func applied(_ function: MathFunction, _ operand: ParameterExpression) -> ParameterExpression {
        if case .number(let value) = operand { return .number(function.apply(value)) }
        return .function(function, operand)
    }
}

/// Lives at file scope because inside `MathFunction` the names `sin`, `cos`, … mean the enum's cases.
private func evaluateMathFunction(_ function: ParameterExpression.MathFunction, _ value: Double) -> Double {
    switch function {
    case .sin: sin(value)
    case .cos: cos(value)
    case .tan: tan(value)
    case .exp: exp(value)
    case .ln: log(value)
    case .sqrt: value.squareRoot()
    case .asin: asin(value)
    case .acos: acos(value)
    case .atan: atan(value)
    }
}
