//! `pointillist._native`: the Rust core behind the `pointillist` Python
//! package. Python builds the request (`pointillist/core.py`), this module
//! aggregates with the GIL released and hands back the raw values, the
//! final ranges and the categories; Python wraps them in Datashader's
//! `xarray.DataArray`.
//!
//! The crate has its own `[workspace]` (a cdylib built by maturin, with
//! its own lock file); `.ci/test` builds and tests it, `.ci/run` checks its
//! fmt and clippy.

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::FromPyArrow;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyKeyError, PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pointillist::aggregate::{
    aggregate, AggError, AggValues, Aggregate, AggregateRequest, Aggregator, AxisKind, Coord,
    GeometryKernel, Glyph, Lookup, PointShape, ReductionKind, ReductionSpec,
};
use pointillist::shade::{self, How, Image, ShadeOptions};
use pointillist::source::{Source, SourceError};

mod partials; // pointillist.dask: partial aggregates that travel

/// The extension's own allocator. Dask's nanny starts workers with
/// `MALLOC_TRIM_THRESHOLD_=65536`, which turns off glibc's adaptive mmap
/// threshold: every buffer over 128 KiB (decoded batches, column chunks,
/// canvases) was then a fresh mmap, page-faulted and zeroed, and a
/// fragment took 1.6-1.8x as long as in a plain process. mimalloc keeps
/// freed segments for reuse whatever the environment says.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Everything `Canvas.points` and `Canvas.line` pass down, already checked
/// by Python: one dict (`x`, `y`, `width`, `height`, `reduction`, `column`,
/// `by`, `categories`, `x_range`, `y_range`, `x_axis`, `y_axis`, `threads`,
/// `glyph`), the same for every native entry point.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Params {
    x: String,
    y: String,
    width: usize,
    height: usize,
    reduction: String,
    #[pyo3(default)]
    column: Option<String>,
    #[pyo3(default)]
    by: Option<String>,
    #[pyo3(default)]
    categories: Option<Vec<String>>,
    #[pyo3(default)]
    x_range: Option<(f64, f64)>,
    #[pyo3(default)]
    y_range: Option<(f64, f64)>,
    #[pyo3(default = String::from("linear"))]
    x_axis: String,
    #[pyo3(default = String::from("linear"))]
    y_axis: String,
    /// Threads for the core (None: one per core). Dask tasks pass 1.
    #[pyo3(default)]
    threads: Option<usize>,
    /// "points", "line" (`Canvas.line`, axis=0), "row-lines" (axis=1
    /// with lists or constant arrays) or "ragged-lines" (axis=1 with list
    /// columns).
    #[pyo3(default = String::from("points"))]
    glyph: String,
    /// For "line" and "row-lines": every vertex (row lines) or line (lines
    /// down the rows) as `(x, y)`, each a column name or a constant; empty:
    /// `(x, y)` alone.
    #[pyo3(default)]
    vertices: Vec<(PyCoord, PyCoord)>,
    /// For "area": the column each area is filled to, one per area
    /// (empty: y = 0); for "ragged-areas", the list column each row's area
    /// is filled to.
    #[pyo3(default)]
    y_stacks: Vec<String>,
    /// For "row-areas": each vertex's y on the line filled to (empty: 0).
    #[pyo3(default)]
    row_area_stacks: Vec<PyCoord>,
    /// Antialiased lines this many pixels wide (0: plain lines).
    #[pyo3(default)]
    line_width: f64,
    /// Antialiased `count`/`sum`: whether a line adds where it crosses
    /// itself (Datashader's `self_intersect`).
    #[pyo3(default = true)]
    self_intersect: bool,
    /// Lines and areas down the rows: draw only the segments that end at
    /// this row position or later (a Dask partition led in by the previous
    /// partitions' last rows).
    #[pyo3(default)]
    draw_from_row: u64,
    /// Lines and areas down the rows: draw only the segments that end
    /// before this row position (a Dask partition given the next one's
    /// first row after its own); the default draws to the end.
    #[pyo3(default = u64::MAX)]
    draw_until_row: u64,
    /// For "geometry-lines" (the geometry column in `x`): "spatialpandas"
    /// or "geopandas", the Datashader kernel to match.
    #[pyo3(default = String::from("spatialpandas"))]
    geometry_kernel: String,
    /// `first_n` ... `max_n`: values kept per pixel.
    #[pyo3(default)]
    n: Option<usize>,
    /// The aggregate's dtype where chosen (`uint8`, `uint16`, `float32`...).
    #[pyo3(default)]
    dtype: Option<String>,
    /// `by(..., top_categories=K)`: keep the K categories with the most
    /// rows on the canvas and fold the rest into "(other)".
    #[pyo3(default)]
    top_categories: Option<usize>,
    /// `where(selector, lookup)`: the lookup column.
    #[pyo3(default)]
    lookup: Option<String>,
    /// `where(selector)` without a lookup column: the row index.
    #[pyo3(default)]
    row_index: bool,
    /// Points: each covers the pixels whose centres lie within this many
    /// pixels of it (0: one pixel per point).
    #[pyo3(default)]
    point_radius: f64,
    /// Points with a radius: "circle" or "square".
    #[pyo3(default = String::from("circle"))]
    point_shape: String,
}

