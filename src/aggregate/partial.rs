//! The aggregation contract: accumulate -> merge -> finalize.
//!
//! A [`Partial`] holds the running state of one reduction over part of the
//! input (a work unit, a thread, a GPU pass, a cluster worker). Points are
//! [`Partial::accumulate`]d with their row positions in the whole input;
//! partials are combined with [`Partial::merge`]; the final partial becomes
//! an [`AggValues`] with [`Partial::finalize`].
//!
//! `first` and `last` keep, per cell, the row position of the value they
//! hold, so partials of any parts of the input (consecutive or not: work
//! units, shards, cluster partitions) merge exactly in any order. Counts
//! and `any` merge exactly in any order too; float sums and moments merge
//! exactly up to rounding, so callers that want the same bytes every time
//! merge them in a fixed order.
//!
//! Within a partial the update rules are Datashader's own (`sum` starts from
//! NaN; `mean` is a zero-initialised sum over a count; `var`/`std` update M2
//! per point from the sum and count *before* the point, as Datashader's
//! `m2` reduction does). Across partials, `var`/`std` combine with Chan's
//! formula, as Datashader does for Dask partitions.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};

use super::canvas::AggValues;
use super::error::AggError;
use super::reduction::{AggDtype, ReductionKind, ReductionSpec, DEFAULT_N};
use super::select::{SelectOrder, SelectOutput, SelectState, Slot, EMPTY_ROW, EMPTY_SLOT};

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
    /// The value of the lowest row seen per cell, with that row
    /// ([`EMPTY_FIRST`] where empty).
    First(Vec<Pick>),
    /// The value of the highest row seen per cell, with that row plus one
    /// (0 where empty).
    Last(Vec<Pick>),
    /// `count` of antialiased lines: summed coverage, `float32` as in
    /// Datashader, NaN where empty.
    AaCount(Vec<f32>),
    /// `any` of antialiased lines: the largest coverage, `float32`, NaN
    /// where empty.
    AaAny(Vec<f32>),
    /// `first_n` ... `max_n` and `where`: ranked rows per cell.
    Select(SelectState),
    /// `count@uint8`: counts saturating at 255.
    Count8(Vec<u8>),
    /// `count@uint16`: counts saturating at 65,535.
    Count16(Vec<u16>),
    /// `sum@float32`: NaN where empty, rounded to `float32` after each add.
    Sum32(Vec<f32>),
    /// `min@float32`: the `float64` minimum rounded to `float32`.
    Min32(Vec<f32>),
    /// `max@float32`.
    Max32(Vec<f32>),
}

/// A narrow count cell (`uint8`, `uint16`): adds saturate at the type's
/// largest value, which keeps them exact in any order.
trait NarrowCount: Copy + Default {
    fn bump(&mut self);
    fn add(&mut self, other: Self);
}

impl NarrowCount for u8 {
    #[inline(always)]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    #[inline(always)]
    fn add(&mut self, other: u8) {
        *self = self.saturating_add(other);
    }
}

impl NarrowCount for u16 {
    #[inline(always)]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    #[inline(always)]
    fn add(&mut self, other: u16) {
        *self = self.saturating_add(other);
    }
}

/// Count every binned point of `cells` into narrow counts.
fn count_narrow<T: NarrowCount>(c: &mut [T], cells: &[u32]) {
    for &i in cells {
        if let Some(c) = c.get_mut(i as usize) {
            c.bump();
        }
    }
}

/// A `float32` sum cell plus `v`: the `float64` sum rounded to `float32`.
#[inline(always)]
fn add_f32(s: &mut f32, v: f64) {
    *s = if s.is_nan() {
        v as f32
    } else {
        (f64::from(*s) + v) as f32
    };
}

/// NaN-skipping `float32` combine: NaN only when both sides are NaN.
#[inline(always)]
fn nan_combine_f32(a: &mut f32, b: f32, f: impl Fn(f32, f32) -> f32) {
    if a.is_nan() {
        *a = b;
    } else if !b.is_nan() {
        *a = f(*a, b);
    }
}

/// How an antialiased pixel adds to a cell (Datashader's append functions
/// for antialiased lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AaRule {
    /// Self-intersecting lines, one stage: `count`, `sum` and `mean` add
    /// the coverage less what the previous segment gave the pixel.
    Add,
    /// Within one line of a two-stage aggregation (lines that do not
    /// self-intersect): every reduction keeps the largest coverage
    /// (times the value), and lines then combine with [`Partial::merge`].
    Max,
}

/// A `first`/`last` cell: the value held and the row (position in the
/// whole input) it came from, encoded so that the winner of a merge is the
/// smaller key (`first`: the row; `last`: `!(row + 1)`, so the empty mark
/// `u64::MAX` loses to every row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pick {
    pub(crate) key: u64,
    pub(crate) value: f64,
}

/// The key of an empty `first`/`last` cell.
pub(crate) const EMPTY_PICK: Pick = Pick {
    key: u64::MAX,
    value: f64::NAN,
};

/// Merge key of row `row` for `first` (`last` = false) or `last`.
#[inline(always)]
pub(crate) fn pick_key(row: u64, last: bool) -> u64 {
    if last {
        !(row.wrapping_add(1))
    } else {
        row
    }
}

/// Row position of a non-empty pick's key (inverse of [`pick_key`]).
pub(crate) fn pick_row(key: u64, last: bool) -> u64 {
    if last {
        (!key).wrapping_sub(1)
    } else {
        key
    }
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
        ReductionKind::Sum | ReductionKind::Min | ReductionKind::Max => 8,
        ReductionKind::Mean | ReductionKind::First | ReductionKind::Last => 16,
        ReductionKind::Var | ReductionKind::Std => 24,
        ReductionKind::FirstN
        | ReductionKind::LastN
        | ReductionKind::MinN
        | ReductionKind::MaxN => 24 * DEFAULT_N,
    }
}

