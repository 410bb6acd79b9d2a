//! Category columns: discovering the sorted set of categories and turning
//! values into plane indices (codes).
//!
//! Categories are the distinct non-null values over the whole input, sorted
//! (strings by code point, integers numerically), unless the user lists them.
//! Rows whose value is null or not in the list get [`CategoryMap::NONE`];
//! the aggregation stage counts them in the last plane, as Datashader does
//! (pandas codes them -1, and NumPy indexing wraps -1 to the last plane).

use std::collections::{BTreeSet, HashMap};

use arrow_array::cast::AsArray;
use arrow_array::types::ArrowDictionaryKeyType;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, DictionaryArray};
use arrow_schema::DataType;

use super::decode::{is_integer, numeric_to_f64};

/// How `by` turns a column into category planes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Categorizer {
    /// The column's own values: strings, integers or a dictionary's
    /// entries (Datashader's `by('col')` of a categorical column, and
    /// `category_codes`).
    #[default]
    Values,
    /// Datashader's `category_modulo(col, modulo, offset)`: category
    /// `(value - offset) mod modulo` of an integer column (never negative,
    /// as Python's `%`), categories `0 .. modulo`.
    Modulo {
        /// The number of categories.
        modulo: u64,
        /// Subtracted first.
        offset: i64,
    },
    /// Datashader's `category_binning(col, lower, upper, nbins,
    /// include_under, include_over)`: `nbins` bins of `(upper - lower) /
    /// nbins` from `lower`, and one more category (the last) for NaN and,
    /// where not included in the first or last bin, values under or over.
    Binning {
        /// The lower edge of the first bin.
        lower: f64,
        /// The upper edge of the last bin.
        upper: f64,
        /// Bins (categories are one more).
        nbins: u32,
        /// Values under `lower` go to bin 0 (else to the last category).
        include_under: bool,
        /// Values at or over `upper` go to the last bin (else to the last
        /// category).
        include_over: bool,
    },
}

impl Categorizer {
    /// The categories it makes (`None` for [`Categorizer::Values`], whose
    /// categories come from the data or the user).
    pub fn count(&self) -> Option<u64> {
        match *self {
            Categorizer::Values => None,
            Categorizer::Modulo { modulo, .. } => Some(modulo),
            Categorizer::Binning { nbins, .. } => Some(u64::from(nbins) + 1),
        }
    }

    /// The labels of its categories, `0`, `1`, ...
    pub fn labels(&self) -> Option<Vec<String>> {
        self.count()
            .map(|n| (0..n).map(|i| i.to_string()).collect())
    }

