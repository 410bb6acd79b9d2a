//! NumPy `.npy` files: writing aggregates byte-for-byte as `np.save` does
//! (format 1.0, little-endian, C order) and reading what NumPy writes.
//!
//! Written dtypes: `uint32` (`<u4`), `bool` (`|b1`), `float64` (`<f8`), 2-D or
//! 3-D. Read dtypes: those plus `<f4`, `<i4`, `<i8`, `<u8` and `|u1`, in
//! format versions 1.0, 2.0 and 3.0.

use std::io::{self, Read, Write};

use crate::aggregate::{AggValues, Aggregate};

/// The `.npy` magic string.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// NumPy leaves room for the first axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// What is wrong with a `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The header dictionary lacks a key.
    #[error("no '{key}' entry")]
    Missing {
        /// `descr`, `fortran_order` or `shape`.
        key: &'static str,
    },
    /// `descr` is not a string literal.
    #[error("'descr' is not a string")]
    DescrNotString,
    /// `fortran_order` is neither `True` nor `False`.
    #[error("'fortran_order' is not True or False")]
    FortranOrderNotBool,
    /// `shape` is not a tuple.
    #[error("'shape' is not a tuple")]
    ShapeNotTuple,
    /// `shape` holds something other than integers.
    #[error("'shape' holds something other than integers")]
    ShapeNotIntegers,
    /// A shape whose byte size overflows.
    #[error("shape too large")]
    ShapeTooLarge,
    /// The header is not UTF-8 text.
    #[error("header is not text")]
    NotText,
}

/// What can go wrong while reading a `.npy` file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// Reading failed.
    #[error("cannot read .npy data: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with NumPy's magic string.
    #[error("not a .npy file (bad magic string); give a file written by numpy.save")]
    BadMagic,
    /// A format version this reader does not know.
    #[error(".npy format version {major}.{minor} is not supported; use 1.0, 2.0 or 3.0")]
    UnsupportedVersion {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// The header dictionary cannot be understood.
    #[error("malformed .npy header: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: HeaderProblem,
    },
    /// A dtype this reader does not handle.
    #[error(".npy dtype '{descr}' is not supported; use <u4, |b1, <f8, <f4, <i4, <i8, <u8 or |u1")]
    UnsupportedDtype {
        /// NumPy's type string.
        descr: String,
    },
    /// Fortran-ordered data.
    #[error(".npy file is in Fortran order; save it in C order (np.ascontiguousarray)")]
    FortranOrder,
    /// The data ends early.
    #[error(".npy data is truncated: expected {expected} bytes, found {got}")]
    Truncated {
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The array's dtype cannot be an aggregate.
    #[error(".npy dtype '{descr}' cannot be an aggregate; aggregates are uint32, bool or float64")]
    NotAnAggregate {
        /// NumPy's type string.
        descr: &'static str,
    },
}

/// The values of a `.npy` array, by dtype.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NpyData {
    /// `<u4`.
    U32(Vec<u32>),
    /// `|b1`.
    Bool(Vec<bool>),
    /// `<f8`.
    F64(Vec<f64>),
    /// `<f4`.
    F32(Vec<f32>),
    /// `<i4`.
    I32(Vec<i32>),
    /// `<i8`.
    I64(Vec<i64>),
    /// `<u8`.
    U64(Vec<u64>),
    /// `|u1`.
    U8(Vec<u8>),
    /// `<u2`.
    U16(Vec<u16>),
}

