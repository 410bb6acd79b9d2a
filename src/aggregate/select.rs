//! Selections: Datashader's `first_n`, `last_n`, `min_n`, `max_n` and
//! `where(selector, lookup_column)`.
//!
//! Responsible for keeping, per cell, the `n` rows a selector ranks first
//! ([`SelectOrder`]), each with the selector's value, its row position in
//! the whole input and, for `where` with a lookup column, that column's
//! value in the same row. Slots are kept in rank order, empty ones last.
//!
//! The rank is a total order on `(value, row)`, so partials of any parts
//! of the input merge exactly in any order, and the result is the one a
//! single pass in row order gives with Datashader's update rules:
//! - `first`: lower rows first (a new row goes in the first empty slot);
//! - `last`: higher rows first (a new row goes in front);
//! - `max` / `min`: larger / smaller values first, and among equal values
//!   the lower row (Datashader inserts a value only before one it is
//!   strictly greater / smaller than, so the earlier of two equal values
//!   stays in front).
//!
//! Rows whose selector value is NaN are skipped, as Datashader does.

use super::partial::NO_CELL;

/// How a selection ranks rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectOrder {
    /// The first rows, in row order.
    First,
    /// The last rows, the most recent first.
    Last,
    /// The smallest values, smallest first.
    Min,
    /// The largest values, largest first.
    Max,
}

/// What a selection returns for each slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectOutput {
    /// The selector column's value (`first_n` ... `max_n`), `float64`, NaN
    /// where empty.
    Value,
    /// Another column's value in the selected row (`where` with a lookup
    /// column), `float64`, NaN where empty.
    Lookup,
    /// The selected row's position in the input (`where` without a lookup
    /// column), `int64`, -1 where empty.
    RowIndex,
}

/// One kept row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Slot {
    /// Row position in the whole input ([`EMPTY_ROW`] where empty).
    pub(crate) row: u64,
    /// The selector column's value.
    pub(crate) sel: f64,
    /// The lookup column's value ([`SelectOutput::Lookup`] only).
    pub(crate) out: f64,
}

/// The row of an empty slot.
pub(crate) const EMPTY_ROW: u64 = u64::MAX;

/// An empty slot.
pub(crate) const EMPTY_SLOT: Slot = Slot {
    row: EMPTY_ROW,
    sel: f64::NAN,
    out: f64::NAN,
};

/// The running state of a selection: `n` slots per cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SelectState {
    pub(crate) order: SelectOrder,
    pub(crate) output: SelectOutput,
    pub(crate) n: usize,
    /// `cells * n` slots, cell after cell.
    pub(crate) slots: Vec<Slot>,
}

impl SelectState {
    pub(crate) fn new(order: SelectOrder, output: SelectOutput, n: usize, cells: usize) -> Self {
        let n = n.max(1);
        let mut slots = Vec::with_capacity(cells * n);
        slots.resize(cells * n, EMPTY_SLOT);
        SelectState {
            order,
            output,
            n,
            slots,
        }
    }

    /// Number of cells.
    pub(crate) fn cells(&self) -> usize {
        self.slots.len() / self.n
    }

    /// Whether `(sel, row)` ranks before slot `s` (always before an empty
    /// one).
    #[inline(always)]
    fn before(order: SelectOrder, sel: f64, row: u64, s: &Slot) -> bool {
        if s.row == EMPTY_ROW {
            return true;
        }
        match order {
            SelectOrder::First => row < s.row,
            SelectOrder::Last => row > s.row,
            SelectOrder::Max => sel > s.sel || (sel == s.sel && row < s.row),
            SelectOrder::Min => sel < s.sel || (sel == s.sel && row < s.row),
        }
    }

    /// Offer row `row` (selector value `sel`, lookup value `out`) to cell
    /// `cell`; ignored when `cell` is out of range.
    #[inline]
    pub(crate) fn offer(&mut self, cell: usize, sel: f64, row: u64, out: f64) {
        let n = self.n;
        let Some(s) = self.slots.get_mut(cell * n..cell * n + n) else {
            return;
        };
        let order = self.order;
        // The common case first: a full cell the row does not enter.
        if let Some(last) = s.last() {
            if !Self::before(order, sel, row, last) {
                return;
            }
        }
        if let Some(i) = s.iter().position(|x| Self::before(order, sel, row, x)) {
            s.copy_within(i..n - 1, i + 1);
            s[i] = Slot { row, sel, out };
        }
    }