    /// Check the parameters: a modulo and a bin count of at least 1,
    /// two different finite bounds. The message says what to give.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Categorizer::Values => Ok(()),
            Categorizer::Modulo { modulo: 0, .. } => {
                Err("category_modulo: modulo must be at least 1".into())
            }
            Categorizer::Modulo { .. } => Ok(()),
            Categorizer::Binning { nbins: 0, .. } => {
                Err("category_binning: nbins must be at least 1".into())
            }
            // Datashader takes lower > upper too (bins counted downwards).
            Categorizer::Binning { lower, upper, .. }
                if !(lower.is_finite() && upper.is_finite() && lower != upper) =>
            {
                Err(format!(
                    "category_binning: bounds {lower}, {upper}: give two different finite bounds"
                ))
            }
            Categorizer::Binning { .. } => Ok(()),
        }
    }

    /// The grammar of `--by` (and of partials' specs): `COL`,
    /// `category_modulo(COL,MODULO[,OFFSET])` or
    /// `category_binning(COL,LOWER,UPPER,NBINS[,INCLUDE_UNDER,INCLUDE_OVER])`
    /// (booleans `true`/`false`), as `(column, categorizer)`.
    pub fn parse_by(s: &str) -> Result<(String, Categorizer), String> {
        const HELP: &str = "give COL, category_modulo(COL,MODULO[,OFFSET]) or category_binning(COL,LOWER,UPPER,NBINS[,INCLUDE_UNDER,INCLUDE_OVER])";
        let s = s.trim();
        let call = |name: &str| -> Option<Vec<String>> {
            let inner = s.strip_prefix(name)?.trim_start().strip_prefix('(')?;
            let inner = inner.strip_suffix(')')?;
            Some(inner.split(',').map(|a| a.trim().to_string()).collect())
        };
        let bad = |what: &str| format!("--by {s}: {what}; {HELP}");
        let int = |a: &str| {
            a.parse::<i64>()
                .map_err(|_| bad(&format!("'{a}' is not an integer")))
        };
        let float = |a: &str| {
            a.parse::<f64>()
                .map_err(|_| bad(&format!("'{a}' is not a number")))
        };
        let boolean = |a: &str| match a {
            "true" | "True" | "1" => Ok(true),
            "false" | "False" | "0" => Ok(false),
            _ => Err(bad(&format!("'{a}' is not true or false"))),
        };
        let c = if let Some(args) = call("category_modulo") {
            let [col, modulo, rest @ ..] = &args[..] else {
                return Err(bad("category_modulo takes a column and a modulo"));
            };
            let offset = match rest {
                [] => 0,
                [o] => int(o)?,
                _ => return Err(bad("category_modulo takes at most three arguments")),
            };
            let modulo = u64::try_from(int(modulo)?).map_err(|_| bad("modulo must be positive"))?;
            (col.clone(), Categorizer::Modulo { modulo, offset })
        } else if let Some(args) = call("category_binning") {
            let [col, lower, upper, nbins, rest @ ..] = &args[..] else {
                return Err(bad(
                    "category_binning takes a column, lower, upper and nbins",
                ));
            };
            let (include_under, include_over) = match rest {
                [] => (true, true),
                [u, o] => (boolean(u)?, boolean(o)?),
                _ => return Err(bad("give both INCLUDE_UNDER and INCLUDE_OVER, or neither")),
            };
            let nbins = u32::try_from(int(nbins)?).map_err(|_| bad("nbins must be positive"))?;
            (
                col.clone(),
                Categorizer::Binning {
                    lower: float(lower)?,
                    upper: float(upper)?,
                    nbins,
                    include_under,
                    include_over,
                },
            )
        } else if s.starts_with("category_codes(") {
            let col = call("category_codes")
                .and_then(|a| a.first().cloned())
                .ok_or_else(|| bad("category_codes takes a column"))?;
            (col, Categorizer::Values)
        } else {
            (s.to_string(), Categorizer::Values)
        };
        if c.0.is_empty() {
            return Err(bad("no column"));
        }
        c.1.validate().map_err(|e| bad(&e))?;
        Ok(c)
    }

    /// `column` with this categorizer, in [`Categorizer::parse_by`]'s
    /// grammar.
    pub fn describe(&self, column: &str) -> String {
        match *self {
            Categorizer::Values => column.to_string(),
            Categorizer::Modulo { modulo, offset } => {
                format!("category_modulo({column},{modulo},{offset})")
            }
            Categorizer::Binning {
                lower,
                upper,
                nbins,
                include_under,
                include_over,
            } => format!(
                "category_binning({column},{lower:?},{upper:?},{nbins},{include_under},{include_over})"
            ),
        }
    }

    /// Codes of `array` (integers for [`Categorizer::Modulo`], numbers for
    /// [`Categorizer::Binning`]) into `out`; false when the array is not of
    /// such a type.
    fn codes(&self, array: &dyn Array, out: &mut Vec<u32>) -> bool {
        out.clear();
        out.resize(array.len(), CategoryMap::NONE);
        match *self {
            Categorizer::Values => false,
            Categorizer::Modulo { modulo, offset } => {
                // NumPy subtracts in the column's own dtype (wrapping, so a
                // uint8 column less 5 wraps below 0 to 251), then takes
                // Python's `%` (the sign of the modulo: 0 .. modulo).
                let dt = match array.data_type() {
                    DataType::Dictionary(_, v) => v.as_ref().clone(),
                    dt => dt.clone(),
                };
                let (bits, signed) = match dt {
                    DataType::Int8 => (8, true),
                    DataType::Int16 => (16, true),
                    DataType::Int32 => (32, true),
                    DataType::UInt8 => (8, false),
                    DataType::UInt16 => (16, false),
                    DataType::UInt32 => (32, false),
                    DataType::UInt64 => (64, false),
                    // int64, and bool (NumPy's `True - offset` is int64).
                    _ => (64, true),
                };
                let wrap = |d: i128| -> i128 {
                    let m = d.rem_euclid(1i128 << bits);
                    if signed && m >= 1i128 << (bits - 1) {
                        m - (1i128 << bits)
                    } else {
                        m
                    }
                };
                let code = |v: i64| {
                    let d = wrap(i128::from(v) - i128::from(offset));
                    d.rem_euclid(i128::from(modulo)) as u32
                };
                if array.data_type() == &DataType::Boolean {
                    let b = array.as_boolean();
                    for (i, o) in out.iter_mut().enumerate() {
                        if b.is_valid(i) {
                            *o = code(i64::from(b.value(i)));
                        }
                    }
                    return true;
                }
                for_each_int(array, |i, v| {
                    if let Some(v) = v {
                        out[i] = code(v);
                    }
                })
            }
            Categorizer::Binning {
                lower,
                upper,
                nbins,
                include_under,
                include_over,
            } => {
                let mut values = Vec::new();
                if !numeric_to_f64(array, &mut values) {
                    return false;
                }
                let binsize = (upper - lower) / f64::from(nbins);
                // NumPy computes a float32 column's index in float32 (the
                // Python floats are weak scalars).
                let single = matches!(array.data_type(), DataType::Float32 | DataType::Float16);
                let nbins = i64::from(nbins);
                let under = if include_under { 0 } else { nbins };
                let over = if include_over { nbins - 1 } else { nbins };
                for (o, &v) in out.iter_mut().zip(&values) {
                    if v.is_nan() {
                        *o = nbins as u32;
                        continue;
                    }
                    let f = if single {
                        f64::from((v as f32 - lower as f32) / binsize as f32)
                    } else {
                        (v - lower) / binsize
                    };
                    // NumPy's `astype(int)`: truncation, and (on x86) the
                    // minimum int64 for what does not fit (infinities).
                    // 2^63: `i64::MAX` rounds up to it as f64.
                    let limit = i64::MAX as f64;
                    let idx = if f.is_finite() && f >= -limit && f < limit {
                        f as i64
                    } else {
                        i64::MIN
                    };
                    // Datashader's two assignments in turn: under first, then
                    // over, which also catches an under value sent to
                    // `nbins` (not included) when over values are included.
                    let idx = if idx < 0 { under } else { idx };
                    let idx = if idx >= nbins { over } else { idx };
                    *o = idx as u32;
                }
                true
            }
        }
    }
}

