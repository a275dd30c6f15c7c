//! README's first command, run literally: the built binary with no arguments opens the viewer on
//! the embedded body, the demo walk and the demo network, and draws the body.
//!
//! The binary is started exactly as a newcomer starts it (no arguments); only the environment
//! variables `GAITLENS_SCREENSHOT` / `GAITLENS_SCREENSHOT_AFTER_FRAMES` ask it to save the window
//! after N frames and quit. Without a display the test starts its own Xvfb (installed in CI by
//! `.ci/install-system-deps`); software Vulkan (lavapipe) draws.
#![cfg(feature = "viewer")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An Xvfb server started for the test, killed when dropped.
struct VirtualDisplay {
    child: Child,
    display: String,
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Xvfb on a free display number and waits for its socket.
fn start_xvfb() -> VirtualDisplay {
    let number = (200..260)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("no free X display number in :200–:259");
    let display = format!(":{number}");
    let child = Command::new("Xvfb")
        .args([&display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start Xvfb ({e}); install it with `apt-get install xvfb` \
                 (.ci/install-system-deps does)"
            )
        });
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
    let t0 = Instant::now();
    while !socket.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "Xvfb {display} did not come up within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    VirtualDisplay { child, display }
}

/// Decodes an 8-bit RGB or RGBA PNG into (width, height, RGB bytes).
fn read_png_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{}: unexpected PNG colour type {other:?}", path.display()),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

#[test]
fn the_bare_binary_opens_the_viewer_and_draws_the_coloured_body() {
    let display = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty());
    let xvfb = if display.is_none() {
        Some(start_xvfb())
    } else {
        None
    };
    let display = display.unwrap_or_else(|| xvfb.as_ref().unwrap().display.clone());
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("first_launch.png");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("GAITLENS_SCREENSHOT", &shot)
        .env("GAITLENS_SCREENSHOT_AFTER_FRAMES", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gaitlens binary starts");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the bare binary did not quit within 300 s; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success(),
        "`gaitlens` with no arguments failed ({status}):\n{stderr}"
    );
    assert!(
        shot.exists(),
        "no screenshot was written; stderr:\n{stderr}"
    );
    if let Some(keep) = std::env::var_os("GAITLENS_KEEP_FIRST_LAUNCH") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let (w, h, rgb) = read_png_rgb(&shot);
    assert_eq!((w, h), (1280, 800), "README's default window size");
    // The 3D view right of the side panel: the lit body (light skin, or relevance colours near
    // white for small relevance) is the only bright thing there; background, floor and grid
    // lines are dark or mid grey.
    let body = (0..h as usize)
        .flat_map(|y| (420..w as usize).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = &rgb[(y * w as usize + x) * 3..][..3];
            p.iter().map(|&c| c as u32).sum::<u32>() > 3 * 150
        })
        .count();
    assert!(
        body > 5000,
        "only {body} bright pixels right of the panel: the body was not drawn there; \
         stderr:\n{stderr}"
    );
}