impl NpyData {
    /// NumPy's type string for this dtype.
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::U32(_) => "<u4",
            NpyData::Bool(_) => "|b1",
            NpyData::F64(_) => "<f8",
            NpyData::F32(_) => "<f4",
            NpyData::I32(_) => "<i4",
            NpyData::I64(_) => "<i8",
            NpyData::U64(_) => "<u8",
            NpyData::U8(_) => "|u1",
            NpyData::U16(_) => "<u2",
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::U32(v) => v.len(),
            NpyData::Bool(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::F32(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::I64(v) => v.len(),
            NpyData::U64(v) => v.len(),
            NpyData::U8(v) => v.len(),
            NpyData::U16(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A C-ordered array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape, outermost axis first.
    pub shape: Vec<usize>,
    /// The values in C order.
    pub data: NpyData,
}

impl NpyArray {
    /// The values as an aggregate's values (`uint8`, `uint16`, `uint32`,
    /// `bool`, `float32` or `float64`).
    pub fn into_agg_values(self) -> Result<AggValues, NpyError> {
        match self.data {
            NpyData::U32(v) => Ok(AggValues::U32(v)),
            NpyData::U8(v) => Ok(AggValues::U8(v)),
            NpyData::U16(v) => Ok(AggValues::U16(v)),
            NpyData::F32(v) => Ok(AggValues::F32(v)),
            NpyData::Bool(v) => Ok(AggValues::Bool(v)),
            NpyData::F64(v) => Ok(AggValues::F64(v)),
            other => Err(NpyError::NotAnAggregate {
                descr: other.descr(),
            }),
        }
    }
}

/// The header `np.save` writes for this dtype and shape (format 1.0), padded
/// with spaces and a newline so the data starts on a 64-byte boundary.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_repr = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_repr}, }}");
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    let hlen = dict.len() + 1;
    let padlen = ARRAY_ALIGN - ((MAGIC.len() + 2 + 2 + hlen) % ARRAY_ALIGN);
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + hlen + padlen);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((hlen + padlen) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    out
}

/// Write `agg`'s values as `np.save(f, agg.values)` would: shape
/// `(height, width)` or `(height, width, n_categories)`, row 0 = lowest y.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest, ReductionSpec};
/// use pointillist::output::npy::{read_npy, write_npy, NpyData};
/// use pointillist::source::Source;
///
/// let mut req = AggregateRequest::new(30, 20);
/// req.reduction = "count_cat:cat".parse::<ReductionSpec>()?;
/// let agg = aggregate(&Source::sample()?, &req)?;
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &agg)?;
/// let back = read_npy(&bytes[..])?;
/// assert_eq!(back.shape, vec![20, 30, 5]); // (height, width, categories)
/// assert!(matches!(back.data, NpyData::U32(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_npy(mut w: impl Write, agg: &Aggregate) -> io::Result<()> {
    let shape = agg.shape();
    let descr = match &agg.values {
        AggValues::U32(_) => "<u4",
        AggValues::Bool(_) => "|b1",
        AggValues::F64(_) => "<f8",
        AggValues::F32(_) => "<f4",
        AggValues::I64(_) => "<i8",
        AggValues::U8(_) => "|u1",
        AggValues::U16(_) => "<u2",
    };
    w.write_all(&header(descr, &shape))?;
    const BLOCK: usize = 1 << 14;
    let mut buf = Vec::with_capacity(BLOCK * 8);
    // Each cell's little-endian bytes, a block at a time.
    let mut cells = |n: usize, put: &dyn Fn(usize, &mut Vec<u8>)| -> io::Result<()> {
        for start in (0..n).step_by(BLOCK) {
            buf.clear();
            (start..(start + BLOCK).min(n)).for_each(|i| put(i, &mut buf));
            w.write_all(&buf)?;
        }
        Ok(())
    };
    match &agg.values {
        AggValues::U32(v) => cells(v.len(), &|i, b| b.extend_from_slice(&v[i].to_le_bytes()))?,
        AggValues::Bool(v) => cells(v.len(), &|i, b| b.push(u8::from(v[i])))?,
        AggValues::F64(v) => cells(v.len(), &|i, b| b.extend_from_slice(&v[i].to_le_bytes()))?,
        AggValues::F32(v) => cells(v.len(), &|i, b| b.extend_from_slice(&v[i].to_le_bytes()))?,
        AggValues::I64(v) => cells(v.len(), &|i, b| b.extend_from_slice(&v[i].to_le_bytes()))?,
        AggValues::U8(v) => cells(v.len(), &|i, b| b.push(v[i]))?,
        AggValues::U16(v) => cells(v.len(), &|i, b| b.extend_from_slice(&v[i].to_le_bytes()))?,
    }
    Ok(())
}