/// A vertex coordinate from Python: a column name or a number.
#[derive(FromPyObject)]
enum PyCoord {
    Column(String),
    Constant(f64),
}

impl PyCoord {
    fn coord(&self) -> Coord {
        match self {
            PyCoord::Column(c) => Coord::Column(c.clone()),
            PyCoord::Constant(v) => Coord::Constant(*v),
        }
    }
}

impl Params {
    /// Run `f` on a pool of `self.threads` threads (the global pool, one
    /// thread per core, when None).
    fn run<T: Send>(&self, f: impl FnOnce() -> Result<T, AggError> + Send) -> PyResult<T> {
        let out = match self.threads {
            None => f(),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| {
                    pyo3::exceptions::PyRuntimeError::new_err(format!(
                        "cannot start {n} worker threads: {e}"
                    ))
                })?
                .install(f),
        };
        out.map_err(py_err)
    }
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
        if let Some(n) = self.n {
            spec.n = n;
        }
        if let Some(d) = &self.dtype {
            spec = spec.with_dtype(d.parse().map_err(|e: pointillist::aggregate::SpecError| {
                PyValueError::new_err(e.message)
            })?);
        }
        if let Some(c) = &self.lookup {
            spec = spec.with_lookup(Lookup::Column(c.clone()));
        } else if self.row_index {
            spec = spec.with_lookup(Lookup::RowIndex);
        }
        spec.validate()
            .map_err(|e| PyValueError::new_err(e.message))?;
        if let Some(b) = &self.by {
            let (column, c) =
                pointillist::source::Categorizer::parse_by(b).map_err(PyValueError::new_err)?;
            spec = spec.by_categorizer(&column, c);
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
        if let Some(k) = self.top_categories {
            req = req.with_top_categories(k);
        }
        if let Some(c) = &self.categories {
            req = req.with_categories(c.iter().cloned());
        }
        req = req
            .with_line_width(self.line_width)
            .with_self_intersect(self.self_intersect)
            .with_draw_from_row(self.draw_from_row)
            .with_draw_until_row(self.draw_until_row)
            .with_point_radius(self.point_radius)
            .with_point_shape(
                self.point_shape
                    .parse::<PointShape>()
                    .map_err(PyValueError::new_err)?,
            );
        let vertices = self.vertices.iter().map(|(x, y)| (x.coord(), y.coord()));
        match self.glyph.as_str() {
            "points" => Ok(req),
            "line" => {
                req.vertices = vertices.collect();
                Ok(req.with_glyph(Glyph::Line))
            }
            "row-lines" => Ok(req.with_row_line_coords(vertices)),
            "row-areas" => {
                let stacks = self.row_area_stacks.iter().map(PyCoord::coord);
                Ok(req.with_row_areas(vertices, stacks))
            }
            "ragged-lines" => Ok(req.with_ragged_lines(&self.x, &self.y)),
            "geometry-lines" => {
                let kernel = match self.geometry_kernel.as_str() {
                    "geopandas" => GeometryKernel::GeoPandas,
                    "spatialpandas" => GeometryKernel::SpatialPandas,
                    k => {
                        return Err(PyValueError::new_err(format!(
                            "unknown geometry kernel {k:?}"
                        )))
                    }
                };
                Ok(req
                    .with_geometry_lines(&self.x)
                    .with_geometry_kernel(kernel))
            }
            "ragged-areas" => {
                let stack = self.y_stacks.first().map(String::as_str);
                Ok(req.with_ragged_areas(&self.x, &self.y, stack))
            }
            "area" => {
                let mut xs = vec![self.x.as_str()];
                let mut ys = vec![self.y.as_str()];
                for (x, y) in self.vertices.iter().skip(1) {
                    if let (PyCoord::Column(x), PyCoord::Column(y)) = (x, y) {
                        xs.push(x);
                        ys.push(y);
                    }
                }
                let stacks: Vec<&str> = self.y_stacks.iter().map(String::as_str).collect();
                Ok(req.with_areas(&xs, &ys, &stacks))
            }
            g => Err(PyValueError::new_err(format!("unknown glyph {g:?}"))),
        }
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
        AggValues::F32(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        AggValues::I64(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        AggValues::U8(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
        AggValues::U16(v) => out.set_item("values", PyArray1::from_vec(py, v))?,
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
    out.set_item("n", agg.n)?;
    Ok(out)
}

/// Aggregate an Arrow stream (any object with `__arrow_c_stream__`: a
/// pyarrow Table or RecordBatchReader, a polars DataFrame, ...). The
/// stream is read and aggregated with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    stream, params
))]
fn aggregate_stream<'py>(
    py: Python<'py>,
    stream: &Bound<'py, PyAny>,
    params: Params,
) -> PyResult<Bound<'py, PyDict>> {
    let req = params.request()?;
    let reader = RecordBatchStreamReader::from_pyarrow_bound(stream)?;
    let agg = py.detach(move || {
        params.run(move || {
            let mut agg = Aggregator::new(req)?.with_label("the Arrow stream");
            agg.extend(reader)?;
            agg.finish()
        })
    })?;
    to_python(py, agg)
}

