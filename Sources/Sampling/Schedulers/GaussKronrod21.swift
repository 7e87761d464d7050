// The 21-point Gauss–Kronrod rule of QUADPACK's `dqk21`, which scipy's `integrate.quad` applies first
// (and, for the smooth low-degree integrands of LMSDiscreteScheduler, only) on a finite interval.
// The nodes and weights are QUADPACK's; the summation order is `dqk21`'s, so the result equals
// scipy's to the last bit when the integrand values do.

enum GaussKronrod21 {
    /// Kronrod abscissae on [0, 1]: odd positions (1-based) are Kronrod-only, even positions are the
    /// 10-point Gauss nodes, the last is the centre.
    private static let nodes: [Double] = [
        0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
        0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
        0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
        0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
        0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
        0.0,
    ]
    private static let weights: [Double] = [
        0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
        0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
        0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
        0.123491976262065851077729628443350, 0.134709217311473325928054001771707,
        0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
        0.149445554002916905664936468389821,
    ]

    /// ∫ₐᵇ f, exact for polynomials up to degree 31. `a > b` integrates downwards (negative length).
    static func integrate(from a: Double, to b: Double, _ f: (Double) -> Double) -> Double {
        let centre = 0.5 * (a + b), halfLength = 0.5 * (b - a)
        var sum = weights[10] * f(centre)
        // dqk21 adds the Gauss nodes' pairs first, then the Kronrod-only ones.
        for index in [1, 3, 5, 7, 9] + [0, 2, 4, 6, 8] {
            let offset = halfLength * nodes[index]
            sum += weights[index] * (f(centre - offset) + f(centre + offset))
        }
        return sum * halfLength
    }
}
