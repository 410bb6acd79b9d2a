//! Partial aggregates for distributed runs (`pointillist.dask`): each
//! partition or Parquet fragment becomes a `PartialAggregate` on a worker,
//! travels as the library's serialised form (the Arrow IPC bytes of
//! `PartialAggregate::write_ipc`), is merged in a tree, and is finished on
//! the client into the dict `aggregate_stream` returns. All the work runs
//! with the GIL released.
//!
//! Every partial of one run must belong to the same plan, so the map step
//! gets its ranges (and categories) resolved beforehand: given, or from
//! `parquet_plan` (Parquet statistics and dictionaries where they decide,
//! else a scan), or from the Python side's pre-pass over the partitions.
//!
//! Work in progress for the Python issue: not yet built by CI.

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::FromPyArrow;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use pointillist::aggregate::{
    AggError, AggregateRequest, AggregationPlan, Aggregator, PartialAggregate, Shard,
};
use pointillist::source::Source;

use crate::{py_err, to_python, Params};

/// Register this module's functions on `pointillist._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(partial_from_stream, m)?)?;
    m.add_function(wrap_pyfunction!(partial_from_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(parquet_plan, m)?)?;
    m.add_function(wrap_pyfunction!(merge_partials, m)?)?;
    m.add_function(wrap_pyfunction!(finish_partial, m)?)?;
    m.add_function(wrap_pyfunction!(partial_info, m)?)?;
    Ok(())
}

/// A request whose plan every partial finds alike: both ranges given, and
/// the categories of a categorical reduction.
fn fixed_request(p: &Params, what: &str) -> PyResult<AggregateRequest> {
    if p.x_range.is_none() || p.y_range.is_none() {
        return Err(PyValueError::new_err(format!(
            "{what}: give x_range and y_range: the partials of one aggregation must \
             share their ranges, so they are resolved before the map step"
        )));
    }
    let req = p.request()?;
    // A computed categorizer (modulo, binning) knows its categories.
    let computed = req.reduction.categorizer.count().is_some();
    if req.reduction.by.is_some() && req.categories.is_none() && !computed {
        return Err(PyValueError::new_err(format!(
            "{what}: give the categories: the partials of one aggregation must share them, \
             so they are resolved before the map step"
        )));
    }
    Ok(req)
}

/// One partition's partial aggregate, as the IPC bytes of
/// `PartialAggregate::write_ipc`. `stream` is any object with
/// `__arrow_c_stream__`; its rows are positioned from `first_row` (the
/// partition's first row in the whole input), so `first`/`last` merge
/// exactly in any order. Ranges (and categories) must be given.
#[pyfunction]
#[pyo3(signature = (stream, params, first_row=0))]
fn partial_from_stream<'py>(
    py: Python<'py>,
    stream: &Bound<'py, PyAny>,
    params: Params,
    first_row: u64,
) -> PyResult<Py<PyBytes>> {
    let p = params;
    let req = fixed_request(&p, "partial_from_stream")?;
    let reader = RecordBatchStreamReader::from_pyarrow_bound(stream)?;
    let bytes = py.detach(move || {
        p.run(move || {
            let mut agg = Aggregator::new(req)?
                .with_label("the partition")
                .with_first_row(first_row);
            agg.extend(reader)?;
            agg.finish_partial()?.to_ipc_bytes()
        })
    })?;
    Ok(PyBytes::new(py, &bytes).unbind())
}

/// Shard `shard_index` of `shard_count` of Parquet `paths` (consecutive
/// runs of row groups of about equal rows, `Shard::owns`), read by the
/// core, as the IPC bytes of its partial. Every shard of one run must get
/// the same paths, count and parameters; ranges and categories come from
/// the parameters or from Parquet metadata that every shard reads alike.
#[pyfunction]
#[pyo3(signature = (
    paths, shard_index, shard_count, params
))]
fn partial_from_parquet<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    shard_index: u32,
    shard_count: u32,
    params: Params,
) -> PyResult<Py<PyBytes>> {
    let p = params;
    let shard = Shard::new(shard_index, shard_count).map_err(py_err)?;
    let req = p.request()?.with_shard(shard);
    let bytes = py.detach(move || {
        p.run(move || {
            let source = Source::open(&paths)?;
            AggregationPlan::new(&source, &req)?
                .run_partial(&source)?
                .to_ipc_bytes()
        })
    })?;
    Ok(PyBytes::new(py, &bytes).unbind())
}

