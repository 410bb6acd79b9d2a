//! Reduction specs: what to compute per pixel (`count`, `sum:COL`, ...), and
//! optionally per category (`count_cat:COL`, `--by COL`).

use std::fmt;
use std::str::FromStr;

use super::select::{SelectOrder, SelectOutput};
use crate::source::Categorizer;

/// Datashader's default `n` for `first_n` ... `max_n`.
pub const DEFAULT_N: usize = 1;

/// What `where(selector, lookup_column)` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// The selected row's position in the input (`int64`, -1 where empty):
    /// `where` without a lookup column.
    RowIndex,
    /// This column's value in the selected row (`float64`, NaN where empty).
    Column(String),
}

/// The element type an aggregate is held and returned in, where it may be
/// chosen to save memory (Datashader #412): counts as `uint8` or `uint16`
/// (saturating at 255 or 65,535 instead of 4,294,967,295), `sum`, `min` and
/// `max` as `float32` (half the bytes of `float64`).
///
/// The choice is the state's own type, not a cast at the end: a
/// `uint8` count of a 4K canvas with 64 categories holds 530 MB instead of
/// 2.1 GB. `min` and `max` in `float32` are exactly the `float64` results
/// rounded to `float32` (rounding keeps order); a `float32` sum rounds to
/// `float32` after each added value. Saturation and rounding are the same
/// however the rows are split across threads, partials and shards
/// (saturating addition of counts is associative).
///
/// ```
/// use pointillist::aggregate::{AggDtype, ReductionSpec};
///
/// let spec: ReductionSpec = "count@uint8".parse()?;
/// assert_eq!(spec.dtype, Some(AggDtype::Uint8));
/// assert_eq!(spec.to_string(), "count@uint8");
/// assert!("mean:v@float32".parse::<ReductionSpec>().is_err());
/// # Ok::<(), pointillist::aggregate::SpecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AggDtype {
    /// Counts up to 255.
    Uint8,
    /// Counts up to 65,535.
    Uint16,
    /// Datashader's count dtype.
    Uint32,
    /// Half-size `sum`, `min` and `max`.
    Float32,
    /// Datashader's dtype for `sum`, `min` and `max`.
    Float64,
}

impl AggDtype {
    /// Every dtype with its NumPy name.
    pub const ALL: [(&'static str, AggDtype); 5] = [
        ("uint8", AggDtype::Uint8),
        ("uint16", AggDtype::Uint16),
        ("uint32", AggDtype::Uint32),
        ("float32", AggDtype::Float32),
        ("float64", AggDtype::Float64),
    ];

    /// The NumPy name (`uint8`, ..., `float64`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("?", |(n, _)| n)
    }

    /// Bytes per cell.
    pub fn bytes(self) -> usize {
        match self {
            AggDtype::Uint8 => 1,
            AggDtype::Uint16 => 2,
            AggDtype::Uint32 | AggDtype::Float32 => 4,
            AggDtype::Float64 => 8,
        }
    }

    /// The dtypes `kind` may be held in (empty where it has no choice).
    pub fn allowed_for(kind: ReductionKind) -> &'static [AggDtype] {
        match kind {
            ReductionKind::Count => &[AggDtype::Uint8, AggDtype::Uint16, AggDtype::Uint32],
            ReductionKind::Sum | ReductionKind::Min | ReductionKind::Max => {
                &[AggDtype::Float32, AggDtype::Float64]
            }
            _ => &[],
        }
    }
}

impl fmt::Display for AggDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AggDtype {
    type Err = SpecError;

    /// NumPy's names, and the short `u8`, `u16`, `u32`, `f32`, `f64`.
    fn from_str(s: &str) -> Result<AggDtype, SpecError> {
        let t = s.trim().to_ascii_lowercase();
        let short = [("u8", 0), ("u16", 1), ("u32", 2), ("f32", 3), ("f64", 4)];
        AggDtype::ALL
            .iter()
            .find(|(n, _)| *n == t)
            .map(|(_, d)| *d)
            .or_else(|| {
                short
                    .iter()
                    .find(|(n, _)| *n == t)
                    .map(|&(_, i)| AggDtype::ALL[i].1)
            })
            .ok_or_else(|| SpecError {
                message: format!(
                    "unknown aggregate dtype '{s}'; valid: uint8, uint16, uint32 (count), float32, float64 (sum, min, max)"
                ),
            })
    }
}

