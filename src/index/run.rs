//! Runs of decoded rows, their sort, and gathering rows into batches.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

use super::IndexError;
use crate::source::Source;

/// Rows per batch a run holds: a row's place in a run is packed as
/// `batch << 16 | row`, so batches must not be longer.
pub(super) const MAX_BATCH_ROWS: usize = 1 << 16;

/// Bytes the sort needs per row besides the data: the key (4) and two
/// buffers of packed `(key, batch, row)` entries (8 each).
pub(super) const SORT_BYTES_PER_ROW: usize = 4 + 16;

/// Decoded rows in input order with their keys.
#[derive(Debug, Default)]
pub(super) struct Run {
    pub(super) batches: Vec<RecordBatch>,
    /// The keys of each batch's rows (one vector per batch: a single
    /// growing one would leave the allocator holes of every size it had).
    pub(super) keys: Vec<Vec<u32>>,
    pub(super) rows: usize,
    pub(super) bytes: usize,
}

impl Run {
    /// Append `batch` (at most [`MAX_BATCH_ROWS`] rows) and its keys.
    pub(super) fn push(&mut self, batch: RecordBatch, keys: Vec<u32>) {
        self.rows += batch.num_rows();
        self.bytes += batch.get_array_memory_size() + batch.num_rows() * SORT_BYTES_PER_ROW;
        self.batches.push(batch);
        self.keys.push(keys);
    }

    /// Split the run into two at a batch boundary near its middle (input
    /// order: the first part comes first).
    pub(super) fn split_in_two(mut self) -> (Run, Run) {
        let half = self.batches.len() / 2;
        let tail_batches = self.batches.split_off(half);
        let tail_keys = self.keys.split_off(half);
        let measure = |batches: Vec<RecordBatch>, keys: Vec<Vec<u32>>| {
            let mut run = Run::default();
            for (b, k) in batches.into_iter().zip(keys) {
                run.push(b, k);
            }
            run
        };
        (
            measure(self.batches, self.keys),
            measure(tail_batches, tail_keys),
        )
    }

    /// The run's rows sorted by key, ties in input order: packed
    /// `key << 32 | batch << 16 | row`, in `scratch`.
    pub(super) fn sort<'a>(&self, scratch: &'a mut SortScratch) -> &'a [u64] {
        let entries = &mut scratch.entries;
        entries.clear();
        // Room for the next runs too, which differ by a few batches.
        entries.reserve(self.rows + 4 * MAX_BATCH_ROWS);
        for (b, keys) in self.keys.iter().enumerate() {
            let base = (b as u64) << 16;
            entries.extend(
                keys.iter()
                    .enumerate()
                    .map(|(r, &k)| (u64::from(k) << 32) | base | r as u64),
            );
        }
        radix_sort_by_high_half(entries, &mut scratch.spare);
        &scratch.entries
    }
}

/// Buffers of the sort, kept from run to run (fresh multi-megabyte
/// allocations are page-faulted in each time).
#[derive(Debug, Default)]
pub(super) struct SortScratch {
    entries: Vec<u64>,
    spare: Vec<u64>,
}

/// Stable radix sort of `v` by its high 32 bits (the low bits keep their
/// input order among equal keys).
///
/// One pass on the top byte of the key spreads the entries into 256
/// buckets (in `spare`); each bucket, a fraction of the whole and mostly
/// in cache, is then sorted on the key's other three bytes by LSD passes,
/// the buckets in parallel. Byte passes whose value is the same for the
/// whole bucket are skipped.
pub(super) fn radix_sort_by_high_half(v: &mut Vec<u64>, spare: &mut Vec<u64>) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let mut counts = [0usize; 256];
    for &e in v.iter() {
        counts[(e >> 56) as usize] += 1;
    }
    let mut starts = [0usize; 257];
    for (i, &c) in counts.iter().enumerate() {
        starts[i + 1] = starts[i] + c;
    }
    spare.clear();
    spare.reserve(v.capacity());
    spare.resize(n, 0);
    let mut at = starts;
    for &e in v.iter() {
        let d = (e >> 56) as usize;
        spare[at[d]] = e;
        at[d] += 1;
    }
    // Disjoint (sorted from, scratch) slices per bucket.
    let mut buckets: Vec<(&mut [u64], &mut [u64])> = Vec::with_capacity(256);
    let (mut from, mut to) = (&mut spare[..], &mut v[..]);
    for w in starts.windows(2) {
        let len = w[1] - w[0];
        let (f, rest_f) = from.split_at_mut(len);
        let (t, rest_t) = to.split_at_mut(len);
        if len > 0 {
            buckets.push((f, t));
        }
        from = rest_f;
        to = rest_t;
    }
    use rayon::prelude::*;
    buckets
        .into_par_iter()
        .with_max_len(1)
        .for_each(|(src, dst)| sort_bucket(src, dst));
}

