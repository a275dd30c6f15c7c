//! A small, allow-listed pickle reader for what numpy writes: protocols 2–5, plain containers,
//! numbers and strings, and numpy arrays / dtypes / scalars.
//!
//! Written by hand on purpose: no maintained Rust crate decodes numpy's pickled ndarrays (they
//! are `REDUCE` calls of `numpy.core.multiarray._reconstruct` followed by a `BUILD` state, or
//! `_frombuffer` calls in protocol 5) without executing Python, and executing untrusted pickles
//! is exactly what a model loader must not do. Here every callable is one of a fixed list of
//! numpy constructors interpreted in Rust; anything else is a typed error naming the file, the
//! byte offset and the opcode or global.
//!
//! Objects live in an arena so that `BUILD`, `SETITEMS` and `APPENDS` on a memoised object are
//! seen by every later `BINGET` of it (numpy memoises a dtype before `BUILD` sets its byte
//! order and fetches it again for later arrays).

use std::collections::HashMap;

use super::array::{Dtype, DtypeKind, NdArray, c_order_permutation, element_count};
use super::{NpyError, PyValue};

type Id = usize;

/// The callables a pickle may name (everything else is rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callable {
    /// `numpy.(_)core.multiarray._reconstruct(ndarray, shape, typecode)`.
    Reconstruct,
    /// `numpy.ndarray` (only as `_reconstruct`'s first argument).
    NdarrayType,
    /// `numpy.dtype(descr, align, copy)`.
    DtypeType,
    /// `numpy.(_)core.multiarray.scalar(dtype, bytes)`.
    Scalar,
    /// `numpy.(_)core.numeric._frombuffer(buffer, dtype, shape, order)` (protocol 5).
    FromBuffer,
    /// `_codecs.encode(str, 'latin1')`: how Python 3 writes `bytes` in protocol 2.
    CodecsEncode,
    /// `collections.OrderedDict()`.
    OrderedDict,
}

/// An arena object.
#[derive(Debug)]
enum Node {
    /// A value without arena references (None, bool, int, float, str, bytes or a numeric
    /// ndarray), held as the [`PyValue`] it materialises to.
    Value(PyValue),
    /// A Python 2 `str` (bytes that `np.load(encoding='latin1')` reads as latin-1 text).
    Py2Str(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Callable(Callable),
    Dtype(Dtype),
    /// An ndarray made by `_reconstruct`, waiting for its `BUILD` state.
    PendingArray,
    ObjectArray {
        shape: Vec<usize>,
        items: Vec<Id>,
    },
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Value(v) => v.type_name(),
            Node::Py2Str(_) => "str (Python 2)",
            Node::List(_) => "list",
            Node::Tuple(_) => "tuple",
            Node::Dict(_) => "dict",
            Node::Callable(_) => "callable",
            Node::Dtype(_) => "numpy.dtype",
            Node::PendingArray => "ndarray without state",
            Node::ObjectArray { .. } => "object ndarray",
        }
    }
}

/// Unpickles `data` (which starts at byte `base` of `file`) into a [`PyValue`].
pub fn unpickle(data: &[u8], file: &str, base: usize) -> Result<PyValue, NpyError> {
    let mut m = Machine {
        data,
        pos: 0,
        base,
        file,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    // Each node costs one unit plus its payload; a pickle without shared subtrees stays well
    // under this, while a "billion laughs" of memo references cannot blow up memory.
    let mut budget = data.len().saturating_mul(4).saturating_add(1024);
    m.materialise(root, 0, &mut budget)
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
    file: &'a str,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        b'I' => "INT",
        b'L' => "LONG",
        b'F' => "FLOAT",
        b'S' => "STRING",
        b'V' => "UNICODE",
        b'p' => "PUT",
        b'g' => "GET",
        b'i' => "INST",
        b'o' => "OBJ",
        b'l' => "LIST",
        b'd' => "DICT",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x97 => "NEXT_BUFFER",
        _ => "unknown",
    }
}

