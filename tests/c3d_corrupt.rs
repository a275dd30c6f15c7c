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
