//! What lies under one pixel of a tile: how many rows, and the first of
//! them (or those the layer's reduction ranks first) with their values.
//!
//! Built on `where`: the tile is aggregated as it is drawn, with the
//! layer's selector (`max:COL`, `min:COL`, `first:COL`, `last:COL`, or the
//! first rows with a value where the layer has none) as `where(..._n:COL:N)`
//! returning row indices, so the rows found are exactly those the tile's
//! pixel holds. The rows' columns are then read back by position.

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_schema::DataType;

use super::{aggregate_tile, TileError, TileId, TileLayer};
use crate::aggregate::{AggValues, Glyph, Lookup, ReductionKind, ReductionSpec};
use crate::source::{numeric_to_f64, Source};

/// Most rows an inspection returns.
pub const MAX_INSPECT_ROWS: usize = 100;

/// A value read back for an inspected row.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CellValue {
    /// Null, NaN, or a type that is not shown.
    Null,
    /// A number (integers up to 2^53 exactly).
    Number(f64),
    /// A string (plain or dictionary-encoded).
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// What lies under one pixel of a tile.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PixelRows {
    /// Rows whose point (or line) falls in the pixel: the layer's `count`
    /// of it.
    pub count: u64,
    /// How the rows were chosen: the reduction whose row indices they are.
    pub selected_by: String,
    /// The rows' positions in the input, ranked as `selected_by` ranks them.
    pub rows: Vec<u64>,
    /// The columns read for each row.
    pub columns: Vec<String>,
    /// `values[i][j]`: column `j` of `rows[i]`.
    pub values: Vec<Vec<CellValue>>,
}

/// The rows under pixel `(px, py)` of `tile` drawn `size` pixels square
/// (`py` counted from the top, as in the PNG): their number, the first `n`
/// of them as `layer`'s reduction ranks them, and their `columns` (by
/// default the layer's x, y, value and category columns).
///
/// ```
/// use pointillist::source::Source;
/// use pointillist::tiles::{inspect_pixel, TileId, TileLayer};
///
/// let source = Source::sample()?;
/// let layer = TileLayer::new().resolve(&source)?;
/// let found = inspect_pixel(&source, &layer, TileId::new(0, 0, 0)?, 256, (60, 100), 3, &[])?;
/// assert_eq!(found.rows.len() as u64, found.count.min(3));
/// assert_eq!(found.columns, ["x", "y"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn inspect_pixel(
    source: &Source,
    layer: &TileLayer,
    tile: TileId,
    size: usize,
    (px, py): (usize, usize),
    n: usize,
    columns: &[String],
) -> Result<PixelRows, TileError> {
    let n = n.clamp(1, MAX_INSPECT_ROWS);
    if px >= size || py >= size {
        return Err(TileError::Inspect {
            reason: format!("pixel ({px}, {py}) is outside a {size}-pixel tile"),
        });
    }
    let base = |reduction: ReductionSpec| TileLayer {
        reduction,
        categories: None,
        ..layer.clone()
    };
    let r = &layer.reduction;
    let (kind, column) = match (r.kind, &r.column) {
        (ReductionKind::Max | ReductionKind::MaxN, Some(c)) => (ReductionKind::MaxN, c.clone()),
        (ReductionKind::Min | ReductionKind::MinN, Some(c)) => (ReductionKind::MinN, c.clone()),
        (ReductionKind::Last | ReductionKind::LastN, Some(c)) => (ReductionKind::LastN, c.clone()),
        (_, Some(c)) => (ReductionKind::FirstN, c.clone()),
        // Without a value column every row on the canvas counts; its x is
        // not NaN there.
        (_, None) => (ReductionKind::FirstN, layer.x.clone()),
    };
    let columns: Vec<String> = if columns.is_empty() {
        let mut c = vec![layer.x.clone(), layer.y.clone()];
        for extra in [r.column.as_ref(), r.by.as_ref()].into_iter().flatten() {
            if !c.contains(extra) {
                c.push(extra.clone());
            }
        }
        c
    } else {
        columns.to_vec()
    };
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    for c in &names {
        source.check_column(c)?;
    }
    let select = ReductionSpec::of_n(kind, &column, n).with_lookup(Lookup::RowIndex);
    let selected_by = select.to_string();
    let cell = (size - 1 - py) * size + px;
    let picked = aggregate_tile(source, &base(select), tile, size)?;
    let AggValues::I64(idx) = &picked.values else {
        return Err(TileError::Inspect {
            reason: "the selection gave no row indices".into(),
        });
    };
    let rows: Vec<u64> = idx
        .iter()
        .skip(cell * n)
        .take(n)
        .filter_map(|&r| u64::try_from(r).ok())
        .collect();
    // Points selected by their x (never NaN on the canvas) are every point
    // in the pixel: fewer than n are the count. Else the tile is counted.
    let every_point = layer.shape.glyph == Glyph::Points && r.column.is_none();
    let count = if every_point && rows.len() < n {
        rows.len() as u64
    } else {
        let counts = aggregate_tile(source, &base(ReductionSpec::count()), tile, size)?;
        match &counts.values {
            AggValues::F32(v) => v
                .get(cell)
                .map_or(0, |&c| if c.is_nan() { 0 } else { c as u64 }),
            v => v.get_f64(cell) as u64,
        }
    };
    let read = source.read_rows(&rows, &names)?;
    let values = rows
        .iter()
        .map(|row| match read.iter().find(|(r, _)| r == row) {
            Some((_, batch)) => names
                .iter()
                .map(|c| {
                    batch
                        .column_by_name(c)
                        .map_or(CellValue::Null, |a| cell_value(a.as_ref()))
                })
                .collect(),
            None => vec![CellValue::Null; names.len()],
        })
        .collect();
    Ok(PixelRows {
        count,
        selected_by,
        rows,
        columns,
        values,
    })
}

/// The first value of `a`, a column of a one-row batch (looked up by
/// name: the reader's batches hold the columns in the file's order).
fn cell_value(a: &dyn Array) -> CellValue {
    if a.is_empty() || a.is_null(0) {
        return CellValue::Null;
    }
    match a.data_type() {
        DataType::Boolean => CellValue::Bool(a.as_boolean().value(0)),
        DataType::Utf8 => CellValue::Text(a.as_string::<i32>().value(0).to_string()),
        DataType::LargeUtf8 => CellValue::Text(a.as_string::<i64>().value(0).to_string()),
        DataType::Utf8View => CellValue::Text(a.as_string_view().value(0).to_string()),
        DataType::Dictionary(_, _) => {
            let Some(d) = a.as_any_dictionary_opt() else {
                return CellValue::Null;
            };
            let key = d.normalized_keys().first().copied().unwrap_or(0);
            cell_value(d.values().slice(key, 1).as_ref())
        }
        _ => {
            let mut out = Vec::new();
            if numeric_to_f64(a, &mut out) {
                out.first()
                    .filter(|v| !v.is_nan())
                    .map_or(CellValue::Null, |&v| CellValue::Number(v))
            } else {
                CellValue::Null
            }
        }
    }
}