/// LSD byte passes over bits 32..56 of `src`, leaving the result in `dst`.
fn sort_bucket(src: &mut [u64], dst: &mut [u64]) {
    let m = src.len();
    let mut counts = [[0usize; 256]; 3];
    for &e in src.iter() {
        for (k, c) in counts.iter_mut().enumerate() {
            c[((e >> (32 + 8 * k)) & 0xFF) as usize] += 1;
        }
    }
    // Where the sorted entries are now: `src` (true) or `dst`.
    let mut in_src = true;
    for (k, c) in counts.iter_mut().enumerate() {
        if c.contains(&m) {
            continue;
        }
        let mut sum = 0;
        for x in c.iter_mut() {
            let here = *x;
            *x = sum;
            sum += here;
        }
        let (a, b): (&[u64], &mut [u64]) = if in_src {
            (&*src, &mut *dst)
        } else {
            (&*dst, &mut *src)
        };
        let shift = 32 + 8 * k;
        for &e in a {
            let d = ((e >> shift) & 0xFF) as usize;
            b[c[d]] = e;
            c[d] += 1;
        }
        in_src = !in_src;
    }
    if in_src {
        dst.copy_from_slice(src);
    }
}

/// Rows `(batch, row)` of `batches`, in that order, as one batch.
pub(super) fn gather(
    batches: &[RecordBatch],
    idx: &[(usize, usize)],
) -> Result<RecordBatch, ArrowError> {
    let Some(first) = batches.first() else {
        return Err(ArrowError::InvalidArgumentError(
            "no batches to gather from".into(),
        ));
    };
    let schema = first.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<&dyn Array> = Vec::with_capacity(batches.len());
    for c in 0..schema.fields().len() {
        arrays.clear();
        arrays.extend(batches.iter().map(|b| b.column(c).as_ref()));
        columns.push(gather_column(&arrays, idx)?);
    }
    RecordBatch::try_new(schema, columns)
}

/// Rows `(array, row)` of `arrays` as one array. Dictionary arrays that
/// all hold the same values array (the shared dictionaries) give one over
/// those values: Arrow's `interleave` would concatenate a copy of the
/// values per input array (overflowing small key types).
fn gather_column(arrays: &[&dyn Array], idx: &[(usize, usize)]) -> Result<ArrayRef, ArrowError> {
    use arrow_array::types::{
        Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
    };
    use arrow_array::DictionaryArray;
    use arrow_schema::DataType;
    let shared = arrays.first().and_then(|a| {
        let values = a.as_any_dictionary_opt()?.values();
        arrays
            .iter()
            .all(|b| {
                b.as_any_dictionary_opt()
                    .is_some_and(|d| Arc::ptr_eq(d.values(), values))
            })
            .then(|| Arc::clone(values))
    });
    let (Some(values), Some(DataType::Dictionary(key, _))) =
        (shared, arrays.first().map(|a| a.data_type()))
    else {
        return arrow_select::interleave::interleave(arrays, idx);
    };
    let keys: Vec<&dyn Array> = arrays
        .iter()
        .filter_map(|a| a.as_any_dictionary_opt().map(|d| d.keys()))
        .collect();
    let keys = arrow_select::interleave::interleave(&keys, idx)?;
    macro_rules! wrap {
        ($($k:ident => $t:ty),*) => {
            match key.as_ref() {
                $(DataType::$k => {
                    let keys = keys.as_primitive_opt::<$t>().ok_or_else(|| {
                        ArrowError::InvalidArgumentError("dictionary keys of another type".into())
                    })?;
                    Ok(Arc::new(DictionaryArray::<$t>::try_new(keys.clone(), values)?))
                })*
                _ => arrow_select::interleave::interleave(arrays, idx),
            }
        };
    }
    wrap!(
        Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
        UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type
    )
}

/// The rows of packed sort entries (see [`Run::sort`]) as one batch of
/// `batches`' rows, with their keys.
pub(super) fn gather_sorted(
    batches: &[RecordBatch],
    entries: &[u64],
) -> Result<(RecordBatch, Vec<u32>), ArrowError> {
    let idx: Vec<(usize, usize)> = entries
        .iter()
        .map(|&e| (((e >> 16) & 0xFFFF) as usize, (e & 0xFFFF) as usize))
        .collect();
    let keys = entries.iter().map(|&e| (e >> 32) as u32).collect();
    Ok((gather(batches, &idx)?, keys))
}

/// One dictionary per string dictionary column, shared by every batch.
///
/// Writers such as pyarrow give each row group a dictionary of its own.
/// Rows of many row groups then meet in one sorted batch, where Arrow's
/// `interleave` has to merge the dictionaries (approximately: duplicates can
/// stay, and an `int8` key overflowed), and a spilled run's batches differ
/// in dictionary. So each batch is re-keyed on read into the column's
/// values over the whole input, in order of first appearance (from the
/// Parquet dictionary pages): every array of the column then shares one
/// dictionary, sorting moves keys only, and the output keeps the column's
/// type. Columns whose dictionary pages do not list their values, or
/// whose union does not fit the key type, stay as they are read.
#[derive(Debug)]
pub(super) struct SharedDictionaries {
    /// Column index, the shared values and their positions.
    columns: Vec<(usize, ArrayRef, HashMap<String, usize>)>,
}

