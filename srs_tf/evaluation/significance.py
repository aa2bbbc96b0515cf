"""Two-tailed paired t-test between two systems on the same examples.

For per-example values ``a`` (system A) and ``b`` (system B) of one metric,
with differences ``d = a - b`` over ``n`` examples::

    t = mean(d) / (sd(d) / sqrt(n)),   sd with n - 1 in the denominator
    p = 2 * P(T_{n-1} >= |t|)           (Student t with n - 1 degrees of freedom)

``t > 0`` means A is better than B. The paper marks significance at
alpha = 0.01 (``ALPHA``).

Degenerate cases (documented, deterministic):

* every difference is 0 (identical per-example values, including n = 1 and
  n = 0): no evidence of a difference, ``t = 0.0`` and ``p = 1.0``;
* the differences are a non-zero constant (zero variance, e.g. A beats B by
  exactly the same amount on every example): ``t = +/-inf`` and ``p = 0.0``;
* n = 1 with a non-zero difference: the variance is undefined,
  ``t = nan`` and ``p = nan`` (never significant).

The Student t survival function comes from ``scipy.special.stdtr`` when scipy
imports (it is installed with scikit-image); otherwise from the identity
``P(T_v >= |t|) = I_x(v/2, 1/2) / 2`` with ``x = v / (v + t^2)``, where the
regularized incomplete beta ``I_x`` is evaluated by its continued fraction
(``_betainc``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

ALPHA = 0.01


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta (modified Lentz method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_two_tailed_p(t: float, df: float, use_scipy: bool = True) -> float:
    """Two-tailed p-value ``2 * P(T_df >= |t|)`` of Student's t.

    Args:
        t: the statistic (may be +/-inf, giving 0.0; nan gives nan).
        df: degrees of freedom, > 0.
        use_scipy: use ``scipy.special.stdtr`` when importable; False forces
            the incomplete-beta implementation.
    """
    if math.isnan(t) or not df > 0:
        return float("nan")
    if math.isinf(t):
        return 0.0
    if use_scipy:
        try:
            from scipy import special  # pylint: disable=import-outside-toplevel
        except ImportError:
            special = None
        if special is not None:
            return float(min(1.0, 2.0 * special.stdtr(df, -abs(t))))
    x = df / (df + t * t)
    return float(min(1.0, _betainc(df / 2.0, 0.5, x)))


def paired_t_test(a, b, use_scipy: bool = True) -> tuple[float, float]:
    """Two-tailed paired t-test of ``a`` vs ``b`` (same examples, same order).

    Args:
        a: per-example values of system A, ``[n]``.
        b: per-example values of system B, ``[n]``.
        use_scipy: see :func:`student_t_two_tailed_p`.

    Returns:
        ``(t, p)``; ``t > 0`` when A's mean is higher. See the module
        docstring for the zero-variance cases.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired t-test needs the same examples: {a.size} vs {b.size} values")
    d = a - b
    n = d.size
    if n == 0 or np.all(d == 0.0):
        return 0.0, 1.0
    mean = float(np.mean(d))
    if n < 2:
        return float("nan"), float("nan")
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        return math.copysign(math.inf, mean), 0.0
    t = mean / (sd / math.sqrt(n))
    return t, student_t_two_tailed_p(t, n - 1, use_scipy=use_scipy)


def compare_per_example(
    per_example_a: dict[str, np.ndarray],
    per_example_b: dict[str, np.ndarray],
    names: Iterable[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Paired t-test per metric: ``{name: {"t": t, "p": p}}``.

    Args:
        per_example_a: ``{metric: [n]}`` of system A (e.g.
            ``metrics.per_example_metrics``).
        per_example_b: the same for system B, on the same examples.
        names: metrics to test (default: every key of ``per_example_a``).
    """
    names = list(per_example_a) if names is None else list(names)
    result = {}
    for name in names:
        t, p = paired_t_test(per_example_a[name], per_example_b[name])
        result[name] = {"t": t, "p": p}
    return result


def significance_mark(t: float, p: float, alpha: float = ALPHA) -> str:
    """The paper's mark: "▲" A significantly better, "▼" worse, else ""."""
    if p is None or t is None or math.isnan(p) or math.isnan(t):
        return ""
    if p < alpha and t > 0:
        return "▲"
    if p < alpha and t < 0:
        return "▼"
    return ""
