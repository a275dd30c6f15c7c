//! A small JSON parser that keeps object keys in file order, parses numbers with correct rounding
//! and reports positions, shared by the OpenPose, pose-sequence, cohort and constraint readers.
//!
//! Why not `serde_json::Value`: without the `preserve_order` / `float_roundtrip` features (which
//! would change the whole crate's build) it sorts keys and may round floats by one ulp, and both
//! matter here (file order of cohort subjects, byte-exact pose round trips). It also accepts the
//! `NaN`, `Infinity` and `-Infinity` tokens that Python's `json.dump` writes.

use std::fmt;

/// Maximum nesting depth accepted (deeper input is an error, never a stack overflow).
pub const MAX_DEPTH: usize = 128;

/// A parsed JSON value with object members in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number (Python's `NaN` / `Infinity` included), correctly rounded to `f64`.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object; members in file order, duplicates kept.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Short name of the value's type for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }

    /// The first member named `key` of an object (`None` for other types or a missing key).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A syntax error with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line of the offending byte.
    pub line: usize,
    /// 1-based column (in bytes) of the offending byte.
    pub column: usize,
    /// What the parser expected or found.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for SyntaxError {}

/// Parses a whole document (one value plus optional whitespace).
pub fn parse(bytes: &[u8]) -> Result<Json, SyntaxError> {
    let mut p = Parser { s: bytes, i: 0 };
    // Tolerate a UTF-8 byte-order mark.
    if p.s.starts_with(&[0xEF, 0xBB, 0xBF]) {
        p.i = 3;
    }
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("end of document after the top-level value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, expected: &str) -> SyntaxError {
        let upto = &self.s[..self.i.min(self.s.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = self.i - upto.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        let found = match self.s.get(self.i) {
            None => "end of file".to_string(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", *b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        };
        SyntaxError {
            line,
            column,
            message: format!("expected {expected}, found {found}"),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("nesting of at most {MAX_DEPTH} levels")));
        }
        match self.s.get(self.i).copied() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') if self.eat(b"true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Json::Null),
            Some(b'N') if self.eat(b"NaN") => Ok(Json::Num(f64::NAN)),
            Some(b'I') if self.eat(b"Infinity") => Ok(Json::Num(f64::INFINITY)),
            Some(b'-') if self.eat(b"-Infinity") => Ok(Json::Num(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("a JSON value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("a string key"));
            }
            let k = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            members.push((k, v));
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                return Ok(Json::Obj(members));
            }
            return Err(self.err("',' or '}'"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Json::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"]") {
                return Ok(Json::Arr(items));
            }
            return Err(self.err("',' or ']'"));
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("4 hex digits after \\u"))?;
        self.i += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("closing '\"'"));
            };
            match b {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("an escape character"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) && self.eat(b"\\u") {
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        _ => {
                            self.i -= 1;
                            return Err(
                                self.err("a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)")
                            );
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1F => return Err(self.err("no control character inside a string")),
                _ => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("valid UTF-8 in the string"))
    }

    fn number(&mut self) -> Result<Json, SyntaxError> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while let Some(b'0'..=b'9') = p.s.get(p.i) {
                p.i += 1;
            }
            p.i - s
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if digits(self) == 0 {
            return Err(self.err("a digit"));
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.err("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("a digit in the exponent"));
            }
        }
        // The slice is ASCII by construction; Rust's parser rounds correctly.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("x");
        text.parse::<f64>().map(Json::Num).map_err(|_| {
            self.i = start;
            self.err("a number")
        })
    }
}

/// A value of the wrong type or shape at a JSON path (e.g. `people[1].pose_keypoints_2d[37]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// JSON path of the offending value (`$` for the root).
    pub path: String,
    /// What the reader expected there.
    pub expected: String,
    /// What it found (a type name, or `nothing` for a missing key).
    pub found: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

impl std::error::Error for ShapeError {}

/// Builds a [`ShapeError`] for `value` at `path`.
pub fn shape_err(path: &str, expected: &str, value: Option<&Json>) -> ShapeError {
    ShapeError {
        path: path.to_string(),
        expected: expected.to_string(),
        found: value.map_or_else(|| "nothing".to_string(), |v| v.kind().to_string()),
    }
}

/// Joins a JSON path and an object key (`a.b`, or `a["odd key"]` when the key is not an identifier).
pub fn key_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", py_json_string(key)),
    }
}

/// The member `key` of the object `obj` (at `path`), or an error naming `path.key`.
pub fn field<'a>(obj: &'a Json, path: &str, key: &str) -> Result<&'a Json, ShapeError> {
    match obj {
        Json::Obj(_) => obj
            .get(key)
            .ok_or_else(|| shape_err(&key_path(path, key), "a member", None)),
        other => Err(shape_err(path, "an object", Some(other))),
    }
}