impl SharedDictionaries {
    pub(super) fn new(
        source: &Source,
        schema: &SchemaRef,
    ) -> Result<SharedDictionaries, IndexError> {
        use arrow_schema::DataType;
        let mut columns = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let DataType::Dictionary(key, value) = f.data_type() else {
                continue;
            };
            // pandas writes its strings as large_string.
            if !matches!(value.as_ref(), DataType::Utf8 | DataType::LargeUtf8) {
                continue;
            }
            let Ok(Some(labels)) = source.categories_in_dictionary_order(f.name()) else {
                continue;
            };
            let capacity: u64 = match key.as_ref() {
                DataType::Int8 => i8::MAX as u64,
                DataType::UInt8 => u8::MAX as u64,
                DataType::Int16 => i16::MAX as u64,
                DataType::UInt16 => u16::MAX as u64,
                _ => i32::MAX as u64,
            };
            if labels.len() as u64 > capacity + 1 {
                continue;
            }
            let positions = labels
                .iter()
                .enumerate()
                .map(|(k, l)| (l.clone(), k))
                .collect();
            let values: ArrayRef = if value.as_ref() == &DataType::LargeUtf8 {
                Arc::new(arrow_array::LargeStringArray::from(labels))
            } else {
                Arc::new(arrow_array::StringArray::from(labels))
            };
            columns.push((i, values, positions));
        }
        Ok(SharedDictionaries { columns })
    }

    /// `columns` with every shared dictionary column re-keyed.
    pub(super) fn apply(&self, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>, ArrowError> {
        let mut out = columns.to_vec();
        for (i, values, positions) in &self.columns {
            if let Some(c) = out.get_mut(*i) {
                *c = rekey(c.as_ref(), values, positions)?;
            }
        }
        Ok(out)
    }

    /// `batch`, read back from a spilled run, with each shared column's
    /// dictionary (equal to the shared one: it was written from it) replaced
    /// by the shared array itself, so that rows of different runs interleave
    /// without merging dictionaries.
    pub(super) fn adopt(&self, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
        if self.columns.is_empty() {
            return Ok(batch);
        }
        let mut columns = batch.columns().to_vec();
        for (i, values, _) in &self.columns {
            let Some(c) = columns.get_mut(*i) else {
                continue;
            };
            let replaced = match c.as_any_dictionary_opt() {
                Some(d) if d.values().as_ref() == values.as_ref() => {
                    Some(d.with_values(Arc::clone(values)))
                }
                _ => None,
            };
            if let Some(r) = replaced {
                *c = r;
            }
        }
        RecordBatch::try_new(batch.schema(), columns)
    }
}

/// `array` (a dictionary of strings) over the dictionary `values`, whose
/// value -> position map is `positions`.
fn rekey(
    array: &dyn Array,
    values: &ArrayRef,
    positions: &HashMap<String, usize>,
) -> Result<ArrayRef, ArrowError> {
    use arrow_array::types::ArrowDictionaryKeyType;
    use arrow_array::types::{
        Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
    };
    use arrow_array::{DictionaryArray, PrimitiveArray};
    fn go<K: ArrowDictionaryKeyType>(
        d: &DictionaryArray<K>,
        values: &ArrayRef,
        positions: &HashMap<String, usize>,
    ) -> Result<ArrayRef, ArrowError> {
        // Local key -> shared key, for the values this batch's dictionary has.
        let shared = |v: Option<&str>| {
            v.and_then(|v| positions.get(v))
                .and_then(|&p| <K::Native as arrow_buffer::ArrowNativeType>::from_usize(p))
        };
        let table: Vec<Option<K::Native>> = if let Some(local) = d.values().as_string_opt::<i32>() {
            local.iter().map(shared).collect()
        } else if let Some(local) = d.values().as_string_opt::<i64>() {
            local.iter().map(shared).collect()
        } else {
            return Err(ArrowError::InvalidArgumentError(
                "dictionary values are not strings".into(),
            ));
        };
        let keys: PrimitiveArray<K> = d
            .keys()
            .iter()
            .map(|k| {
                k.and_then(arrow_buffer::ArrowNativeType::to_usize)
                    .and_then(|k| table.get(k).copied().flatten())
            })
            .collect();
        if keys.null_count() != d.null_count() {
            let missing = d
                .keys()
                .iter()
                .zip(keys.iter())
                .filter(|(a, b)| a.is_some() && b.is_none())
                .count();
            return Err(ArrowError::InvalidArgumentError(format!(
                "{missing} values are not in the column's dictionary pages"
            )));
        }
        Ok(Arc::new(DictionaryArray::<K>::try_new(
            keys,
            Arc::clone(values),
        )?))
    }
    macro_rules! keyed {
        ($($t:ty),*) => {$(
            if let Some(d) = array.as_dictionary_opt::<$t>() {
                return go(d, values, positions);
            }
        )*};
    }
    keyed!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    Err(ArrowError::InvalidArgumentError(
        "not a dictionary column".into(),
    ))
}