/// Plan an aggregation of Parquet `paths` without aggregating: the ranges
/// and categories the single-process run would use (from Parquet
/// statistics and dictionary pages where they decide, else by scanning
/// the columns in question), the rows and the row groups. A dict:
/// `x_range`, `y_range`, `categories` (or None), `rows`, `row_groups`.
#[pyfunction]
#[pyo3(signature = (
    paths, params
))]
fn parquet_plan<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    params: Params,
) -> PyResult<Bound<'py, PyDict>> {
    let p = params;
    let req = p.request()?;
    type Planned = ((f64, f64), (f64, f64), Option<Vec<String>>, u64, usize);
    let (xr, yr, cats, rows, row_groups) = py
        .detach(move || -> Result<Planned, AggError> {
            let source = Source::open(&paths)?;
            let plan = AggregationPlan::new(&source, &req)?;
            let spec = plan.spec();
            Ok((
                spec.x_range,
                spec.y_range,
                spec.categories.clone(),
                source.num_rows(),
                source.num_row_groups(),
            ))
        })
        .map_err(py_err)?;
    let out = PyDict::new(py);
    out.set_item("x_range", xr)?;
    out.set_item("y_range", yr)?;
    out.set_item("categories", cats)?;
    out.set_item("rows", rows)?;
    out.set_item("row_groups", row_groups)?;
    Ok(out)
}

/// Merge serialised partials in the order given (`PartialAggregate::merge`;
/// `first`/`last` go by row positions, so any order gives the same cells)
/// into one, serialised again. Partials of different plans, or the same
/// shard twice, are refused.
#[pyfunction]
fn merge_partials<'py>(
    py: Python<'py>,
    partials: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Py<PyBytes>> {
    let slices: Vec<&[u8]> = partials.iter().map(|b| b.as_bytes()).collect();
    let bytes = py
        .detach(move || -> Result<Vec<u8>, AggError> {
            let mut it = slices.into_iter();
            let first = it.next().ok_or(AggError::NoPartials)?;
            let mut total = PartialAggregate::from_ipc_bytes(first)?;
            for b in it {
                total.merge(PartialAggregate::from_ipc_bytes(b)?)?;
            }
            total.to_ipc_bytes()
        })
        .map_err(py_err)?;
    Ok(PyBytes::new(py, &bytes).unbind())
}

/// Finish a serialised partial into the dict `aggregate_stream` returns
/// (`values`, `shape`, `x_range`, `y_range`, `categories`), plus `rows`.
/// A partial of shards must cover all of them.
#[pyfunction]
fn finish_partial<'py>(
    py: Python<'py>,
    partial: Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyDict>> {
    let bytes = partial.as_bytes();
    let (agg, rows) = py
        .detach(move || -> Result<_, AggError> {
            let part = PartialAggregate::from_ipc_bytes(bytes)?;
            if let Some(c) = part.coverage() {
                if !c.is_complete() {
                    return Err(AggError::MissingShards {
                        missing: c.missing(),
                        count: c.count,
                    });
                }
            }
            let rows = part.rows();
            Ok((part.finish(), rows))
        })
        .map_err(py_err)?;
    let out = to_python(py, agg)?;
    out.set_item("rows", rows)?;
    Ok(out)
}

/// What a serialised partial says about itself, without finishing it: a
/// dict of `rows`, `cells`, `x_range`, `y_range`, `categories`,
/// `reduction` and, for shards, `shards` and `shard_count`.
#[pyfunction]
fn partial_info<'py>(
    py: Python<'py>,
    partial: Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyDict>> {
    let bytes = partial.as_bytes();
    let part = py
        .detach(move || PartialAggregate::from_ipc_bytes(bytes))
        .map_err(py_err)?;
    let spec = part.spec();
    let out = PyDict::new(py);
    out.set_item("rows", part.rows())?;
    out.set_item("cells", spec.cells())?;
    out.set_item("x_range", spec.x_range)?;
    out.set_item("y_range", spec.y_range)?;
    out.set_item("categories", spec.categories.clone())?;
    out.set_item("reduction", spec.reduction.to_string())?;
    if let Some(c) = part.coverage() {
        out.set_item("shards", c.shards.iter().copied().collect::<Vec<u32>>())?;
        out.set_item("shard_count", c.count)?;
    }
    Ok(out)
}
