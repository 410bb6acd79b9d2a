//! The aggregation contract: accumulate -> merge -> finalize.
//!
//! A [`Partial`] holds the running state of one reduction over part of the
//! input (a work unit, a thread, a GPU pass, a cluster worker). Points are
//! [`Partial::accumulate`]d in row order; partials covering consecutive
//! parts of the input are combined with [`Partial::merge`] (the earlier one
//! absorbs the later one, which keeps `first`/`last` right); the final
//! partial becomes an [`AggValues`] with [`Partial::finalize`].
//!
//! Within a partial the update rules are Datashader's own (`sum` starts from
//! NaN; `mean` is a zero-initialised sum over a count; `var`/`std` update M2
//! per point from the sum and count *before* the point, as Datashader's
//! `m2` reduction does). Across partials, `var`/`std` combine with Chan's
//! formula, as Datashader does for Dask partitions.

use super::canvas::AggValues;
use super::reduction::ReductionKind;

/// Marker for a point that falls in no cell.
pub const NO_CELL: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq)]
enum State {
    Count(Vec<u32>),
    Any(Vec<bool>),
    Sum(Vec<f64>),
    /// `[sum, count]` per cell, side by side so a point touches one cache line.
    Mean(Vec<[f64; 2]>),
    Min(Vec<f64>),
    Max(Vec<f64>),
    /// `[sum, count, m2]` per cell.
    Var {
        cells: Vec<[f64; 3]>,
        std: bool,
    },
    First(Vec<f64>),
    Last(Vec<f64>),
}

/// Running state of one reduction over `cells` cells (pixels x planes).
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    state: State,
}

/// Bytes of state per cell for a reduction (used for memory budgets).
pub fn state_bytes_per_cell(kind: ReductionKind) -> usize {
    match kind {
        ReductionKind::Count => 4,
        ReductionKind::Any => 1,
        ReductionKind::Sum
        | ReductionKind::Min
        | ReductionKind::Max
        | ReductionKind::First
        | ReductionKind::Last => 8,
        ReductionKind::Mean => 16,
        ReductionKind::Var | ReductionKind::Std => 24,
    }
}

/// A vector of `n` copies of `v`, written out now. (`vec![0; n]` maps
/// shared zero pages that fault again, with a TLB shoot-down across
/// threads, on the first increment of each page: writing up front costs one
/// cheap fault per page instead.)
fn filled<T: Copy>(n: usize, v: T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    out.resize(n, v);
    out
}

/// `f(a[i], b[i])` for every cell, writing `init` back into `b` when
/// `reset` (one pass instead of a merge and a separate fill).
#[inline(always)]
fn combine<T: Copy>(a: &mut [T], b: &mut [T], init: T, reset: bool, f: impl Fn(&mut T, T)) {
    if reset {
        for (a, b) in a.iter_mut().zip(b.iter_mut()) {
            f(a, *b);
            *b = init;
        }
    } else {
        for (a, b) in a.iter_mut().zip(b.iter()) {
            f(a, *b);
        }
    }
}

/// NaN-skipping binary op: NaN only when both sides are NaN.
#[inline(always)]
fn nan_combine(a: f64, b: f64, f: impl Fn(f64, f64) -> f64) -> f64 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else {
        f(a, b)
    }
}

impl Partial {
    /// An empty partial for `kind` over `cells` cells.
    pub fn new(kind: ReductionKind, cells: usize) -> Partial {
        let nan = || filled(cells, f64::NAN);
        let state = match kind {
            ReductionKind::Count => State::Count(filled(cells, 0)),
            ReductionKind::Any => State::Any(filled(cells, false)),
            ReductionKind::Sum => State::Sum(nan()),
            ReductionKind::Mean => State::Mean(filled(cells, [0.0; 2])),
            ReductionKind::Min => State::Min(nan()),
            ReductionKind::Max => State::Max(nan()),
            ReductionKind::Var | ReductionKind::Std => State::Var {
                cells: filled(cells, [0.0; 3]),
                std: kind == ReductionKind::Std,
            },
            ReductionKind::First => State::First(nan()),
            ReductionKind::Last => State::Last(nan()),
        };
        Partial { state }
    }

    /// Per-cell counts made elsewhere (the GPU), as a `count` partial.
    pub(crate) fn from_counts(counts: Vec<u32>) -> Partial {
        Partial {
            state: State::Count(counts),
        }
    }

    /// Per-cell flags made elsewhere, as an `any` partial.
    pub(crate) fn from_any(any: Vec<bool>) -> Partial {
        Partial {
            state: State::Any(any),
        }
    }