/// The per-pixel operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReductionKind {
    /// Number of points (or of non-NaN values of a column), `uint32`.
    Count,
    /// Whether any point (or non-NaN value) falls in the pixel, `bool`.
    Any,
    /// Sum of values, NaN where empty.
    Sum,
    /// Mean of values (sum / count), NaN where empty.
    Mean,
    /// Minimum value.
    Min,
    /// Maximum value.
    Max,
    /// Population variance (ddof 0).
    Var,
    /// Population standard deviation (ddof 0).
    Std,
    /// First non-NaN value in row order.
    First,
    /// Last non-NaN value in row order.
    Last,
    /// The first `n` non-NaN values in row order (Datashader's `first_n`).
    FirstN,
    /// The last `n` non-NaN values, the most recent first (`last_n`).
    LastN,
    /// The `n` smallest values, smallest first (`min_n`).
    MinN,
    /// The `n` largest values, largest first (`max_n`).
    MaxN,
}

impl ReductionKind {
    /// All kinds with their spelling.
    pub const ALL: [(&'static str, ReductionKind); 14] = [
        ("count", ReductionKind::Count),
        ("any", ReductionKind::Any),
        ("sum", ReductionKind::Sum),
        ("mean", ReductionKind::Mean),
        ("min", ReductionKind::Min),
        ("max", ReductionKind::Max),
        ("var", ReductionKind::Var),
        ("std", ReductionKind::Std),
        ("first", ReductionKind::First),
        ("last", ReductionKind::Last),
        ("first_n", ReductionKind::FirstN),
        ("last_n", ReductionKind::LastN),
        ("min_n", ReductionKind::MinN),
        ("max_n", ReductionKind::MaxN),
    ];

    /// The name used in specs.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether partial results combine exactly in any order (integer counts
    /// and booleans, and `first`/`last`, which keep each value's row
    /// position), so workers may fold units in whatever order they get.
    pub fn is_exact_commutative(self) -> bool {
        matches!(
            self,
            ReductionKind::Count
                | ReductionKind::Any
                | ReductionKind::First
                | ReductionKind::Last
                | ReductionKind::FirstN
                | ReductionKind::LastN
                | ReductionKind::MinN
                | ReductionKind::MaxN
        )
    }

    /// Whether the reduction keeps `n` values per cell (a trailing
    /// dimension of `n`, Datashader's `_n` reductions).
    pub fn is_n(self) -> bool {
        matches!(
            self,
            ReductionKind::FirstN
                | ReductionKind::LastN
                | ReductionKind::MinN
                | ReductionKind::MaxN
        )
    }

    /// How the reduction ranks rows, where it selects them (the `first`,
    /// `last`, `min` and `max` families, the selectors `where` takes).
    pub fn select_order(self) -> Option<SelectOrder> {
        match self {
            ReductionKind::First | ReductionKind::FirstN => Some(SelectOrder::First),
            ReductionKind::Last | ReductionKind::LastN => Some(SelectOrder::Last),
            ReductionKind::Min | ReductionKind::MinN => Some(SelectOrder::Min),
            ReductionKind::Max | ReductionKind::MaxN => Some(SelectOrder::Max),
            _ => None,
        }
    }

    /// Whether a value column is required (`count` and `any` may go without).
    pub fn needs_column(self) -> bool {
        !matches!(self, ReductionKind::Count | ReductionKind::Any)
    }
}

/// A full reduction: the operation, its value column, and the category
/// column that splits it into planes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReductionSpec {
    /// The operation.
    pub kind: ReductionKind,
    /// The value column (`None` for plain `count` / `any`).
    pub column: Option<String>,
    /// Category column: one plane per category (`count_cat:COL` or `--by COL`).
    pub by: Option<String>,
    /// How the category column becomes planes (its values by default).
    pub categorizer: Categorizer,
    /// Values kept per cell by `first_n` ... `max_n` (1 for the others).
    pub n: usize,
    /// `where(selector, lookup)`: what a selector (`first`, `last`, `min`,
    /// `max` and their `_n` forms) returns instead of its own values.
    pub lookup: Option<Lookup>,
    /// The element type the aggregate is held in, where it is chosen
    /// ([`AggDtype`]; `None`: Datashader's).
    pub dtype: Option<AggDtype>,
}

/// A spec string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// What is wrong and what would be valid.
    pub message: String,
}

/// The accepted spellings, for error messages.
pub const SPEC_HELP: &str = "count, count:COL, any, any:COL, sum:COL, mean:COL, min:COL, max:COL, var:COL, std:COL, first:COL, last:COL, first_n:COL[:N], last_n:COL[:N], min_n:COL[:N], max_n:COL[:N], where(SELECTOR[,LOOKUP]) (SELECTOR one of first/last/min/max[_n]:COL[:N]; LOOKUP a column, omitted for the row index), count_cat:COL; count and count_cat may end in @uint8, @uint16 or @uint32, sum, min and max in @float32 or @float64 (the aggregate's dtype)";