/// Aggregate Parquet files (paths, directories or globs, read in order by
/// the core) with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    paths, params
))]
fn aggregate_parquet<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    params: Params,
) -> PyResult<Bound<'py, PyDict>> {
    let req = params.request()?;
    let agg = py.detach(move || {
        params.run(move || {
            let source = Source::open(&paths)?;
            aggregate(&source, &req)
        })
    })?;
    to_python(py, agg)
}

type Rgb = (u8, u8, u8);

fn rgb(c: Rgb) -> [u8; 3] {
    [c.0, c.1, c.2]
}

/// Shade a 2-D (`planes=None`) or categorical 3-D aggregate given as flat
/// C-order values (uint32, bool or float64) with the core's `shade`,
/// Datashader's `tf.shade` to the bit. Returns the RGBA pixels as flat
/// uint32 (Datashader's `Image.data`, row 0 as in the aggregate).
#[pyfunction]
#[pyo3(signature = (
    values, height, width, planes, how, cmap, single_color, span, alpha, min_alpha,
    color_key, rescale_discrete_levels, color_baseline=None
))]
#[allow(clippy::too_many_arguments)]
fn shade_values<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    height: usize,
    width: usize,
    planes: Option<usize>,
    how: &str,
    cmap: Vec<Rgb>,
    single_color: Option<Rgb>,
    span: Option<(f64, f64)>,
    alpha: u8,
    min_alpha: f64,
    color_key: Option<Vec<Rgb>>,
    rescale_discrete_levels: bool,
    color_baseline: Option<f64>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let values = if let Ok(a) = values.extract::<PyReadonlyArray1<u32>>() {
        AggValues::U32(a.as_slice()?.to_vec())
    } else if let Ok(a) = values.extract::<PyReadonlyArray1<bool>>() {
        AggValues::Bool(a.as_slice()?.to_vec())
    } else if let Ok(a) = values.extract::<PyReadonlyArray1<f64>>() {
        AggValues::F64(a.as_slice()?.to_vec())
    } else if let Ok(a) = values.extract::<PyReadonlyArray1<f32>>() {
        AggValues::F32(a.as_slice()?.to_vec())
    } else if let Ok(a) = values.extract::<PyReadonlyArray1<u8>>() {
        AggValues::U8(a.as_slice()?.to_vec())
    } else if let Ok(a) = values.extract::<PyReadonlyArray1<u16>>() {
        AggValues::U16(a.as_slice()?.to_vec())
    } else {
        return Err(PyNotImplementedError::new_err(
            "shading aggregates of dtypes other than uint8, uint16, uint32, bool, float32 and float64 is \
             not implemented by pointillist",
        ));
    };
    let how: How = how
        .parse()
        .map_err(|e: shade::ShadeError| PyValueError::new_err(e.to_string()))?;
    let agg = Aggregate {
        width,
        height,
        categories: planes.map(|n| (0..n).map(|i| i.to_string()).collect()),
        n: None,
        values,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    };
    let opts = ShadeOptions::default()
        .with_how(how)
        .with_cmap(cmap.into_iter().map(rgb).collect())
        .with_single_color(single_color.map(rgb))
        .with_span(span)
        .with_alpha(alpha)
        .with_min_alpha(min_alpha)
        .with_color_key(color_key.map(|k| k.into_iter().map(rgb).collect()))
        .with_rescale_discrete_levels(rescale_discrete_levels)
        .with_color_baseline(color_baseline);
    let img = py
        .detach(move || shade::shade(&agg, &opts))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(image_to_py(py, img))
}

