//! A small NumPy `.npy` reader and writer for float32 arrays in C order.
//!
//! `zoo infer` reads its NCHW input batch and writes its logits with this module, so that a user
//! can go `np.save` → `zoo infer` → `np.load` without any other tool. Only what that needs is
//! supported: little-endian float32 (`'<f4'`), C order, format versions 1.0, 2.0 and 3.0 on read,
//! 1.0 on write. Every bad file is a one-line [`NpyError`] naming the file, never a panic.
//!
//! Why not `npyz`, the maintained crate for the format (its sources read 2026-12): its writer
//! lays the header out its own way (`'shape': (2, 3, ), }`, without the room numpy leaves for a
//! growing first axis), so what it writes is not the byte-for-byte `np.save` output a test here
//! pins; its reader reports a bad file as `io::Error` text, where this one names the field and
//! the byte that is wrong; and the zoo needs one dtype in one order, about 300 lines here.
//!
//! ```
//! use zoo_data::npy;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("x.npy");
//! npy::write_f32(&path, &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
//! let x = npy::read_f32(&path).unwrap();
//! assert_eq!((x.shape.as_slice(), x.rank()), (&[2, 3][..], 2));
//! assert_eq!(x.data[5], 5.0);
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy aligns the data to this many bytes from the start of the file (so it can be mmapped).
const ALIGN: usize = 64;
/// numpy reserves room for this many digits of the first axis so a header can grow in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// A float32 array read from or written to an `.npy` file, C order.
///
/// ```
/// use zoo_data::npy::NpyArray;
/// let a = NpyArray { shape: vec![2, 1, 4, 4], data: vec![0.0; 32] };
/// assert_eq!(a.rank(), 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The dimensions, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The values in C (row-major) order; `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl NpyArray {
    /// The number of dimensions (0 for a scalar).
    ///
    /// ```
    /// use zoo_data::npy::NpyArray;
    /// assert_eq!(NpyArray { shape: vec![], data: vec![1.5] }.rank(), 0);
    /// ```
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// Why an `.npy` file could not be read or written. The `Display` text is one line that starts
/// with the file's path.
///
/// ```
/// use zoo_data::npy::{self, NpyError};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("notes.txt");
/// std::fs::write(&path, "hello").unwrap();
/// let err = npy::read_f32(&path).unwrap_err();
/// assert!(matches!(err, NpyError::NotNpy { .. }));
/// assert!(err.to_string().contains("not a .npy file"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened, read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a well-formed `.npy` file.
    #[error("{path}: not a .npy file ({reason})")]
    NotNpy {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. a missing magic number or trailing bytes.
        reason: String,
    },
    /// The array is not little-endian float32.
    #[error("{path}: dtype {found}, expected float32 ('<f4'); convert with x.astype(np.float32)")]
    DType {
        /// The file.
        path: PathBuf,
        /// The dtype found, e.g. `'<f8' (float64)`.
        found: String,
    },
    /// The array is stored in Fortran (column-major) order.
    #[error("{path}: Fortran-ordered array; save it with np.ascontiguousarray(x)")]
    FortranOrder {
        /// The file.
        path: PathBuf,
    },
    /// The file holds fewer data bytes than its shape needs.
    #[error("{path}: truncated: the shape needs {expected} data bytes after the header, file has {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Data bytes the shape needs (`4 * product(shape)`).
        expected: usize,
        /// Data bytes present after the header.
        found: usize,
    },
}

/// Reads a little-endian float32, C-order `.npy` file (format version 1.0, 2.0 or 3.0).
///
/// ```
/// use zoo_data::npy;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("s.npy");
/// std::fs::write(&path, npy::to_bytes(&[], &[1.5])).unwrap();
/// let s = npy::read_f32(&path).unwrap();
/// assert_eq!((s.rank(), s.data), (0, vec![1.5]));
/// ```
pub fn read_f32(path: &Path) -> Result<NpyArray, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io { path: path.to_path_buf(), source })?;
    parse(&bytes).map_err(|e| e.at(path))
}