impl ReductionSpec {
    /// `count` of all points.
    pub fn count() -> ReductionSpec {
        ReductionSpec {
            kind: ReductionKind::Count,
            column: None,
            by: None,
            categorizer: Categorizer::Values,
            n: 1,
            lookup: None,
            dtype: None,
        }
    }

    /// A reduction of `kind` over `column`.
    pub fn of(kind: ReductionKind, column: &str) -> ReductionSpec {
        ReductionSpec {
            kind,
            column: Some(column.to_string()),
            by: None,
            categorizer: Categorizer::Values,
            n: if kind.is_n() { DEFAULT_N } else { 1 },
            lookup: None,
            dtype: None,
        }
    }

    /// `first_n` ... `max_n` of `column` keeping `n` values per cell.
    pub fn of_n(kind: ReductionKind, column: &str, n: usize) -> ReductionSpec {
        ReductionSpec {
            n,
            ..ReductionSpec::of(kind, column)
        }
    }

    /// Datashader's `where(self, lookup)`: return `lookup` (a column's
    /// value, or the row index) of the rows this selector picks.
    pub fn with_lookup(mut self, lookup: Lookup) -> ReductionSpec {
        self.lookup = Some(lookup);
        self
    }

    /// This reduction held in `dtype` ([`AggDtype`]; checked by
    /// [`ReductionSpec::validate`]).
    pub fn with_dtype(mut self, dtype: AggDtype) -> ReductionSpec {
        self.dtype = Some(dtype);
        self
    }

    /// The dtype the state is held in when it differs from Datashader's
    /// (`uint8`/`uint16` counts, `float32` sums, minima and maxima), `None`
    /// otherwise.
    pub fn narrow_dtype(&self) -> Option<AggDtype> {
        match (self.kind, self.dtype?) {
            (ReductionKind::Count, d @ (AggDtype::Uint8 | AggDtype::Uint16)) => Some(d),
            (ReductionKind::Sum | ReductionKind::Min | ReductionKind::Max, AggDtype::Float32)
                if self.lookup.is_none() =>
            {
                Some(AggDtype::Float32)
            }
            _ => None,
        }
    }

    /// Values kept per cell (the trailing `n` dimension of `_n`
    /// reductions; 1 for the others).
    pub fn slots(&self) -> usize {
        if self.kind.is_n() {
            self.n
        } else {
            1
        }
    }

    /// How the reduction is computed as a selection (`_n` reductions and
    /// `where`), `None` for the others.
    pub fn selection(&self) -> Option<(SelectOrder, SelectOutput, usize)> {
        let order = self.kind.select_order()?;
        let output = match &self.lookup {
            Some(Lookup::RowIndex) => SelectOutput::RowIndex,
            Some(Lookup::Column(_)) => SelectOutput::Lookup,
            None if self.kind.is_n() => SelectOutput::Value,
            None => return None,
        };
        Some((order, output, self.slots()))
    }

    /// The lookup column of `where`, if any.
    pub fn lookup_column(&self) -> Option<&str> {
        match &self.lookup {
            Some(Lookup::Column(c)) => Some(c),
            _ => None,
        }
    }

