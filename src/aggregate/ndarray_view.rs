//! [`ndarray`] views of an [`Aggregate`] (the `ndarray` feature).
//!
//! The views borrow [`Aggregate::values`] without copying, in Datashader's
//! orientation and dtype: shape `(height, width)`, or
//! `(height, width, categories)` for a categorical aggregate, C order, row
//! 0 holding the *lowest* y (south), exactly like Datashader's
//! `agg.values`; elements are `u32` (counts), `bool` (`any`) or `f64`
//! (everything else, NaN where empty).
//!
//! [`Aggregate::view`] gives whichever dtype the aggregate has, as an
//! [`AggView`]; [`Aggregate::view2`] and [`Aggregate::view3`] give a typed
//! 2-D or 3-D view when the caller knows the dtype.
//!
//! ```
//! use pointillist::aggregate::ndarray_view::AggView;
//! use pointillist::aggregate::{aggregate, AggregateRequest};
//! use pointillist::source::Source;
//!
//! let agg = aggregate(&Source::sample()?, &AggregateRequest::new(80, 60))?;
//! let counts = agg.view2::<u32>()?; // `count` is uint32, like Datashader's
//! assert_eq!(counts.dim(), (60, 80)); // (height, width)
//! let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
//! assert_eq!(total, 300_000);
//!
//! // Without knowing the dtype:
//! match agg.view()? {
//!     AggView::U32(v) => assert_eq!(v.shape(), &[60, 80]),
//!     other => panic!("a count is uint32, not {}", other.dtype_name()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ndarray::{ArrayView2, ArrayView3, ArrayViewD, IxDyn, ShapeError};

use super::{AggValues, Aggregate};

mod sealed {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for bool {}
    impl Sealed for f64 {}
    impl Sealed for f32 {}
    impl Sealed for i64 {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
}

/// An element type an aggregate can hold: `u32`, `bool`, `f64` or `f32`
/// (sealed).
pub trait AggElement: Copy + sealed::Sealed + 'static {
    /// NumPy's name for the dtype, as [`AggValues::dtype_name`].
    const DTYPE: &'static str;

    /// The values when they are of this type.
    fn slice(values: &AggValues) -> Option<&[Self]>;
}

impl AggElement for u32 {
    const DTYPE: &'static str = "uint32";