/// Writes `data` with the given `shape` as a version 1.0 `.npy` file, laid out byte for byte as
/// `np.save` does.
///
/// The file is written to a temporary sibling and renamed into place, so a reader never sees a
/// half-written file and a failed write leaves any previous file intact. A `data` length that
/// does not match `shape` is an [`NpyError::Io`] error of kind `InvalidInput`.
///
/// ```
/// use zoo_data::npy;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("logits.npy");
/// npy::write_f32(&path, &[1, 10], &[0.5; 10]).unwrap();
/// assert_eq!(npy::read_f32(&path).unwrap().shape, vec![1, 10]);
/// assert!(npy::write_f32(&path, &[2, 10], &[0.5; 10]).is_err());
/// ```
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let io_err = |source| NpyError::Io { path: path.to_path_buf(), source };
    if element_count(shape) != Some(data.len()) {
        return Err(io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("shape {shape:?} does not match {} values", data.len()),
        )));
    }
    let Some(name) = path.file_name() else {
        return Err(io_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name")));
    };
    // Hidden, per-process name in the same directory: rename is only atomic within a filesystem.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(&to_bytes(shape, data))?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(source));
    }
    Ok(())
}

/// The full contents of a `.npy` file holding `data` with `shape`: the version 1.0 format (2.0
/// only for a header too long for 1.0, as numpy does), byte for byte what `np.save` writes.
///
/// # Panics
///
/// If `data.len()` is not the product of `shape` (a caller bug, not a data error).
///
/// ```
/// use zoo_data::npy;
/// let bytes = npy::to_bytes(&[2, 3], &[0.0; 6]);
/// assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
/// assert_eq!(bytes.len(), 128 + 6 * 4); // the header is padded to a multiple of 64 bytes
/// ```
pub fn to_bytes(shape: &[usize], data: &[f32]) -> Vec<u8> {
    assert_eq!(
        element_count(shape),
        Some(data.len()),
        "npy::to_bytes: shape {shape:?} does not match {} values",
        data.len()
    );
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    // Python's tuple repr: `()`, `(5,)`, `(2, 3)`.
    let shape_repr = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_repr}, }}");
    // Same spare room as numpy, so our headers match its byte for byte.
    if let Some(first) = dims.first() {
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.len())));
    }
    // Version 1.0 unless its u16 header length would overflow, as numpy chooses.
    let version = if u16::try_from(header_len(2, &dict)).is_ok() { 1 } else { 2 };
    let mut out = header(version, &dict);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

// Length of the padded dict + '\n' after a `len_bytes`-wide length field. numpy's formula: an
// already aligned header still gets a full ALIGN of padding.
fn header_len(len_bytes: usize, dict: &str) -> usize {
    let pad = ALIGN - (MAGIC.len() + 2 + len_bytes + dict.len() + 1) % ALIGN;
    dict.len() + pad + 1
}

/// Magic, version, header length and the space-padded `dict` ending in `\n`, for format
/// `version` (1: u16 length; 2 and 3: u32).
fn header(version: u8, dict: &str) -> Vec<u8> {
    let len_bytes = if version == 1 { 2 } else { 4 };
    let total = header_len(len_bytes, dict);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(total as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(total as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + total - dict.len() - 1, b' ');
    out.push(b'\n');
    out
}

/// `product(shape)`, or `None` on overflow.
fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// An [`NpyError`] before the path is known, so the parser can be tested on bytes alone.
#[derive(Debug)]
enum ParseError {
    NotNpy(String),
    DType(String),
    FortranOrder,
    Truncated { expected: usize, found: usize },
}

impl ParseError {
    fn at(self, path: &Path) -> NpyError {
        let path = path.to_path_buf();
        match self {
            ParseError::NotNpy(reason) => NpyError::NotNpy { path, reason },
            ParseError::DType(found) => NpyError::DType { path, found },
            ParseError::FortranOrder => NpyError::FortranOrder { path },
            ParseError::Truncated { expected, found } => NpyError::Truncated { path, expected, found },
        }
    }
}

fn not_npy(reason: impl Into<String>) -> ParseError {
    ParseError::NotNpy(reason.into())
}

/// Parses a whole `.npy` file.
fn parse(bytes: &[u8]) -> Result<NpyArray, ParseError> {
    if !bytes.starts_with(MAGIC) {
        return Err(not_npy("it does not start with the \\x93NUMPY magic"));
    }
    let too_short = || not_npy(format!("header cut short: file has only {} bytes", bytes.len()));
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => return Err(too_short()),
    };
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(not_npy(format!("unsupported format version {major}.{minor}")));
        }
    };
    let start = 8 + len_bytes;
    let header_len = match bytes.get(8..start) {
        Some([a, b]) => u16::from_le_bytes([*a, *b]) as usize,
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => return Err(too_short()),
    };
    let header = start.checked_add(header_len).and_then(|end| bytes.get(start..end)).ok_or_else(too_short)?;
    let shape = parse_header(header)?;

    let expected = element_count(&shape)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| not_npy(format!("shape {shape:?} is too large")))?;
    let body = &bytes[start + header_len..];
    if body.len() < expected {
        return Err(ParseError::Truncated { expected, found: body.len() });
    }
    if body.len() > expected {
        return Err(not_npy(format!("trailing bytes: the shape needs {expected} data bytes, file has {}", body.len())));
    }
    let data = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(NpyArray { shape, data })
}

