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
    Mean {
        sum: Vec<f64>,
        count: Vec<u32>,
    },
    Min(Vec<f64>),
    Max(Vec<f64>),
    Var {
        sum: Vec<f64>,
        count: Vec<u32>,
        m2: Vec<f64>,
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
        ReductionKind::Mean => 12,
        ReductionKind::Var | ReductionKind::Std => 20,
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
        let nan = || vec![f64::NAN; cells];
        let state = match kind {
            ReductionKind::Count => State::Count(vec![0; cells]),
            ReductionKind::Any => State::Any(vec![false; cells]),
            ReductionKind::Sum => State::Sum(nan()),
            ReductionKind::Mean => State::Mean {
                sum: vec![0.0; cells],
                count: vec![0; cells],
            },
            ReductionKind::Min => State::Min(nan()),
            ReductionKind::Max => State::Max(nan()),
            ReductionKind::Var | ReductionKind::Std => State::Var {
                sum: vec![0.0; cells],
                count: vec![0; cells],
                m2: vec![0.0; cells],
                std: kind == ReductionKind::Std,
            },
            ReductionKind::First => State::First(nan()),
            ReductionKind::Last => State::Last(nan()),
        };
        Partial { state }
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        match &self.state {
            State::Count(v) => v.len(),
            State::Any(v) => v.len(),
            State::Sum(v) | State::Min(v) | State::Max(v) | State::First(v) | State::Last(v) => {
                v.len()
            }
            State::Mean { count, .. } | State::Var { count, .. } => count.len(),
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
    pub fn merge(&mut self, later: Partial) {
        match (&mut self.state, later.state) {
            (State::Count(a), State::Count(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    *a = a.wrapping_add(b);
                }
            }
            (State::Any(a), State::Any(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    *a |= b;
                }
            }
            (State::Sum(a), State::Sum(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    *a = nan_combine(*a, b, |x, y| x + y);
                }
            }
            (State::Min(a), State::Min(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    *a = nan_combine(*a, b, f64::min);
                }
            }
            (State::Max(a), State::Max(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    *a = nan_combine(*a, b, f64::max);
                }
            }
            (State::First(a), State::First(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    if a.is_nan() {
                        *a = b;
                    }
                }
            }
            (State::Last(a), State::Last(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    if !b.is_nan() {
                        *a = b;
                    }
                }
            }
            (State::Mean { sum, count }, State::Mean { sum: s2, count: c2 }) => {
                for (a, b) in sum.iter_mut().zip(s2) {
                    *a += b;
                }
                for (a, b) in count.iter_mut().zip(c2) {
                    *a = a.wrapping_add(b);
                }
            }
            (
                State::Var { sum, count, m2, .. },
                State::Var {
                    sum: s2,
                    count: c2,
                    m2: m2b,
                    ..
                },
            ) => {
                for i in 0..sum.len().min(s2.len()) {
                    let (na, nb) = (count[i], c2[i]);
                    if nb == 0 {
                        continue;
                    }
                    if na == 0 {
                        sum[i] = s2[i];
                        count[i] = nb;
                        m2[i] = m2b[i];
                        continue;
                    }
                    // Chan et al.: M = Ma + Mb + na*(mean_a - mu)^2 + nb*(mean_b - mu)^2.
                    let (fa, fb) = (f64::from(na), f64::from(nb));
                    let n = na.wrapping_add(nb);
                    let mu = (sum[i] + s2[i]) / f64::from(n);
                    let da = sum[i] / fa - mu;
                    let db = s2[i] / fb - mu;
                    m2[i] = (m2[i] + fa * da * da) + (m2b[i] + fb * db * db);
                    sum[i] += s2[i];
                    count[i] = n;
                }
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
            State::Mean { sum, count } => AggValues::F64(
                sum.iter()
                    .zip(&count)
                    .map(|(&s, &n)| if n > 0 { s / f64::from(n) } else { f64::NAN })
                    .collect(),
            ),
            State::Var { count, m2, std, .. } => AggValues::F64(
                m2.iter()
                    .zip(&count)
                    .map(|(&m, &n)| {
                        if n > 0 {
                            let v = m / f64::from(n);
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
        State::Mean { sum, count } => {
            for (i, v) in pts {
                if i < sum.len() && i < count.len() {
                    sum[i] += v;
                    count[i] = count[i].wrapping_add(1);
                }
            }
        }
        State::Var { sum, count, m2, .. } => {
            for (i, v) in pts {
                if i < sum.len() && i < count.len() && i < m2.len() {
                    let (s, n) = (sum[i], count[i]);
                    if n > 0 {
                        let u1 = s / f64::from(n);
                        let u = (s + v) / (f64::from(n) + 1.0);
                        m2[i] += (v - u1) * (v - u);
                    }
                    sum[i] = s + v;
                    count[i] = n.wrapping_add(1);
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
    fn count_without_values_counts_every_binned_point() {
        let mut p = Partial::new(ReductionKind::Count, 3);
        p.accumulate(&[0, 2, 2, NO_CELL, 7], None);
        assert_eq!(p.finalize(), AggValues::U32(vec![1, 0, 2]));
    }
}
