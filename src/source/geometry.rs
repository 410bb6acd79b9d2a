//! Geometry columns: what a column of lines or polygons holds, and reading
//! it into the one layout the line kernels walk.
//!
//! Three encodings are read:
//! - GeoArrow's native ones (`geoarrow.linestring`, `multilinestring`,
//!   `polygon`, `multipolygon`): nested `List`/`LargeList` over coordinates
//!   that are interleaved (`FixedSizeList<2..4>`) or separated (`Struct`
//!   with `x`, `y`, ...);
//! - spatialpandas' own layout: the same nesting, with the innermost list a
//!   flat `List<Float64>` of interleaved x, y;
//! - WKB (GeoParquet's default encoding): `Binary`, `LargeBinary` or
//!   `BinaryView`, one geometry per row, LineString, MultiLineString,
//!   Polygon or MultiPolygon (Z and M values are ignored).
//!
//! Which of line strings or polygon rings a native column holds (the two
//! nest alike) is said by the field's `ARROW:extension:name`, else by the
//! file's GeoParquet `geo` metadata, else by the nesting: one list level is
//! a line string, two a multi line string, three a multi polygon.
//!
//! Rows decode into [`GeometryBuf`]: the vertices, the parts (line strings
//! and rings, rings marked closed) and each row's parts. A null row has no
//! parts; a null coordinate is NaN.

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_schema::{DataType, Field};
use geo_traits::{
    CoordTrait, GeometryTrait, GeometryType, LineStringTrait, MultiLineStringTrait,
    MultiPolygonTrait, PolygonTrait,
};

use super::decode::{is_numeric, numeric_to_f64};

/// What a geometry column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GeometryKind {
    LineString,
    MultiLineString,
    Polygon,
    MultiPolygon,
    /// Well-known binary, one geometry of any of the four kinds per row.
    Wkb,
}

impl GeometryKind {
    /// List levels above the coordinates.
    fn depth(self) -> Option<usize> {
        match self {
            GeometryKind::LineString => Some(1),
            GeometryKind::MultiLineString | GeometryKind::Polygon => Some(2),
            GeometryKind::MultiPolygon => Some(3),
            GeometryKind::Wkb => None,
        }
    }

    /// Whether its parts are closed rings.
    fn closed(self) -> bool {
        matches!(self, GeometryKind::Polygon | GeometryKind::MultiPolygon)
    }

    fn from_name(name: &str) -> Option<Result<GeometryKind, String>> {
        let n = name.to_ascii_lowercase();
        let n = n.strip_prefix("geoarrow.").unwrap_or(&n);
        Some(Ok(match n {
            "linestring" => GeometryKind::LineString,
            "multilinestring" => GeometryKind::MultiLineString,
            "polygon" => GeometryKind::Polygon,
            "multipolygon" => GeometryKind::MultiPolygon,
            "wkb" | "ogc.wkb" => GeometryKind::Wkb,
            "point" | "multipoint" => return Some(Err(format!("{n} geometries"))),
            _ => return None,
        }))
    }
}

/// A batch of geometries: vertex `i` is `(xs[i], ys[i])`; part `j` (a line
/// string or ring) is vertices `parts[j]..parts[j + 1]`, `closed[j]` for a
/// ring; row `r` is parts `rows[r]..rows[r + 1]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct GeometryBuf {
    pub(crate) xs: Vec<f64>,
    pub(crate) ys: Vec<f64>,
    pub(crate) parts: Vec<usize>,
    pub(crate) closed: Vec<bool>,
    pub(crate) rows: Vec<usize>,
}

impl GeometryBuf {
    fn clear(&mut self) {
        self.xs.clear();
        self.ys.clear();
        self.parts.clear();
        self.parts.push(0);
        self.closed.clear();
        self.rows.clear();
        self.rows.push(0);
    }

    /// Close the part being built.
    fn end_part(&mut self, closed: bool) {
        self.parts.push(self.xs.len());
        self.closed.push(closed);
    }

    fn end_row(&mut self) {
        self.rows.push(self.closed.len());
    }