/// The value as a number.
pub fn num(v: &Json, path: &str) -> Result<f64, ShapeError> {
    match v {
        Json::Num(x) => Ok(*x),
        other => Err(shape_err(path, "a number", Some(other))),
    }
}

/// The value as a boolean.
pub fn boolean(v: &Json, path: &str) -> Result<bool, ShapeError> {
    match v {
        Json::Bool(b) => Ok(*b),
        other => Err(shape_err(path, "true or false", Some(other))),
    }
}

/// The value as a string.
pub fn string<'a>(v: &'a Json, path: &str) -> Result<&'a str, ShapeError> {
    match v {
        Json::Str(s) => Ok(s),
        other => Err(shape_err(path, "a string", Some(other))),
    }
}

/// The value as an array.
pub fn array<'a>(v: &'a Json, path: &str) -> Result<&'a [Json], ShapeError> {
    match v {
        Json::Arr(a) => Ok(a),
        other => Err(shape_err(path, "an array", Some(other))),
    }
}

/// The value as an object's members in file order.
pub fn object<'a>(v: &'a Json, path: &str) -> Result<&'a [(String, Json)], ShapeError> {
    match v {
        Json::Obj(m) => Ok(m),
        other => Err(shape_err(path, "an object", Some(other))),
    }
}

/// The value as an array of numbers.
pub fn num_array(v: &Json, path: &str) -> Result<Vec<f64>, ShapeError> {
    array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, x)| num(x, &format!("{path}[{i}]")))
        .collect()
}

/// Formats a float exactly as Python's `repr(float)` (and so `json.dump` / `str`) does: shortest
/// round-trip digits, fixed notation for decimal exponents in `[-4, 16)`, otherwise `d.ddde±XX`
/// with at least two exponent digits, and `.0` appended to integral fixed values.
/// `nan`/`inf` are written as Python's `str` does (`nan`, `inf`, `-inf`).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `-1.2345e-7`.
    let sci = format!("{x:e}");
    let (neg, sci) = match sci.strip_prefix('-') {
        Some(s) => (true, s),
        None => (false, sci.as_str()),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    // Python: value = 0.d1d2... * 10^decpt.
    let decpt = exp + 1;
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(&digits);
        } else if decpt >= n {
            out.push_str(&digits);
            for _ in 0..(decpt - n) {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt as usize]);
            out.push('.');
            out.push_str(&digits[decpt as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", e.abs()));
    }
    out
}

/// Formats a float as Python's `json.dump` does (`NaN`, `Infinity`, `-Infinity` for non-finite).
pub fn py_json_float(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        py_float_repr(x)
    }
}

/// Quotes a string as Python's `json.dump` with the default `ensure_ascii=True` does.
pub fn py_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7E => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_on_tricky_values() {
        // Expected strings are Python 3.11's `repr(float)` outputs, typed in from the interpreter.
        let cases: &[(f64, &str)] = &[
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.2345e-5, "1.2345e-05"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.10000000149011612, "0.10000000149011612"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (123.456, "123.456"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(x, want) in cases {
            assert_eq!(py_float_repr(x), want, "repr of {x:e}");
        }
        assert_eq!(py_json_float(f64::INFINITY), "Infinity");
        assert_eq!(py_json_float(f64::NAN), "NaN");
    }

    #[test]
    fn parser_keeps_order_and_rounds_exactly() {
        let j =
            parse(br#"{"b": [1, 2.5e-3, NaN], "a": {"x": "\u00e9\n"}, "c": -Infinity}"#).unwrap();
        let Json::Obj(m) = &j else {
            panic!("object expected")
        };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(j.get("a").unwrap().get("x"), Some(&Json::Str("é\n".into())));
        // 17 significant digits must round-trip bit-exactly.
        for s in [
            "0.10000000149011612",
            "2.2250738585072014e-308",
            "0.30000000000000004",
        ] {
            let Json::Num(v) = parse(s.as_bytes()).unwrap() else {
                panic!()
            };
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits());
            assert_eq!(py_float_repr(v), s);
        }
    }

    #[test]
    fn parser_errors_have_positions_and_never_panic() {
        let e = parse(b"{\n  \"a\": [1, 2,, 3]\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 14), "{e}");
        for bad in [
            &b"["[..],
            b"{\"a\"",
            b"\"abc",
            b"-",
            b"1.",
            b"1e",
            b"tru",
            b"\"\\u12\"",
            b"[1] x",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn string_quoting_matches_python_ensure_ascii() {
        assert_eq!(
            py_json_string("a\"b\\c\u{e9}\u{1F600}"),
            r#""a\"b\\c\u00e9\ud83d\ude00""#
        );
    }
}