    /// Check what the parser cannot: `n` at least 1, `where` only of a
    /// selector.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Some(d) = self.dtype {
            let allowed = AggDtype::allowed_for(self.kind);
            if !allowed.contains(&d) || self.lookup.is_some() {
                let valid = if allowed.is_empty() || self.lookup.is_some() {
                    "only count (uint8, uint16, uint32) and sum, min and max (float32, float64) take a dtype".to_string()
                } else {
                    let names: Vec<&str> = allowed.iter().map(|d| d.name()).collect();
                    format!("{} takes {}", self.kind.name(), names.join(", "))
                };
                return Err(SpecError {
                    message: format!(
                        "{}{}: no {d} aggregate; {valid}",
                        if self.lookup.is_some() { "where " } else { "" },
                        self.kind.name()
                    ),
                });
            }
        }
        if self.kind.is_n() && self.n == 0 {
            return Err(SpecError {
                message: format!("{}: n must be at least 1", self.kind.name()),
            });
        }
        if let (Some(Lookup::Column(l)), Some(c)) = (&self.lookup, &self.column) {
            if l == c {
                return Err(SpecError {
                    message: format!(
                        "where({}, '{l}'): where and its contained reduction cannot use the same column",
                        self.kind.name()
                    ),
                });
            }
        }
        if self.lookup.is_some() && self.kind.select_order().is_none() {
            return Err(SpecError {
                message: format!(
                    "where({}): the selector must be first, last, min, max or their _n forms",
                    self.kind.name()
                ),
            });
        }
        Ok(())
    }

    /// Split this reduction by the categories of `column`.
    pub fn by(mut self, column: &str) -> ReductionSpec {
        self.by = Some(column.to_string());
        self
    }

    /// Split this reduction by the categories `categorizer` makes of
    /// `column` (Datashader's `by(category_modulo(...), ...)`).
    pub fn by_categorizer(mut self, column: &str, categorizer: Categorizer) -> ReductionSpec {
        self.by = Some(column.to_string());
        self.categorizer = categorizer;
        self
    }

    /// The category column with its categorizer, in `--by`'s grammar
    /// ([`Categorizer::parse_by`]).
    pub fn by_description(&self) -> Option<String> {
        self.by.as_deref().map(|b| self.categorizer.describe(b))
    }
}

impl FromStr for ReductionSpec {
    type Err = SpecError;

    /// The grammar of [`SPEC_HELP`]: a reduction, optionally ending in
    /// `@DTYPE` ([`AggDtype`]).
    fn from_str(s: &str) -> Result<Self, SpecError> {
        if let Some((body, d)) = s.trim().rsplit_once('@') {
            let in_spec = |e: SpecError| SpecError {
                message: format!("aggregation '{s}': {}", e.message),
            };
            match d.parse::<AggDtype>() {
                Ok(dtype) => {
                    let spec = ReductionSpec::parse_plain(body)?.with_dtype(dtype);
                    spec.validate().map_err(in_spec)?;
                    return Ok(spec);
                }
                // A column whose name holds '@' parses as it is.
                Err(e) => return ReductionSpec::parse_plain(s).map_err(|_| in_spec(e)),
            }
        }
        ReductionSpec::parse_plain(s)
    }
}

impl ReductionSpec {
    /// [`ReductionSpec::from_str`] without the dtype.
    fn parse_plain(s: &str) -> Result<ReductionSpec, SpecError> {
        let t = s.trim();
        if let Some(inner) = t.strip_prefix("where(") {
            let Some(inner) = inner.strip_suffix(')') else {
                return Err(SpecError {
                    message: format!("aggregation '{s}' does not end with ')'; valid: {SPEC_HELP}"),
                });
            };
            let (sel, lookup) = match inner.rsplit_once(',') {
                Some((sel, l)) if !l.trim().is_empty() => {
                    (sel, Lookup::Column(l.trim().to_string()))
                }
                Some(_) => {
                    return Err(SpecError {
                        message: format!(
                        "aggregation '{s}' names no lookup column after ','; valid: {SPEC_HELP}"
                    ),
                    })
                }
                None => (inner, Lookup::RowIndex),
            };
            let spec: ReductionSpec = sel.parse()?;
            let spec = spec.with_lookup(lookup);
            spec.validate().map_err(|e| SpecError {
                message: format!("aggregation '{s}': {}; valid: {SPEC_HELP}", e.message),
            })?;
            return Ok(spec);
        }
        let (name, col) = match s.split_once(':') {
            Some((n, c)) => (n.trim(), Some(c.trim())),
            None => (s.trim(), None),
        };
        if col == Some("") {
            return Err(SpecError {
                message: format!("aggregation '{s}' names no column after ':'; valid: {SPEC_HELP}"),
            });
        }
        if name == "count_cat" {
            return match col {
                Some(c) => Ok(ReductionSpec::count().by(c)),
                None => Err(SpecError {
                    message: format!(
                        "count_cat needs a category column: count_cat:COL (valid: {SPEC_HELP})"
                    ),
                }),
            };
        }
        let kind = ReductionKind::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| SpecError {
                message: format!("unknown aggregation '{s}'; valid: {SPEC_HELP}"),
            })?;
        if kind.needs_column() && col.is_none() {
            return Err(SpecError {
                message: format!("{name} needs a value column: {name}:COL (valid: {SPEC_HELP})"),
            });
        }
        if kind.is_n() {
            let col = col.unwrap_or_default();
            let (col, n) = match col.rsplit_once(':') {
                Some((c, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    let n = n.parse::<usize>().map_err(|_| SpecError {
                        message: format!("aggregation '{s}': n {n} is too large"),
                    })?;
                    (c.trim(), n)
                }
                _ => (col, DEFAULT_N),
            };
            let spec = ReductionSpec::of_n(kind, col, n);
            spec.validate().map_err(|e| SpecError {
                message: format!("aggregation '{s}': {}; valid: {SPEC_HELP}", e.message),
            })?;
            return Ok(spec);
        }
        Ok(ReductionSpec {
            column: col.map(str::to_string),
            ..ReductionSpec::count()
        }
        .with_kind(kind))
    }
}