    /// Rows held.
    pub(crate) fn num_rows(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    /// The parts of row `r`.
    pub(crate) fn row_parts(&self, r: usize) -> std::ops::Range<usize> {
        match (self.rows.get(r), self.rows.get(r + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        }
    }

    /// The vertices of part `j` and whether it is a closed ring.
    pub(crate) fn part(&self, j: usize) -> (std::ops::Range<usize>, bool) {
        match (self.parts.get(j), self.parts.get(j + 1)) {
            (Some(&a), Some(&b)) => (a..b, self.closed.get(j).copied().unwrap_or(false)),
            _ => (0..0, false),
        }
    }

    /// Project every vertex.
    pub(crate) fn map(&mut self, px: fn(f64) -> f64, py: fn(f64) -> f64) {
        self.xs.iter_mut().for_each(|x| *x = px(*x));
        self.ys.iter_mut().for_each(|y| *y = py(*y));
    }
}

/// The list levels above the coordinates of `dt`, or `None` when it is not
/// a nesting of lists over coordinates.
fn list_depth(dt: &DataType) -> Option<usize> {
    let child = match dt {
        DataType::List(f) | DataType::LargeList(f) => f.data_type(),
        _ => return None,
    };
    if is_numeric(child) || coordinate_type(child) {
        return Some(1);
    }
    list_depth(child).map(|d| d + 1)
}

/// Whether `dt` is a GeoArrow coordinate: `FixedSizeList` of 2 to 4
/// numbers, or a `Struct` whose first two fields are numbers.
fn coordinate_type(dt: &DataType) -> bool {
    match dt {
        DataType::FixedSizeList(f, n) => (2..=4).contains(n) && is_numeric(f.data_type()),
        DataType::Struct(fields) => {
            fields.len() >= 2 && fields.iter().take(2).all(|f| is_numeric(f.data_type()))
        }
        _ => false,
    }
}

fn is_binary(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// What `field` holds, from its extension name, the GeoParquet metadata
/// (`geo`, the file's key-value metadata, when there is one) or its
/// nesting; `Err(found)` saying what it is instead when it holds no lines
/// or polygons this module reads.
pub(crate) fn geometry_kind(field: &Field, geo: Option<&str>) -> Result<GeometryKind, String> {
    let dt = field.data_type();
    let named = field
        .metadata()
        .get("ARROW:extension:name")
        .and_then(|n| GeometryKind::from_name(n))
        .or_else(|| {
            let geo: serde_json::Value = serde_json::from_str(geo?).ok()?;
            let enc = geo.get("columns")?.get(field.name())?.get("encoding")?;
            GeometryKind::from_name(enc.as_str()?)
        });
    let kind = match named {
        Some(k) => k?,
        None if is_binary(dt) => GeometryKind::Wkb,
        None => match list_depth(dt) {
            Some(1) => GeometryKind::LineString,
            Some(2) => GeometryKind::MultiLineString,
            Some(3) => GeometryKind::MultiPolygon,
            _ => return Err(format!("type {dt}")),
        },
    };
    let fits = match kind.depth() {
        None => is_binary(dt),
        Some(d) => list_depth(dt) == Some(d),
    };
    if fits {
        Ok(kind)
    } else {
        Err(format!("type {dt} for {kind:?} geometries"))
    }
}

/// Offsets (one more than the rows, indices into the child) and the child
/// of a `List` or `LargeList` array.
fn list_parts(a: &dyn Array) -> Option<(Vec<usize>, &dyn Array)> {
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets().iter().map(|&v| v.max(0) as usize);
            Some((o.collect(), l.values().as_ref()))
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets().iter().map(|&v| v.max(0) as usize);
            Some((o.collect(), l.values().as_ref()))
        }
        _ => None,
    }
}

/// The coordinates under the innermost list level, indexed as that level's
/// child.
enum Leaf {
    /// spatialpandas: interleaved x, y, each child index one number.
    Flat(Vec<f64>),
    /// `n` numbers per coordinate, each child index one coordinate.
    Fixed(Vec<f64>, usize, Option<arrow_buffer::NullBuffer>),
    /// Separated x and y.
    Separate(Vec<f64>, Vec<f64>),
}

impl Leaf {
    fn new(a: &dyn Array) -> Option<Leaf> {
        let mut v = Vec::new();
        if is_numeric(a.data_type()) {
            numeric_to_f64(a, &mut v);
            return Some(Leaf::Flat(v));
        }
        match a.data_type() {
            DataType::FixedSizeList(_, n) => {
                let f = a.as_fixed_size_list();
                numeric_to_f64(f.values().as_ref(), &mut v).then_some(())?;
                Some(Leaf::Fixed(v, (*n).max(0) as usize, f.nulls().cloned()))
            }
            DataType::Struct(fields) => {
                let s = a.as_struct();
                let pick = |name: &str, k: usize| {
                    fields
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(name))
                        .unwrap_or(k)
                };
                let (mut x, mut y) = (Vec::new(), Vec::new());
                numeric_to_f64(s.column(pick("x", 0)).as_ref(), &mut x).then_some(())?;
                numeric_to_f64(s.column(pick("y", 1)).as_ref(), &mut y).then_some(())?;
                if let Some(n) = s.nulls() {
                    for (i, valid) in n.iter().enumerate() {
                        if !valid {
                            x[i] = f64::NAN;
                            y[i] = f64::NAN;
                        }
                    }
                }
                Some(Leaf::Separate(x, y))
            }
            _ => None,
        }
    }

