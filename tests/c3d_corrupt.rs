//! Corrupted C3D files (truncations, byte flips, wrong magic, absurd counts) give an error or a
//! valid result — never a panic, never an allocation beyond what the file justifies.

use std::path::Path;

use gaitlens::formats::c3d::parse_c3d;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/c3d");
    let mut v = Vec::new();
    for name in [
        "PiG_Calibration-FlatFoot-Full.c3d",
        "PiG_Calibration3_FF.c3d",
        "PiG_Motion-FlatFoot-Full.c3d",
        "PiG_Motion3_FF.c3d",
        "sample03_gait-pig.c3d",
        "sample03_gait-raw.c3d",
        "sample23_Vicon_analysis.c3d",
        "sample32_vicon_zerowire.c3d",
        "treadmill_events.c3d",
    ] {
        let p = dir.join(name);
        let b = std::fs::read(&p)
            .unwrap_or_else(|e| panic!("missing shared data file {}: {e}", p.display()));
        v.push((name.to_string(), b));
    }
    v
}

/// Deterministic xorshift for reproducible mutations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check(name: &str, what: &str, bytes: &[u8]) {
    let path = Path::new(name);
    let r = std::panic::catch_unwind(|| parse_c3d(bytes, path));
    match r {
        Err(_) => panic!("{name}: panic on {what}"),
        Ok(Ok(t)) => {
            // A valid result must be sized by the file: frames × markers ≤ bytes.
            let cells: usize = t.markers_m.iter().map(|f| f.len()).sum();
            assert!(
                cells <= bytes.len(),
                "{name} {what}: {cells} cells from {} bytes",
                bytes.len()
            );
        }
        Ok(Err(e)) => {
            let msg = e.to_string();
            assert!(
                msg.contains(name),
                "{name} {what}: error does not name the file: {msg}"
            );
        }
    }
}

#[test]
fn truncations_flips_and_absurd_counts_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, bytes) in seeds() {
        for k in 0..50 {
            let cut = (k * bytes.len() / 50).max(1) - 1;
            check(&name, &format!("truncation at {cut}"), &bytes[..cut]);
        }
        for k in 0..200 {
            let mut b = bytes.clone();
            // Mutate mostly the header and parameter section, where counts live.
            let span = if k % 3 == 0 {
                b.len()
            } else {
                b.len().min(8192)
            };
            for _ in 0..1 + (rng.next() % 4) as usize {
                let i = (rng.next() % span as u64) as usize;
                b[i] = rng.next() as u8;
            }
            check(&name, &format!("byte flips #{k}"), &b);
        }
        let mut b = bytes.clone();
        b[1] = 0x51;
        assert!(
            parse_c3d(&b, Path::new(&name)).is_err(),
            "{name}: wrong magic accepted"
        );
        // Absurd frame count in the header (last frame = 65535) and point count.
        let mut b = bytes.clone();
        b[8] = 0xff;
        b[9] = 0xff;
        check(&name, "last frame 65535", &b);
        let mut b = bytes.clone();
        b[2] = 0xff;
        b[3] = 0x7f;
        check(&name, "32767 points", &b);
    }
}

// ---------------------------------------------------------------------------------------------
// Targeted corruptions of single header values and parameters (issue 26, hardening).

use gaitlens::formats::c3d::{C3dError, C3dFile, Processor, parse_c3d_file};

fn seed(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("missing shared data file {}: {e}", p.display()))
}

/// Where a parameter record lies: `start` (name length byte), `next` (offset word), `data` (first
/// value byte) and `len` (value bytes). Little-endian integers (Intel and DEC files).
struct Record {
    next: usize,
    kind: usize,
    data: usize,
    len: usize,
}

fn param_section(b: &[u8]) -> (usize, usize) {
    let start = (b[0] as usize - 1) * 512;
    (start, start + b[start + 2] as usize * 512)
}