impl<'a> Machine<'a> {
    fn malformed(&self, offset: usize, reason: impl Into<String>) -> NpyError {
        NpyError::Malformed {
            file: self.file.into(),
            offset: self.base + offset,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], NpyError> {
        let available = self.data.len() - self.pos;
        if n > available as u64 {
            return Err(NpyError::Truncated {
                file: self.file.into(),
                offset: self.base + self.pos,
                what,
                needed: n,
                available,
            });
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, NpyError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, NpyError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, NpyError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, NpyError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn line(&mut self, what: &'static str) -> Result<String, NpyError> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return Err(NpyError::Truncated {
                file: self.file.into(),
                offset: self.base + self.pos,
                what,
                needed: rest.len() as u64 + 1,
                available: rest.len(),
            });
        };
        let s = rest[..n].iter().map(|&b| b as char).collect();
        self.pos += n + 1;
        Ok(s)
    }

    fn push(&mut self, node: Node) {
        self.nodes.push(node);
        self.stack.push(self.nodes.len() - 1);
    }

    fn pop(&mut self, at: usize) -> Result<Id, NpyError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed(at, "stack underflow"));
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn top(&self, at: usize) -> Result<Id, NpyError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed(at, "stack underflow"));
        }
        Ok(*self.stack.last().expect("checked above"))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Id>, NpyError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed(at, "no MARK on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    fn text(&self, id: Id, at: usize, what: &str) -> Result<String, NpyError> {
        match &self.nodes[id] {
            Node::Value(PyValue::Str(s)) => Ok(s.clone()),
            Node::Py2Str(b) => Ok(b.iter().map(|&c| c as char).collect()),
            other => Err(self.malformed(at, format!("{what} is a {}, expected str", other.kind()))),
        }
    }

    fn tuple_items(&self, id: Id, at: usize, what: &str) -> Result<Vec<Id>, NpyError> {
        match &self.nodes[id] {
            Node::Tuple(t) => Ok(t.clone()),
            other => {
                Err(self.malformed(at, format!("{what} is a {}, expected tuple", other.kind())))
            }
        }
    }

    fn shape(&self, id: Id, at: usize) -> Result<Vec<usize>, NpyError> {
        self.tuple_items(id, at, "array shape")?
            .into_iter()
            .map(|d| match self.nodes[d] {
                Node::Value(PyValue::Int(n)) if n >= 0 => Ok(n as usize),
                _ => Err(self.malformed(at, "array shape holds a non-size value")),
            })
            .collect()
    }

    fn dtype(&self, id: Id, at: usize) -> Result<Dtype, NpyError> {
        match &self.nodes[id] {
            Node::Dtype(d) => Ok(*d),
            other => Err(self.malformed(
                at,
                format!("expected a numpy.dtype, found {}", other.kind()),
            )),
        }
    }

    fn raw_bytes(&self, id: Id, at: usize) -> Result<&[u8], NpyError> {
        match &self.nodes[id] {
            Node::Value(PyValue::Bytes(b)) | Node::Py2Str(b) => Ok(b),
            other => Err(self.malformed(
                at,
                format!("array data is a {}, expected bytes", other.kind()),
            )),
        }
    }

    /// Decodes `raw` as an array of `dtype` and `shape` (pickle opcode at `at`), the one way
    /// every numpy constructor here turns bytes into numbers.
    fn array(
        &self,
        raw: &[u8],
        dtype: Dtype,
        shape: Vec<usize>,
        fortran: bool,
        at: usize,
    ) -> Result<NdArray, NpyError> {
        NdArray::from_bytes(raw, dtype, shape, fortran, self.file, self.base + at)
    }

    fn global(&self, module: &str, name: &str, at: usize) -> Result<Callable, NpyError> {
        let multiarray = matches!(module, "numpy.core.multiarray" | "numpy._core.multiarray");
        let numeric = matches!(module, "numpy.core.numeric" | "numpy._core.numeric");
        Ok(match (module, name) {
            (_, "_reconstruct") if multiarray => Callable::Reconstruct,
            (_, "scalar") if multiarray => Callable::Scalar,
            (_, "_frombuffer") if numeric => Callable::FromBuffer,
            ("numpy", "ndarray") => Callable::NdarrayType,
            ("numpy", "dtype") => Callable::DtypeType,
            ("_codecs", "encode") => Callable::CodecsEncode,
            ("collections", "OrderedDict") => Callable::OrderedDict,
            _ => {
                return Err(NpyError::UnsupportedGlobal {
                    file: self.file.into(),
                    offset: self.base + at,
                    module: module.into(),
                    name: name.into(),
                });
            }
        })
    }

    /// Runs the opcode loop up to STOP and returns the id of the result.
    fn run(&mut self) -> Result<Id, NpyError> {
        loop {
            let at = self.pos;
            let op = self.u8("an opcode (the pickle has no STOP)")?;
            match op {
                b'.' => return self.stop(at),
                0x80 | 0x95 => self.framing(op, at)?,
                b'c' | 0x93 => self.global_op(op, at)?,
                b'(' | b'}' | b']' | b')' | 0x85..=0x87 | b't' => self.new_container(op, at)?,
                b's' | b'u' => self.set_items(op, at)?,
                b'a' | b'e' => self.append(op, at)?,
                b'J' | b'K' | b'M' | 0x8a | 0x8b | b'G' | b'N' | 0x88 | 0x89 => {
                    self.scalar(op, at)?
                }
                0x8c | b'X' | 0x8d | b'C' | b'B' | 0x8e | 0x96 | b'U' | b'T' => {
                    self.string(op, at)?
                }
                b'q' | b'r' | 0x94 | b'h' | b'j' => self.memo_op(op, at)?,
                b'0' | b'1' | b'2' | 0x98 | b'R' | 0x81 | b'b' => self.stack_op(op, at)?,
                _ => {
                    return Err(NpyError::UnsupportedOpcode {
                        file: self.file.into(),
                        offset: self.base + at,
                        opcode: op,
                        name: opcode_name(op),
                    });
                }
            }
        }
    }

    /// STOP: the single item left on the stack is the result.
    fn stop(&mut self, at: usize) -> Result<Id, NpyError> {
        let id = self.pop(at)?;
        if !self.stack.is_empty() || !self.marks.is_empty() {
            return Err(self.malformed(at, "STOP with items left on the stack"));
        }
        Ok(id)
    }

    /// PROTO (only protocols 2–5) and FRAME (whose length must fit in the data).
    fn framing(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        if op == 0x80 {
            let proto = self.u8("the PROTO version")?;
            if !(2..=5).contains(&proto) {
                return Err(self.malformed(
                    at,
                    format!("pickle protocol {proto} is not supported (2-5 are)"),
                ));
            }
            return Ok(());
        }
        let n = self.u64("the FRAME length")?;
        let available = self.data.len() - self.pos;
        if n > available as u64 {
            return Err(NpyError::Truncated {
                file: self.file.into(),
                offset: self.base + self.pos,
                what: "a pickle frame",
                needed: n,
                available,
            });
        }
        Ok(())
    }

    /// GLOBAL (names inline) and STACK_GLOBAL (names on the stack): pushes an allow-listed
    /// callable.
    fn global_op(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        let (module, name) = if op == b'c' {
            let module = self.line("a GLOBAL module name")?;
            let name = self.line("a GLOBAL name")?;
            (module, name)
        } else {
            let name = self.pop(at)?;
            let module = self.pop(at)?;
            let name = self.text(name, at, "STACK_GLOBAL name")?;
            let module = self.text(module, at, "STACK_GLOBAL module")?;
            (module, name)
        };
        let c = self.global(&module, &name, at)?;
        self.push(Node::Callable(c));
        Ok(())
    }

    /// MARK, the empty containers and the tuple builders (TUPLE1–3 and TUPLE).
    fn new_container(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        match op {
            b'(' => self.marks.push(self.stack.len()),
            b'}' => self.push(Node::Dict(Vec::new())),
            b']' => self.push(Node::List(Vec::new())),
            b')' => self.push(Node::Tuple(Vec::new())),
            b't' => {
                let items = self.pop_mark(at)?;
                self.push(Node::Tuple(items));
            }
            // TUPLE1, TUPLE2, TUPLE3.
            _ => {
                let n = (op - 0x84) as usize;
                let mut items = vec![0; n];
                for slot in items.iter_mut().rev() {
                    *slot = self.pop(at)?;
                }
                self.push(Node::Tuple(items));
            }
        }
        Ok(())
    }

    /// SETITEM and SETITEMS: adds key/value pairs to the dict below them.
    fn set_items(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        let items = if op == b's' {
            let v = self.pop(at)?;
            let k = self.pop(at)?;
            vec![k, v]
        } else {
            self.pop_mark(at)?
        };
        if items.len() % 2 != 0 {
            return Err(self.malformed(at, "SETITEMS with an odd number of items"));
        }
        let target = self.top(at)?;
        match &mut self.nodes[target] {
            Node::Dict(d) => d.extend(items.chunks_exact(2).map(|p| (p[0], p[1]))),
            other => {
                let kind = other.kind();
                return Err(self.malformed(at, format!("SETITEM on a {kind}")));
            }
        }
        Ok(())
    }

    /// APPEND and APPENDS: adds items to the list below them.
    fn append(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        let items = if op == b'a' {
            vec![self.pop(at)?]
        } else {
            self.pop_mark(at)?
        };
        let target = self.top(at)?;
        match &mut self.nodes[target] {
            Node::List(l) => l.extend(items),
            other => {
                let kind = other.kind();
                return Err(self.malformed(at, format!("APPEND on a {kind}")));
            }
        }
        Ok(())
    }

    /// The integer, float, None and bool opcodes: pushes the value.
    fn scalar(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        let value = match op {
            b'J' => PyValue::Int(self.u32("a BININT")? as i32 as i64),
            b'K' => PyValue::Int(self.u8("a BININT1")? as i64),
            b'M' => PyValue::Int(self.u16("a BININT2")? as i64),
            0x8a | 0x8b => PyValue::Int(self.long(op, at)?),
            b'G' => {
                let b = self.take(8, "a BINFLOAT")?;
                PyValue::Float(f64::from_be_bytes(b.try_into().expect("8 bytes")))
            }
            b'N' => PyValue::None,
            0x88 => PyValue::Bool(true),
            // NEWFALSE.
            _ => PyValue::Bool(false),
        };
        self.push(Node::Value(value));
        Ok(())
    }

    /// LONG1 / LONG4: a little-endian two's-complement integer of at most 8 bytes.
    fn long(&mut self, op: u8, at: usize) -> Result<i64, NpyError> {
        let n = if op == 0x8a {
            self.u8("a LONG1 length")? as i64
        } else {
            self.u32("a LONG4 length")? as i32 as i64
        };
        if !(0..=8).contains(&n) {
            return Err(self.malformed(at, format!("integer of {n} bytes does not fit in 64 bits")));
        }
        let b = self.take(n as u64, "a long integer")?;
        let mut buf = [0u8; 8];
        buf[..b.len()].copy_from_slice(b);
        if b.last().is_some_and(|&x| x & 0x80 != 0) {
            buf[b.len()..].fill(0xff);
        }
        Ok(i64::from_le_bytes(buf))
    }

    /// The unicode, bytes and Python 2 string opcodes: pushes the string.
    fn string(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        let node = match op {
            0x8c | b'X' | 0x8d => {
                let n = match op {
                    0x8c => self.u8("a string length")? as u64,
                    b'X' => self.u32("a string length")? as u64,
                    _ => self.u64("a string length")?,
                };
                let b = self.take(n, "a unicode string")?;
                let s = std::str::from_utf8(b)
                    .map_err(|_| self.malformed(at, "unicode string is not UTF-8"))?;
                Node::Value(PyValue::Str(s.to_owned()))
            }
            b'C' | b'B' | 0x8e | 0x96 => {
                let n = match op {
                    b'C' => self.u8("a bytes length")? as u64,
                    b'B' => self.u32("a bytes length")? as u64,
                    _ => self.u64("a bytes length")?,
                };
                let b = self.take(n, "a bytes object")?;
                Node::Value(PyValue::Bytes(b.to_vec()))
            }
            // SHORT_BINSTRING, BINSTRING.
            _ => {
                let n = if op == b'U' {
                    self.u8("a string length")? as i64
                } else {
                    self.u32("a string length")? as i32 as i64
                };
                if n < 0 {
                    return Err(self.malformed(at, "negative string length"));
                }
                let b = self.take(n as u64, "a Python 2 string")?;
                Node::Py2Str(b.to_vec())
            }
        };
        self.push(node);
        Ok(())
    }

    /// The memo opcodes: BINPUT, LONG_BINPUT and MEMOIZE store the top of the stack, BINGET and
    /// LONG_BINGET push a stored object again.
    fn memo_op(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        match op {
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => self.u8("a BINPUT index")? as u64,
                    b'r' => self.u32("a LONG_BINPUT index")? as u64,
                    _ => self.memo.len() as u64,
                };
                let id = self.top(at)?;
                self.memo.insert(key, id);
            }
            // BINGET, LONG_BINGET.
            _ => {
                let key = if op == b'h' {
                    self.u8("a BINGET index")? as u64
                } else {
                    self.u32("a LONG_BINGET index")? as u64
                };
                let id = *self
                    .memo
                    .get(&key)
                    .ok_or_else(|| self.malformed(at, format!("memo entry {key} is not set")))?;
                self.stack.push(id);
            }
        }
        Ok(())
    }

    /// POP, POP_MARK, DUP, READONLY_BUFFER, REDUCE / NEWOBJ and BUILD.
    fn stack_op(&mut self, op: u8, at: usize) -> Result<(), NpyError> {
        match op {
            b'0' => {
                self.pop(at)?;
            }
            b'1' => {
                self.pop_mark(at)?;
            }
            b'2' => {
                let id = self.top(at)?;
                self.stack.push(id);
            }
            0x98 => {
                self.top(at)?;
            }
            b'R' | 0x81 => {
                let args = self.pop(at)?;
                let func = self.pop(at)?;
                let node = self.call(func, args, at)?;
                self.push(node);
            }
            // BUILD.
            _ => {
                let state = self.pop(at)?;
                let target = self.top(at)?;
                self.build(target, state, at)?;
            }
        }
        Ok(())
    }

    /// Applies one of the allow-listed callables (REDUCE / NEWOBJ).
    fn call(&self, func: Id, args: Id, at: usize) -> Result<Node, NpyError> {
        let Node::Callable(c) = self.nodes[func] else {
            return Err(self.malformed(at, format!("REDUCE calls a {}", self.nodes[func].kind())));
        };
        let args = self.tuple_items(args, at, "REDUCE arguments")?;
        let arg = |i: usize| {
            args.get(i)
                .copied()
                .ok_or_else(|| self.malformed(at, format!("{c:?} needs argument {i}")))
        };
        match c {
            Callable::Reconstruct => {
                if !matches!(self.nodes[arg(0)?], Node::Callable(Callable::NdarrayType)) {
                    return Err(
                        self.malformed(at, "_reconstruct of something other than numpy.ndarray")
                    );
                }
                Ok(Node::PendingArray)
            }
            Callable::DtypeType => {
                let descr = self.text(arg(0)?, at, "dtype descriptor")?;
                Dtype::parse(&descr)
                    .map(Node::Dtype)
                    .ok_or_else(|| NpyError::UnsupportedDtype {
                        file: self.file.into(),
                        offset: self.base + at,
                        dtype: descr,
                    })
            }
            Callable::Scalar => {
                let dtype = self.dtype(arg(0)?, at)?;
                if dtype.kind == DtypeKind::Object {
                    return Err(NpyError::UnsupportedDtype {
                        file: self.file.into(),
                        offset: self.base + at,
                        dtype: "object scalar".into(),
                    });
                }
                let raw = self.raw_bytes(arg(1)?, at)?;
                let a = self.array(raw, dtype, Vec::new(), false, at)?;
                Ok(Node::Value(match a.data {
                    super::ArrayData::F32(v) => PyValue::Float(v[0] as f64),
                    super::ArrayData::F64(v) => PyValue::Float(v[0]),
                    super::ArrayData::I64(v) => PyValue::Int(v[0]),
                    super::ArrayData::U64(v) => PyValue::Int(
                        i64::try_from(v[0])
                            .map_err(|_| self.malformed(at, "numpy uint64 scalar above 2^63"))?,
                    ),
                    super::ArrayData::Bool(v) => PyValue::Bool(v[0]),
                }))
            }
            Callable::FromBuffer => {
                let raw = self.raw_bytes(arg(0)?, at)?;
                let dtype = self.dtype(arg(1)?, at)?;
                let shape = self.shape(arg(2)?, at)?;
                let order = self.text(arg(3)?, at, "buffer order")?;
                let fortran = match order.as_str() {
                    "C" => false,
                    "F" => true,
                    o => return Err(self.malformed(at, format!("buffer order {o:?}"))),
                };
                Ok(Node::Value(PyValue::Array(
                    self.array(raw, dtype, shape, fortran, at)?,
                )))
            }
            Callable::CodecsEncode => {
                let s = self.text(arg(0)?, at, "encoded text")?;
                let enc = self.text(arg(1)?, at, "encoding")?;
                if !matches!(enc.as_str(), "latin1" | "latin-1" | "iso-8859-1") {
                    return Err(self.malformed(at, format!("_codecs.encode with encoding {enc:?}")));
                }
                s.chars()
                    .map(|ch| u8::try_from(ch as u32).ok())
                    .collect::<Option<Vec<u8>>>()
                    .map(|b| Node::Value(PyValue::Bytes(b)))
                    .ok_or_else(|| {
                        self.malformed(at, "latin-1 text holds a character above U+00FF")
                    })
            }
            Callable::OrderedDict => Ok(Node::Dict(Vec::new())),
            Callable::NdarrayType => Err(self.malformed(at, "numpy.ndarray called directly")),
        }
    }

    /// Applies a BUILD state to an ndarray being reconstructed or to a dtype.
    fn build(&mut self, target: Id, state: Id, at: usize) -> Result<(), NpyError> {
        match &self.nodes[target] {
            Node::PendingArray => {
                let mut s = self.tuple_items(state, at, "ndarray state")?;
                if s.len() == 5 {
                    s.remove(0); // version
                }
                let [shape, dtype, fortran, data] = s[..] else {
                    return Err(self.malformed(
                        at,
                        format!("ndarray state has {} items, expected 4 or 5", s.len()),
                    ));
                };
                let shape = self.shape(shape, at)?;
                let dtype = self.dtype(dtype, at)?;
                let fortran = match self.nodes[fortran] {
                    Node::Value(PyValue::Bool(b)) => b,
                    Node::Value(PyValue::Int(i)) => i != 0,
                    _ => return Err(self.malformed(at, "ndarray fortran flag is not a bool")),
                };
                let node = if dtype.kind == DtypeKind::Object {
                    let Node::List(items) = &self.nodes[data] else {
                        return Err(self.malformed(at, "object ndarray data is not a list"));
                    };
                    let count = element_count(&shape)
                        .ok_or_else(|| self.malformed(at, "object ndarray shape overflows"))?;
                    if items.len() != count {
                        return Err(NpyError::SizeMismatch {
                            file: self.file.into(),
                            offset: self.base + at,
                            expected: count,
                            actual: items.len(),
                        });
                    }
                    let items = match c_order_permutation(&shape, fortran) {
                        Some(order) => order.iter().map(|&i| items[i]).collect(),
                        None => items.clone(),
                    };
                    Node::ObjectArray { shape, items }
                } else {
                    let raw = self.raw_bytes(data, at)?;
                    Node::Value(PyValue::Array(self.array(raw, dtype, shape, fortran, at)?))
                };
                self.nodes[target] = node;
                Ok(())
            }
            Node::Dtype(d) => {
                let mut d = *d;
                let s = self.tuple_items(state, at, "dtype state")?;
                if let Some(&order) = s.get(1) {
                    let order = self.text(order, at, "dtype byte order")?;
                    d.big_endian = match order.as_str() {
                        ">" => d.item_size > 1,
                        "<" | "|" | "=" => false,
                        o => return Err(self.malformed(at, format!("dtype byte order {o:?}"))),
                    };
                }
                self.nodes[target] = Node::Dtype(d);
                Ok(())
            }
            other => Err(self.malformed(at, format!("BUILD on a {}", other.kind()))),
        }
    }

    /// Converts an arena object into an owned value, charging `budget`.
    fn materialise(&self, id: Id, depth: usize, budget: &mut usize) -> Result<PyValue, NpyError> {
        let end = self.data.len();
        if depth > 100 {
            return Err(self.malformed(end, "objects nest more than 100 deep"));
        }
        let node = &self.nodes[id];
        let cost = 1 + match node {
            Node::Value(PyValue::Str(s)) => s.len(),
            Node::Value(PyValue::Bytes(b)) | Node::Py2Str(b) => b.len(),
            Node::Value(PyValue::Array(a)) => a.len(),
            _ => 0,
        };
        *budget = budget.checked_sub(cost).ok_or_else(|| {
            self.malformed(end, "shared references expand beyond the file's size")
        })?;
        let many = |ids: &[Id], budget: &mut usize| {
            ids.iter()
                .map(|&i| self.materialise(i, depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match node {
            Node::Value(v) => v.clone(),
            Node::Py2Str(b) => PyValue::Str(b.iter().map(|&c| c as char).collect()),
            Node::List(l) => PyValue::List(many(l, budget)?),
            Node::Tuple(t) => PyValue::Tuple(many(t, budget)?),
            Node::Dict(d) => {
                let mut out = Vec::with_capacity(d.len());
                for &(k, v) in d {
                    out.push((
                        self.materialise(k, depth + 1, budget)?,
                        self.materialise(v, depth + 1, budget)?,
                    ));
                }
                PyValue::Dict(out)
            }
            Node::ObjectArray { shape, items } => PyValue::ObjectArray {
                shape: shape.clone(),
                items: many(items, budget)?,
            },
            other => {
                return Err(self.malformed(
                    end,
                    format!(
                        "the result holds a {}, which has no plain value",
                        other.kind()
                    ),
                ));
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::ArrayData;
    use super::super::tests::fixture;
    use super::*;

    fn arr<'v>(v: &'v PyValue, key: &str) -> &'v NdArray {
        v.get(key)
            .and_then(PyValue::as_array)
            .unwrap_or_else(|| panic!("no array {key} in {v:?}"))
    }

    /// Checks the object written by `reader_payload()` in scripts/make_supr_fixtures.py
    /// against the arange formulas documented there.
    pub(crate) fn check_payload(v: &PyValue) {
        let f8 = arr(v, "f8");
        assert_eq!(f8.shape, vec![2, 3]);
        assert_eq!(
            f8.data,
            ArrayData::F64((0..6).map(|i| i as f64 * 0.5).collect())
        );
        let be = arr(v, "f4_be");
        assert_eq!(be.dtype.descr(), ">f4");
        assert_eq!(
            be.data,
            ArrayData::F32((0..4).map(|i| i as f32 + 1.0).collect())
        );
        let fo = arr(v, "i4_fortran");
        assert_eq!(fo.shape, vec![3, 4]);
        assert_eq!(fo.data, ArrayData::I64((0..12).map(|i| i - 5).collect()));
        assert_eq!(
            arr(v, "i8").data,
            ArrayData::I64((0..5).map(|i| i * -3).collect())
        );
        assert_eq!(arr(v, "u4").data, ArrayData::U64(vec![7, 8, 9]));
        assert_eq!(
            arr(v, "u8_be").data,
            ArrayData::U64(vec![1 << 40, (1 << 40) + 1])
        );
        assert_eq!(arr(v, "u1").data, ArrayData::U64(vec![0, 2, 4, 6]));
        assert_eq!(arr(v, "b").data, ArrayData::Bool(vec![true, false, true]));
        let f3 = arr(v, "f8_3d_fortran");
        assert_eq!(f3.shape, vec![2, 3, 4]);
        assert_eq!(
            f3.data,
            ArrayData::F64((0..24).map(|i| i as f64 * 0.25).collect())
        );
        let n = v.get("nested").expect("nested dict");
        assert_eq!(n.get("n"), Some(&PyValue::Int(7)));
        assert_eq!(n.get("neg"), Some(&PyValue::Int(-300)));
        assert_eq!(n.get("big"), Some(&PyValue::Int(1 << 40)));
        assert_eq!(n.get("x"), Some(&PyValue::Float(2.5)));
        assert_eq!(n.get("s"), Some(&PyValue::Str("hinge".into())));
        assert_eq!(n.get("np_int"), Some(&PyValue::Int(9)));
        assert_eq!(n.get("np_float"), Some(&PyValue::Float(1.25)));
        assert_eq!(n.get("none"), Some(&PyValue::None));
        assert_eq!(n.get("t"), Some(&PyValue::Bool(true)));
        assert_eq!(n.get("f"), Some(&PyValue::Bool(false)));
        assert_eq!(
            n.get("tuple"),
            Some(&PyValue::Tuple(vec![
                PyValue::Int(1),
                PyValue::Str("a".into())
            ]))
        );
        let Some(PyValue::List(l)) = n.get("list") else {
            panic!("nested.list missing: {n:?}");
        };
        assert_eq!(l[0].as_array().unwrap().data, ArrayData::I64(vec![0, 1, 2]));
        assert_eq!(l[1].as_array().unwrap().data, ArrayData::I64(vec![10, 11]));
    }

    #[test]
    fn pickles_of_protocols_2_to_5_and_numpy1_names_decode() {
        for name in [
            "dict_p2.pkl",
            "dict_p3.pkl",
            "dict_p4.pkl",
            "dict_p5.pkl",
            "dict_p2_numpy1.pkl",
        ] {
            let (bytes, file) = fixture(name);
            let v = unpickle(&bytes, &file, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_payload(&v);
        }
        let (bytes, _) = fixture("dict_p2_numpy1.pkl");
        assert!(bytes.windows(22).any(|w| w == b"numpy.core.multiarray\n"));
    }

    #[test]
    fn python2_string_pickles_decode_like_latin1_np_load() {
        // {'a': [1.5, -2.0, 0.25] (<f8), 'n': 7} with SHORT_BINSTRING keys and BINSTRING data.
        let (bytes, file) = fixture("py2_style.pkl");
        let v = unpickle(&bytes, &file, 0).unwrap();
        assert_eq!(arr(&v, "a").data, ArrayData::F64(vec![1.5, -2.0, 0.25]));
        assert_eq!(v.get("n"), Some(&PyValue::Int(7)));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let (bytes, file) = fixture("dict_p4.pkl");
        for cut in 0..bytes.len() {
            let err = unpickle(&bytes[..cut], &file, 10).unwrap_err();
            assert!(err.to_string().contains("dict_p4.pkl"), "{err}");
        }
    }

    #[test]
    fn foreign_globals_and_opcodes_are_rejected_with_offsets() {
        // pickle.dumps(os.system, protocol=2) spells `c posix\nsystem\n`.
        let evil = b"\x80\x02cposix\nsystem\nq\x00.";
        let err = unpickle(evil, "evil.pkl", 100).unwrap_err();
        assert!(
            matches!(&err, NpyError::UnsupportedGlobal { module, name, offset: 102, .. }
                if module == "posix" && name == "system"),
            "{err}"
        );
        // Protocol-0 INT opcode.
        let err = unpickle(b"I1\n.", "p0.pkl", 0).unwrap_err();
        assert!(
            matches!(
                err,
                NpyError::UnsupportedOpcode {
                    opcode: b'I',
                    offset: 0,
                    name: "INT",
                    ..
                }
            ),
            "{err}"
        );
        // A frame longer than the data must not be trusted.
        let err =
            unpickle(b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00.", "f.pkl", 0).unwrap_err();
        assert!(matches!(err, NpyError::Truncated { .. }), "{err}");
        // A 4 GB BINBYTES length in a tiny file.
        let err = unpickle(b"\x80\x03B\xff\xff\xff\xffab.", "b.pkl", 0).unwrap_err();
        assert!(
            matches!(
                err,
                NpyError::Truncated {
                    needed: 0xffff_ffff,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn memo_bombs_are_refused() {
        // l0 = []; l(i+1) = [l(i), l(i)] for 40 levels: 2^40 nodes when expanded.
        let mut p = b"\x80\x02]q\x00".to_vec();
        for i in 0..40u8 {
            p.extend_from_slice(&[b'0', b']', b'(', b'h', i, b'h', i, b'e', b'q', i + 1]);
        }
        p.push(b'.');
        let err = unpickle(&p, "bomb.pkl", 0).unwrap_err();
        assert!(err.to_string().contains("expand"), "{err}");
    }
}
