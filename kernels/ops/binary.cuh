// Binary elementwise ops: f(x, y) and its hand-written partial derivatives dfx, dfy, each
// a template on the scalar type S (float, double, or a gpuad::Dual for higher derivatives).
// Nondifferentiable points: maximum/minimum ties split the cotangent equally (1/2 each);
// power: d/dx x**y = 0 where y == 0, d/dy x**y = 0 where x == 0 (on duals with the mixed
// partials' limits: pow_zero_base, xlogy_dy).
// As in unary.cuh, each partial is accurate wherever it is a normal number and stays so on duals.
#pragma once
#include "gpuad/dual.cuh"
#include "ops/special.cuh"
#include "ops/incomplete.cuh"

namespace ops {
using namespace gpuad;

template <class S> __device__ __forceinline__ S pick(S a, S b) {  // 1 where a > b, 1/2 on a tie
    return a > b ? S(1) : (a == b ? S(0.5) : S(0));
}
// maximum/minimum at a tie (x == y, or a NaN among them): y, as NumPy's (maximum(0.0, -0.0)
// is -0.0), or the NaN; on duals each derivative component is the mean of the two (the tie's
// 1/2 split). (x + y) / 2 overflowed at x = y = 1.7e308 (maximum was inf) and rounded the
// last bit of equal subnormals away.
template <class S> __device__ __forceinline__ S tie(S x, S y) {
    if constexpr (is_dual<S>::value) {
        S r(tie(x.v, y.v));
        for (int j = 0; j < (int)(sizeof(x.d) / sizeof(x.d[0])); ++j)
            r.d[j] = (x.d[j] + y.d[j]) * decltype(x.v)(0.5);
        return r;
    } else {
        return x != x ? x : y;
    }
}
// d/dy x/y = -x/y^2 as -(x/y)(1/y), 1/y shared with d/dx (y*y over- or underflows where x/y^2
// is normal), but -(x/y)/y where 1/y overflows (y subnormal: -inf at x = 5e-324,
// y = 5.4e-312, true -1.7e299). On duals -(x/y)/y: d/dy of -(x/y)(1/y) has (1/y)/y, which
// overflows where 2x/y^3 is normal.
template <class S> __device__ __forceinline__ S div_dy(S x, S y) {
    if constexpr (is_dual<S>::value) {
        return -(x / y) / y;
    } else if constexpr (is_complex<S>::value) {
        return -(x / y) * (S(1) / y);
    } else {
        const S r = S(1) / y, q = x / y;
        return fabs(r) < S(special::inf()) ? -q * r : -q / y;
    }
}

// d/dx x**y = y x**(y-1), 0 where y = 0. For x > 0, |y| < 1 as (y/x) x**y, x**y shared with
// d/dy: x**(y-1) overflows for x near the smallest normal where y x**(y-1) does not; y/x cannot.
// Where y - 1 is inexact (|y| >= 2^53, 2^24 in float32) as x**y / x y, which keeps the parity
// of y for a negative base (not at x = +-0, +-inf: 0/0, inf/inf, see below). On duals, x > 0,
// |y| < 1, forms whose derivatives are single products or sums that cannot cancel (d/dx and
// d/dy of y x**(y-1) and of (y/x) x**y are sums of terms that overflow or underflow where the
// partial is normal):
// - x >= 1, |y| <= 1/2: y (x**y / x); its d/dx is y (y - 1) x**(y-2) with y x**(y-2) - x**(y-2)
//   formed before the factor y, no intermediate below the result;
// - otherwise sgn(y) e^(log|y| + (y-1) log x), one exp (subnormal for x >= 1 and tiny y, where
//   its d/dy, about x**(y-1), is normal: hence the first form).
// p: x**y where the caller has it (pow_all: the value and d/dy from one pow, which d/dx
// shares for |y| < 1 and where y - 1 is inexact; elsewhere it needs x**(y-1)).
// Duals at an infinite argument where a partial of x**y tends to 0 with every derivative of
// it (the dual forms are inf 0 there): d/dx at x = +inf, 0 < |y| < 1 and at y = +-inf where
// x**y = 0 (|x| < 1, y = inf; |x| > 1, y = -inf); d/dy at x = +inf, y < 0 and at those y =
// +-inf, x > 0. 1: d/dx's, 2: d/dy's, 3: both, else 0.
template <class S> __device__ __forceinline__ int pow_dual_limit(S x, S y) {
    const double px = primal(x), py = primal(y), inf = special::inf();
    const bool at_y = fabs(py) == inf && (py > 0 ? fabs(px) < 1 : fabs(px) > 1 && px == px);
    const int dx = (px == inf && fabs(py) < 1 && py != 0) || at_y;
    const int dy = (px == inf && py < 0) || (at_y && px > 0);
    return dx + 2 * dy;
}
// At x = +-0 with 0 < y < inf (on real duals, second order), where x**y is continuous and
// defined only for x >= 0 (a non-integer y), the mixed partial's one-sided limit as x -> 0+:
// x**(y-1) (1 + y log x) -> -inf for y <= 1, 0 for y > 1, in both orders. d/dy x**y = 0 on the
// line x = 0 (README) was a constant there, whose x-components 0 dropped it; d/dx, y x**(y-1),
// took d/dy of its value (inf for y < 1, 1 at y = 1) instead: the Hessian of x**y at (0, 1/2)
// was [[-inf, inf], [0, 0]], at (0, 1) [[0, 1], [0, 0]], true [[-inf, -inf], [-inf, 0]] and
// [[0, -inf], [-inf, 0]]. Deeper nestings (third order) keep the constant limit.
template <class S> __device__ __forceinline__ bool pow_zero_base(S x, S y) {
    if constexpr (is_dual<S>::value && !is_complex<S>::value)
        return primal(x) == 0 && primal(y) > 0 && primal(y) < special::inf();
    else return false;
}
template <class S> __device__ __forceinline__ double pow_zero_base_mixed(S y) {
    return primal(y) <= 1 ? -special::inf() : 0.0;
}
// d/dy x**y there: 0, its x-components the limit above, its y-components 0 (0 along x = 0)
template <class S> __device__ inline S pow_dy_zero_base(S x, S y) {
    return with_limits(S(0), pow_zero_base_mixed(y), x);
}
// d/dx x**y there: y x**(y-1) with y held (its value and x-components: d2/dx2 -inf, 0, +inf, 2,
// 0 for y < 1, y = 1, 1 < y < 2, y = 2, y > 2), the y-components the limit above
template <class S> __device__ inline S pow_dx_zero_base(S x, S y) {
    const S yc(y.v);
    return with_limits(yc * pow(x, yc - S(1)), pow_zero_base_mixed(y), y);
}
template <class S> __device__ __forceinline__ S pow_dx(S x, S y, const S* p = nullptr) {
    if (y == S(0)) {
        // on duals, for 0 < x < inf (complex: x != 0), y x**(y-1): its value 0 carries the
        // y-component x**-1, the mixed partial (a constant 0 dropped it: d^2/dxdy x**y at
        // y = 0 was 0, not 1/x)
        if constexpr (is_dual<S>::value && is_complex<S>::value) {
            if (x != S(0)) return y * pow(x, y - S(1));
        } else if constexpr (is_dual<S>::value) {
            if (primal(x) > 0 && primal(x) < special::inf()) return y * pow(x, y - S(1));
        }
        return S(0);
    }
    if constexpr (is_complex<S>::value) {
        return y * pow(x, y - S(1));   // no order to branch on
    } else {
        if constexpr (is_dual<S>::value) {
            if (pow_dual_limit(x, y) & 1) return S(copysign(0.0, primal(y)));
            if (pow_zero_base(x, y)) return pow_dx_zero_base(x, y);
        }
        if (x < S(0) && primal(y) != floor(primal(y))) {
            return nan_all<S>();   // a negative base, a non-integer power: NaN (README's rule)
        } else if (x > S(0) && y > S(-1) && y < S(1)) {
            // (at x = +inf y/x x**y is 0 inf for y > 0: the limit y x**(y-1) = 0 instead)
            // (for a subnormal x as sgn(y) e^(log|y| + (y-1) log x): y/x overflowed at
            // x = 5e-324, y = 0.75, where y x**(y-1) = 5e80, and x**y there is subnormal,
            // rounded to few digits; e^((y-1) log x) alone overflows for tiny y)
            if constexpr (!is_dual<S>::value) {
                if (x < S(sizeof(S) == 4 ? 1.1754943508222875e-38 : 2.2250738585072014e-308))
                    return copysign(exp(log(fabs(y)) + (y - S(1)) * log(x)), y);
                return x == S(special::inf()) ? S(0) * y : y / x * (p ? *p : pow(x, y));
            }
            else if (x >= S(1) && y >= S(-0.5) && y <= S(0.5))
                return y * ((p ? *p : pow(x, y)) / x);
            else return (y > S(0) ? S(1) : S(-1)) * exp(log(fabs(y)) + (y - S(1)) * log(x));
        }
        const S y1 = y - S(1), p1 = pow(x, y1);
        if (y - y1 == S(1)) return y * p1;
        if constexpr (!is_dual<S>::value) {
            // y = +-inf where x**y = 0 (|x| < 1, x = +-0 included, and y = inf; |x| > 1 and
            // y = -inf): x**y / x y is 0 inf; the limit of y x**(y-1) is 0
            const S P = p ? *p : pow(x, y);
            const S lim = S(P == S(0)) * S(fabs(y) == S(special::inf()));
            if (lim != S(0)) return copysign(S(0), y);
            // y - 1 inexact, x = +-0 or +-inf with y finite (|x| + 0 y is inf only there),
            // where x**y / x is 0/0 or inf/inf: y x**(y-1) with the sign of x**(odd) put back
            // (every such y is even; y - 1 rounds to an even neighbour); sums of 0/1 numbers
            // (GCC leaves a loop over `a || b` scalar)
            const S edge = S(fabs(x) + S(0) * y == S(special::inf())) + S(x == S(0));
            if (edge != S(0)) return copysign(S(1), x) * y * p1;
            return P / x * y;
        }
        return (p ? *p : pow(x, y)) / x * y;
    }
}

// d/dy x**y = log(x) x**y, 0 at x = 0. In the band where x**y overflows but the derivative
// may not (y log(x) above log of the largest number, 709.78 / 88.72 in float32: 1/e < x < e,
// 2**1024 is inf, log(2) 2**1024 is not) as (log(x) q) q with q = x**(y/2), y/2 exact. The
// threshold's margin (0.0027) is far above the rounding of y log(x) (1e-12; 4e-5 in float32).
// y log(x) = inf is outside the band (x = 0 or inf, y = +-inf): q = x**y is right there.
// k = 1 in the band, else 0, as a product of two 0/1 numbers: GCC 12 leaves a loop over
// `a && b` scalar ("no vectype").
template <class S> __device__ __forceinline__ S pow_top() {
    return S(sizeof(typename base_of<S>::type) == 4 ? 88.72 : 709.78);
}
template <class S> __device__ __forceinline__ S pow_band(S lx, S y) {
    const S t = y * lx;
    return S(t > pow_top<S>()) * S(t < S(special::inf()));
}
// q = x**(y (1 - k/2)), x**y itself outside the band, and m: q in the band, else 1, so that
// x**y = q m. One pow, which pow_all shares with the value and d/dx: m is arithmetic, not a
// select on k (GCC 12 turns a select on k, or a pow of a select, into two pows per element).
// Outside the band where q = inf, k q is 0 * inf: m is 1 there too.
template <class S> __device__ __forceinline__ S pow_half(S x, S y, S k, S& m) {
    const S q = pow(x, y * (S(1) - S(0.5) * k));
    m = k * q + (S(1) - k);
    m = m == m ? m : S(1);
    return q;
}
// log(x) as the factor of x**y in d/dy, but +-1 where x**y = 0 (and log(x) is not NaN):
// at x = +inf, y < 0, log(x) x**y is inf 0, whose limit is 0; elsewhere the product is the
// same signed 0 (the select is on a factor, not on pow's argument: GCC keeps one pow).
template <class S> __device__ __forceinline__ S pow_log(S lx, S q) {
    const S z = S(q == S(0)) * S(lx == lx);
    return z != S(0) ? copysign(S(1), lx) : lx;
}
template <class S> __device__ __forceinline__ S pow_dy(S x, S y) {
    if constexpr (is_dual<S>::value && !is_complex<S>::value) {
        if (pow_zero_base(x, y)) return pow_dy_zero_base(x, y);
    }
    if (x == S(0)) return S(0);
    const S lx = log(x);
    if constexpr (is_complex<S>::value) {
        return lx * pow(x, y);
    } else if constexpr (is_dual<S>::value) {
        if (pow_dual_limit(x, y) & 2) return S(primal(x) < 1 ? -0.0 : 0.0);
        // The band from the value, wider on duals, whose x-component of log(x) x**y is
        // (1/x) x**y + log(x) (y/x) x**y: (y/x) x**y overflows where y log(x) + log|y/x| >
        // top while the mixed partial x**(y-1) (1 + y log(x)) does not (x near 1, y large:
        // the Hessian's d^2/dxdy was inf from y log(x) = 670, x = 1 + 6e-15, y = 1e17), and
        // x**y underflows where y log(x) < log of the smallest normal (-708.4, -87.3) while
        // x**(y-1) does not (x = 1e-174, y = 2: the term x**(y-1) lost, 0.1%).
        // Branches, not m's dual products, which cost the scalar dual loops
        // (binary_vjp_dual) 1.2x. One dual pow: where GCC vectorises (binary_deriv), it
        // if-converts the branches around it, and a branch to two pows took 2x the time.
        using B = typename base_of<S>::type;
        const B bl = B(primal(lx)), by = B(primal(y)), t = by * bl;
        const B wide = B(t < B(special::inf())) * B(t + log(fabs(by)) - bl > pow_top<B>()) +
                       B(t < B(sizeof(B) == 4 ? -87.0 : -708.0)) * B(t > -B(special::inf())) *
                           B(bl > -pow_top<B>());   // not x < 1/max: 1/x, the log's x-part, is inf
        const bool band = pow_band(bl, by) + wide != B(0);   // (`||` left the loops scalar)
        S h = y;
        if (band) h = S(0.5) * y;
        const S q = pow(x, h), d = lx * q;
        if (band) return d * q;
        return d;
    } else {
        S m;
        const S q = pow_half(x, y, pow_band(lx, y), m);
        return pow_log(lx, q) * q * m;
    }
}
// x**y and both partials sharing one pow (the dual arithmetic's binary_chain: d^2/dy^2 x**y
// took two pows of different exponents per element, 2-2.5x the time; d/dx adds x**(y-1)).
// Real numbers or duals over them (third order and up: the duals' own pow_all then shares
// the pow one level down).
template <class S> __device__ __forceinline__ void pow_all(S x, S y, S& f, S& fx, S& fy) {
    const S lx = log(x);
    S m;
    const S q = pow_half(x, y, pow_band(lx, y), m);
    f = q * m;   // outside the band exactly pow(x, y); in it (x**y >= 0.997 max) 1.5 ulp
    if constexpr (is_dual<S>::value)
        fy = x == S(0) || pow_dual_limit(x, y) & 2 ? pow_dy(x, y) : lx * q * m;
    else fy = x == S(0) ? S(0) : pow_log(lx, q) * q * m;
    fx = pow_dx(x, y, &f);
}

// d atan2(x, y) = (y, -x) / (x^2 + y^2), scaled so that no square over- or underflows where the
// result is normal: with k = 1/max(|x|, |y|), (y k, -x k) k / ((x k)^2 + (y k)^2), two
// divisions shared by both partials (the max has a statement of its own: GCC turns
// 1/(c ? a : b) into c ? 1/a : 1/b, a third division). On duals, r the larger of x, y in magnitude and t the
// other over r (x/r and y/r are 1 and t), as (y/r, -x/r) / r / (1 + t^2): divisions in sequence,
// as the quotient rule's -(a/b)/b b' overflows for b = r^2 (1 + t^2) where the partial is normal.
// The partials are homogeneous of degree -1 (their n-th derivatives of degree -1 - n): on
// duals they are formed at (c x, c y), c = unit_scale(max(|x|, |y|)) a power of two, and
// times c, exactly, so that the higher derivatives' terms (1/r^2 at second order) do not
// overflow where their sum does not (x = y = 1e-160: d2/dx dy 0, was inf - inf = NaN).
// One argument infinite, the other finite: the partials' limits, 0 with the signs of y and
// -x, and every derivative of theirs 0 (on duals a constant; the forms above are inf/inf or
// 0 inf there). Both infinite: no limit, NaN.
template <class S> __device__ __forceinline__ S atan2_d(S x, S y, bool dy) {
    if constexpr (is_dual<S>::value) {
        using B = typename base_of<S>::type;
        const B px = B(primal(x)), py = B(primal(y)), inf = B(special::inf());
        if ((fabs(px) == inf) != (fabs(py) == inf) && px == px && py == py)
            return S(dy ? -copysign(B(0), px) : copysign(B(0), py));
        const B c = unit_scale(fabs(px) > fabs(py) ? fabs(px) : fabs(py));
        const S xc = x * c, yc = y * c;
        const bool xr = fabs(xc) >= fabs(yc);
        const S r = xr ? xc : yc, t = (xr ? yc : xc) / r, u = xr != dy ? t : S(1);
        return (dy ? -u : u) / r / (S(1) + t * t) * c;
    } else {
        // (m below 2^-900 scaled up first, tiny_scale, the scale put back last: 1/m of a
        // subnormal m overflowed, NaN at x = y = 5e-324)
        const S ax = fabs(x), ay = fabs(y), m0 = ax > ay ? ax : ay, s = tiny_scale(m0);
        const S m = m0 * s, k = S(1) / m;
        const S a = x * s * k, b = y * s * k, w = k / (a * a + b * b);
        const S r = (dy ? -a * w : b * w) * s, z = dy ? -copysign(S(0), x) : copysign(S(0), y);
        const S lim = S(m == S(special::inf())) * S(ax != ay) * S(x == x) * S(y == y);  // (0/1: pow_band)
        return lim != S(0) ? z : r;   // (the select last: both partials share k and w)
    }
}

// d/dy x log(y) = x / y; 0 at x = y = 0 (x / y is 0 for every other y on the line x = 0).
// On real duals there its x-components are the limit of d/dx (x / y) = 1 / y, +inf (y -> 0+),
// as d/dy of d/dx = log(y) is in the other order, its y-components 0 (0 along x = 0): the
// constant had 0, so the Hessian of xlogy at (0, 0) was [[0, inf], [0, 0]] (and of
// gamma.logpdf, chi2.logpdf at x = 0 with a = 1: d2/dx da 0 one way, +inf the other; the
// same for xlog1py at (0, -1), beta.logpdf at x = 1 with b = 1). Deeper nestings keep it.
template <class S> __device__ __forceinline__ S xlogy_dy(S x, S y) {
    if (x == S(0) && y == S(0)) {
        if constexpr (is_dual<S>::value && !is_complex<S>::value)
            return with_limits(S(0), special::inf(), x);
        return S(0);
    }
    return x / y;
}
// x log(y) for y < lo (0 for xlogy, -1 for xlog1py) and x != 0: the value is NaN, and every
// partial of every order (NaN in every component, README's rule; log(y) alone would leave d/dy
// = x / y finite, and the x-derivatives of log(y) 0). On x = 0 the value is 0.
template <class S> __device__ __forceinline__ bool xlog_nan(S x, S y, double lo) {
    return x != S(0) && y < S(lo);
}

#define GPUAD_BINARY(Name, F, DFX, DFY)                                                    \
    struct Name {                                                                          \
        template <class S> __device__ __forceinline__ static S f(S x, S y) { return F; }   \
        template <class S> __device__ __forceinline__ static S dfx(S x, S y) { return DFX; } \
        template <class S> __device__ __forceinline__ static S dfy(S x, S y) { return DFY; } \
    };

GPUAD_BINARY(Add,      x + y,           S(1),                 S(1))
GPUAD_BINARY(Subtract, x - y,           S(1),                 S(-1))
GPUAD_BINARY(Multiply, x * y,           y,                    x)
GPUAD_BINARY(Divide,   x / y,           S(1) / y,             div_dy(x, y))
// d x**y = (y x**(y-1), log(x) x**y); on duals the three sharing x**y (pow_all)
struct Power {
    template <class S> __device__ __forceinline__ static S f(S x, S y) { return pow(x, y); }
    template <class S> __device__ __forceinline__ static S dfx(S x, S y) { return pow_dx(x, y); }
    template <class S> __device__ __forceinline__ static S dfy(S x, S y) { return pow_dy(x, y); }
    template <class S> __device__ __forceinline__ static void all(S x, S y, S& f, S& fx, S& fy) {
        if constexpr (is_complex<S>::value) { f = pow(x, y); fx = pow_dx(x, y); fy = pow_dy(x, y); }
        else pow_all(x, y, f, fx, fy);
    }
};
GPUAD_BINARY(Maximum,  x > y ? x : (x < y ? y : tie(x, y)), pick(x, y), pick(y, x))
GPUAD_BINARY(Minimum,  x < y ? x : (x > y ? y : tie(x, y)), pick(y, x), pick(x, y))
// d atan2(x, y) = (y, -x) / (x^2 + y^2)
GPUAD_BINARY(Arctan2,  atan2(x, y),     atan2_d(x, y, false), atan2_d(x, y, true))
// d hypot(x, y) = (x, y) / hypot(x, y); (0, 0) at (0, 0)
GPUAD_BINARY(Hypot,    hypot(x, y),     hypot_d(x, y),        hypot_d(y, x))
// d polygamma(n, x) = (0, polygamma(n + 1, x)): the order n is an integer; NaN where the
// value is (polygamma_nan)
GPUAD_BINARY(Polygamma, polygamma(order_of(x), y),
             polygamma_nan(x, y) ? nan_all<S>() : S(0),
             polygamma_nan(x, y) ? nan_all<S>() : polygamma(order_of(x) + 1, y))
// d x log(y) = (log(y), x / y), 0 where x = 0 (x log y is 0 there for every y), also for y = 0
GPUAD_BINARY(Xlogy,    x == S(0) && y == y ? S(0) : x * log(y),
             xlog_nan(x, y, 0.0) ? nan_all<S>() : log(y),
             xlog_nan(x, y, 0.0) ? nan_all<S>() : xlogy_dy(x, y))
// d x log1p(y) = (log1p(y), x / (1 + y)), as xlogy
GPUAD_BINARY(Xlog1py,  x == S(0) && y == y ? S(0) : x * log1p(y),
             xlog_nan(x, y, -1.0) ? nan_all<S>() : log1p(y),
             xlog_nan(x, y, -1.0) ? nan_all<S>() : xlogy_dy(x, S(1) + y))
// The regularized incomplete gamma functions P(a, x), Q(a, x) (kernels/ops/incomplete.cuh):
// d/da by the differentiated series or continued fraction, d/dx = +-x^(a-1) e^-x / Gamma(a)
GPUAD_BINARY(Gammainc,  gammainc_pq(x, y, false), gammainc_pq_da(x, y, false), gammainc_dx(x, y))
GPUAD_BINARY(Gammaincc, gammainc_pq(x, y, true), gammainc_pq_da(x, y, true), -gammainc_dx(x, y))
// log P(a, x), log Q(a, x) in log space (gpuad.scipy.stats' logcdf): d/dx = +-density / (P, Q)
GPUAD_BINARY(LogGammainc, log_gammainc_pq(x, y, false), log_gammainc_pq_da(x, y, false),
             log_gammainc_dx(x, y, false))
GPUAD_BINARY(LogGammaincc, log_gammainc_pq(x, y, true), log_gammainc_pq_da(x, y, true),
             log_gammainc_dx(x, y, true))
// Student's t distribution function (kernels/ops/incomplete.cuh): d/dy the t density, d/ddf
// by the differentiated expansion or fraction
GPUAD_BINARY(Stdtr, stdtr(x, y), stdtr_ddf(x, y), stdtr_dy(x, y))
// log stdtr(df, y) in log space (gpuad.scipy.stats' t.logcdf): d/dy density / stdtr
GPUAD_BINARY(LogStdtr, log_stdtr(x, y), log_stdtr_ddf(x, y), log_stdtr_dy(x, y))

#undef GPUAD_BINARY
}  // namespace ops