fn find_param(b: &[u8], group: &str, name: &str) -> Record {
    let (start, end) = param_section(b);
    let mut groups = std::collections::HashMap::new();
    let mut i = start + 4;
    while i + 2 <= end {
        let len = (b[i] as i8).unsigned_abs() as usize;
        let id = b[i + 1] as i8;
        if len == 0 || id == 0 {
            break;
        }
        let n = String::from_utf8_lossy(&b[i + 2..i + 2 + len]).to_string();
        let j = i + 2 + len;
        let next = i16::from_le_bytes([b[j], b[j + 1]]);
        if id < 0 {
            groups.insert(-id, n);
        } else if groups.get(&id).map(String::as_str) == Some(group) && n == name {
            let kind = (b[j + 2] as i8).unsigned_abs() as usize;
            let nd = b[j + 3] as usize;
            let count: usize = b[j + 4..j + 4 + nd].iter().map(|&d| d as usize).product();
            return Record {
                next: j,
                kind: j + 2,
                data: j + 4 + nd,
                len: count * kind,
            };
        }
        if next <= 0 {
            break;
        }
        i = j + next as usize;
    }
    panic!("parameter {group}:{name} not found");
}

/// A copy of `b` with `group:name` replaced by values of type `kind` (-1, 1, 2, 4) and dimensions
/// `dims`; the following records move, the section keeps its size (its free tail absorbs it).
fn replace_param(b: &[u8], group: &str, name: &str, kind: i8, dims: &[u8], data: &[u8]) -> Vec<u8> {
    let r = find_param(b, group, name);
    let (_, end) = param_section(b);
    let mut new = vec![kind as u8, dims.len() as u8];
    new.extend_from_slice(dims);
    new.extend_from_slice(data);
    let old = r.kind..r.data + r.len;
    let delta = new.len() as isize - old.len() as isize;
    let mut out = b[..old.start].to_vec();
    out.extend_from_slice(&new);
    out.extend_from_slice(&b[old.end..end]);
    if delta > 0 {
        let cut = out.len() - delta as usize..out.len();
        assert!(
            out[cut.clone()].iter().all(|&x| x == 0),
            "no room in the parameter section"
        );
        out.truncate(cut.start);
    } else {
        out.resize(out.len() + (-delta) as usize, 0);
    }
    let next = i16::from_le_bytes([out[r.next], out[r.next + 1]]);
    if next > 0 {
        out[r.next..r.next + 2].copy_from_slice(&(next + delta as i16).to_le_bytes());
    }
    out.extend_from_slice(&b[end..]);
    assert_eq!(out.len(), b.len());
    out
}

/// A copy of `b` with the values of `group:name` overwritten in place (same size).
fn patch_param(b: &[u8], group: &str, name: &str, at: usize, data: &[u8]) -> Vec<u8> {
    let r = find_param(b, group, name);
    assert!(
        at + data.len() <= r.len,
        "{group}:{name} holds {} bytes",
        r.len
    );
    let mut out = b.to_vec();
    out[r.data + at..r.data + at + data.len()].copy_from_slice(data);
    out
}

fn intel(v: f32) -> [u8; 4] {
    v.to_le_bytes()
}

/// Runs `f` on another thread and fails if it takes longer than `secs` (the old reader looped
/// 10^15 times on one of these files).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => panic!("{what}: the reader panicked"),
        Err(_) => panic!("{what}: the reader did not finish within {secs} s"),
    }
}

fn parse(name: &str, bytes: Vec<u8>) -> Result<C3dFile, C3dError> {
    let label = name.to_string();
    within(20, name, move || parse_c3d_file(&bytes, Path::new(&label)))
}

fn expect_param_error(name: &str, bytes: Vec<u8>, field: &str) -> String {
    let e = match parse(name, bytes) {
        Ok(f) => panic!(
            "{name}: accepted ({} frames at {} Hz), expected an error naming {field}",
            f.points.len(),
            f.rate_hz
        ),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains(name) && e.contains(field),
        "{name}: error must name the file and {field}: {e}"
    );
    e
}

fn same_data(a: &C3dFile, b: &C3dFile) -> bool {
    a.points == b.points && a.labels == b.labels && a.rate_hz == b.rate_hz
}