/// What a category column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CategoryKind {
    /// Strings, plain or dictionary-encoded.
    Strings,
    /// Integers, plain or dictionary-encoded.
    Integers,
}

fn is_str(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

impl CategoryKind {
    /// The kind of category a column of type `dt` holds, if it can hold any.
    pub fn of(dt: &DataType) -> Option<CategoryKind> {
        match dt {
            d if is_str(d) => Some(CategoryKind::Strings),
            d if is_integer(d) => Some(CategoryKind::Integers),
            DataType::Dictionary(_, v) => CategoryKind::of(v),
            _ => None,
        }
    }
}

/// Visit every row of a string (or dictionary-of-string) array.
fn for_each_str(array: &dyn Array, mut f: impl FnMut(usize, Option<&str>)) -> bool {
    if let Some(d) = array.as_any_dictionary_opt() {
        let keys = d.keys();
        let values = d.values();
        let norm = d.normalized_keys();
        // Decode the (small) dictionary once, then index it per row.
        let mut dict: Vec<Option<String>> = Vec::with_capacity(values.len());
        if !for_each_plain_str(values.as_ref(), |_, v| dict.push(v.map(str::to_owned))) {
            return false;
        }
        for (i, k) in norm.iter().enumerate() {
            if keys.is_null(i) {
                f(i, None);
            } else {
                f(i, dict.get(*k).and_then(|v| v.as_deref()));
            }
        }
        return true;
    }
    for_each_plain_str(array, f)
}

/// Visit every row of a plain (not dictionary) string array.
fn for_each_plain_str(array: &dyn Array, mut f: impl FnMut(usize, Option<&str>)) -> bool {
    macro_rules! run {
        ($a:expr) => {{
            for (i, v) in $a.iter().enumerate() {
                f(i, v);
            }
            true
        }};
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string_opt::<i32>().is_some_and(|a| run!(a)),
        DataType::LargeUtf8 => array.as_string_opt::<i64>().is_some_and(|a| run!(a)),
        DataType::Utf8View => array.as_string_view_opt().is_some_and(|a| run!(a)),
        _ => false,
    }
}

/// Visit every row of an integer (or dictionary-of-integer) array.
fn for_each_int(array: &dyn Array, mut f: impl FnMut(usize, Option<i64>)) -> bool {
    if let Some(d) = array.as_any_dictionary_opt() {
        let keys = d.keys();
        let mut dict: Vec<Option<i64>> = Vec::new();
        if !for_each_plain_int(d.values().as_ref(), |_, v| dict.push(v)) {
            return false;
        }
        for (i, k) in d.normalized_keys().iter().enumerate() {
            if keys.is_null(i) {
                f(i, None);
            } else {
                f(i, dict.get(*k).copied().flatten());
            }
        }
        return true;
    }
    for_each_plain_int(array, f)
}

/// Visit every row of a plain (not dictionary) integer array.
fn for_each_plain_int(array: &dyn Array, mut f: impl FnMut(usize, Option<i64>)) -> bool {
    macro_rules! run {
        ($t:ty) => {
            match array.as_primitive_opt::<$t>() {
                Some(a) => {
                    for (i, v) in a.iter().enumerate() {
                        f(i, v.map(|v| v as i64));
                    }
                    true
                }
                None => false,
            }
        };
    }
    match array.data_type() {
        DataType::Int8 => run!(Int8Type),
        DataType::Int16 => run!(Int16Type),
        DataType::Int32 => run!(Int32Type),
        DataType::Int64 => run!(Int64Type),
        DataType::UInt8 => run!(UInt8Type),
        DataType::UInt16 => run!(UInt16Type),
        DataType::UInt32 => run!(UInt32Type),
        DataType::UInt64 => run!(UInt64Type),
        _ => false,
    }
}

/// Codes of a dictionary array from the codes of its dictionary entries,
/// reading the typed keys directly (no per-row null test when there are no
/// nulls). Returns false for key types it does not handle.
fn dictionary_codes(array: &dyn Array, dict_codes: &[u32], out: &mut [u32]) -> bool {
    fn fill<K: ArrowDictionaryKeyType>(d: &DictionaryArray<K>, dict_codes: &[u32], out: &mut [u32])
    where
        K::Native: TryInto<usize>,
    {
        let code = |k: K::Native| {
            k.try_into()
                .ok()
                .and_then(|k: usize| dict_codes.get(k).copied())
                .unwrap_or(CategoryMap::NONE)
        };
        let keys = d.keys();
        match keys.nulls().filter(|n| n.null_count() > 0) {
            None => {
                for (o, &k) in out.iter_mut().zip(keys.values().iter()) {
                    *o = code(k);
                }
            }
            Some(nulls) => {
                for ((o, &k), valid) in out.iter_mut().zip(keys.values().iter()).zip(nulls.iter()) {
                    if valid {
                        *o = code(k);
                    }
                }
            }
        }
    }
    /// One-byte keys (pandas' and pyarrow's usual int8) without nulls: a
    /// 256-entry table indexed by the key's bits, with no bounds or sign
    /// test per row (several times the general loop).
    fn fill_bytes(keys: impl Iterator<Item = u8>, code: impl Fn(u8) -> u32, out: &mut [u32]) {
        let mut table = [CategoryMap::NONE; 256];
        for (b, t) in (0..=u8::MAX).zip(table.iter_mut()) {
            *t = code(b);
        }
        for (o, k) in out.iter_mut().zip(keys) {
            *o = table[usize::from(k)];
        }
    }
    let code_of = |k: usize| dict_codes.get(k).copied().unwrap_or(CategoryMap::NONE);
    if let Some(d) = array.as_dictionary_opt::<Int8Type>() {
        if d.keys().null_count() == 0 {
            let keys = d.keys().values().iter().map(|&k| k as u8);
            // Bytes 128..=255 are negative keys, which match nothing.
            fill_bytes(
                keys,
                |b| {
                    if b < 128 {
                        code_of(usize::from(b))
                    } else {
                        CategoryMap::NONE
                    }
                },
                out,
            );
            return true;
        }
    }
    if let Some(d) = array.as_dictionary_opt::<UInt8Type>() {
        if d.keys().null_count() == 0 {
            fill_bytes(
                d.keys().values().iter().copied(),
                |b| code_of(usize::from(b)),
                out,
            );
            return true;
        }
    }
    macro_rules! keyed {
        ($($t:ty),*) => {$(
            if let Some(d) = array.as_dictionary_opt::<$t>() {
                fill(d, dict_codes, out);
                return true;
            }
        )*};
    }
    keyed!(Int32Type, Int16Type, Int8Type, Int64Type, UInt8Type, UInt16Type, UInt32Type);
    false
}

/// Distinct category values seen so far, kept sorted.
#[derive(Debug, Clone, Default)]
pub struct CategorySet {
    strings: BTreeSet<String>,
    ints: BTreeSet<i64>,
    /// The same values in order of first appearance.
    string_order: Vec<String>,
    int_order: Vec<i64>,
}

impl CategorySet {
    /// Add the non-null values of `array`. Returns false when the array is
    /// not a category column.
    pub fn add(&mut self, array: &dyn Array) -> bool {
        if let Some(d) = array.as_any_dictionary_opt() {
            // Each referenced dictionary entry once, in order of the first
            // row that uses it: a flag per entry, not a set lookup per row.
            let values = d.values();
            let mut entries: Vec<Option<String>> = Vec::with_capacity(values.len());
            let mut ints: Vec<Option<i64>> = Vec::new();
            let strings =
                for_each_plain_str(values.as_ref(), |_, v| entries.push(v.map(str::to_owned)));
            if !strings && !for_each_plain_int(values.as_ref(), |_, v| ints.push(v)) {
                return false;
            }
            let keys = d.keys();
            let mut seen = vec![false; values.len()];
            let mut left = values.len();
            for (i, &k) in d.normalized_keys().iter().enumerate() {
                if left == 0 {
                    break;
                }
                if k >= seen.len() || seen[k] || keys.is_null(i) {
                    continue;
                }
                seen[k] = true;
                left -= 1;
                if strings {
                    if let Some(v) = entries[k].as_deref() {
                        self.insert_str(v);
                    }
                } else if let Some(v) = ints[k] {
                    self.insert_int(v);
                }
            }
            return true;
        }
        if for_each_str(array, |_, v| {
            if let Some(v) = v {
                self.insert_str(v);
            }
        }) {
            return true;
        }
        for_each_int(array, |_, v| {
            if let Some(v) = v {
                self.insert_int(v);
            }
        })
    }

    /// Add one string category.
    pub fn insert_str(&mut self, v: &str) {
        if !self.strings.contains(v) {
            self.strings.insert(v.to_owned());
            self.string_order.push(v.to_owned());
        }
    }

    /// Add one integer category.
    pub fn insert_int(&mut self, v: i64) {
        if self.ints.insert(v) {
            self.int_order.push(v);
        }
    }

    /// Merge another set into this one (its values after ours in the order
    /// of appearance).
    pub fn merge(&mut self, other: CategorySet) {
        for v in &other.string_order {
            self.insert_str(v);
        }
        for v in other.int_order {
            self.insert_int(v);
        }
    }

    /// The sorted labels.
    pub fn into_labels(self, kind: CategoryKind) -> Vec<String> {
        match kind {
            CategoryKind::Strings => self.strings.into_iter().collect(),
            CategoryKind::Integers => self.ints.into_iter().map(|v| v.to_string()).collect(),
        }
    }

    /// The labels in order of first appearance.
    pub fn into_labels_by_appearance(self, kind: CategoryKind) -> Vec<String> {
        match kind {
            CategoryKind::Strings => self.string_order,
            CategoryKind::Integers => self.int_order.iter().map(|v| v.to_string()).collect(),
        }
    }
}

/// The mapping from category values to plane indices.
#[derive(Debug, Clone)]
pub struct CategoryMap {
    kind: CategoryKind,
    labels: Vec<String>,
    strings: HashMap<String, u32>,
    ints: HashMap<i64, u32>,
    /// Codes computed from the values instead of looked up.
    derived: Categorizer,
}

impl CategoryMap {
    /// Code of rows that belong to no category (null, or not listed).
    pub const NONE: u32 = u32::MAX;

    /// Build a map from labels in plane order. For integer columns every
    /// label must parse as an integer; the label that does not is returned.
    pub fn new(kind: CategoryKind, labels: Vec<String>) -> Result<CategoryMap, String> {
        let mut strings = HashMap::new();
        let mut ints = HashMap::new();
        for (i, l) in labels.iter().enumerate() {
            match kind {
                CategoryKind::Strings => {
                    strings.entry(l.clone()).or_insert(i as u32);
                }
                CategoryKind::Integers => {
                    let v: i64 = l.trim().parse().map_err(|_| l.clone())?;
                    ints.entry(v).or_insert(i as u32);
                }
            }
        }
        Ok(CategoryMap {
            kind,
            labels,
            strings,
            ints,
            derived: Categorizer::Values,
        })
    }

    /// The map of a categorizer that computes codes from numbers
    /// ([`Categorizer::Modulo`], [`Categorizer::Binning`]); `None` for
    /// [`Categorizer::Values`].
    pub fn derived(c: Categorizer) -> Option<CategoryMap> {
        Some(CategoryMap {
            kind: CategoryKind::Integers,
            labels: c.labels()?,
            strings: HashMap::new(),
            ints: HashMap::new(),
            derived: c,
        })
    }

    /// Whether codes are computed from numbers rather than looked up.
    pub fn is_derived(&self) -> bool {
        self.derived != Categorizer::Values
    }

    /// This map with one more plane, labelled `label`, after the others,
    /// that no value is coded to by name: the rows that are null or whose
    /// value is not listed land there (they go to the last plane, as in
    /// Datashader), so a map of the kept categories plus this plane folds
    /// every other category into it.
    pub fn with_catch_all(mut self, label: String) -> CategoryMap {
        self.labels.push(label);
        self
    }

    /// Labels in plane order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Number of categories.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no categories.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Write the code of every row of `array` to `out` (cleared first).
    /// Returns false when the array is not of this map's kind.
    pub fn codes(&self, array: &dyn Array, out: &mut Vec<u32>) -> bool {
        if self.is_derived() {
            return self.derived.codes(array, out);
        }
        out.clear();
        out.resize(array.len(), Self::NONE);
        match self.kind {
            CategoryKind::Strings => {
                // Dictionary arrays: look each dictionary entry up once.
                if let Some(d) = array.as_any_dictionary_opt() {
                    let mut dict_codes: Vec<u32> = Vec::new();
                    if !for_each_plain_str(d.values().as_ref(), |_, v| {
                        dict_codes.push(
                            v.and_then(|v| self.strings.get(v).copied())
                                .unwrap_or(Self::NONE),
                        )
                    }) {
                        return false;
                    }
                    if dictionary_codes(array, &dict_codes, out) {
                        return true;
                    }
                    let keys = d.keys();
                    for (i, k) in d.normalized_keys().iter().enumerate() {
                        if !keys.is_null(i) {
                            out[i] = dict_codes.get(*k).copied().unwrap_or(Self::NONE);
                        }
                    }
                    return true;
                }
                for_each_str(array, |i, v| {
                    if let Some(c) = v.and_then(|v| self.strings.get(v)) {
                        out[i] = *c;
                    }
                })
            }
            CategoryKind::Integers => for_each_int(array, |i, v| {
                if let Some(c) = v.and_then(|v| self.ints.get(&v)) {
                    out[i] = *c;
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type as K;
    use arrow_array::{DictionaryArray, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn dictionary_sets_hold_used_entries_in_first_use_order() {
        // Entry "zz" is in the dictionary but no row uses it; the row with
        // a null key and the null entry add nothing.
        let values = StringArray::from(vec![Some("b"), Some("zz"), Some("a"), None, Some("c")]);
        let keys =
            arrow_array::Int32Array::from(vec![Some(4), Some(2), None, Some(3), Some(2), Some(0)]);
        let d = DictionaryArray::<K>::try_new(keys, Arc::new(values)).expect("dict");
        let mut set = CategorySet::default();
        assert!(set.add(&d));
        // The same rows as plain strings give the same set, both orders.
        let plain = StringArray::from(vec![Some("c"), Some("a"), None, None, Some("a"), Some("b")]);
        let mut want = CategorySet::default();
        assert!(want.add(&plain));
        assert_eq!(
            set.clone().into_labels_by_appearance(CategoryKind::Strings),
            vec!["c", "a", "b"]
        );
        assert_eq!(
            set.clone().into_labels_by_appearance(CategoryKind::Strings),
            want.clone()
                .into_labels_by_appearance(CategoryKind::Strings)
        );
        assert_eq!(
            set.into_labels(CategoryKind::Strings),
            want.into_labels(CategoryKind::Strings)
        );
        // Integer dictionaries too.
        let ivalues = Int64Array::from(vec![7, -3, 11]);
        let ikeys = arrow_array::Int32Array::from(vec![1, 1, 0]);
        let di = DictionaryArray::<K>::try_new(ikeys, Arc::new(ivalues)).expect("dict");
        let mut iset = CategorySet::default();
        assert!(iset.add(&di));
        assert_eq!(
            iset.into_labels_by_appearance(CategoryKind::Integers),
            vec!["-3", "7"]
        );
    }

    #[test]
    fn strings_sort_and_code() {
        let a = StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]);
        let mut set = CategorySet::default();
        assert!(set.add(&a));
        let labels = set.into_labels(CategoryKind::Strings);
        assert_eq!(labels, vec!["a", "b"]);
        let map = CategoryMap::new(CategoryKind::Strings, labels).expect("map");
        let mut codes = Vec::new();
        assert!(map.codes(&a, &mut codes));
        assert_eq!(codes, vec![1, CategoryMap::NONE, 0, 1]);
    }

    #[test]
    fn dictionary_strings_code_like_plain() {
        let d: DictionaryArray<K> = vec![Some("y"), Some("x"), None, Some("y")]
            .into_iter()
            .collect();
        let map =
            CategoryMap::new(CategoryKind::Strings, vec!["x".into(), "y".into()]).expect("map");
        let mut codes = Vec::new();
        assert!(map.codes(&d, &mut codes));
        assert_eq!(codes, vec![1, 0, CategoryMap::NONE, 1]);
    }

    #[test]
    fn integers_sort_numerically() {
        let a = Int64Array::from(vec![10, 9, -1, 10]);
        let mut set = CategorySet::default();
        assert!(set.add(&a));
        assert_eq!(
            set.into_labels(CategoryKind::Integers),
            vec!["-1", "9", "10"]
        );
    }

    #[test]
    fn unlisted_values_get_no_code() {
        let a = StringArray::from(vec!["a", "z"]);
        let map = CategoryMap::new(CategoryKind::Strings, vec!["a".into()]).expect("map");
        let mut codes = Vec::new();
        assert!(map.codes(&a, &mut codes));
        assert_eq!(codes, vec![0, CategoryMap::NONE]);
    }

    /// One-byte keys (the table path) code like wider keys, including a
    /// dictionary entry that is not a category and a null dictionary value.
    #[test]
    fn byte_keys_code_like_wide_keys() {
        use arrow_array::types::{Int8Type, UInt8Type};
        use arrow_array::{Int32Array, Int8Array, UInt8Array};
        use std::sync::Arc;
        let dict = Arc::new(StringArray::from(vec![
            Some("b"),
            Some("zz"),
            None,
            Some("a"),
        ]));
        let keys: Vec<i32> = (0..1000).map(|i| i * 7 % 4).collect();
        let map =
            CategoryMap::new(CategoryKind::Strings, vec!["a".into(), "b".into()]).expect("map");
        let wide = DictionaryArray::<K>::try_new(Int32Array::from(keys.clone()), dict.clone())
            .expect("dict");
        let mut want = Vec::new();
        assert!(map.codes(&wide, &mut want));
        assert!(want.contains(&CategoryMap::NONE) && want.contains(&0) && want.contains(&1));
        let i8s = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(keys.iter().map(|&k| k as i8).collect::<Vec<_>>()),
            dict.clone(),
        )
        .expect("dict");
        let u8s = DictionaryArray::<UInt8Type>::try_new(
            UInt8Array::from(keys.iter().map(|&k| k as u8).collect::<Vec<_>>()),
            dict,
        )
        .expect("dict");
        let mut got = Vec::new();
        assert!(map.codes(&i8s, &mut got));
        assert_eq!(got, want);
        assert!(map.codes(&u8s, &mut got));
        assert_eq!(got, want);
    }

    fn derived_codes(c: Categorizer, array: &dyn Array) -> Vec<u32> {
        let map = CategoryMap::derived(c).expect("a computed categorizer");
        let mut out = Vec::new();
        assert!(map.codes(array, &mut out));
        out
    }

    #[test]
    fn modulo_wraps_in_the_column_dtype_and_floors() {
        use arrow_array::{Int32Array, UInt8Array};
        let c = Categorizer::Modulo {
            modulo: 3,
            offset: 0,
        };
        let ints = Int32Array::from(vec![Some(-4), Some(-3), Some(-2), Some(-1), Some(0), None]);
        assert_eq!(derived_codes(c, &ints), [2, 0, 1, 2, 0, CategoryMap::NONE]);
        // uint8 0..10 less 5 wraps to 251..255, 0..4 before the modulo.
        let c = Categorizer::Modulo {
            modulo: 3,
            offset: 5,
        };
        let u8s = UInt8Array::from((0..10).collect::<Vec<u8>>());
        let mut counts = [0; 3];
        for code in derived_codes(c, &u8s) {
            counts[code as usize] += 1;
        }
        assert_eq!(counts, [4, 3, 3]);
    }

    #[test]
    fn binning_truncates_and_sends_under_and_over_as_numpy_does() {
        use arrow_array::Float64Array;
        let values = Float64Array::from(vec![
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            0.9999,
            -1.0001,
            -1.4999,
            -1.5,
            -1.50001,
            f64::NAN,
            -1.0,
        ]);
        let count = |under, over| {
            let c = Categorizer::Binning {
                lower: -1.0,
                upper: 1.0,
                nbins: 4,
                include_under: under,
                include_over: over,
            };
            let mut counts = [0; 5];
            for code in derived_codes(c, &values) {
                counts[code as usize] += 1;
            }
            counts
        };
        // Infinities cast to the minimum int64 (under); a value less than a
        // bin below `lower` truncates to bin 0; `upper` is over; NaN last.
        assert_eq!(count(true, true), [7, 0, 0, 2, 1]);
        assert_eq!(count(false, false), [3, 0, 0, 1, 6]);
        // Under values first go to the last category, then (as over) to
        // the last bin.
        assert_eq!(count(false, true), [3, 0, 0, 6, 1]);
    }

    #[test]
    fn by_grammar_round_trips() {
        for s in [
            "cat",
            "category_modulo(i,3,1)",
            "category_binning(v,-1.0,1.0,4,false,true)",
        ] {
            let (col, c) = Categorizer::parse_by(s).expect(s);
            assert_eq!(c.describe(&col), s);
        }
        for bad in [
            "category_modulo(i,0)",
            "category_binning(v,1,1,4)",
            "category_binning(v,0,1,0)",
            "category_modulo(i)",
        ] {
            assert!(Categorizer::parse_by(bad).is_err(), "{bad}");
        }
    }
}
