//! Reduction specs: what to compute per pixel (`count`, `sum:COL`, ...), and
//! optionally per category (`count_cat:COL`, `--by COL`).

use std::fmt;
use std::str::FromStr;

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
}

impl ReductionKind {
    /// All kinds with their spelling.
    pub const ALL: [(&'static str, ReductionKind); 10] = [
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
            ReductionKind::Count | ReductionKind::Any | ReductionKind::First | ReductionKind::Last
        )
    }

    /// Whether a value column is required (`count` and `any` may go without).
    pub fn needs_column(self) -> bool {
        !matches!(self, ReductionKind::Count | ReductionKind::Any)
    }
}

/// A full reduction: the operation, its value column, and the category
/// column that splits it into planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReductionSpec {
    /// The operation.
    pub kind: ReductionKind,
    /// The value column (`None` for plain `count` / `any`).
    pub column: Option<String>,
    /// Category column: one plane per category (`count_cat:COL` or `--by COL`).
    pub by: Option<String>,
}

/// A spec string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// What is wrong and what would be valid.
    pub message: String,
}

/// The accepted spellings, for error messages.
pub const SPEC_HELP: &str = "count, count:COL, any, any:COL, sum:COL, mean:COL, min:COL, max:COL, var:COL, std:COL, first:COL, last:COL, count_cat:COL";

impl ReductionSpec {
    /// `count` of all points.
    pub fn count() -> ReductionSpec {
        ReductionSpec {
            kind: ReductionKind::Count,
            column: None,
            by: None,
        }
    }

    /// A reduction of `kind` over `column`.
    pub fn of(kind: ReductionKind, column: &str) -> ReductionSpec {
        ReductionSpec {
            kind,
            column: Some(column.to_string()),
            by: None,
        }
    }

    /// Split this reduction by the categories of `column`.
    pub fn by(mut self, column: &str) -> ReductionSpec {
        self.by = Some(column.to_string());
        self
    }
}

impl FromStr for ReductionSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
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
        Ok(ReductionSpec {
            kind,
            column: col.map(str::to_string),
            by: None,
        })
    }
}

impl fmt::Display for ReductionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.column, &self.by) {
            (None, Some(b)) if self.kind == ReductionKind::Count => write!(f, "count_cat:{b}"),
            (c, b) => {
                f.write_str(self.kind.name())?;
                if let Some(c) = c {
                    write!(f, ":{c}")?;
                }
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
    fn rejects_bad_specs_with_the_valid_list() {
        for bad in ["median:v", "sum", "mean:", "count_cat"] {
            let e = bad.parse::<ReductionSpec>().expect_err(bad);
            assert!(e.message.contains("count_cat:COL"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["count", "count:v", "max:v", "count_cat:c"] {
            let spec: ReductionSpec = s.parse().expect(s);
            assert_eq!(spec.to_string(), s);
        }
    }
}