#[test]
fn point_used_must_be_a_whole_positive_count() {
    let name = "PiG_Calibration3_FF.c3d";
    let b = seed(name);
    // A zero-frame file: header last frame before the first, no frame count in the parameters.
    let first = u16::from_le_bytes([b[6], b[7]]);
    let mut zero = b.clone();
    zero[8..10].copy_from_slice(&(first - 1).to_le_bytes());
    let zero = patch_param(&zero, "POINT", "FRAMES", 0, &0i16.to_le_bytes());
    let zero = patch_param(&zero, "TRIAL", "ACTUAL_END_FIELD", 0, &[0, 0, 0, 0]);
    let ok = parse(name, zero.clone()).expect("the zero-frame file itself reads");
    assert!(ok.points.is_empty());
    // POINT:USED stored as the float 1e15: the label padding made 10^15 labels.
    let huge = replace_param(&zero, "POINT", "USED", 4, &[], &intel(1e15));
    expect_param_error(name, huge, "POINT:USED");
    let huge = replace_param(&b, "POINT", "USED", 4, &[], &intel(1e15));
    expect_param_error(name, huge, "POINT:USED");
    for (what, bytes) in [
        (
            "0",
            patch_param(&b, "POINT", "USED", 0, &0i16.to_le_bytes()),
        ),
        (
            "-5",
            patch_param(&b, "POINT", "USED", 0, &(-5i16).to_le_bytes()),
        ),
        (
            "0 in a zero-frame file",
            patch_param(&zero, "POINT", "USED", 0, &0i16.to_le_bytes()),
        ),
        (
            "2.5",
            replace_param(&b, "POINT", "USED", 4, &[], &intel(2.5)),
        ),
        (
            "NaN",
            replace_param(&b, "POINT", "USED", 4, &[], &intel(f32::NAN)),
        ),
    ] {
        let e = expect_param_error(name, bytes, "POINT:USED");
        println!("USED = {what}: {e}");
    }
}

