//! `pointillist._native`: the Rust core behind the `pointillist` Python
//! package. Python builds the request (`pointillist/core.py`), this module
//! aggregates with the GIL released and hands back the raw values, the
//! final ranges and the categories; Python wraps them in Datashader's
//! `xarray.DataArray`.
//!
//! Work in progress for the Python issue: not yet a member of the root
//! workspace and not yet built by CI.

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::FromPyArrow;
use numpy::PyArray1;
use pyo3::exceptions::{PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pointillist::aggregate::{
    aggregate, AggError, AggValues, Aggregate, AggregateRequest, Aggregator, AxisKind,
    ReductionKind, ReductionSpec,
};
use pointillist::source::{Source, SourceError};

/// Everything `Canvas.points` passes down, already checked by Python.
struct Params {
    x: String,
    y: String,
    width: usize,
    height: usize,
    reduction: String,
    column: Option<String>,
    by: Option<String>,
    categories: Option<Vec<String>>,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    x_axis: String,
    y_axis: String,
}

fn axis(name: &str, which: &str) -> PyResult<AxisKind> {
    name.parse::<AxisKind>()
        .map_err(|e| PyValueError::new_err(format!("{which}_axis_type: {e}")))
}

impl Params {
    fn request(&self) -> PyResult<AggregateRequest> {
        let kind = ReductionKind::ALL
            .iter()
            .find(|(n, _)| *n == self.reduction)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                PyNotImplementedError::new_err(format!(
                    "reduction '{}' is not implemented by pointillist's core",
                    self.reduction
                ))
            })?;
        let mut spec = match &self.column {
            Some(c) => ReductionSpec::of(kind, c),
            None if kind.needs_column() => {
                return Err(PyValueError::new_err(format!(
                    "{} needs a value column",
                    self.reduction
                )))
            }
            None => ReductionSpec {
                kind,
                ..ReductionSpec::count()
            },
        };
        if let Some(b) = &self.by {
            spec = spec.by(b);
        }
        let mut req = AggregateRequest::new(self.width, self.height)
            .with_columns(&self.x, &self.y)
            .with_reduction(spec)
            .with_x_axis(axis(&self.x_axis, "x")?)
            .with_y_axis(axis(&self.y_axis, "y")?);
        if let Some((lo, hi)) = self.x_range {
            req = req.with_x_range(lo, hi);
        }
        if let Some((lo, hi)) = self.y_range {
            req = req.with_y_range(lo, hi);
        }
        if let Some(c) = &self.categories {
            req = req.with_categories(c.iter().cloned());
        }
        Ok(req)
    }
}

/// An error of the core as a Python exception: missing columns are
/// `KeyError`s (as pandas raises), everything else `ValueError`.
fn py_err(e: AggError) -> PyErr {
    match &e {
        AggError::Source(SourceError::MissingColumn { .. }) => {
            pyo3::exceptions::PyKeyError::new_err(e.to_string())
        }
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// The finished aggregate as a dict: `values` (a flat NumPy array in
/// the core's dtype, C order of `shape`), `shape`, `x_range`, `y_range`
/// and `categories` (a list of labels, or None).
fn to_python<'py>(py: Python<'py>, agg: Aggregate) -> PyResult<Bound<'py, PyDict>> {
    let shape = agg.shape();
    let n: usize = shape.iter().product();
    if agg.values.len() != n {
        return Err(PyValueError::new_err(format!(
            "the core returned {} values for shape {shape:?}",
            agg.values.len()
        )));
    }
    let out = PyDict::new(py);
    match agg.values {
        AggValues::U32(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        AggValues::Bool(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        AggValues::F64(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        other => {
            return Err(PyNotImplementedError::new_err(format!(
                "aggregate values of dtype {} are not supported by the Python package yet",
                other.dtype_name()
            )))
        }
    }
    out.set_item("shape", shape)?;
    out.set_item("x_range", agg.x_range)?;
    out.set_item("y_range", agg.y_range)?;
    out.set_item("categories", agg.categories)?;
    Ok(out)
}

/// Aggregate an Arrow stream (any object with `__arrow_c_stream__`: a
/// pyarrow Table or RecordBatchReader, a polars DataFrame, ...). The
/// stream is read and aggregated with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    stream, x, y, width, height, reduction, column=None, by=None,
    categories=None, x_range=None, y_range=None, x_axis="linear", y_axis="linear"
))]
#[allow(clippy::too_many_arguments)]
fn aggregate_stream<'py>(
    py: Python<'py>,
    stream: &Bound<'py, PyAny>,
    x: String,
    y: String,
    width: usize,
    height: usize,
    reduction: String,
    column: Option<String>,
    by: Option<String>,
    categories: Option<Vec<String>>,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    x_axis: &str,
    y_axis: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let params = Params {
        x,
        y,
        width,
        height,
        reduction,
        column,
        by,
        categories,
        x_range,
        y_range,
        x_axis: x_axis.to_string(),
        y_axis: y_axis.to_string(),
    };
    let req = params.request()?;
    let reader = RecordBatchStreamReader::from_pyarrow_bound(stream)?;
    let agg = py
        .detach(move || -> Result<Aggregate, AggError> {
            let mut agg = Aggregator::new(req)?.with_label("the Arrow stream");
            agg.extend(reader)?;
            agg.finish()
        })
        .map_err(py_err)?;
    to_python(py, agg)
}

/// Aggregate Parquet files (paths, directories or globs, read in order by
/// the core) with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    paths, x, y, width, height, reduction, column=None, by=None,
    categories=None, x_range=None, y_range=None, x_axis="linear", y_axis="linear"
))]
#[allow(clippy::too_many_arguments)]
fn aggregate_parquet<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    x: String,
    y: String,
    width: usize,
    height: usize,
    reduction: String,
    column: Option<String>,
    by: Option<String>,
    categories: Option<Vec<String>>,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    x_axis: &str,
    y_axis: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let params = Params {
        x,
        y,
        width,
        height,
        reduction,
        column,
        by,
        categories,
        x_range,
        y_range,
        x_axis: x_axis.to_string(),
        y_axis: y_axis.to_string(),
    };
    let req = params.request()?;
    let agg = py
        .detach(move || -> Result<Aggregate, AggError> {
            let source = Source::open(&paths)?;
            aggregate(&source, &req)
        })
        .map_err(py_err)?;
    to_python(py, agg)
}

/// The reductions the core implements, by their Datashader names.
#[pyfunction]
fn reductions() -> Vec<&'static str> {
    ReductionKind::ALL.iter().map(|(n, _)| *n).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate_stream, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(reductions, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