fn image_to_py(py: Python<'_>, img: Image) -> Bound<'_, PyArray1<u32>> {
    let packed: Vec<u32> = img.pixels.iter().map(|p| u32::from_le_bytes(*p)).collect();
    PyArray1::from_vec(py, packed)
}

fn image_from_py(pixels: &PyReadonlyArray1<u32>, height: usize, width: usize) -> PyResult<Image> {
    let data = pixels.as_slice()?;
    if data.len() != height * width {
        return Err(PyValueError::new_err(format!(
            "{} pixels for a {width}x{height} image",
            data.len()
        )));
    }
    Ok(Image {
        width,
        height,
        pixels: data.iter().map(|v| v.to_le_bytes()).collect(),
    })
}

/// The compositing operator named `how` (Datashader's image operators).
fn composite_op(how: &str) -> PyResult<shade::CompositeOp> {
    shade::CompositeOp::from_name(how).ok_or_else(|| {
        PyValueError::new_err(format!(
            "Operator {how:?} not one of the supported image operators: 'over', 'add', 'saturate', 'source'"
        ))
    })
}

/// The spread mask: `mask` (a `side x side` row-major array of cells)
/// when given, else `shape`'s of radius `px`.
fn spread_mask(
    px: u32,
    shape: &str,
    mask: Option<(usize, Vec<bool>)>,
) -> PyResult<shade::SpreadMask> {
    match mask {
        Some((side, cells)) => shade::SpreadMask::from_cells(side, cells).ok_or_else(|| {
            PyValueError::new_err(
                "mask must be a square 2 dimensional ndarray with odd dimensions.",
            )
        }),
        None => {
            let shape = shade::SpreadShape::from_name(shape)
                .ok_or_else(|| PyKeyError::new_err(shape.to_string()))?;
            Ok(shade::SpreadMask::new(shape, px))
        }
    }
}

/// `tf.spread(img, px, shape, how, mask)` on flat uint32 pixels: `mask`
/// as `(side, cells)` replaces `px` and `shape`.
#[pyfunction]
#[pyo3(signature = (pixels, height, width, px, shape="circle", how="over", mask=None))]
#[allow(clippy::too_many_arguments)]
fn spread_image<'py>(
    py: Python<'py>,
    pixels: PyReadonlyArray1<'py, u32>,
    height: usize,
    width: usize,
    px: u32,
    shape: &str,
    how: &str,
    mask: Option<(usize, Vec<bool>)>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let img = image_from_py(&pixels, height, width)?;
    let mask = spread_mask(px, shape, mask)?;
    let op = composite_op(how)?;
    let out = py.detach(move || shade::spread_with(&img, &mask, op));
    Ok(image_to_py(py, out))
}

/// `tf.dynspread(img, threshold, max_px, shape, how)`.
#[pyfunction]
#[pyo3(signature = (pixels, height, width, threshold, max_px, shape="circle", how="over"))]
#[allow(clippy::too_many_arguments)]
fn dynspread_image<'py>(
    py: Python<'py>,
    pixels: PyReadonlyArray1<'py, u32>,
    height: usize,
    width: usize,
    threshold: f64,
    max_px: u32,
    shape: &str,
    how: &str,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let img = image_from_py(&pixels, height, width)?;
    let shape = shade::SpreadShape::from_name(shape)
        .ok_or_else(|| PyKeyError::new_err(shape.to_string()))?;
    let op = composite_op(how)?;
    let out = py.detach(move || shade::dynspread_with(&img, threshold, max_px, shape, op));
    Ok(image_to_py(py, out))
}

