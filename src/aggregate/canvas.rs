//! The aggregate canvas that every reduction produces: shape, dtype and values.
//!
//! Layout follows Datashader's `agg.values`: row-major `(height, width)` or
//! `(height, width, categories)`, row 0 holding the *lowest* y (south). Images
//! are flipped only when written.

/// The finished values of an aggregate, in Datashader's dtype.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AggValues {
    /// `count`, `count:COL`, `count_cat`: `uint32`, 0 where empty.
    U32(Vec<u32>),
    /// `any`: `bool`, false where empty.
    Bool(Vec<bool>),
    /// Everything else: `float64`, NaN where empty.
    F64(Vec<f64>),
    /// `count` and `any` of antialiased lines: `float32` coverage, NaN
    /// where empty (Datashader's dtype for them).
    F32(Vec<f32>),
    /// `where` without a lookup column: the selected row's position in the
    /// input, `int64`, -1 where empty.
    I64(Vec<i64>),
    /// `count@uint8`: counts saturated at 255, 0 where empty.
    U8(Vec<u8>),
    /// `count@uint16`: counts saturated at 65,535, 0 where empty.
    U16(Vec<u16>),
}

impl AggValues {
    /// Number of cells (pixels x categories).
    pub fn len(&self) -> usize {
        match self {
            AggValues::U32(v) => v.len(),
            AggValues::Bool(v) => v.len(),
            AggValues::F64(v) => v.len(),
            AggValues::F32(v) => v.len(),
            AggValues::I64(v) => v.len(),
            AggValues::U8(v) => v.len(),
            AggValues::U16(v) => v.len(),
        }
    }

    /// True when there are no cells at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per cell (1, 2, 4 or 8).
    pub fn cell_bytes(&self) -> usize {
        match self {
            AggValues::U8(_) => 1,
            AggValues::U16(_) => 2,
            AggValues::U32(_) => 4,
            AggValues::Bool(_) => 1,
            AggValues::F64(_) => 8,
            AggValues::F32(_) => 4,
            AggValues::I64(_) => 8,
        }
    }

    /// NumPy's name for the dtype (`uint32`, `bool`, `float64`, ...).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            AggValues::U8(_) => "uint8",
            AggValues::U16(_) => "uint16",
            AggValues::U32(_) => "uint32",
            AggValues::Bool(_) => "bool",
            AggValues::F64(_) => "float64",
            AggValues::F32(_) => "float32",
            AggValues::I64(_) => "int64",
        }
    }

    /// Cell `i` as f64, with empty cells as NaN for float aggregates and as
    /// 0 / 1 for counts and booleans.
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            AggValues::U32(v) => f64::from(v[i]),
            AggValues::U8(v) => f64::from(v[i]),
            AggValues::U16(v) => f64::from(v[i]),
            AggValues::Bool(v) => {
                if v[i] {
                    1.0
                } else {
                    0.0
                }
            }
            AggValues::F64(v) => v[i],
            AggValues::F32(v) => f64::from(v[i]),
            // A row index, NaN where empty (-1).
            AggValues::I64(v) if v[i] < 0 => f64::NAN,
            AggValues::I64(v) => v[i] as f64,
        }
    }
}

/// A finished aggregate: a `height x width` grid (times `categories` when
/// categorical) with the data ranges it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Canvas width in pixels.
    pub width: usize,
    /// Canvas height in pixels.
    pub height: usize,
    /// Category labels in plane order when the aggregate is categorical
    /// (`count_cat` or `--by`); `None` for a plain 2-D aggregate.
    pub categories: Option<Vec<String>>,
    /// For `first_n` ... `max_n` (and `where` of them): the values kept
    /// per cell, a trailing dimension of the values; `None` otherwise.
    pub n: Option<usize>,
    /// The values, `(height, width[, n_categories][, n])` in C order, row 0 = lowest y.
    pub values: AggValues,
    /// The x range the canvas covers (after auto-ranging), in data units.
    pub x_range: (f64, f64),
    /// The y range the canvas covers (after auto-ranging), in data units.
    pub y_range: (f64, f64),
}

impl Aggregate {
    /// Number of category planes (1 for a plain aggregate).
    pub fn n_planes(&self) -> usize {
        self.categories.as_ref().map_or(1, Vec::len)
    }

    /// The NumPy shape of [`Aggregate::values`].
    pub fn shape(&self) -> Vec<usize> {
        let mut shape = vec![self.height, self.width];
        if let Some(c) = &self.categories {
            shape.push(c.len());
        }
        if let Some(n) = self.n {
            shape.push(n);
        }
        shape
    }

    /// The aggregate as shading and tile statistics see it, where it
    /// differs: the first of the `n` values of an `_n` reduction
    /// (Datashader's `agg.isel(n=0)`), and a row index (`int64`) as
    /// `float64` with NaN where empty. `None` when the aggregate is
    /// already plain. Narrow 2-D counts (`uint8`, `uint16`) shade as the
    /// `uint32` counts they hold (categorical ones are mixed a pixel at a
    /// time, without a widened copy).
    pub fn shadeable(&self) -> Option<Aggregate> {
        let narrow_2d = self.categories.is_none()
            && matches!(self.values, AggValues::U8(_) | AggValues::U16(_));
        if self.n.is_none() && !narrow_2d && !matches!(self.values, AggValues::I64(_)) {
            return None;
        }
        let firsts = (0..self.values.len()).step_by(self.n.unwrap_or(1).max(1));
        let values = match &self.values {
            AggValues::U8(v) => AggValues::U32(firsts.map(|i| u32::from(v[i])).collect()),
            AggValues::U16(v) => AggValues::U32(firsts.map(|i| u32::from(v[i])).collect()),
            AggValues::U32(v) => AggValues::U32(firsts.map(|i| v[i]).collect()),
            AggValues::Bool(v) => AggValues::Bool(firsts.map(|i| v[i]).collect()),
            AggValues::F32(v) => AggValues::F32(firsts.map(|i| v[i]).collect()),
            AggValues::F64(v) => AggValues::F64(firsts.map(|i| v[i]).collect()),
            AggValues::I64(_) => AggValues::F64(firsts.map(|i| self.values.get_f64(i)).collect()),
        };
        Some(Aggregate {
            n: None,
            values,
            categories: self.categories.clone(),
            ..*self
        })
    }

    /// Flat index of pixel `(row, col)` in plane `cat` (its first value,
    /// for `_n` reductions).
    pub fn index(&self, row: usize, col: usize, cat: usize) -> usize {
        ((row * self.width + col) * self.n_planes() + cat) * self.n.unwrap_or(1)
    }
}