    fn slice(values: &AggValues) -> Option<&[u32]> {
        match values {
            AggValues::U32(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for u8 {
    const DTYPE: &'static str = "uint8";

    fn slice(values: &AggValues) -> Option<&[u8]> {
        match values {
            AggValues::U8(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for u16 {
    const DTYPE: &'static str = "uint16";

    fn slice(values: &AggValues) -> Option<&[u16]> {
        match values {
            AggValues::U16(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for bool {
    const DTYPE: &'static str = "bool";

    fn slice(values: &AggValues) -> Option<&[bool]> {
        match values {
            AggValues::Bool(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for f64 {
    const DTYPE: &'static str = "float64";

    fn slice(values: &AggValues) -> Option<&[f64]> {
        match values {
            AggValues::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for f32 {
    const DTYPE: &'static str = "float32";

    fn slice(values: &AggValues) -> Option<&[f32]> {
        match values {
            AggValues::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl AggElement for i64 {
    const DTYPE: &'static str = "int64";

    fn slice(values: &AggValues) -> Option<&[i64]> {
        match values {
            AggValues::I64(v) => Some(v),
            _ => None,
        }
    }
}

/// An aggregate's values as a view of its own dtype, with the aggregate's
/// shape (`(height, width)` or `(height, width, categories)`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AggView<'a> {
    /// `count`, `count:COL`, `count_cat`: `uint32`.
    U32(ArrayViewD<'a, u32>),
    /// `any`: `bool`.
    Bool(ArrayViewD<'a, bool>),
    /// Everything else: `float64`, NaN where empty.
    F64(ArrayViewD<'a, f64>),
    /// `count` and `any` of antialiased lines: `float32`, NaN where empty.
    F32(ArrayViewD<'a, f32>),
    /// `where` without a lookup column: row indices, `int64`, -1 where
    /// empty.
    I64(ArrayViewD<'a, i64>),
    /// `count@uint8`.
    U8(ArrayViewD<'a, u8>),
    /// `count@uint16`.
    U16(ArrayViewD<'a, u16>),
}

impl AggView<'_> {
    /// The shape: `[height, width]` or `[height, width, categories]`.
    pub fn shape(&self) -> &[usize] {
        match self {
            AggView::U32(v) => v.shape(),
            AggView::Bool(v) => v.shape(),
            AggView::F64(v) => v.shape(),
            AggView::F32(v) => v.shape(),
            AggView::I64(v) => v.shape(),
            AggView::U8(v) => v.shape(),
            AggView::U16(v) => v.shape(),
        }
    }

    /// NumPy's name for the dtype (`uint32`, `bool`, `float64`).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            AggView::U32(_) => u32::DTYPE,
            AggView::Bool(_) => bool::DTYPE,
            AggView::F64(_) => f64::DTYPE,
            AggView::F32(_) => f32::DTYPE,
            AggView::I64(_) => i64::DTYPE,
            AggView::U8(_) => u8::DTYPE,
            AggView::U16(_) => u16::DTYPE,
        }
    }
}

/// Why an aggregate cannot be viewed as asked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// A typed view of another dtype than the aggregate's.
    #[error("the aggregate is {found}, not {asked}; ask for a view of its own dtype")]
    Dtype {
        /// The dtype asked for.
        asked: &'static str,
        /// The aggregate's dtype.
        found: &'static str,
    },
    /// A 2-D view of a categorical aggregate, or a 3-D view of a plain one.
    #[error("the aggregate has {found} dimensions, not {asked}; use view2 for plain aggregates and view3 for categorical ones")]
    Dimensions {
        /// The dimensions asked for.
        asked: usize,
        /// The aggregate's dimensions.
        found: usize,
    },
    /// Values that do not fill the aggregate's shape (its fields were
    /// changed by hand).
    #[error("the aggregate holds {len} values, which do not fill its shape {shape:?}")]
    Shape {
        /// The declared shape.
        shape: Vec<usize>,
        /// Values present.
        len: usize,
        /// ndarray's complaint.
        #[source]
        source: ShapeError,
    },
}

impl Aggregate {
    /// The values as a view of their own dtype, shaped `(height, width)` or
    /// `(height, width, categories)`, row 0 = lowest y (see the [module
    /// docs](crate::aggregate::ndarray_view)).
    pub fn view(&self) -> Result<AggView<'_>, ViewError> {
        let shape = IxDyn(&self.shape());
        let bad = |source| self.shape_error(source);
        Ok(match &self.values {
            AggValues::U32(v) => AggView::U32(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::Bool(v) => AggView::Bool(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::F64(v) => AggView::F64(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::F32(v) => AggView::F32(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::I64(v) => AggView::I64(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::U8(v) => AggView::U8(ArrayViewD::from_shape(shape, v).map_err(bad)?),
            AggValues::U16(v) => AggView::U16(ArrayViewD::from_shape(shape, v).map_err(bad)?),
        })
    }

    /// A plain aggregate's values as a `(height, width)` view, row 0 =
    /// lowest y, when `T` is its dtype.
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggregateRequest, ReductionSpec};
    /// use pointillist::source::Source;
    ///
    /// let mut req = AggregateRequest::new(8, 4);
    /// req.reduction = "mean:val".parse::<ReductionSpec>()?;
    /// let agg = aggregate(&Source::sample()?, &req)?;
    /// let means = agg.view2::<f64>()?;
    /// assert_eq!(means.dim(), (4, 8));
    /// assert!(agg.view2::<u32>().is_err()); // a mean is float64
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view2<T: AggElement>(&self) -> Result<ArrayView2<'_, T>, ViewError> {
        let values = self.typed::<T>()?;
        if self.categories.is_some() {
            return Err(ViewError::Dimensions { asked: 2, found: 3 });
        }
        ArrayView2::from_shape((self.height, self.width), values)
            .map_err(|source| self.shape_error(source))
    }

    /// A categorical aggregate's values as a `(height, width, categories)`
    /// view, row 0 = lowest y, planes in [`Aggregate::categories`] order,
    /// when `T` is its dtype.
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggregateRequest, ReductionSpec};
    /// use pointillist::source::Source;
    ///
    /// let mut req = AggregateRequest::new(8, 4);
    /// req.reduction = "count_cat:cat".parse::<ReductionSpec>()?;
    /// let agg = aggregate(&Source::sample()?, &req)?;
    /// let counts = agg.view3::<u32>()?;
    /// assert_eq!(counts.dim(), (4, 8, 5)); // five categories
    /// assert_eq!(counts.iter().map(|&c| u64::from(c)).sum::<u64>(), 300_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view3<T: AggElement>(&self) -> Result<ArrayView3<'_, T>, ViewError> {
        let values = self.typed::<T>()?;
        let Some(categories) = &self.categories else {
            return Err(ViewError::Dimensions { asked: 3, found: 2 });
        };
        ArrayView3::from_shape((self.height, self.width, categories.len()), values)
            .map_err(|source| self.shape_error(source))
    }

    fn typed<T: AggElement>(&self) -> Result<&[T], ViewError> {
        T::slice(&self.values).ok_or(ViewError::Dtype {
            asked: T::DTYPE,
            found: self.values.dtype_name(),
        })
    }

    fn shape_error(&self, source: ShapeError) -> ViewError {
        ViewError::Shape {
            shape: self.shape(),
            len: self.values.len(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(values: AggValues, width: usize, height: usize, cats: Option<usize>) -> Aggregate {
        Aggregate {
            width,
            height,
            categories: cats.map(|n| (0..n).map(|i| format!("c{i}")).collect()),
            n: None,
            values,
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
        }
    }

    #[test]
    fn a_2d_view_is_height_by_width_with_row_0_south() {
        // 3 wide, 2 high: cells 0..3 are the bottom row (lowest y).
        let a = agg(AggValues::U32((0..6).collect()), 3, 2, None);
        let v = a.view2::<u32>().expect("view");
        assert_eq!(v.dim(), (2, 3));
        assert_eq!(v[[0, 2]], 2); // bottom row, east column
        assert_eq!(v[[1, 0]], 3); // top row, west column
        for row in 0..2 {
            for col in 0..3 {
                assert_eq!(v[[row, col]], a.index(row, col, 0) as u32);
            }
        }
        assert!(v.is_standard_layout());
        // The dynamic view agrees.
        match a.view().expect("view") {
            AggView::U32(d) => {
                assert_eq!(d.shape(), &[2, 3]);
                assert_eq!(d[[1, 2].as_slice()], 5);
            }
            other => panic!("got {}", other.dtype_name()),
        }
    }

    #[test]
    fn a_3d_view_has_category_planes_last() {
        let values: Vec<f64> = (0..24).map(f64::from).collect();
        let a = agg(AggValues::F64(values), 4, 2, Some(3));
        let v = a.view3::<f64>().expect("view");
        assert_eq!(v.dim(), (2, 4, 3));
        for row in 0..2 {
            for col in 0..4 {
                for cat in 0..3 {
                    assert_eq!(v[[row, col, cat]], a.index(row, col, cat) as f64);
                }
            }
        }
        assert_eq!(a.view().expect("view").shape(), &[2, 4, 3]);
        assert!(matches!(
            a.view2::<f64>(),
            Err(ViewError::Dimensions { asked: 2, found: 3 })
        ));
    }

    #[test]
    fn views_keep_the_dtype() {
        let b = agg(AggValues::Bool(vec![true, false]), 2, 1, None);
        assert_eq!(b.view().expect("view").dtype_name(), "bool");
        assert!(b.view2::<bool>().expect("view")[[0, 0]]);
        let err = b.view2::<u32>().expect_err("bool is not uint32");
        assert!(matches!(
            err,
            ViewError::Dtype {
                asked: "uint32",
                found: "bool"
            }
        ));
        assert!(err.to_string().contains("not uint32"), "{err}");
        let f = agg(AggValues::F64(vec![f64::NAN]), 1, 1, None);
        assert!(f.view2::<f64>().expect("view")[[0, 0]].is_nan());
        assert!(matches!(
            f.view3::<f64>(),
            Err(ViewError::Dimensions { asked: 3, found: 2 })
        ));
    }

    #[test]
    fn values_that_do_not_fill_the_shape_are_an_error() {
        let a = agg(AggValues::U32(vec![1, 2, 3]), 2, 2, None);
        assert!(matches!(a.view(), Err(ViewError::Shape { len: 3, .. })));
        assert!(matches!(a.view2::<u32>(), Err(ViewError::Shape { .. })));
    }

    #[test]
    fn a_real_count_sums_to_the_rows() {
        let source = crate::source::Source::sample().expect("sample");
        let a =
            crate::aggregate::aggregate(&source, &crate::aggregate::AggregateRequest::new(40, 30))
                .expect("aggregate");
        let v = a.view2::<u32>().expect("view");
        assert_eq!(v.dim(), (30, 40));
        let total: u64 = v.iter().map(|&c| u64::from(c)).sum();
        assert_eq!(total, source.num_rows());
        // The bottom row is the south: Datashader's orientation, not an image's.
        let AggValues::U32(flat) = &a.values else {
            panic!("count is uint32");
        };
        assert_eq!(v.row(0).to_vec(), flat[..40].to_vec());
    }
}