/// Parse a Python string literal (`'...'` or `"..."`) at the start of `s`.
fn parse_str(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|&c| c == '\'' || c == '"')?;
    let rest = &s[1..];
    rest.find(q).map(|end| &rest[..end])
}

/// The text after `'key':` in the header dictionary.
fn value_of<'a>(dict: &'a str, key: &'static str) -> Result<&'a str, NpyError> {
    for q in ['\'', '"'] {
        let pat = format!("{q}{key}{q}");
        if let Some(i) = dict.find(&pat) {
            let rest = dict[i + pat.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix(':') {
                return Ok(rest.trim_start());
            }
        }
    }
    Err(NpyError::BadHeader {
        reason: HeaderProblem::Missing { key },
    })
}

/// Parse the header dictionary into (descr, fortran_order, shape).
fn parse_header(dict: &str) -> Result<(String, bool, Vec<usize>), NpyError> {
    let bad = |reason| NpyError::BadHeader { reason };
    let descr = parse_str(value_of(dict, "descr")?)
        .ok_or_else(|| bad(HeaderProblem::DescrNotString))?
        .to_string();
    let fo = value_of(dict, "fortran_order")?;
    let fortran = if fo.starts_with("True") {
        true
    } else if fo.starts_with("False") {
        false
    } else {
        return Err(bad(HeaderProblem::FortranOrderNotBool));
    };
    let sh = value_of(dict, "shape")?;
    let sh = sh
        .strip_prefix('(')
        .and_then(|s| s.find(')').map(|e| &s[..e]))
        .ok_or_else(|| bad(HeaderProblem::ShapeNotTuple))?;
    let shape = sh
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(HeaderProblem::ShapeNotIntegers))?;
    Ok((descr, fortran, shape))
}

/// Read exactly `n` elements of `size` bytes each.
fn read_bytes(r: &mut impl Read, n: usize, size: usize) -> Result<Vec<u8>, NpyError> {
    let expected = n.checked_mul(size).ok_or(NpyError::BadHeader {
        reason: HeaderProblem::ShapeTooLarge,
    })?;
    let mut buf = Vec::new();
    r.take(expected as u64).read_to_end(&mut buf)?;
    if buf.len() != expected {
        return Err(NpyError::Truncated {
            expected,
            got: buf.len(),
        });
    }
    Ok(buf)
}