/// `tf.stack(*imgs, how=...)` on flat uint32 pixels of one size, bottom
/// image first.
#[pyfunction]
fn stack_images<'py>(
    py: Python<'py>,
    images: Vec<PyReadonlyArray1<'py, u32>>,
    height: usize,
    width: usize,
    how: &str,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let op = shade::CompositeOp::from_name(how).ok_or_else(|| {
        PyValueError::new_err(format!(
            "Operator {how:?} not one of the supported image operators: 'over', 'add', \
             'saturate', 'source'"
        ))
    })?;
    let imgs = images
        .iter()
        .map(|a| image_from_py(a, height, width))
        .collect::<PyResult<Vec<Image>>>()?;
    let out = py.detach(move || {
        let refs: Vec<&Image> = imgs.iter().collect();
        shade::stack(&refs, op)
    });
    let out =
        out.ok_or_else(|| PyValueError::new_err("The stacked images must have the same shape."))?;
    Ok(image_to_py(py, out))
}

/// `tf.set_background(img, color)`.
#[pyfunction]
fn set_background_image<'py>(
    py: Python<'py>,
    pixels: PyReadonlyArray1<'py, u32>,
    height: usize,
    width: usize,
    color: Rgb,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    let img = image_from_py(&pixels, height, width)?;
    let out = py.detach(move || shade::set_background(&img, rgb(color)));
    Ok(image_to_py(py, out))
}

/// A colour name or `#rrggbb` as Datashader's `rgb()` reads it.
#[pyfunction]
fn parse_color(name: &str) -> PyResult<Rgb> {
    shade::parse_color(name)
        .map(|c| (c[0], c[1], c[2]))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Datashader's default categorical colours (`Sets1to3`).
#[pyfunction]
fn default_color_key() -> Vec<Rgb> {
    shade::default_color_key()
        .iter()
        .map(|c| (c[0], c[1], c[2]))
        .collect()
}

/// Datashader's bounds of an in-memory column chunk: min and max with nulls
/// and NaN skipped and infinities kept (`None` when there is no such value
/// or the array is not numeric), computed by the core on all cores with
/// the GIL released. Takes any pyarrow Array, shared, not copied.
#[pyfunction]
fn nan_min_max(py: Python<'_>, array: &Bound<'_, PyAny>) -> PyResult<Option<(f64, f64)>> {
    let data = arrow_data::ArrayData::from_pyarrow_bound(array)?;
    let array = arrow_array::make_array(data);
    Ok(py.detach(move || pointillist::source::nan_min_max(array.as_ref())))
}

/// The categories of column `column` of Parquet `paths` as pandas'
/// `read_parquet` (and Dask's `categorize`) give a dictionary column: the
/// dictionary pages' values in order of first appearance; None when some
/// chunk is not wholly dictionary-encoded. With whether the column holds
/// integers (else strings).
#[pyfunction]
fn parquet_categories(
    py: Python<'_>,
    paths: Vec<String>,
    column: String,
) -> PyResult<(Option<Vec<String>>, bool)> {
    py.detach(move || -> Result<_, AggError> {
        let source = Source::open(&paths)?;
        let kind = source.check_category(&column)?;
        let labels = source.categories_in_dictionary_order(&column)?;
        Ok((labels, kind == pointillist::source::CategoryKind::Integers))
    })
    .map_err(py_err)
}

/// The reductions the core implements, by their Datashader names.
#[pyfunction]
fn reductions() -> Vec<&'static str> {
    ReductionKind::ALL.iter().map(|(n, _)| *n).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate_stream, m)?)?;
    partials::register(m)?; // pointillist.dask: partials (src/partials.rs)
    m.add_function(wrap_pyfunction!(aggregate_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(reductions, m)?)?;
    m.add_function(wrap_pyfunction!(nan_min_max, m)?)?;
    m.add_function(wrap_pyfunction!(parquet_categories, m)?)?;
    m.add_function(wrap_pyfunction!(shade_values, m)?)?;
    m.add_function(wrap_pyfunction!(spread_image, m)?)?;
    m.add_function(wrap_pyfunction!(dynspread_image, m)?)?;
    m.add_function(wrap_pyfunction!(set_background_image, m)?)?;
    m.add_function(wrap_pyfunction!(stack_images, m)?)?;
    m.add_function(wrap_pyfunction!(parse_color, m)?)?;
    m.add_function(wrap_pyfunction!(default_color_key, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