    /// Append the vertices of child indices `lo..hi` to `out`.
    fn push(&self, lo: usize, hi: usize, out: &mut GeometryBuf) {
        let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(f64::NAN);
        match self {
            Leaf::Flat(v) => {
                let mut i = lo;
                while i + 1 < hi {
                    out.xs.push(at(v, i));
                    out.ys.push(at(v, i + 1));
                    i += 2;
                }
            }
            Leaf::Fixed(v, n, nulls) => {
                for i in lo..hi {
                    let valid = nulls.as_ref().is_none_or(|b| b.is_valid(i));
                    let (x, y) = if valid {
                        (at(v, i * n), at(v, i * n + 1))
                    } else {
                        (f64::NAN, f64::NAN)
                    };
                    out.xs.push(x);
                    out.ys.push(y);
                }
            }
            Leaf::Separate(x, y) => {
                for i in lo..hi {
                    out.xs.push(at(x, i));
                    out.ys.push(at(y, i));
                }
            }
        }
    }
}

/// Why a geometry column's batch could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GeometryDecodeError {
    /// The array is not of the kind the column was checked to be.
    Type(String),
    /// Row `row` is not readable WKB, or holds a geometry that is not
    /// lines or polygons.
    Row { row: usize, reason: String },
}

/// Decode `array` (of `kind`, from [`geometry_kind`]) into `out`.
pub(crate) fn decode_geometry(
    array: &dyn Array,
    kind: GeometryKind,
    out: &mut GeometryBuf,
) -> Result<(), GeometryDecodeError> {
    out.clear();
    let wrong = || GeometryDecodeError::Type(array.data_type().to_string());
    let Some(depth) = kind.depth() else {
        return decode_wkb(array, out);
    };
    let closed = kind.closed();
    // Offsets of each list level, from the rows down to the coordinates.
    let mut levels: Vec<Vec<usize>> = Vec::with_capacity(depth);
    let mut child: &dyn Array = array;
    for _ in 0..depth {
        let (o, c) = list_parts(child).ok_or_else(wrong)?;
        levels.push(o);
        child = c;
    }
    let leaf = Leaf::new(child).ok_or_else(wrong)?;
    let span = |o: &Vec<usize>, i: usize| {
        (
            o.get(i).copied().unwrap_or(0),
            o.get(i + 1).copied().unwrap_or(0),
        )
    };
    for r in 0..array.len() {
        if array.is_valid(r) {
            match levels.as_slice() {
                [coords] => {
                    let (lo, hi) = span(coords, r);
                    leaf.push(lo, hi, out);
                    out.end_part(closed);
                }
                [parts, coords] => {
                    let (a, b) = span(parts, r);
                    for j in a..b {
                        let (lo, hi) = span(coords, j);
                        leaf.push(lo, hi, out);
                        out.end_part(closed);
                    }
                }
                [polys, rings, coords] => {
                    let (a, b) = span(polys, r);
                    for p in a..b {
                        let (c, d) = span(rings, p);
                        for j in c..d {
                            let (lo, hi) = span(coords, j);
                            leaf.push(lo, hi, out);
                            out.end_part(closed);
                        }
                    }
                }
                _ => return Err(wrong()),
            }
        }
        out.end_row();
    }
    Ok(())
}

fn decode_wkb(array: &dyn Array, out: &mut GeometryBuf) -> Result<(), GeometryDecodeError> {
    let value = |i: usize| -> Option<&[u8]> {
        if array.is_null(i) {
            return None;
        }
        Some(match array.data_type() {
            DataType::Binary => array.as_binary::<i32>().value(i),
            DataType::LargeBinary => array.as_binary::<i64>().value(i),
            DataType::BinaryView => array.as_binary_view().value(i),
            _ => return None,
        })
    };
    if !is_binary(array.data_type()) {
        return Err(GeometryDecodeError::Type(array.data_type().to_string()));
    }
    for r in 0..array.len() {
        if let Some(bytes) = value(r) {
            let g = wkb::reader::read_wkb(bytes).map_err(|e| GeometryDecodeError::Row {
                row: r,
                reason: format!("not readable WKB ({e})"),
            })?;
            push_geometry(&g, out).map_err(|what| GeometryDecodeError::Row {
                row: r,
                reason: format!("holds a {what}, not lines or polygons"),
            })?;
        }
        out.end_row();
    }
    Ok(())
}

fn push_line(l: &impl LineStringTrait<T = f64>, closed: bool, out: &mut GeometryBuf) {
    for c in l.coords() {
        out.xs.push(c.x());
        out.ys.push(c.y());
    }
    out.end_part(closed);
}