    /// Per-cell sums made elsewhere (NaN where empty), as a `sum` partial.
    pub(crate) fn from_sums(sums: Vec<f64>) -> Partial {
        Partial {
            state: State::Sum(sums),
        }
    }

    /// Per-cell `[sum, count]` made elsewhere, as a `mean` partial.
    pub(crate) fn from_means(means: Vec<[f64; 2]>) -> Partial {
        Partial {
            state: State::Mean(means),
        }
    }

    /// Per-cell `[sum, count, m2]` made elsewhere, as a `var` partial
    /// (`std` when `kind` is std).
    pub(crate) fn from_var(kind: ReductionKind, cells: Vec<[f64; 3]>) -> Partial {
        Partial {
            state: State::Var {
                cells,
                std: kind == ReductionKind::Std,
            },
        }
    }

    /// Per-cell first (`kind` = first) or last values made elsewhere, NaN
    /// where empty.
    pub(crate) fn from_order(kind: ReductionKind, values: Vec<f64>) -> Partial {
        Partial {
            state: if kind == ReductionKind::First {
                State::First(values)
            } else {
                State::Last(values)
            },
        }
    }

    /// Per-cell minima (`kind` = min) or maxima (any other kind) made
    /// elsewhere, NaN where empty.
    pub(crate) fn from_extrema(kind: ReductionKind, values: Vec<f64>) -> Partial {
        Partial {
            state: if kind == ReductionKind::Min {
                State::Min(values)
            } else {
                State::Max(values)
            },
        }
    }

    /// Empty the partial again (as [`Partial::new`] would make it) without
    /// giving its memory back, so it can be reused.
    pub fn reset(&mut self) {
        match &mut self.state {
            State::Count(v) => v.fill(0),
            State::Any(v) => v.fill(false),
            State::Sum(v) | State::Min(v) | State::Max(v) | State::First(v) | State::Last(v) => {
                v.fill(f64::NAN)
            }
            State::Mean(v) => v.fill([0.0; 2]),
            State::Var { cells, .. } => cells.fill([0.0; 3]),
        }
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        match &self.state {
            State::Count(v) => v.len(),
            State::Any(v) => v.len(),
            State::Sum(v) | State::Min(v) | State::Max(v) | State::First(v) | State::Last(v) => {
                v.len()
            }
            State::Mean(v) => v.len(),
            State::Var { cells, .. } => cells.len(),
        }
    }

    /// Add points in row order. `cells[i]` is the cell of point `i` (or
    /// [`NO_CELL`]); `values[i]` its value, NaN meaning missing. Without a
    /// value column (`values == None`) every point counts.
    ///
    /// Cell indices must be below [`Partial::cells`]; points with other
    /// indices are ignored.
    pub fn accumulate(&mut self, cells: &[u32], values: Option<&[f64]>) {
        match (&mut self.state, values) {
            (State::Count(c), None) => {
                for &i in cells {
                    if let Some(c) = c.get_mut(i as usize) {
                        *c = c.wrapping_add(1);
                    }
                }
            }
            (State::Any(a), None) => {
                for &i in cells {
                    if let Some(a) = a.get_mut(i as usize) {
                        *a = true;
                    }
                }
            }
            (state, None) => {
                // Value reductions without values: nothing to add. The
                // planner never builds this; keep it harmless.
                let _ = state;
            }
            (state, Some(values)) => accumulate_values(state, cells, values),
        }
    }

    /// Absorb `later`, a partial over rows that come after this one's.
    /// Both must be of the same reduction and size; a mismatched partial is
    /// ignored.
    pub fn merge(&mut self, mut later: Partial) {
        self.merge_impl(&mut later, false);
    }

    /// [`Partial::merge`], emptying `later` in the same pass (as
    /// [`Partial::reset`] would) so its memory can be reused without a
    /// second sweep over it.
    pub fn merge_and_reset(&mut self, later: &mut Partial) {
        self.merge_impl(later, true);
    }