/// Bytes of state per cell for a full reduction spec (its `n` and
/// `where` included).
pub fn spec_state_bytes_per_cell(spec: &ReductionSpec) -> usize {
    if let Some(d) = spec.narrow_dtype() {
        return d.bytes();
    }
    match spec.selection() {
        Some((_, _, n)) => std::mem::size_of::<Slot>() * n,
        None => state_bytes_per_cell(spec.kind),
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

/// Which cells of a later partial a merge takes.
#[derive(Clone, Copy)]
enum Cells<'a> {
    /// Every cell, emptying the later partial's when `reset`.
    All { reset: bool },
    /// These cells (repeats allowed), emptying each in the later partial.
    Listed(&'a [u32]),
}

/// `f(a[i], b[i])` for the cells `which` names, writing `init` back into
/// `b` where it resets (one pass instead of a merge and a separate fill).
#[inline(always)]
fn combine<T: Copy>(a: &mut [T], b: &mut [T], init: T, which: Cells, f: impl Fn(&mut T, T)) {
    match which {
        Cells::All { reset: true } => {
            for (a, b) in a.iter_mut().zip(b.iter_mut()) {
                f(a, *b);
                *b = init;
            }
        }
        Cells::All { reset: false } => {
            for (a, b) in a.iter_mut().zip(b.iter()) {
                f(a, *b);
            }
        }
        Cells::Listed(cells) => {
            for &c in cells {
                let c = c as usize;
                if let (Some(a), Some(b)) = (a.get_mut(c), b.get_mut(c)) {
                    f(a, *b);
                    *b = init;
                }
            }
        }
    }
}

/// Datashader's `nansum_in_place` for one `float32` cell.
#[inline(always)]
fn nansum_f32(a: &mut f32, b: f32) {
    if a.is_nan() {
        *a = b;
    } else if !b.is_nan() {
        *a += b;
    }
}

/// Datashader's `nanmax_in_place` for one `float32` cell.
#[inline(always)]
fn nanmax_f32(a: &mut f32, b: f32) {
    if !b.is_nan() && (a.is_nan() || b > *a) {
        *a = b;
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
            ReductionKind::First => State::First(filled(cells, EMPTY_PICK)),
            ReductionKind::Last => State::Last(filled(cells, EMPTY_PICK)),
            ReductionKind::FirstN
            | ReductionKind::LastN
            | ReductionKind::MinN
            | ReductionKind::MaxN => {
                let order = kind.select_order().unwrap_or(SelectOrder::First);
                State::Select(SelectState::new(
                    order,
                    SelectOutput::Value,
                    DEFAULT_N,
                    cells,
                ))
            }
        };
        Partial { state }
    }

    /// An empty partial for `spec` (its `n`, `where` and dtype included)
    /// over `cells` cells.
    ///
    /// ```
    /// use pointillist::aggregate::{AggDtype, AggValues, Partial, ReductionSpec};
    ///
    /// let mut p = Partial::for_spec(&ReductionSpec::count().with_dtype(AggDtype::Uint8), 2);
    /// p.accumulate(0, &vec![1; 300], None);
    /// assert_eq!(p.finalize(), AggValues::U8(vec![0, 255])); // saturated
    /// ```
    pub fn for_spec(spec: &ReductionSpec, cells: usize) -> Partial {
        if let Some((order, output, n)) = spec.selection() {
            return Partial {
                state: State::Select(SelectState::new(order, output, n, cells)),
            };
        }
        let nan = || filled(cells, f32::NAN);
        let state = match (spec.narrow_dtype(), spec.kind) {
            (Some(AggDtype::Uint8), _) => State::Count8(filled(cells, 0)),
            (Some(AggDtype::Uint16), _) => State::Count16(filled(cells, 0)),
            (Some(AggDtype::Float32), ReductionKind::Sum) => State::Sum32(nan()),
            (Some(AggDtype::Float32), ReductionKind::Min) => State::Min32(nan()),
            (Some(AggDtype::Float32), ReductionKind::Max) => State::Max32(nan()),
            _ => return Partial::new(spec.kind, cells),
        };
        Partial { state }
    }

    /// An empty partial for `kind` over `cells` cells, for antialiased
    /// lines: `count` and `any` hold `float32` coverage (NaN where empty),
    /// the rest as [`Partial::new`].
    pub(crate) fn new_antialiased(kind: ReductionKind, cells: usize) -> Partial {
        let nan = || filled(cells, f32::NAN);
        match kind {
            ReductionKind::Count => Partial {
                state: State::AaCount(nan()),
            },
            ReductionKind::Any => Partial {
                state: State::AaAny(nan()),
            },
            _ => Partial::new(kind, cells),
        }
    }

    /// Add an antialiased pixel to cell `cell`: coverage `aa`, the previous
    /// segment's coverage `prev`, the row's value `field` (NaN where
    /// missing; any number for `count`/`any` without a column) and, for
    /// `first`/`last`, the line's pick key. Datashader's
    /// `_append_antialias` and `_append_antialias_not_self_intersect`.
    #[inline]
    pub(crate) fn aa_append(
        &mut self,
        cell: usize,
        field: f64,
        aa: f64,
        prev: f64,
        key: u64,
        rule: AaRule,
    ) {
        // Datashader's `isnull(agg) or value > agg`.
        fn keep_max(s: &mut f64, v: f64) {
            if !v.is_nan() && (s.is_nan() || v > *s) {
                *s = v;
            }
        }
        match &mut self.state {
            State::AaCount(c) => {
                let Some(c) = c.get_mut(cell) else { return };
                if field.is_nan() {
                    return;
                }
                match rule {
                    // float32 storage of a float64 sum, as NumPy does.
                    AaRule::Add if c.is_nan() => *c = (aa - prev) as f32,
                    AaRule::Add => *c = (f64::from(*c) + (aa - prev)) as f32,
                    AaRule::Max => {
                        if c.is_nan() || aa > f64::from(*c) {
                            *c = aa as f32;
                        }
                    }
                }
            }
            State::AaAny(a) => {
                let Some(a) = a.get_mut(cell) else { return };
                if !field.is_nan() && (a.is_nan() || aa > f64::from(*a)) {
                    *a = aa as f32;
                }
            }
            State::Sum(s) => {
                let Some(s) = s.get_mut(cell) else { return };
                match rule {
                    AaRule::Add => {
                        let v = field * (aa - prev);
                        if !v.is_nan() {
                            *s = if s.is_nan() { v } else { *s + v };
                        }
                    }
                    AaRule::Max => keep_max(s, field * aa),
                }
            }
            State::Mean(m) => {
                let Some(m) = m.get_mut(cell) else { return };
                // Datashader's `_sum_zero` (zero-initialised) and
                // `_count_ignore_antialiasing` (a pixel counts where the
                // previous segment did not cover it).
                match rule {
                    AaRule::Add => {
                        let v = field * (aa - prev);
                        if !v.is_nan() {
                            m[0] += v;
                        }
                    }
                    AaRule::Max => {
                        let v = field * aa;
                        if !v.is_nan() && v > m[0] {
                            m[0] = v;
                        }
                    }
                }
                if !field.is_nan() && prev == 0.0 {
                    m[1] += 1.0;
                }
            }
            // `min` keeps the largest value within a line too, as
            // Datashader's does; lines then combine with the minimum.
            State::Min(s) | State::Max(s) => {
                if let Some(s) = s.get_mut(cell) {
                    keep_max(s, field * aa);
                }
            }
            State::First(s) | State::Last(s) => {
                let Some(s) = s.get_mut(cell) else { return };
                let v = field * aa;
                if v.is_nan() {
                    return;
                }
                if s.key == key {
                    if v > s.value {
                        s.value = v;
                    }
                } else if key < s.key {
                    *s = Pick { key, value: v };
                }
            }
            State::Count(_)
            | State::Any(_)
            | State::Var { .. }
            | State::Select(_)
            | State::Count8(_)
            | State::Count16(_)
            | State::Sum32(_)
            | State::Min32(_)
            | State::Max32(_) => {}
        }
    }

    /// Merge the cells `cells` of `line` (one line's pixels, in a
    /// two-stage aggregation) into this partial, emptying them in `line`.
    /// Cells may repeat; an emptied cell merges as nothing.
    pub(crate) fn fold_cells(&mut self, line: &mut Partial, cells: &[u32]) {
        self.merge_impl(line, Cells::Listed(cells));
    }

    /// Per-cell counts made elsewhere (the GPU), as a `count` partial.
    #[cfg(feature = "gpu")]
    pub(crate) fn from_counts(counts: Vec<u32>) -> Partial {
        Partial {
            state: State::Count(counts),
        }
    }

    /// Per-cell flags made elsewhere, as an `any` partial.
    #[cfg(feature = "gpu")]
    pub(crate) fn from_any(any: Vec<bool>) -> Partial {
        Partial {
            state: State::Any(any),
        }
    }

    /// Per-cell sums made elsewhere (NaN where empty), as a `sum` partial.
    #[cfg(feature = "gpu")]
    pub(crate) fn from_sums(sums: Vec<f64>) -> Partial {
        Partial {
            state: State::Sum(sums),
        }
    }

    /// Per-cell `[sum, count]` made elsewhere, as a `mean` partial.
    #[cfg(feature = "gpu")]
    pub(crate) fn from_means(means: Vec<[f64; 2]>) -> Partial {
        Partial {
            state: State::Mean(means),
        }
    }

    /// Per-cell `[sum, count, m2]` made elsewhere, as a `var` partial
    /// (`std` when `kind` is std).
    #[cfg(feature = "gpu")]
    pub(crate) fn from_var(kind: ReductionKind, cells: Vec<[f64; 3]>) -> Partial {
        Partial {
            state: State::Var {
                cells,
                std: kind == ReductionKind::Std,
            },
        }
    }

    /// Per-cell first (`kind` = first) or last values made elsewhere, with
    /// the row each came from (`None` where empty).
    #[cfg(feature = "gpu")]
    pub(crate) fn from_order(kind: ReductionKind, picks: Vec<Option<(u64, f64)>>) -> Partial {
        let last = kind == ReductionKind::Last;
        let picks = picks
            .into_iter()
            .map(|p| match p {
                Some((row, value)) => Pick {
                    key: pick_key(row, last),
                    value,
                },
                None => EMPTY_PICK,
            })
            .collect();
        Partial {
            state: if last {
                State::Last(picks)
            } else {
                State::First(picks)
            },
        }
    }

    /// Per-cell minima (`kind` = min) or maxima (any other kind) made
    /// elsewhere, NaN where empty.
    #[cfg(feature = "gpu")]
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
            State::Sum(v) | State::Min(v) | State::Max(v) => v.fill(f64::NAN),
            State::First(v) | State::Last(v) => v.fill(EMPTY_PICK),
            State::Mean(v) => v.fill([0.0; 2]),
            State::Var { cells, .. } => cells.fill([0.0; 3]),
            State::AaCount(v) | State::AaAny(v) => v.fill(f32::NAN),
            State::Select(s) => s.slots.fill(EMPTY_SLOT),
            State::Count8(v) => v.fill(0),
            State::Count16(v) => v.fill(0),
            State::Sum32(v) | State::Min32(v) | State::Max32(v) => v.fill(f32::NAN),
        }
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        match &self.state {
            State::Count(v) => v.len(),
            State::Any(v) => v.len(),
            State::Sum(v) | State::Min(v) | State::Max(v) => v.len(),
            State::First(v) | State::Last(v) => v.len(),
            State::Mean(v) => v.len(),
            State::Var { cells, .. } => cells.len(),
            State::AaCount(v) | State::AaAny(v) => v.len(),
            State::Select(s) => s.cells(),
            State::Count8(v) => v.len(),
            State::Count16(v) => v.len(),
            State::Sum32(v) | State::Min32(v) | State::Max32(v) => v.len(),
        }
    }

    /// Add consecutive rows: point `i` is row `first_row + i` of the whole
    /// input (the position `first`/`last` go by), `cells[i]` is its cell
    /// (or [`NO_CELL`]) and `values[i]` its value, NaN meaning missing.
    /// Without a value column (`values == None`) every point counts.
    ///
    /// Cell indices must be below [`Partial::cells`]; points with other
    /// indices are ignored.
    ///
    /// ```
    /// use pointillist::aggregate::{AggValues, Partial, ReductionKind, NO_CELL};
    ///
    /// let mut p = Partial::new(ReductionKind::Count, 4);
    /// p.accumulate(0, &[0, 3, 3, NO_CELL], None);
    /// assert_eq!(p.finalize(), AggValues::U32(vec![1, 0, 0, 2]));
    /// ```
    pub fn accumulate(&mut self, first_row: u64, cells: &[u32], values: Option<&[f64]>) {
        self.accumulate_with_lookup(first_row, cells, values, None)
    }

    /// [`Partial::accumulate`] with each point's value of the lookup column
    /// of a `where` (`lookups[i]` for point `i`; NaN where missing). Other
    /// reductions ignore `lookups`.
    pub fn accumulate_with_lookup(
        &mut self,
        first_row: u64,
        cells: &[u32],
        values: Option<&[f64]>,
        lookups: Option<&[f64]>,
    ) {
        if let State::Select(s) = &mut self.state {
            if let Some(values) = values {
                s.offer_all(first_row.., cells, values, lookups);
            }
            return;
        }
        match (&mut self.state, values) {
            (State::Count(c), None) => super::simd::accumulate_count(c, cells),
            (State::Count8(c), None) => count_narrow(c, cells),
            (State::Count16(c), None) => count_narrow(c, cells),
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
            (state, Some(values)) => accumulate_values(state, first_row, cells, values),
        }
    }

    /// Add one point to every cell of each run (points with a radius):
    /// run `k` covers `len` cells from `start`, `stride` apart (the
    /// category planes), all with `values[k]` (every one counts without
    /// values), in run order. The update rules are
    /// [`Partial::accumulate`]'s; reductions without a run path (`var`,
    /// `std`, and those that go by row, which then see row 0) take the
    /// cells one by one.
    pub(crate) fn accumulate_runs(
        &mut self,
        runs: &[(u32, u32)],
        stride: usize,
        values: Option<&[f64]>,
    ) {
        fn cells<T>(
            s: &mut [T],
            start: u32,
            len: u32,
            stride: usize,
        ) -> impl Iterator<Item = &mut T> {
            let start = start as usize;
            let end = (start + (len as usize).saturating_sub(1) * stride + 1).min(s.len());
            s.get_mut(start..end)
                .unwrap_or_default()
                .iter_mut()
                .step_by(stride.max(1))
        }
        let value =
            |k: usize| values.map_or(Some(0.0), |v| v.get(k).copied().filter(|v| !v.is_nan()));
        match &mut self.state {
            State::Count(c) if stride == 1 => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    let (start, end) = (start as usize, (start + len) as usize);
                    if let (Some(_), Some(c)) = (value(k), c.get_mut(start..end)) {
                        c.iter_mut().for_each(|c| *c = c.wrapping_add(1));
                    }
                }
            }
            State::Count(c) => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if value(k).is_some() {
                        cells(c, start, len, stride).for_each(|c| *c = c.wrapping_add(1));
                    }
                }
            }
            State::Any(a) => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if value(k).is_some() {
                        cells(a, start, len, stride).for_each(|a| *a = true);
                    }
                }
            }
            State::Count8(c) => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if value(k).is_some() {
                        cells(c, start, len, stride).for_each(NarrowCount::bump);
                    }
                }
            }
            State::Count16(c) => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if value(k).is_some() {
                        cells(c, start, len, stride).for_each(NarrowCount::bump);
                    }
                }
            }
            State::Sum32(s) if values.is_some() => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if let Some(v) = value(k) {
                        cells(s, start, len, stride).for_each(|s| add_f32(s, v));
                    }
                }
            }
            State::Sum(s) if values.is_some() => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if let Some(v) = value(k) {
                        cells(s, start, len, stride)
                            .for_each(|s| *s = if s.is_nan() { v } else { *s + v });
                    }
                }
            }
            State::Mean(m) if values.is_some() => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if let Some(v) = value(k) {
                        cells(m, start, len, stride).for_each(|c| {
                            c[0] += v;
                            c[1] += 1.0;
                        });
                    }
                }
            }
            State::Min(s) if values.is_some() => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if let Some(v) = value(k) {
                        cells(s, start, len, stride).for_each(|s| {
                            if s.is_nan() || *s > v {
                                *s = v;
                            }
                        });
                    }
                }
            }
            State::Max(s) if values.is_some() => {
                for (k, &(start, len)) in runs.iter().enumerate() {
                    if let Some(v) = value(k) {
                        cells(s, start, len, stride).for_each(|s| {
                            if s.is_nan() || *s < v {
                                *s = v;
                            }
                        });
                    }
                }
            }
            _ => {
                let (mut c, mut v) = (Vec::new(), Vec::new());
                for (k, &(start, len)) in runs.iter().enumerate() {
                    c.extend((0..len as usize).map(|i| start + (i * stride) as u32));
                    if let Some(values) = values {
                        v.resize(c.len(), values[k]);
                    }
                }
                self.accumulate(0, &c, values.map(|_| v.as_slice()));
            }
        }
    }

    /// The counts of a `count` partial, for callers that add pixels one at
    /// a time (lines drawn in order, whose next pixel is next to the last).
    pub(crate) fn counts_mut(&mut self) -> Option<&mut [u32]> {
        match &mut self.state {
            State::Count(c) => Some(c),
            _ => None,
        }
    }

    /// The cells of an `any` partial, for the same callers.
    pub(crate) fn anys_mut(&mut self) -> Option<&mut [bool]> {
        match &mut self.state {
            State::Any(c) => Some(c),
            _ => None,
        }
    }

    /// [`Partial::accumulate`] with each cell's own row position (`rows`,
    /// one per cell), for glyphs that append several pixels per row (a
    /// line's segments): `first` and `last` keep the row's value.
    pub fn accumulate_rows(&mut self, rows: &[u64], cells: &[u32], values: Option<&[f64]>) {
        self.accumulate_rows_with_lookup(rows, cells, values, None)
    }

    /// [`Partial::accumulate_rows`] with each cell's value of the lookup
    /// column of a `where` (points with a radius, which add a row to each
    /// cell they cover).
    pub fn accumulate_rows_with_lookup(
        &mut self,
        rows: &[u64],
        cells: &[u32],
        values: Option<&[f64]>,
        lookups: Option<&[f64]>,
    ) {
        if let State::Select(s) = &mut self.state {
            if let Some(values) = values {
                s.offer_all(rows.iter().copied(), cells, values, lookups);
            }
            return;
        }
        let last = matches!(self.state, State::Last(_));
        let (State::First(s) | State::Last(s)) = &mut self.state else {
            return self.accumulate(0, cells, values);
        };
        let Some(values) = values else { return };
        for ((&row, &i), &v) in rows.iter().zip(cells).zip(values) {
            if i == NO_CELL || v.is_nan() {
                continue;
            }
            let key = pick_key(row, last);
            if let Some(s) = s.get_mut(i as usize) {
                if key < s.key {
                    *s = Pick { key, value: v };
                }
            }
        }
    }

    /// The reduction this partial computes (`Var` for both var and std).
    fn family(&self) -> &'static str {
        match &self.state {
            State::Count(_) => "count",
            State::Any(_) => "any",
            State::Sum(_) => "sum",
            State::Mean(_) => "mean",
            State::Min(_) => "min",
            State::Max(_) => "max",
            State::Var { std: false, .. } => "var",
            State::Var { std: true, .. } => "std",
            State::First(_) => "first",
            State::Last(_) => "last",
            State::AaCount(_) => "count (antialiased)",
            State::AaAny(_) => "any (antialiased)",
            State::Count8(_) => "count (uint8)",
            State::Count16(_) => "count (uint16)",
            State::Sum32(_) => "sum (float32)",
            State::Min32(_) => "min (float32)",
            State::Max32(_) => "max (float32)",
            State::Select(s) => match (s.order, s.output) {
                (SelectOrder::First, SelectOutput::Value) => "first_n",
                (SelectOrder::Last, SelectOutput::Value) => "last_n",
                (SelectOrder::Min, SelectOutput::Value) => "min_n",
                (SelectOrder::Max, SelectOutput::Value) => "max_n",
                (SelectOrder::First, _) => "where(first)",
                (SelectOrder::Last, _) => "where(last)",
                (SelectOrder::Min, _) => "where(min)",
                (SelectOrder::Max, _) => "where(max)",
            },
        }
    }

    /// Values kept per cell (1 but for selections).
    fn slots(&self) -> usize {
        match &self.state {
            State::Select(s) => s.n,
            _ => 1,
        }
    }

    /// Check that `other` can merge into this partial: the same reduction
    /// over the same number of cells.
    pub fn check_compatible(&self, other: &Partial) -> Result<(), AggError> {
        if self.family() != other.family() {
            return Err(AggError::MismatchedPartials {
                field: "reduction",
                ours: self.family().to_string(),
                theirs: other.family().to_string(),
            });
        }
        if self.slots() != other.slots() {
            return Err(AggError::MismatchedPartials {
                field: "n",
                ours: self.slots().to_string(),
                theirs: other.slots().to_string(),
            });
        }
        if let (State::Select(a), State::Select(b)) = (&self.state, &other.state) {
            if a.output != b.output {
                return Err(AggError::MismatchedPartials {
                    field: "where lookup",
                    ours: format!("{:?}", a.output),
                    theirs: format!("{:?}", b.output),
                });
            }
        }
        if self.cells() != other.cells() {
            return Err(AggError::MismatchedPartials {
                field: "cell count",
                ours: self.cells().to_string(),
                theirs: other.cells().to_string(),
            });
        }
        Ok(())
    }

    /// Absorb `later`, a partial over other rows of the same input. Both
    /// must be of the same reduction and size
    /// ([`AggError::MismatchedPartials`] otherwise, leaving `self` as it
    /// was). Float sums round in merge order; everything else is exact in
    /// any order.
    ///
    /// ```
    /// use pointillist::aggregate::{AggValues, Partial, ReductionKind};
    ///
    /// let mut a = Partial::new(ReductionKind::Last, 2);
    /// a.accumulate(10, &[0], Some(&[1.5])); // row 10
    /// let mut b = Partial::new(ReductionKind::Last, 2);
    /// b.accumulate(0, &[0, 1], Some(&[7.0, 2.0])); // rows 0 and 1
    /// a.merge(b)?; // the later row wins, whatever the merge order
    /// assert_eq!(a.finalize(), AggValues::F64(vec![1.5, 2.0]));
    /// assert!(Partial::new(ReductionKind::Count, 2)
    ///     .merge(Partial::new(ReductionKind::Sum, 2))
    ///     .is_err());
    /// # Ok::<(), pointillist::aggregate::AggError>(())
    /// ```
    pub fn merge(&mut self, mut later: Partial) -> Result<(), AggError> {
        self.merge_and_reset(&mut later)
    }

    /// [`Partial::merge`], emptying `later` in the same pass (as
    /// [`Partial::reset`] would) so its memory can be reused without a
    /// second sweep over it.
    pub fn merge_and_reset(&mut self, later: &mut Partial) -> Result<(), AggError> {
        self.check_compatible(later)?;
        self.merge_impl(later, Cells::All { reset: true });
        Ok(())
    }

    /// [`Partial::merge`] without emptying `later`.
    pub fn merge_from(&mut self, later: &Partial) -> Result<(), AggError> {
        self.check_compatible(later)?;
        let mut later = later.clone();
        self.merge_impl(&mut later, Cells::All { reset: false });
        Ok(())
    }

    fn merge_impl(&mut self, later: &mut Partial, which: Cells) {
        if let (State::Select(a), State::Select(b)) = (&mut self.state, &mut later.state) {
            let (n, order) = (a.n, a.order);
            match which {
                Cells::All { reset } => {
                    a.merge(b);
                    if reset {
                        b.slots.fill(EMPTY_SLOT);
                    }
                }
                Cells::Listed(cells) => {
                    let mut merged = Vec::with_capacity(n);
                    for &c in cells {
                        let r = c as usize * n..c as usize * n + n;
                        if let (Some(x), Some(y)) = (a.slots.get_mut(r.clone()), b.slots.get_mut(r))
                        {
                            SelectState::merge_cell(order, x, y, &mut merged);
                            y.fill(EMPTY_SLOT);
                        }
                    }
                }
            }
            return;
        }
        match (&mut self.state, &mut later.state) {
            (State::Count(a), State::Count(b)) => {
                combine(a, b, 0, which, |a, b| *a = a.wrapping_add(b));
            }
            (State::Any(a), State::Any(b)) => combine(a, b, false, which, |a, b| *a |= b),
            (State::Count8(a), State::Count8(b)) => combine(a, b, 0, which, NarrowCount::add),
            (State::Count16(a), State::Count16(b)) => combine(a, b, 0, which, NarrowCount::add),
            (State::Sum32(a), State::Sum32(b)) => combine(a, b, f32::NAN, which, |a, b| {
                nan_combine_f32(a, b, |x, y| x + y)
            }),
            (State::Min32(a), State::Min32(b)) => combine(a, b, f32::NAN, which, |a, b| {
                nan_combine_f32(a, b, f32::min)
            }),
            (State::Max32(a), State::Max32(b)) => combine(a, b, f32::NAN, which, |a, b| {
                nan_combine_f32(a, b, f32::max)
            }),
            (State::Sum(a), State::Sum(b)) => {
                combine(a, b, f64::NAN, which, |a, b| {
                    *a = nan_combine(*a, b, |x, y| x + y)
                });
            }
            (State::Min(a), State::Min(b)) => {
                combine(a, b, f64::NAN, which, |a, b| {
                    *a = nan_combine(*a, b, f64::min)
                });
            }
            (State::Max(a), State::Max(b)) => {
                combine(a, b, f64::NAN, which, |a, b| {
                    *a = nan_combine(*a, b, f64::max)
                });
            }
            (State::First(a), State::First(b)) | (State::Last(a), State::Last(b)) => {
                combine(a, b, EMPTY_PICK, which, |a, b| {
                    if b.key < a.key {
                        *a = b;
                    }
                })
            }
            (State::Mean(a), State::Mean(b)) => combine(a, b, [0.0; 2], which, |a, b| {
                a[0] += b[0];
                a[1] += b[1];
            }),
            (State::AaCount(a), State::AaCount(b)) => combine(a, b, f32::NAN, which, nansum_f32),
            (State::AaAny(a), State::AaAny(b)) => combine(a, b, f32::NAN, which, nanmax_f32),
            (State::Var { cells: a, .. }, State::Var { cells: b, .. }) => {
                combine(a, b, [0.0; 3], which, |a, b| {
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
            State::Sum(v) | State::Min(v) | State::Max(v) => AggValues::F64(v),
            State::AaCount(v) | State::AaAny(v) => AggValues::F32(v),
            State::Count8(v) => AggValues::U8(v),
            State::Count16(v) => AggValues::U16(v),
            State::Sum32(v) | State::Min32(v) | State::Max32(v) => AggValues::F32(v),
            State::First(v) | State::Last(v) => {
                AggValues::F64(v.into_iter().map(|p| p.value).collect())
            }
            State::Select(s) => match s.output {
                SelectOutput::Value => AggValues::F64(s.slots.iter().map(|x| x.sel).collect()),
                SelectOutput::Lookup => AggValues::F64(s.slots.iter().map(|x| x.out).collect()),
                SelectOutput::RowIndex => AggValues::I64(
                    s.slots
                        .iter()
                        .map(|x| {
                            if x.row == EMPTY_ROW {
                                -1
                            } else {
                                i64::try_from(x.row).unwrap_or(i64::MAX)
                            }
                        })
                        .collect(),
                ),
            },
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

/// Names of the planes (state columns) a reduction's partial is stored
/// as, in order: `count` (u32) for count, `any` (bool), `sum` / `min` /
/// `max` (f64), `sum` + `count` (f64) for mean, `sum` + `count` + `m2`
/// (f64) for var and std, `value` (f64) + `row` (u64, null where empty)
/// for first and last.
pub fn plane_names(kind: ReductionKind) -> &'static [&'static str] {
    match kind {
        ReductionKind::Count => &["count"],
        ReductionKind::Any => &["any"],
        ReductionKind::Sum => &["sum"],
        ReductionKind::Min => &["min"],
        ReductionKind::Max => &["max"],
        ReductionKind::Mean => &["sum", "count"],
        ReductionKind::Var | ReductionKind::Std => &["sum", "count", "m2"],
        ReductionKind::First | ReductionKind::Last => &["value", "row"],
        ReductionKind::FirstN
        | ReductionKind::LastN
        | ReductionKind::MinN
        | ReductionKind::MaxN => &["value", "row", "lookup"],
    }
}

/// Names of the planes a full reduction spec's partial is stored as:
/// [`plane_names`] of its kind, or for selections (`_n` reductions and
/// `where`) `value` (f64: the selector's value), `row` (u64, null where
/// empty) and `lookup` (f64: the lookup column's value), one row per slot,
/// `n` slots per cell, cell after cell.
pub fn spec_plane_names(spec: &ReductionSpec) -> &'static [&'static str] {
    match spec.selection() {
        Some(_) => &["value", "row", "lookup"],
        None => plane_names(spec.kind),
    }
}

impl Partial {
    /// An empty partial for `spec` with room for `cells` cells but none
    /// yet, to be filled by [`Partial::extend_from_planes`].
    pub(crate) fn with_capacity_for_spec(spec: &ReductionSpec, cells: usize) -> Partial {
        Partial::for_spec(spec, 0).reserved(cells)
    }

    /// Cells `range` of the state as Arrow arrays, one per plane
    /// ([`plane_names`]).
    pub(crate) fn planes(&self, range: std::ops::Range<usize>) -> Vec<ArrayRef> {
        fn f64s<T>(v: &[T], f: impl Fn(&T) -> f64) -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(v.iter().map(f)))
        }
        match &self.state {
            State::Select(s) => {
                let v = &s.slots[range.start * s.n..range.end * s.n];
                let rows: UInt64Array = v
                    .iter()
                    .map(|x| (x.row != EMPTY_ROW).then_some(x.row))
                    .collect();
                vec![f64s(v, |x| x.sel), Arc::new(rows), f64s(v, |x| x.out)]
            }
            State::Count(v) => vec![Arc::new(UInt32Array::from(v[range].to_vec()))],
            State::Any(v) => vec![Arc::new(BooleanArray::from(v[range].to_vec()))],
            State::Sum(v) | State::Min(v) | State::Max(v) => {
                vec![Arc::new(Float64Array::from(v[range].to_vec()))]
            }
            State::AaCount(v)
            | State::AaAny(v)
            | State::Sum32(v)
            | State::Min32(v)
            | State::Max32(v) => {
                vec![Arc::new(Float32Array::from(v[range].to_vec()))]
            }
            State::Count8(v) => vec![Arc::new(UInt8Array::from(v[range].to_vec()))],
            State::Count16(v) => vec![Arc::new(UInt16Array::from(v[range].to_vec()))],
            State::Mean(v) => {
                let v = &v[range];
                vec![f64s(v, |c| c[0]), f64s(v, |c| c[1])]
            }
            State::Var { cells, .. } => {
                let v = &cells[range];
                vec![f64s(v, |c| c[0]), f64s(v, |c| c[1]), f64s(v, |c| c[2])]
            }
            State::First(v) | State::Last(v) => {
                let last = matches!(self.state, State::Last(_));
                let v = &v[range];
                let rows: UInt64Array = v
                    .iter()
                    .map(|p| (p.key != u64::MAX).then(|| pick_row(p.key, last)))
                    .collect();
                vec![f64s(v, |p| p.value), Arc::new(rows)]
            }
        }
    }

    /// Append cells given as plane arrays (as [`Partial::planes`] makes
    /// them) to this partial's state. Fails with the reason when a plane is
    /// missing or of another type.
    pub(crate) fn extend_from_planes(&mut self, planes: &[ArrayRef]) -> Result<(), String> {
        fn plane<T: 'static>(planes: &[ArrayRef], i: usize) -> Result<&T, String> {
            planes
                .get(i)
                .and_then(|a| a.as_any().downcast_ref::<T>())
                .ok_or_else(|| format!("plane {i} is missing or of the wrong type"))
        }
        fn f64_plane(planes: &[ArrayRef], i: usize) -> Result<&[f64], String> {
            Ok(plane::<Float64Array>(planes, i)?.values())
        }
        let last = matches!(self.state, State::Last(_));
        match &mut self.state {
            State::Select(s) => {
                let values = f64_plane(planes, 0)?;
                let rows = plane::<UInt64Array>(planes, 1)?;
                let outs = f64_plane(planes, 2)?;
                if values.len() % s.n != 0 {
                    return Err(format!(
                        "it holds {} slots, not a multiple of n = {}",
                        values.len(),
                        s.n
                    ));
                }
                s.slots.extend(values.iter().zip(rows.iter()).zip(outs).map(
                    |((&sel, row), &out)| match row {
                        Some(row) => Slot { row, sel, out },
                        None => EMPTY_SLOT,
                    },
                ));
            }
            State::Count(v) => v.extend_from_slice(plane::<UInt32Array>(planes, 0)?.values()),
            State::Any(v) => v.extend(plane::<BooleanArray>(planes, 0)?.values().iter()),
            State::Sum(v) | State::Min(v) | State::Max(v) => {
                v.extend_from_slice(f64_plane(planes, 0)?)
            }
            State::AaCount(v)
            | State::AaAny(v)
            | State::Sum32(v)
            | State::Min32(v)
            | State::Max32(v) => v.extend_from_slice(plane::<Float32Array>(planes, 0)?.values()),
            State::Count8(v) => v.extend_from_slice(plane::<UInt8Array>(planes, 0)?.values()),
            State::Count16(v) => v.extend_from_slice(plane::<UInt16Array>(planes, 0)?.values()),
            State::Mean(v) => {
                let (s, n) = (f64_plane(planes, 0)?, f64_plane(planes, 1)?);
                v.extend(s.iter().zip(n).map(|(&s, &n)| [s, n]));
            }
            State::Var { cells, .. } => {
                let (s, n, m) = (
                    f64_plane(planes, 0)?,
                    f64_plane(planes, 1)?,
                    f64_plane(planes, 2)?,
                );
                cells.extend(s.iter().zip(n).zip(m).map(|((&s, &n), &m)| [s, n, m]));
            }
            State::First(v) | State::Last(v) => {
                let values = f64_plane(planes, 0)?;
                let rows = plane::<UInt64Array>(planes, 1)?;
                v.extend(
                    values
                        .iter()
                        .zip(rows.iter())
                        .map(|(&value, row)| match row {
                            Some(row) => Pick {
                                key: pick_key(row, last),
                                value,
                            },
                            None => EMPTY_PICK,
                        }),
                );
            }
        }
        Ok(())
    }

    /// [`Partial::with_capacity`] for antialiased lines
    /// ([`Partial::new_antialiased`]).
    pub(crate) fn with_capacity_antialiased(kind: ReductionKind, cells: usize) -> Partial {
        let mut p = Partial::new_antialiased(kind, 0);
        if let State::AaCount(v) | State::AaAny(v) = &mut p.state {
            v.reserve_exact(cells);
            return p;
        }
        Partial::with_capacity(kind, cells)
    }

    /// An empty partial of `kind` with room for `cells` cells but none
    /// yet, to be filled by [`Partial::extend_from_planes`].
    pub(crate) fn with_capacity(kind: ReductionKind, cells: usize) -> Partial {
        Partial::new(kind, 0).reserved(cells)
    }

    /// This partial with room for `cells` more cells.
    fn reserved(mut self, cells: usize) -> Partial {
        let p = &mut self;
        match &mut p.state {
            State::Count(v) => v.reserve_exact(cells),
            State::Any(v) => v.reserve_exact(cells),
            State::Sum(v) | State::Min(v) | State::Max(v) => v.reserve_exact(cells),
            State::Mean(v) => v.reserve_exact(cells),
            State::Var { cells: v, .. } => v.reserve_exact(cells),
            State::First(v) | State::Last(v) => v.reserve_exact(cells),
            State::AaCount(v) | State::AaAny(v) => v.reserve_exact(cells),
            State::Select(s) => s.slots.reserve_exact(cells * s.n),
            State::Count8(v) => v.reserve_exact(cells),
            State::Count16(v) => v.reserve_exact(cells),
            State::Sum32(v) | State::Min32(v) | State::Max32(v) => v.reserve_exact(cells),
        }
        self
    }
}

