//! Redis's geohash: 52-bit interleaved cells over the Web Mercator range,
//! their neighbours, the cells covering a search shape, and the haversine
//! distance, computed step for step as Redis 7.2 does (`geohash.c`,
//! `geohash_helper.c`), so that scores, decoded coordinates and distances
//! are bit-identical to redis-server's.
//!
//! Rules for whoever changes this: every floating-point expression keeps
//! Redis's order of operations (a reordered sum changes the last bit, and
//! `%.17Lf` coordinates show it); `sin`/`cos`/`asin` are the C library's,
//! as Redis's are.

/// Longitude and latitude limits (EPSG:900913 / Web Mercator).
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Steps of a full-precision hash: 26 per coordinate, 52 bits.
pub const STEP_MAX: u8 = 26;

/// Redis's earth radius for distances (not the WGS84 one).
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A cell: `step` bits per coordinate, latitude in the even bits and
/// longitude in the odd ones. `bits == 0 && step == 0` is "no cell".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The 52-bit score of the cell's first point.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - self.step as u32 * 2)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the low 32 bits of `x` to the even bit positions.
fn spread(x: u32) -> u64 {
    let mut x = x as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into 32 bits.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a point in the given ranges; None outside them (or outside the
/// Mercator latitude limits, which Redis checks whatever the ranges).
pub fn encode(long_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step > 32 || step == 0 || lat_range.max - lat_range.min == 0.0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < long_range.min || lon > long_range.max {
        return None;
    }
    let mut lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (lon - long_range.min) / (long_range.max - long_range.min);
    // convert to fixed point based on the step size
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(Hash {
        bits: spread(lat_offset as u32) | (spread(long_offset as u32) << 1),
        step,
    })
}

pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, step)
}

/// The 52-bit score Redis stores for a point, None outside the limits.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.align52())
}

pub fn decode(long_range: Range, lat_range: Range, hash: Hash) -> Option<Area> {
    if hash.is_zero() || lat_range.max - lat_range.min == 0.0 {
        return None;
    }
    let step = hash.step as u32;
    let ilato = squash(hash.bits);
    let ilono = squash(hash.bits >> 1);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let cells = (1u64 << step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 * 1.0 / cells) * lat_scale,
            max: lat_range.min + ((ilato as f64 + 1.0) * 1.0 / cells) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 * 1.0 / cells) * long_scale,
            max: long_range.min + ((ilono as f64 + 1.0) * 1.0 / cells) * long_scale,
        },
    })
}

fn area_center(a: &Area) -> [f64; 2] {
    let lon = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [lon, lat]
}

/// The point a score stands for: `[longitude, latitude]`, as GEOPOS shows.
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = Hash {
        bits: c_to_u64(score),
        step: STEP_MAX,
    };
    decode(WGS84_LONG, WGS84_LAT, hash).map(|a| area_center(&a))
}

/// C's `(uint64_t)` of a double as x86-64 computes it, for scores no
/// geohash gives (a GEO command on any sorted set): negative values wrap,
/// values past 2^64 and NaN give what `cvttsd2si` gives.
fn c_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    let cvt = |x: f64| {
        if x.is_nan() || !(-TWO63..TWO63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    };
    if d < TWO63 {
        cvt(d) as u64
    } else {
        (cvt(d - TWO63) as u64) ^ (1 << 63)
    }
}

/// GEOHASH's 11-character standard geohash of a score (re-encoded over
/// latitude ±90; the 11th character stands for bits Redis does not keep).
pub fn standard_geohash(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score)?;
    let hash = encode(
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
        lon,
        lat,
        STEP_MAX,
    )?;
    let mut out = [0u8; 11];
    for (i, c) in out.iter_mut().enumerate() {
        let idx = if i == 10 {
            0
        } else {
            (hash.bits >> (52 - (i + 1) * 5)) & 0x1f
        };
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

// ----- neighbours -----

const LON_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

/// Moves one cell along the coordinate in `bits` (LON_BITS: east/west,
/// LAT_BITS: north/south), wrapping around: Redis's `geohash_move_x/_y`.
fn move_along(hash: &mut Hash, d: i8, bits: u64) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let mut c = hash.bits & bits;
    let other = hash.bits & !bits;
    // the other coordinate's bits set, so a carry runs through them
    let zz = (!bits).checked_shr(shift).unwrap_or(0);
    if d > 0 {
        c = c.wrapping_add(zz + 1);
    } else {
        c |= zz;
        c = c.wrapping_sub(zz + 1);
    }
    c &= bits.checked_shr(shift).unwrap_or(0);
    hash.bits = c | other;
}

fn moved(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    move_along(&mut n, dx, LON_BITS);
    move_along(&mut n, dy, LAT_BITS);
    n
}

/// The nine cells a search visits, in Redis's order: the centre, north,
/// south, east, west, north-east, north-west, south-east, south-west.
/// Cells found useless are zero.
pub type Cells = [Hash; 9];

/// A search shape: a circle (radius) or a box (width, height), in `unit`s,
/// `conversion` metres each, around `center` (`[lon, lat]`).
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub center: [f64; 2],
    pub shape: Shape,
    pub conversion: f64,
}