    fn merge_impl(&mut self, later: &mut Partial, reset: bool) {
        match (&mut self.state, &mut later.state) {
            (State::Count(a), State::Count(b)) => {
                combine(a, b, 0, reset, |a, b| *a = a.wrapping_add(b));
            }
            (State::Any(a), State::Any(b)) => combine(a, b, false, reset, |a, b| *a |= b),
            (State::Sum(a), State::Sum(b)) => {
                combine(a, b, f64::NAN, reset, |a, b| {
                    *a = nan_combine(*a, b, |x, y| x + y)
                });
            }
            (State::Min(a), State::Min(b)) => {
                combine(a, b, f64::NAN, reset, |a, b| {
                    *a = nan_combine(*a, b, f64::min)
                });
            }
            (State::Max(a), State::Max(b)) => {
                combine(a, b, f64::NAN, reset, |a, b| {
                    *a = nan_combine(*a, b, f64::max)
                });
            }
            (State::First(a), State::First(b)) => combine(a, b, f64::NAN, reset, |a, b| {
                if a.is_nan() {
                    *a = b;
                }
            }),
            (State::Last(a), State::Last(b)) => combine(a, b, f64::NAN, reset, |a, b| {
                if !b.is_nan() {
                    *a = b;
                }
            }),
            (State::Mean(a), State::Mean(b)) => combine(a, b, [0.0; 2], reset, |a, b| {
                a[0] += b[0];
                a[1] += b[1];
            }),
            (State::Var { cells: a, .. }, State::Var { cells: b, .. }) => {
                combine(a, b, [0.0; 3], reset, |a, b| {
                    let (na, nb) = (a[1], b[1]);
                    if nb == 0.0 {
                        return;
                    }
                    if na == 0.0 {
                        *a = b;
                        return;
                    }
                    // Chan et al.: M = Ma + Mb + na*(mean_a - mu)^2 + nb*(mean_b - mu)^2.
                    let n = na + nb;
                    let mu = (a[0] + b[0]) / n;
                    let da = a[0] / na - mu;
                    let db = b[0] / nb - mu;
                    a[2] = (a[2] + na * da * da) + (b[2] + nb * db * db);
                    a[0] += b[0];
                    a[1] = n;
                })
            }
            _ => {}
        }
    }

