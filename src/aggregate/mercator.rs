//! Web Mercator: longitude/latitude in degrees to metres, with Datashader's
//! formula (`datashader.utils.lnglat_to_meters`), so that a point lands in
//! the same pixel as when a Datashader user projects the columns first.
//!
//! `easting = lon * origin_shift / 180`,
//! `northing = ln(tan((90 + lat) * pi / 360)) * origin_shift / pi`, with
//! `origin_shift = pi * 6378137`, evaluated in that order in f64.

use std::f64::consts::PI;

/// Half the circumference of the Web Mercator sphere, in metres
/// (`np.pi * 6378137`).
pub const ORIGIN_SHIFT: f64 = PI * 6_378_137.0;

/// Easting in metres of longitude `lon` (degrees).
#[inline(always)]
pub fn lng_to_x(lon: f64) -> f64 {
    lon * ORIGIN_SHIFT / 180.0
}

/// Northing in metres of latitude `lat` (degrees); NaN beyond the poles.
#[inline(always)]
pub fn lat_to_y(lat: f64) -> f64 {
    ((90.0 + lat) * PI / 360.0).tan().ln() * ORIGIN_SHIFT / PI
}

/// A projection of one coordinate (degrees to metres, or the identity).
pub type Projection = fn(f64) -> f64;

fn identity(v: f64) -> f64 {
    v
}

/// The projections of the x and y columns: Web Mercator when they hold
/// longitude and latitude, else the identity.
pub fn projections(lnglat: bool) -> (Projection, Projection) {
    if lnglat {
        (lng_to_x, lat_to_y)
    } else {
        (identity, identity)
    }
}

/// `(easting, northing)` in metres of a longitude/latitude in degrees.
pub fn lnglat_to_meters(lon: f64, lat: f64) -> (f64, f64) {
    (lng_to_x(lon), lat_to_y(lat))
}

/// `(lon, lat)` in degrees of Web Mercator metres (the inverse, as
/// `datashader.utils.meters_to_lnglat`).
pub fn meters_to_lnglat(x: f64, y: f64) -> (f64, f64) {
    let lon = x / ORIGIN_SHIFT * 180.0;
    let lat = 180.0 / PI * (2.0 * (y / ORIGIN_SHIFT * PI).exp().atan() - PI / 2.0);
    (lon, lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york() {
        // datashader.utils.lnglat_to_meters(-74.0, 40.71) with NumPy 2.
        let (x, y) = lnglat_to_meters(-74.0, 40.71);
        assert_eq!(x, -8237642.318702245);
        assert!((y - 4969660.375061782).abs() < 1e-8, "{y}");
        let (lon, lat) = meters_to_lnglat(x, y);
        assert!((lon + 74.0).abs() < 1e-12 && (lat - 40.71).abs() < 1e-9);
    }

    #[test]
    fn monotonic_and_poles() {
        assert!(lat_to_y(10.0) < lat_to_y(10.000001));
        assert!(lat_to_y(0.0).abs() < 1e-6);
        // tan(pi / 2) is finite in floating point: the pole maps far north.
        assert!(lat_to_y(90.0) > 1e8);
        assert!(lat_to_y(91.0).is_nan());
    }
}