/// A Python literal from the header dict, just the subset numpy writes.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(Option<usize>), // None: negative or too large for usize
    Seq(Vec<Lit>),      // tuple or list
    Other,              // e.g. None or a float: never valid for the keys we read
}

/// Parses the header dict, checks the dtype (first, so a wrong dtype is reported as such even
/// when other fields are odd) and the order, and returns the shape.
fn parse_header(header: &[u8]) -> Result<Vec<usize>, ParseError> {
    let mut p = Lexer { s: header, i: 0, depth: 0 };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let Lit::Str(key) = p.value()? else {
            return Err(not_npy("header dict has a non-string key"));
        };
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let value_start = p.i;
        let value = p.value()?;
        let raw = String::from_utf8_lossy(&header[value_start..p.i]).into_owned();
        match key.as_str() {
            "descr" => descr = Some((value, raw)),
            "fortran_order" => fortran = Some(value),
            "shape" => shape = Some(value),
            _ => {} // numpy rejects extra keys; ignoring them is harmless for reading
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    // Anything after the dict must be the space padding and newline.
    if header[p.i..].iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(not_npy("unexpected text after the header dict"));
    }

    let (descr, raw) = descr.ok_or_else(|| not_npy("header has no 'descr'"))?;
    match descr {
        Lit::Str(d) if d == "<f4" => {}
        Lit::Str(d) => return Err(ParseError::DType(describe_dtype(&d))),
        _ => return Err(ParseError::DType(format!("{raw} (structured)"))),
    }
    match fortran.ok_or_else(|| not_npy("header has no 'fortran_order'"))? {
        Lit::Bool(false) => {}
        Lit::Bool(true) => return Err(ParseError::FortranOrder),
        _ => return Err(not_npy("'fortran_order' is not True or False")),
    }
    let Lit::Seq(dims) = shape.ok_or_else(|| not_npy("header has no 'shape'"))? else {
        return Err(not_npy("'shape' is not a tuple"));
    };
    dims.into_iter()
        .map(|d| match d {
            Lit::Int(Some(n)) => Ok(n),
            _ => Err(not_npy("'shape' holds something other than a non-negative integer")),
        })
        .collect()
}

/// `'<f8' (float64)`, `'>f4' (big-endian float32)`: the dtype as numpy spells it, plus a name.
fn describe_dtype(d: &str) -> String {
    let (order, code) = match d.as_bytes().first() {
        Some(b'<' | b'>' | b'|' | b'=') => d.split_at(1),
        _ => ("", d),
    };
    let kind = match code.as_bytes().first() {
        Some(b'f') => "float",
        Some(b'i') => "int",
        Some(b'u') => "uint",
        Some(b'c') => "complex",
        Some(b'b') => "bool",
        _ => return format!("'{d}'"),
    };
    let Ok(bytes) = code[1..].parse::<usize>() else {
        return format!("'{d}'");
    };
    let endian = if order == ">" { "big-endian " } else { "" };
    let bits = match bytes.checked_mul(8) {
        _ if kind == "bool" => String::new(),
        Some(bits) => bits.to_string(),
        None => return format!("'{d}'"),
    };
    format!("'{d}' ({endian}{kind}{bits})")
}

/// Deeper than any dtype description numpy writes for real data.
const MAX_DEPTH: usize = 32;