    /// The finished values in Datashader's dtype.
    pub fn finalize(self) -> AggValues {
        match self.state {
            State::Count(c) => AggValues::U32(c),
            State::Any(a) => AggValues::Bool(a),
            State::Sum(v) | State::Min(v) | State::Max(v) | State::First(v) | State::Last(v) => {
                AggValues::F64(v)
            }
            State::Mean(v) => AggValues::F64(
                v.iter()
                    .map(|&[s, n]| if n > 0.0 { s / n } else { f64::NAN })
                    .collect(),
            ),
            State::Var { cells, std } => AggValues::F64(
                cells
                    .iter()
                    .map(|&[_, n, m]| {
                        if n > 0.0 {
                            let v = m / n;
                            if std {
                                v.sqrt()
                            } else {
                                v
                            }
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            ),
        }
    }
}

fn accumulate_values(state: &mut State, cells: &[u32], values: &[f64]) {
    let pts = cells.iter().zip(values).filter_map(|(&i, &v)| {
        if i == NO_CELL || v.is_nan() {
            None
        } else {
            Some((i as usize, v))
        }
    });
    match state {
        State::Count(c) => {
            for (i, _) in pts {
                if let Some(c) = c.get_mut(i) {
                    *c = c.wrapping_add(1);
                }
            }
        }
        State::Any(a) => {
            for (i, _) in pts {
                if let Some(a) = a.get_mut(i) {
                    *a = true;
                }
            }
        }
        State::Sum(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    *s = if s.is_nan() { v } else { *s + v };
                }
            }
        }
        State::Min(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    if s.is_nan() || *s > v {
                        *s = v;
                    }
                }
            }
        }
        State::Max(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    if s.is_nan() || *s < v {
                        *s = v;
                    }
                }
            }
        }
        State::First(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    if s.is_nan() {
                        *s = v;
                    }
                }
            }
        }
        State::Last(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    *s = v;
                }
            }
        }
        State::Mean(c) => super::simd::accumulate_mean(c, cells, values),
        State::Var { cells, .. } => {
            for (i, v) in pts {
                if let Some(c) = cells.get_mut(i) {
                    // Datashader's m2 update uses the sum and count before
                    // this point.
                    let [s, n, _] = *c;
                    if n > 0.0 {
                        let u1 = s / n;
                        let u = (s + v) / (n + 1.0);
                        c[2] += (v - u1) * (v - u);
                    }
                    c[0] = s + v;
                    c[1] = n + 1.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: ReductionKind, parts: &[&[(u32, f64)]]) -> AggValues {
        let mut acc: Option<Partial> = None;
        for part in parts {
            let mut p = Partial::new(kind, 2);
            let cells: Vec<u32> = part.iter().map(|p| p.0).collect();
            let vals: Vec<f64> = part.iter().map(|p| p.1).collect();
            p.accumulate(&cells, Some(&vals));
            match &mut acc {
                None => acc = Some(p),
                Some(a) => a.merge(p),
            }
        }
        acc.expect("parts").finalize()
    }

    fn f64s(v: AggValues) -> Vec<f64> {
        match v {
            AggValues::F64(v) => v,
            other => panic!("not f64: {other:?}"),
        }
    }

    const DATA: [(u32, f64); 7] = [
        (0, 1.0),
        (0, f64::NAN),
        (0, 4.0),
        (NO_CELL, 100.0),
        (0, -2.0),
        (0, 7.5),
        (0, 3.0),
    ];

    #[test]
    fn merge_matches_a_single_pass_for_every_split() {
        for kind in ReductionKind::ALL.map(|(_, k)| k) {
            let whole = run(kind, &[&DATA]);
            for cut in 0..=DATA.len() {
                let split = run(kind, &[&DATA[..cut], &DATA[cut..]]);
                match (&whole, &split) {
                    (AggValues::F64(a), AggValues::F64(b)) => {
                        for (x, y) in a.iter().zip(b) {
                            assert!(
                                (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * x.abs(),
                                "{kind:?} cut {cut}: {x} vs {y}"
                            );
                        }
                    }
                    _ => assert_eq!(whole, split, "{kind:?} cut {cut}"),
                }
            }
        }
    }

    #[test]
    fn reductions_skip_nan_and_empty_cells_are_nan_or_zero() {
        assert_eq!(
            run(ReductionKind::Count, &[&DATA]),
            AggValues::U32(vec![5, 0])
        );
        assert_eq!(
            run(ReductionKind::Any, &[&DATA]),
            AggValues::Bool(vec![true, false])
        );
        let sum = f64s(run(ReductionKind::Sum, &[&DATA]));
        assert_eq!(sum[0], 13.5);
        assert!(sum[1].is_nan());
        assert_eq!(f64s(run(ReductionKind::Mean, &[&DATA]))[0], 13.5 / 5.0);
        assert_eq!(f64s(run(ReductionKind::Min, &[&DATA]))[0], -2.0);
        assert_eq!(f64s(run(ReductionKind::Max, &[&DATA]))[0], 7.5);
        assert_eq!(f64s(run(ReductionKind::First, &[&DATA]))[0], 1.0);
        assert_eq!(f64s(run(ReductionKind::Last, &[&DATA]))[0], 3.0);
    }

    #[test]
    fn variance_is_population_variance() {
        let vals = [1.0, 4.0, -2.0, 7.5, 3.0];
        let mean = vals.iter().sum::<f64>() / 5.0;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
        let got = f64s(run(ReductionKind::Var, &[&DATA]))[0];
        assert!((got - var).abs() < 1e-12, "{got} vs {var}");
        let sd = f64s(run(ReductionKind::Std, &[&DATA]))[0];
        assert!((sd - var.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn first_and_last_respect_merge_order() {
        let a: &[(u32, f64)] = &[(1, 10.0)];
        let b: &[(u32, f64)] = &[(1, 20.0), (0, 5.0)];
        assert_eq!(f64s(run(ReductionKind::First, &[a, b]))[1], 10.0);
        assert_eq!(f64s(run(ReductionKind::Last, &[a, b]))[1], 20.0);
        assert_eq!(f64s(run(ReductionKind::First, &[a, b]))[0], 5.0);
    }

    #[test]
    fn merge_and_reset_merges_like_merge_and_empties_the_source() {
        for kind in ReductionKind::ALL.map(|(_, k)| k) {
            let mk = |part: &[(u32, f64)]| {
                let mut p = Partial::new(kind, 2);
                let cells: Vec<u32> = part.iter().map(|p| p.0).collect();
                let vals: Vec<f64> = part.iter().map(|p| p.1).collect();
                p.accumulate(&cells, Some(&vals));
                p
            };
            let (mut a1, mut a2) = (mk(&DATA[..3]), mk(&DATA[..3]));
            let mut b = mk(&DATA[3..]);
            a1.merge(b.clone());
            a2.merge_and_reset(&mut b);
            assert_eq!(
                format!("{:?}", a1.finalize()),
                format!("{:?}", a2.finalize()),
                "{kind:?}"
            );
            // NaN != NaN, so compare the printed states.
            assert_eq!(
                format!("{b:?}"),
                format!("{:?}", Partial::new(kind, 2)),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn count_without_values_counts_every_binned_point() {
        let mut p = Partial::new(ReductionKind::Count, 3);
        p.accumulate(&[0, 2, 2, NO_CELL, 7], None);
        assert_eq!(p.finalize(), AggValues::U32(vec![1, 0, 2]));
    }
}