#[test]
fn flipped_processor_byte_is_detected_from_the_rates() {
    for (name, flips) in [
        ("PiG_Motion-FlatFoot-Full.c3d", [85u8, 86]),
        ("sample03_gait-raw.c3d", [84, 86]),
        ("sample32_vicon_zerowire.c3d", [85, 86]),
    ] {
        let b = seed(name);
        let orig = parse(name, b.clone()).unwrap();
        assert!(orig.warnings.is_empty(), "{name}: {:?}", orig.warnings);
        let (start, _) = param_section(&b);
        for flip in flips {
            let mut m = b.clone();
            m[start + 3] = flip;
            let f = parse(name, m).unwrap_or_else(|e| panic!("{name} byte {flip}: {e}"));
            assert_eq!(f.processor, orig.processor, "{name} byte {flip}");
            assert!(
                same_data(&f, &orig),
                "{name} byte {flip}: rate {} Hz",
                f.rate_hz
            );
            assert!(
                f.warnings
                    .iter()
                    .any(|w| w.contains("processor") && w.contains(name)),
                "{name} byte {flip}: no warning: {:?}",
                f.warnings
            );
            let (a, b) = (
                gaitlens::formats::c3d::to_trial(&f),
                gaitlens::formats::c3d::to_trial(&orig),
            );
            assert_eq!(a.events, b.events, "{name} byte {flip}: events");
        }
    }
    // The DEC file's own layout still reads as DEC without a warning.
    let f = parse("sample03_gait-pig.c3d", seed("sample03_gait-pig.c3d")).unwrap();
    assert_eq!((f.processor, f.rate_hz), (Processor::Dec, 50.0));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn point_rate_must_be_finite_and_plausible() {
    let name = "PiG_Motion-FlatFoot-Full.c3d";
    let b = seed(name);
    for r in [
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.0,
        -100.0,
        1e-30,
        0.01,
        1e9,
    ] {
        let m = patch_param(&b, "POINT", "RATE", 0, &intel(r));
        let e = expect_param_error(name, m, "POINT:RATE");
        println!("RATE = {r}: {e}");
    }
    // Stored as an integer, a plausible rate still reads.
    let m = replace_param(&b, "POINT", "RATE", 2, &[], &120i16.to_le_bytes());
    assert_eq!(parse(name, m).unwrap().rate_hz, 120.0);
    // A broken POINT:SCALE is named too (NaN scaled every point to a gap).
    for s in [f32::NAN, f32::INFINITY, 0.0] {
        let m = patch_param(&b, "POINT", "SCALE", 0, &intel(s));
        expect_param_error(name, m, "POINT:SCALE");
    }
}

#[test]
fn non_finite_event_times_are_dropped_with_a_warning_naming_the_event() {
    let name = "PiG_Motion-FlatFoot-Full.c3d";
    let b = seed(name);
    let orig = parse(name, b.clone()).unwrap();
    let events = gaitlens::formats::c3d::to_trial(&orig).events;
    assert!(events.len() >= 4);
    // Event 1's seconds NaN, event 3's minutes +Inf; event 3's label gets an escape byte.
    let m = patch_param(&b, "EVENT", "TIMES", 4, &intel(f32::NAN));
    let m = patch_param(&m, "EVENT", "TIMES", 16, &intel(f32::INFINITY));
    let label_len = {
        let r = find_param(&m, "EVENT", "LABELS");
        m[r.data - 2] as usize
    };
    let m = patch_param(&m, "EVENT", "LABELS", 2 * label_len, b"\x1b[2J");
    let f = parse(name, m).unwrap();
    let t = gaitlens::formats::c3d::to_trial(&f);
    assert_eq!(t.events.len(), events.len() - 2, "{:?}", t.events);
    assert!(t.events.iter().all(|e| e.time_s.is_finite()));
    let w = f.warnings.join("\n");
    assert!(w.contains("event 1 ") && w.contains("event 3 "), "{w}");
    assert!(
        w.contains("\\x1b[2J") && !w.contains('\x1b'),
        "label not escaped: {w}"
    );
}

#[test]
fn zero_or_broken_analog_counts_keep_the_frame_stride() {
    let name = "PiG_Motion-FlatFoot-Full.c3d";
    let b = seed(name);
    let orig = parse(name, b.clone()).unwrap();
    for (what, m) in [
        (
            "ANALOG:RATE 0",
            patch_param(&b, "ANALOG", "RATE", 0, &intel(0.0)),
        ),
        (
            "ANALOG:RATE NaN",
            patch_param(&b, "ANALOG", "RATE", 0, &intel(f32::NAN)),
        ),
        (
            "ANALOG:RATE 10",
            patch_param(&b, "ANALOG", "RATE", 0, &intel(10.0)),
        ),
        (
            "ANALOG:USED 0",
            patch_param(&b, "ANALOG", "USED", 0, &0i16.to_le_bytes()),
        ),
        (
            "ANALOG:USED -1",
            patch_param(&b, "ANALOG", "USED", 0, &(-1i16).to_le_bytes()),
        ),
    ] {
        let f = parse(name, m).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            same_data(&f, &orig),
            "{what}: frames misread ({} frames)",
            f.points.len()
        );
        assert!(!f.warnings.is_empty(), "{what}: no warning");
    }
    // A zeroed header analog count with intact parameters reads the same (the parameters win).
    let mut m = b.clone();
    m[4..6].copy_from_slice(&0u16.to_le_bytes());
    assert!(same_data(&parse(name, m).unwrap(), &orig));
}

#[test]
fn non_printable_names_are_escaped_in_errors() {
    let name = "PiG_Calibration3_FF.c3d";
    let b = seed(name);
    let r = find_param(&b, "POINT", "RATE");
    let mut m = b.clone();
    // Name "RATE" → "R\x07\x1bE" and an unknown type byte: the error quotes the name.
    m[r.next - 3] = 0x07;
    m[r.next - 2] = 0x1b;
    m[r.kind] = 7;
    let e = parse(name, m).unwrap_err().to_string();
    assert!(e.contains(name) && e.contains("R\\x07\\x1bE"), "{e}");
    assert!(
        !e.chars().any(|c| c.is_control()),
        "raw control bytes in {e:?}"
    );
}