/// A cursor over the header bytes.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    /// Nesting of tuples/lists, bounded so a hostile header cannot overflow the stack.
    depth: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(not_npy(format!("bad header dict: expected '{}' at header byte {}", b as char, self.i)))
        }
    }

    /// One literal: a quoted string, True/False/None, an integer, or a tuple/list of literals.
    fn value(&mut self) -> Result<Lit, ParseError> {
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                // numpy's strings (dtype codes, field names) hold no escapes we need to decode.
                while self.peek().is_some_and(|b| b != q) {
                    self.i += 1 + usize::from(self.peek() == Some(b'\\'));
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i.min(self.s.len())]);
                let text = text.into_owned();
                self.expect(q)?;
                Ok(Lit::Str(text))
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                if self.depth == MAX_DEPTH {
                    return Err(not_npy("header dict nested too deeply"));
                }
                self.depth += 1;
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_ws();
                    if !self.eat(b',') {
                        self.skip_ws();
                        self.expect(close)?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Lit::Seq(items))
            }
            Some(b) if b.is_ascii_alphanumeric() || b == b'-' || b == b'+' => {
                let start = self.i;
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.' | b'_')) {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                Ok(match word {
                    "True" => Lit::Bool(true),
                    "False" => Lit::Bool(false),
                    // Python 2 era files may write `3L`; numpy accepts them too.
                    w if w.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-') => {
                        let digits = w.strip_suffix('L').unwrap_or(w);
                        if digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
                            Lit::Int(digits.replace('_', "").parse().ok())
                        } else if digits.starts_with('-') {
                            Lit::Int(None)
                        } else {
                            Lit::Other
                        }
                    }
                    _ => Lit::Other,
                })
            }
            _ => Err(not_npy(format!(
                "bad header dict: unexpected {} at header byte {}",
                match self.peek() {
                    Some(b) => format!("{:?}", b as char),
                    None => "end".into(),
                },
                self.i
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))`, as written by numpy 2.4.6
    /// (numpy 1.x writes the same bytes): a 128-byte header, then six little-endian floats.
    const NUMPY_2X3: [u8; 152] = [
        0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27,
        0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
        0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68,
        0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40,
        0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0xa0, 0x40,
    ];

    /// A hand-made file: `dict` padded like numpy would, in the given format version.
    fn file_with_header(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = header(version, dict);
        out.extend_from_slice(data);
        out
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Writes `bytes` to a temporary file and reads it back.
    fn read_bytes(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, Result<NpyArray, NpyError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.npy");
        std::fs::write(&path, bytes).unwrap();
        let result = read_f32(&path);
        (dir, path, result)
    }

    #[test]
    fn npy_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for shape in [vec![2, 3, 4, 4], vec![5], vec![], vec![0, 3]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let path = dir.path().join(format!("a{}.npy", shape.len()));
            write_f32(&path, &shape, &data).unwrap();
            let back = read_f32(&path).unwrap();
            assert_eq!(back, NpyArray { shape: shape.clone(), data });
            assert_eq!(back.rank(), shape.len());
        }
        // Only the final file is left: the temporary sibling was renamed away.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn npy_round_trip_keeps_special_values() {
        let data = [f32::NAN, f32::INFINITY, -0.0, f32::MIN_POSITIVE, f32::MAX];
        let back = parse(&to_bytes(&[5], &data)).unwrap();
        for (a, b) in data.iter().zip(&back.data) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn npy_header_is_aligned_and_parseable() {
        for shape in [vec![], vec![5], vec![2, 3, 32, 32], vec![1; 17], vec![123_456_789, 0]] {
            let n: usize = shape.iter().product();
            let bytes = to_bytes(&shape, &vec![1.0; n]);
            let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + header_len) % 64, 0, "shape {shape:?}");
            assert_eq!(bytes[10 + header_len - 1], b'\n');
            assert_eq!(bytes.len(), 10 + header_len + 4 * n);
            assert_eq!(parse(&bytes).unwrap().shape, shape);
        }
    }

    #[test]
    fn npy_writer_matches_numpy_byte_for_byte() {
        let data: Vec<f32> = (0..6).map(|i| i as f32).collect();
        assert_eq!(to_bytes(&[2, 3], &data), NUMPY_2X3);
        let header = std::str::from_utf8(&NUMPY_2X3[10..128]).unwrap();
        assert_eq!(header.trim_end(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
        // numpy's spare room for the first axis pushes this header from 128 to 192 bytes
        // (checked against np.save(f, np.zeros((1,) * 17, np.float32))).
        let bytes = to_bytes(&[1; 17], &[0.0]);
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 192 - 10);
        // Scalars and 1-D arrays use Python's tuple spelling.
        let scalar = to_bytes(&[], &[0.0]);
        assert!(
            scalar.starts_with(b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (), }")
        );
        assert!(String::from_utf8_lossy(&to_bytes(&[5], &[0.0; 5])).contains("'shape': (5,), }"));
    }

    #[test]
    fn npy_reads_numpy_file() {
        let (_dir, _path, a) = read_bytes(&NUMPY_2X3);
        let a = a.unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn npy_reads_version_2_and_3_headers() {
        let data = f32_bytes(&[1.0, 2.0, 3.0]);
        for version in [2, 3] {
            let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
            let (_dir, _path, a) = read_bytes(&file_with_header(version, dict, &data));
            assert_eq!(a.unwrap(), NpyArray { shape: vec![3], data: vec![1.0, 2.0, 3.0] });
        }
    }

    #[test]
    fn npy_parses_loose_headers() {
        // Other key order, double quotes, no spaces, no trailing comma, Python 2 longs.
        let dict = "{\"shape\":(1,3L),\"fortran_order\":False,\"descr\":\"<f4\"}";
        let a = parse(&file_with_header(1, dict, &f32_bytes(&[1.0, 2.0, 3.0]))).unwrap();
        assert_eq!(a.shape, vec![1, 3]);
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': ( 2 , 1 , ), }";
        assert_eq!(parse(&file_with_header(1, dict, &f32_bytes(&[1.0, 2.0]))).unwrap().shape, [2, 1]);
    }

    #[test]
    fn npy_wrong_dtype_is_named() {
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        let (_dir, path, err) = read_bytes(&file_with_header(1, dict, &[0; 16]));
        let err = err.unwrap_err();
        assert!(matches!(&err, NpyError::DType { found, .. } if found.contains("'<f8'")), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert!(msg.contains("'<f8' (float64)") && msg.contains("x.astype(np.float32)"), "{msg}");
        assert!(!msg.contains('\n'));

        for (descr, expect) in [
            ("'>f4'", "'>f4' (big-endian float32)"),
            ("'<i8'", "'<i8' (int64)"),
            ("'|u1'", "'|u1' (uint8)"),
            ("[('a', '<f4')]", "[('a', '<f4')] (structured)"),
            ("'<f9999999999999999999'", "'<f9999999999999999999'"),
        ] {
            let dict = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}");
            let (_dir, _path, err) = read_bytes(&file_with_header(1, &dict, &[0; 4]));
            match err {
                Err(NpyError::DType { found, .. }) => assert_eq!(found, expect),
                other => panic!("{descr}: {other:?}"),
            }
        }
    }

    #[test]
    fn npy_fortran_order_is_rejected() {
        let dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
        let (_dir, _path, err) = read_bytes(&file_with_header(1, dict, &[0; 24]));
        let err = err.unwrap_err();
        assert!(matches!(err, NpyError::FortranOrder { .. }), "{err:?}");
        assert!(err.to_string().contains("np.ascontiguousarray(x)"));
    }

    #[test]
    fn npy_truncated_and_trailing_data() {
        let (_dir, _path, err) = read_bytes(&NUMPY_2X3[..150]);
        match err {
            Err(NpyError::Truncated { expected, found, .. }) => assert_eq!((expected, found), (24, 22)),
            other => panic!("{other:?}"),
        }
        let mut long = NUMPY_2X3.to_vec();
        long.push(0);
        let (_dir, _path, err) = read_bytes(&long);
        match err {
            Err(NpyError::NotNpy { reason, .. }) => assert!(reason.contains("trailing bytes")),
            other => panic!("{other:?}"),
        }
        // A header that promises more bytes than the file has.
        let (_dir, _path, err) = read_bytes(&NUMPY_2X3[..60]);
        assert!(matches!(err, Err(NpyError::NotNpy { .. })), "{err:?}");
    }

    #[test]
    fn npy_not_npy_files() {
        let (_dir, path, err) = read_bytes(b"label,value\ncat,1\n");
        let err = err.unwrap_err();
        assert!(matches!(err, NpyError::NotNpy { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&path.display().to_string()) && msg.contains("not a .npy file"), "{msg}");

        let mut bad_version = NUMPY_2X3.to_vec();
        bad_version[6] = 4;
        for bytes in [&b""[..], b"\x93NUM", b"\x93NUMPY\x01", &bad_version] {
            let (_dir, _path, err) = read_bytes(bytes);
            assert!(matches!(err, Err(NpyError::NotNpy { .. })), "{bytes:?}: {err:?}");
        }
        for dict in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }",
            "not a dict",
        ] {
            let (_dir, _path, err) = read_bytes(&file_with_header(1, dict, &[]));
            assert!(matches!(err, Err(NpyError::NotNpy { .. })), "{dict}: {err:?}");
        }
        // Deep nesting is refused before it can overflow the stack.
        let deep = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {}", "(".repeat(100_000));
        match parse(&file_with_header(2, &deep, &[])) {
            Err(ParseError::NotNpy(reason)) => {
                assert!(reason.contains("nested too deeply"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn npy_io_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.npy");
        let err = read_f32(&missing).unwrap_err();
        assert!(matches!(err, NpyError::Io { .. }));
        assert!(err.to_string().starts_with(&missing.display().to_string()));
        let err = write_f32(&dir.path().join("no/such/dir.npy"), &[1], &[0.0]).unwrap_err();
        assert!(matches!(err, NpyError::Io { .. }), "{err:?}");
        let err = write_f32(&dir.path().join("x.npy"), &[2], &[0.0]).unwrap_err();
        assert!(err.to_string().contains("does not match 1 values"), "{err}");
    }
}