    /// Offer point `k` (row `rows[k]`, cell `cells[k]`, selector value
    /// `values[k]`, lookup value `lookups[k]`) for every `k`, skipping
    /// points in no cell ([`NO_CELL`]) and NaN selector values.
    pub(crate) fn offer_all(
        &mut self,
        rows: impl IntoIterator<Item = u64>,
        cells: &[u32],
        values: &[f64],
        lookups: Option<&[f64]>,
    ) {
        for (k, ((row, &i), &v)) in rows.into_iter().zip(cells).zip(values).enumerate() {
            if i == NO_CELL || v.is_nan() {
                continue;
            }
            let out = lookups.and_then(|l| l.get(k)).copied().unwrap_or(f64::NAN);
            self.offer(i as usize, v, row, out);
        }
    }

    /// Merge the slots of `b` (a cell of another partial) into `a`.
    /// `merged` is scratch space, reused from cell to cell.
    pub(crate) fn merge_cell(
        order: SelectOrder,
        a: &mut [Slot],
        b: &[Slot],
        merged: &mut Vec<Slot>,
    ) {
        let n = a.len();
        if b.first().is_none_or(|s| s.row == EMPTY_ROW) {
            return;
        }
        if a.first().is_none_or(|s| s.row == EMPTY_ROW) {
            a.copy_from_slice(b);
            return;
        }
        // A two-way merge of the two ranked lists, keeping the first n.
        merged.clear();
        let (mut i, mut j) = (0, 0);
        while merged.len() < n {
            let (x, y) = (a.get(i).copied(), b.get(j).copied());
            match (x, y) {
                (Some(x), Some(y))
                    if y.row != EMPTY_ROW && Self::before(order, y.sel, y.row, &x) =>
                {
                    merged.push(y);
                    j += 1;
                }
                (Some(x), _) if x.row != EMPTY_ROW => {
                    merged.push(x);
                    i += 1;
                }
                (_, Some(y)) if y.row != EMPTY_ROW => {
                    merged.push(y);
                    j += 1;
                }
                _ => break,
            }
        }
        merged.resize(n, EMPTY_SLOT);
        a.copy_from_slice(merged);
    }

    /// Merge every cell of `b` into this state (both of the same shape).
    pub(crate) fn merge(&mut self, b: &SelectState) {
        let n = self.n;
        let order = self.order;
        let mut merged = Vec::with_capacity(n);
        for (a, b) in self.slots.chunks_exact_mut(n).zip(b.slots.chunks_exact(n)) {
            Self::merge_cell(order, a, b, &mut merged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(s: &SelectState) -> Vec<f64> {
        s.slots.iter().map(|x| x.sel).collect()
    }

    fn rows(s: &SelectState) -> Vec<u64> {
        s.slots.iter().map(|x| x.row).collect()
    }

    const DATA: [f64; 8] = [3.0, 1.0, 3.0, 7.0, 1.0, 7.0, 2.0, 3.0];

    fn pass(order: SelectOrder, n: usize, data: &[(u64, f64)]) -> SelectState {
        let mut s = SelectState::new(order, SelectOutput::Value, n, 1);
        for &(row, v) in data {
            s.offer(0, v, row, f64::NAN);
        }
        s
    }

    #[test]
    fn ranks_as_datashader_appends() {
        let rows: Vec<(u64, f64)> = (0..).zip(DATA).collect();
        let max = pass(SelectOrder::Max, 4, &rows);
        assert_eq!(values(&max), [7.0, 7.0, 3.0, 3.0]);
        assert_eq!(self::rows(&max), [3, 5, 0, 2]);
        let min = pass(SelectOrder::Min, 3, &rows);
        assert_eq!(self::rows(&min), [1, 4, 6]);
        let first = pass(SelectOrder::First, 3, &rows);
        assert_eq!(self::rows(&first), [0, 1, 2]);
        let last = pass(SelectOrder::Last, 3, &rows);
        assert_eq!(self::rows(&last), [7, 6, 5]);
        let few = pass(SelectOrder::Max, 10, &rows[..2]);
        assert_eq!(&self::rows(&few)[..3], [0, 1, EMPTY_ROW]);
    }

    #[test]
    fn merges_as_one_pass_in_any_split_and_order() {
        let rows: Vec<(u64, f64)> = (0..).zip(DATA).collect();
        for order in [
            SelectOrder::First,
            SelectOrder::Last,
            SelectOrder::Min,
            SelectOrder::Max,
        ] {
            for n in 1..=9 {
                let whole = pass(order, n, &rows);
                for cut in 0..=rows.len() {
                    let (a, b) = (pass(order, n, &rows[..cut]), pass(order, n, &rows[cut..]));
                    let mut ab = a.clone();
                    ab.merge(&b);
                    let mut ba = b.clone();
                    ba.merge(&a);
                    assert_eq!(
                        self::rows(&ab),
                        self::rows(&whole),
                        "{order:?} n={n} cut={cut}"
                    );
                    assert_eq!(
                        self::rows(&ba),
                        self::rows(&whole),
                        "{order:?} n={n} cut={cut}"
                    );
                }
            }
        }
    }
}