/// Read a `.npy` array as NumPy writes it (C order, little-endian).
///
/// ```
/// use pointillist::output::npy::{read_npy, NpyData, NpyError};
///
/// // What `np.save(f, np.array([1.5, 2.5]))` writes.
/// let mut file = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
/// let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
/// file.extend(format!("{dict:<117}\n").bytes());
/// file.extend(1.5f64.to_le_bytes());
/// file.extend(2.5f64.to_le_bytes());
/// let a = read_npy(&file[..])?;
/// assert_eq!(a.shape, vec![2]);
/// assert_eq!(a.data, NpyData::F64(vec![1.5, 2.5]));
/// assert!(matches!(read_npy(&b"not npy!"[..]), Err(NpyError::BadMagic)));
/// # Ok::<(), NpyError>(())
/// ```
pub fn read_npy(mut r: impl Read) -> Result<NpyArray, NpyError> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)?;
    if &pre[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (pre[6], pre[7]);
    let hlen = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            u32::from_le_bytes(b) as usize
        }
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let mut hbuf = vec![0u8; hlen];
    r.read_exact(&mut hbuf)?;
    let dict = String::from_utf8(hbuf).map_err(|_| NpyError::BadHeader {
        reason: HeaderProblem::NotText,
    })?;
    let (descr, fortran, shape) = parse_header(&dict)?;
    if fortran && shape.len() > 1 {
        return Err(NpyError::FortranOrder);
    }
    let n: usize = shape.iter().product();
    macro_rules! numbers {
        ($t:ty, $variant:ident) => {{
            const SIZE: usize = std::mem::size_of::<$t>();
            let b = read_bytes(&mut r, n, SIZE)?;
            NpyData::$variant(
                b.chunks_exact(SIZE)
                    .map(|c| {
                        let mut a = [0u8; SIZE];
                        a.copy_from_slice(c);
                        <$t>::from_le_bytes(a)
                    })
                    .collect(),
            )
        }};
    }
    let data = match descr.as_str() {
        "<u4" => numbers!(u32, U32),
        "<u2" => numbers!(u16, U16),
        "<f8" => numbers!(f64, F64),
        "<f4" => numbers!(f32, F32),
        "<i4" => numbers!(i32, I32),
        "<i8" => numbers!(i64, I64),
        "<u8" => numbers!(u64, U64),
        "|b1" => NpyData::Bool(read_bytes(&mut r, n, 1)?.iter().map(|&b| b != 0).collect()),
        "|u1" => NpyData::U8(read_bytes(&mut r, n, 1)?),
        _ => return Err(NpyError::UnsupportedDtype { descr }),
    };
    Ok(NpyArray { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(values: AggValues, w: usize, h: usize, cats: Option<Vec<String>>) -> Aggregate {
        Aggregate {
            width: w,
            height: h,
            categories: cats,
            n: None,
            values,
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
        }
    }

    #[test]
    fn header_matches_np_save() {
        let h = header("<u4", &[200, 300]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..10], b"\x93NUMPY\x01\x00\x76\x00");
        let dict = std::str::from_utf8(&h[10..]).expect("ascii");
        assert!(dict.starts_with("{'descr': '<u4', 'fortran_order': False, 'shape': (200, 300), }"));
        assert!(dict.ends_with(" \n"));
        // A header that would end exactly on 64 bytes still gets 64 bytes of padding,
        // as NumPy computes it.
        for shape in [vec![1, 1], vec![7, 3, 2], vec![123_456_789, 3]] {
            let h = header("|b1", &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().expect("newline"), b'\n');
        }
    }

    #[test]
    fn round_trip_all_aggregate_dtypes() {
        let cases = [
            agg(AggValues::U32(vec![0, 1, 2, 70000, 5, 6]), 3, 2, None),
            agg(AggValues::Bool(vec![true, false, true, true]), 2, 2, None),
            agg(
                AggValues::F64(vec![f64::NAN, -0.5, 1e300, 2.0, 3.0, 4.0]),
                1,
                2,
                Some(vec!["a".into(), "b".into(), "c".into()]),
            ),
        ];
        for a in cases {
            let mut bytes = Vec::new();
            write_npy(&mut bytes, &a).expect("write");
            let arr = read_npy(bytes.as_slice()).expect("read");
            assert_eq!(arr.shape, a.shape());
            let values = arr.into_agg_values().expect("agg dtype");
            match (&values, &a.values) {
                (AggValues::F64(x), AggValues::F64(y)) => {
                    assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
                }
                _ => assert_eq!(values, a.values),
            }
        }
    }

    #[test]
    fn reads_other_dtypes_and_versions() {
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        let dict = b"{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }\n";
        v2.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        v2.extend_from_slice(dict);
        v2.extend_from_slice(&[1, 2, 3]);
        let arr = read_npy(v2.as_slice()).expect("v2");
        assert_eq!(arr.shape, vec![3]);
        assert_eq!(arr.data, NpyData::U8(vec![1, 2, 3]));
        // uint8 is a narrow count (`count@uint8`); int32 is no aggregate.
        assert!(matches!(arr.into_agg_values(), Ok(AggValues::U8(v)) if v == [1, 2, 3]));
        let ints = NpyArray {
            shape: vec![2],
            data: NpyData::I32(vec![1, 2]),
        };
        assert!(matches!(
            ints.into_agg_values(),
            Err(NpyError::NotAnAggregate { .. })
        ));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            read_npy(&b"PK\x03\x04 not npy"[..]),
            Err(NpyError::BadMagic)
        ));
        let a = agg(AggValues::U32(vec![1, 2, 3, 4]), 2, 2, None);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &a).expect("write");
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(
            read_npy(bytes.as_slice()),
            Err(NpyError::Truncated {
                expected: 16,
                got: 15
            })
        ));
        let mut f = header(">u4", &[1]);
        f.extend_from_slice(&[0, 0, 0, 1]);
        assert!(matches!(
            read_npy(f.as_slice()),
            Err(NpyError::UnsupportedDtype { .. })
        ));
    }
}