fn accumulate_values(state: &mut State, first_row: u64, cells: &[u32], values: &[f64]) {
    let pts = cells.iter().zip(values).filter_map(|(&i, &v)| {
        if i == NO_CELL || v.is_nan() {
            None
        } else {
            Some((i as usize, v))
        }
    });
    let rows = || {
        (first_row..)
            .zip(cells.iter().zip(values))
            .filter(|(_, (&i, v))| i != NO_CELL && !v.is_nan())
            .map(|(r, (&i, &v))| (r, i as usize, v))
    };
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
            for (row, i, v) in rows() {
                if let Some(s) = s.get_mut(i) {
                    if row < s.key {
                        *s = Pick { key: row, value: v };
                    }
                }
            }
        }
        State::Last(s) => {
            for (row, i, v) in rows() {
                let key = pick_key(row, true);
                if let Some(s) = s.get_mut(i) {
                    if key < s.key {
                        *s = Pick { key, value: v };
                    }
                }
            }
        }
        State::Mean(c) => super::simd::accumulate_mean(c, cells, values),
        State::Count8(c) => {
            for (i, _) in pts {
                if let Some(c) = c.get_mut(i) {
                    c.bump();
                }
            }
        }
        State::Count16(c) => {
            for (i, _) in pts {
                if let Some(c) = c.get_mut(i) {
                    c.bump();
                }
            }
        }
        State::Sum32(s) => {
            for (i, v) in pts {
                if let Some(s) = s.get_mut(i) {
                    add_f32(s, v);
                }
            }
        }
        State::Min32(s) => {
            for (i, v) in pts {
                let v = v as f32;
                if let Some(s) = s.get_mut(i) {
                    if s.is_nan() || *s > v {
                        *s = v;
                    }
                }
            }
        }
        State::Max32(s) => {
            for (i, v) in pts {
                let v = v as f32;
                if let Some(s) = s.get_mut(i) {
                    if s.is_nan() || *s < v {
                        *s = v;
                    }
                }
            }
        }
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
        // Antialiased coverage is added by `aa_append`, never as points;
        // selections by `accumulate_with_lookup`.
        State::AaCount(_) | State::AaAny(_) | State::Select(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Partials of consecutive `parts`, merged in the order `order` gives
    /// (indices into `parts`).
    fn run_in(kind: ReductionKind, parts: &[&[(u32, f64)]], order: &[usize]) -> AggValues {
        let mut starts = vec![0u64];
        for part in parts {
            starts.push(starts[starts.len() - 1] + part.len() as u64);
        }
        let mut acc: Option<Partial> = None;
        for &k in order {
            let part = parts[k];
            let mut p = Partial::new(kind, 2);
            let cells: Vec<u32> = part.iter().map(|p| p.0).collect();
            let vals: Vec<f64> = part.iter().map(|p| p.1).collect();
            p.accumulate(starts[k], &cells, Some(&vals));
            match &mut acc {
                None => acc = Some(p),
                Some(a) => a.merge(p).expect("same plan"),
            }
        }
        acc.expect("parts").finalize()
    }

    fn run(kind: ReductionKind, parts: &[&[(u32, f64)]]) -> AggValues {
        run_in(kind, parts, &(0..parts.len()).collect::<Vec<_>>())
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
    fn first_and_last_follow_row_positions_in_any_merge_order() {
        let a: &[(u32, f64)] = &[(1, 10.0)];
        let b: &[(u32, f64)] = &[(1, 20.0), (0, 5.0)];
        let c: &[(u32, f64)] = &[(0, f64::NAN), (1, 30.0), (0, 6.0)];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let first = f64s(run_in(ReductionKind::First, &[a, b, c], &order));
            let last = f64s(run_in(ReductionKind::Last, &[a, b, c], &order));
            assert_eq!(first, vec![5.0, 10.0], "{order:?}");
            assert_eq!(last, vec![6.0, 30.0], "{order:?}");
        }
    }

    #[test]
    fn partials_of_different_reductions_or_sizes_do_not_merge() {
        let mut a = Partial::new(ReductionKind::Sum, 4);
        a.accumulate(0, &[1], Some(&[2.0]));
        let before = format!("{a:?}");
        let e = a
            .merge(Partial::new(ReductionKind::Mean, 4))
            .expect_err("kind");
        assert!(e.to_string().contains("reduction"), "{e}");
        let e = a
            .merge(Partial::new(ReductionKind::Sum, 5))
            .expect_err("size");
        assert!(e.to_string().contains("cell count"), "{e}");
        let e = Partial::new(ReductionKind::Var, 4)
            .merge(Partial::new(ReductionKind::Std, 4))
            .expect_err("var/std");
        assert!(e.to_string().contains("std"), "{e}");
        assert_eq!(format!("{a:?}"), before);
    }

    #[test]
    fn merge_and_reset_merges_like_merge_and_empties_the_source() {
        for kind in ReductionKind::ALL.map(|(_, k)| k) {
            let mk = |part: &[(u32, f64)]| {
                let mut p = Partial::new(kind, 2);
                let cells: Vec<u32> = part.iter().map(|p| p.0).collect();
                let vals: Vec<f64> = part.iter().map(|p| p.1).collect();
                p.accumulate(0, &cells, Some(&vals));
                p
            };
            let (mut a1, mut a2) = (mk(&DATA[..3]), mk(&DATA[..3]));
            let mut b = mk(&DATA[3..]);
            a1.merge(b.clone()).expect("merge");
            a2.merge_and_reset(&mut b).expect("merge");
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
        p.accumulate(0, &[0, 2, 2, NO_CELL, 7], None);
        assert_eq!(p.finalize(), AggValues::U32(vec![1, 0, 2]));
    }
}