fn push_polygon(p: &impl PolygonTrait<T = f64>, out: &mut GeometryBuf) {
    if let Some(e) = p.exterior() {
        push_line(&e, true, out);
    }
    for i in p.interiors() {
        push_line(&i, true, out);
    }
}

/// Append one geometry's parts; `Err(type name)` for one that is not lines
/// or polygons.
fn push_geometry(g: &impl GeometryTrait<T = f64>, out: &mut GeometryBuf) -> Result<(), String> {
    match g.as_type() {
        GeometryType::LineString(l) => push_line(l, false, out),
        GeometryType::MultiLineString(m) => {
            for l in m.line_strings() {
                push_line(&l, false, out);
            }
        }
        GeometryType::Polygon(p) => push_polygon(p, out),
        GeometryType::MultiPolygon(m) => {
            for p in m.polygons() {
                push_polygon(&p, out);
            }
        }
        GeometryType::Point(_) => return Err("Point".into()),
        GeometryType::MultiPoint(_) => return Err("MultiPoint".into()),
        GeometryType::GeometryCollection(_) => return Err("GeometryCollection".into()),
        _ => return Err("geometry of another kind".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{FixedSizeListBuilder, Float64Builder, ListBuilder};
    use arrow_array::{BinaryArray, ListArray};
    use std::sync::Arc;

    fn wkb_line(coords: &[(f64, f64)]) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&(coords.len() as u32).to_le_bytes());
        for (x, y) in coords {
            b.extend_from_slice(&x.to_le_bytes());
            b.extend_from_slice(&y.to_le_bytes());
        }
        b
    }

    #[test]
    fn wkb_rows_decode_to_parts_and_nulls_to_none() {
        let a = BinaryArray::from(vec![
            Some(wkb_line(&[(0.0, 1.0), (2.0, 3.0)]).as_slice()),
            None,
            Some(wkb_line(&[(4.0, 5.0)]).as_slice()),
        ]);
        let mut out = GeometryBuf::default();
        decode_geometry(&a, GeometryKind::Wkb, &mut out).expect("decodes");
        assert_eq!(out.xs, vec![0.0, 2.0, 4.0]);
        assert_eq!(out.ys, vec![1.0, 3.0, 5.0]);
        assert_eq!(out.rows, vec![0, 1, 1, 2]);
        assert_eq!(out.parts, vec![0, 2, 3]);
        let bad = BinaryArray::from(vec![Some(&[1u8, 1, 0, 0, 0][..])]);
        let e = decode_geometry(&bad, GeometryKind::Wkb, &mut out).expect_err("bad WKB");
        assert!(
            matches!(e, GeometryDecodeError::Row { row: 0, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn interleaved_and_flat_lists_read_the_same_vertices() {
        // GeoArrow interleaved: List<FixedSizeList<2>>.
        let mut b = ListBuilder::new(FixedSizeListBuilder::new(Float64Builder::new(), 2));
        for row in [
            &[(0.0, 1.0), (2.0, 3.0)][..],
            &[(4.0, 5.0), (6.0, 7.0), (8.0, 9.0)],
        ] {
            for (x, y) in row {
                b.values().values().append_value(*x);
                b.values().values().append_value(*y);
                b.values().append(true);
            }
            b.append(true);
        }
        let geo = b.finish();
        // spatialpandas: List<Float64> of interleaved x, y.
        let flat = ListArray::from_iter_primitive::<arrow_array::types::Float64Type, _, _>(vec![
            Some(vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0)]),
            Some(vec![
                Some(4.0),
                Some(5.0),
                Some(6.0),
                Some(7.0),
                Some(8.0),
                Some(9.0),
            ]),
        ]);
        let (mut a, mut c) = (GeometryBuf::default(), GeometryBuf::default());
        decode_geometry(&geo, GeometryKind::LineString, &mut a).expect("decodes");
        decode_geometry(&flat, GeometryKind::LineString, &mut c).expect("decodes");
        assert_eq!(a, c);
        assert_eq!(a.part(1), (2..5, false));
        // Sliced: the second row alone.
        decode_geometry(&geo.slice(1, 1), GeometryKind::LineString, &mut c).expect("decodes");
        assert_eq!(c.xs, vec![4.0, 6.0, 8.0]);
        let field = Field::new("g", geo.data_type().clone(), true);
        assert_eq!(geometry_kind(&field, None), Ok(GeometryKind::LineString));
        let geo_meta = r#"{"columns": {"g": {"encoding": "point"}}}"#;
        assert!(geometry_kind(&field, Some(geo_meta)).is_err());
        let _ = Arc::new(geo);
    }
}