impl ReductionSpec {
    /// This spec with another operation (its column, categories and `n`
    /// kept; `n` set to Datashader's default for an `_n` kind).
    pub fn with_kind(mut self, kind: ReductionKind) -> ReductionSpec {
        self.kind = kind;
        self.n = if kind.is_n() {
            DEFAULT_N.max(self.n)
        } else {
            1
        };
        self
    }

    /// The spec without `by`, as the grammar writes it.
    fn write_reduction(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(lookup) = &self.lookup {
            let sel = ReductionSpec {
                lookup: None,
                by: None,
                dtype: None,
                ..self.clone()
            };
            f.write_str("where(")?;
            sel.write_reduction(f)?;
            if let Lookup::Column(c) = lookup {
                write!(f, ",{c}")?;
            }
            return f.write_str(")");
        }
        f.write_str(self.kind.name())?;
        if let Some(c) = &self.column {
            write!(f, ":{c}")?;
        }
        if self.kind.is_n() {
            write!(f, ":{}", self.n)?;
        }
        self.write_dtype(f)
    }

    /// `@DTYPE` where one is chosen.
    fn write_dtype(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dtype {
            Some(d) => write!(f, "@{d}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for ReductionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lookup.is_some() || self.kind.is_n() {
            self.write_reduction(f)?;
            if let Some(b) = self.by_description() {
                write!(f, " by {b}")?;
            }
            return Ok(());
        }
        match (&self.column, &self.by_description()) {
            (None, Some(b))
                if self.kind == ReductionKind::Count && self.categorizer == Categorizer::Values =>
            {
                write!(f, "count_cat:{b}")?;
                self.write_dtype(f)
            }
            (c, b) => {
                f.write_str(self.kind.name())?;
                if let Some(c) = c {
                    write!(f, ":{c}")?;
                }
                self.write_dtype(f)?;
                if let Some(b) = b {
                    write!(f, " by {b}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("count".parse::<ReductionSpec>(), Ok(ReductionSpec::count()));
        assert_eq!(
            "sum:val".parse::<ReductionSpec>(),
            Ok(ReductionSpec::of(ReductionKind::Sum, "val"))
        );
        assert_eq!(
            "count_cat:cat".parse::<ReductionSpec>(),
            Ok(ReductionSpec::count().by("cat"))
        );
        assert_eq!(
            "any:v".parse::<ReductionSpec>().map(|s| s.column),
            Ok(Some("v".to_string()))
        );
    }

    #[test]
    fn parses_selections() {
        let s: ReductionSpec = "max_n:v".parse().expect("max_n");
        assert_eq!((s.kind, s.n), (ReductionKind::MaxN, DEFAULT_N));
        let s: ReductionSpec = "where(first_n:v:5,w)".parse().expect("where");
        assert_eq!((s.kind, s.n), (ReductionKind::FirstN, 5));
        assert_eq!(s.lookup, Some(Lookup::Column("w".into())));
        let s: ReductionSpec = "where(max:v)".parse().expect("where");
        assert_eq!(s.lookup, Some(Lookup::RowIndex));
        assert_eq!(s.selection().map(|x| x.1), Some(SelectOutput::RowIndex));
    }

    #[test]
    fn rejects_bad_specs_with_the_valid_list() {
        for bad in [
            "median:v",
            "sum",
            "mean:",
            "count_cat",
            "max_n:v:0",
            "where(sum:v)",
            "where(count)",
            "where(max:v,)",
            "where(max:v,v)",
            "where(max:v",
        ] {
            let e = bad.parse::<ReductionSpec>().expect_err(bad);
            assert!(e.message.contains("count_cat:COL"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "count",
            "count:v",
            "max:v",
            "count_cat:c",
            "max_n:v:3",
            "first_n:v:1",
            "where(max:v)",
            "where(min_n:v:4,w)",
            "where(last:v,w)",
        ] {
            let spec: ReductionSpec = s.parse().expect(s);
            assert_eq!(spec.to_string(), s);
        }
    }
}