/// Redis's `geohashEstimateStepsByRadius`.
fn steps_for_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2; // make sure range is included in most of the base cases
    // wider range towards the poles
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Redis's `geohashBoundingBox`: `[min_lon, min_lat, max_lon, max_lat]`.
fn bounding_box(s: &Search) -> [f64; 4] {
    let [lon, lat] = s.center;
    let (h, w) = match s.shape {
        Shape::Radius(r) => (r, r),
        Shape::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let height = s.conversion * h;
    let width = s.conversion * w;
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    // the widest part of the box is nearer the equator
    let long_delta = if lat < 0.0 {
        long_delta_bottom
    } else {
        long_delta_top
    };
    [
        lon - long_delta,
        lat - lat_delta,
        lon + long_delta,
        lat + lat_delta,
    ]
}

/// Redis's `geohashCalculateAreasByShapeWGS84`: the cells to scan.
pub fn cells_for(s: &Search) -> Cells {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(s);
    let [lon, lat] = s.center;
    let radius_meters = match s.shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * s.conversion;
    let mut steps = steps_for_radius(radius_meters, lat);
    // the centre is inside the limits: checked when it was parsed or decoded
    let around = |steps: u8| {
        let hash = encode_wgs84(lon, lat, steps).unwrap_or_default();
        let area = decode(WGS84_LONG, WGS84_LAT, hash).unwrap_or_default();
        let cells = [
            hash,
            moved(hash, 0, 1),
            moved(hash, 0, -1),
            moved(hash, 1, 0),
            moved(hash, -1, 0),
            moved(hash, 1, 1),
            moved(hash, -1, 1),
            moved(hash, 1, -1),
            moved(hash, -1, -1),
        ];
        (cells, area)
    };
    let (mut cells, mut area) = around(steps);
    // Near the limits of the range the step may be too fine for the
    // neighbours to cover the whole box: one step coarser then.
    let side = |h: Hash| decode(WGS84_LONG, WGS84_LAT, h).unwrap_or_default();
    let decrease_step = side(cells[1]).latitude.max < max_lat
        || side(cells[2]).latitude.min > min_lat
        || side(cells[3]).longitude.max < max_lon
        || side(cells[4]).longitude.min > min_lon;
    if steps > 1 && decrease_step {
        steps -= 1;
        (cells, area) = around(steps);
    }
    // drop the neighbours the shape cannot reach
    if steps >= 2 {
        // cell indices: 1 north, 2 south, 3 east, 4 west, 5 north-east,
        // 6 north-west, 7 south-east, 8 south-west
        let mut clear = |ids: [usize; 3]| {
            for i in ids {
                cells[i] = Hash::default();
            }
        };
        if area.latitude.min < min_lat {
            clear([2, 8, 7]);
        }
        if area.latitude.max > max_lat {
            clear([1, 5, 6]);
        }
        if area.longitude.min < min_lon {
            clear([4, 8, 6]);
        }
        if area.longitude.max > max_lon {
            clear([3, 7, 5]);
        }
    }
    cells
}

/// The score range `[min, max)` a cell covers.
pub fn cell_scores(h: Hash) -> (u64, u64) {
    let min = h.align52();
    let max = Hash {
        bits: h.bits.wrapping_add(1),
        step: h.step,
    }
    .align52();
    (min, max)
}

// ----- distances -----

fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Haversine great-circle distance in metres, as Redis computes it.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // same longitude: the cheaper formula, whose last bits Redis shows
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// The distance in metres from the search centre to `p` when `p` lies in
/// the shape.
pub fn distance_if_within(s: &Search, p: [f64; 2]) -> Option<f64> {
    let [x1, y1] = s.center;
    let [x2, y2] = p;
    match s.shape {
        Shape::Radius(r) => {
            let d = distance(x1, y1, x2, y2);
            (d <= r * s.conversion).then_some(d)
        }
        Shape::Box { width, height } => {
            let (width_m, height_m) = (width * s.conversion, height * s.conversion);
            // latitude first: it is cheaper
            if lat_distance(y2, y1) > height_m / 2.0 {
                return None;
            }
            if distance(x2, y2, x1, y2) > width_m / 2.0 {
                return None;
            }
            Some(distance(x1, y1, x2, y2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for x in [0u32, 1, 0xdead_beef, u32::MAX, 0x0300_0001] {
            assert_eq!(squash(spread(x)), x);
            assert_eq!(spread(x) & 0xaaaa_aaaa_aaaa_aaaa, 0);
        }
    }

    #[test]
    fn palermo_scores_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" → ZSCORE 3479099956230698
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        let [lon, lat] = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(
            &standard_geohash(3479099956230698.0).unwrap(),
            b"sqc8b49rny0"
        );
    }

    #[test]
    fn distance_palermo_catania() {
        let [a, b] = decode_score(3479099956230698.0).unwrap();
        let [c, d] = decode_score(3479447370796909.0).unwrap();
        assert_eq!(format!("{:.4}", distance(a, b, c, d)), "166274.1516");
    }
}
