//! A small TOML reader (1.0, and 1.1's multi-line inline tables and new escapes) with byte spans: enough to read any `gpuarch.toml` or
//! `Cargo.toml` and point messages at the place a value was written.
//!
//! Why not the `toml` crate: gpuarch-build is a build-dependency, compiled in every
//! downstream build, and the `toml` crate's parser chain (winnow, toml_parser, toml)
//! sits in series before it, which made a clean build of a crate using gpuarch-build
//! take more than twice as long as one using only `cc`. This reader has no
//! dependencies; its tests compare it with the `toml` crate on valid and invalid input.

use std::ops::Range;

/// A value with the bytes it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// Kept as written: gpuarch reads no dates, but a Cargo.toml may hold them.
    Datetime(String),
    Array(Vec<Spanned<Value>>),
    Table(Table),
}

impl Value {
    /// What it is, for messages: "an integer".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// How a table came to be, which decides whether it may be defined or extended later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Origin {
    /// Created as the parent of a `[a.b]` header; `[a]` may still define it.
    #[default]
    Implicit,
    /// Defined by a `[header]`.
    Header,
    /// Created by a dotted key (`a.b = 1`); more dotted keys may extend it.
    Dotted,
    /// `{ ... }` or an element of `[[array]]` already closed: frozen.
    Inline,
}

/// A table, its keys in the order written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub entries: Vec<(Spanned<String>, Spanned<Value>)>,
    origin: Origin,
}

impl Table {
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&Spanned<Value>> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    /// The table at a path of keys (`["package", "metadata", "gpuarch"]`).
    pub fn table_at(&self, path: &[&str]) -> Option<&Table> {
        let (first, rest) = path.split_first()?;
        match &self.get(first)?.value {
            Value::Table(t) if rest.is_empty() => Some(t),
            Value::Table(t) => t.table_at(rest),
            _ => None,
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k.value == key)
    }
}

/// Why a text is not TOML, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

/// Parses a TOML document into its root table.
pub fn parse(text: &str) -> Result<Table, ParseError> {
    // A byte-order mark may open the file.
    let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    Parser {
        text,
        bytes: text.as_bytes(),
        pos,
        inline_depth: 0,
    }
    .document()
}

/// Arrays and inline tables nest at most this deep, so input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Inside `{ ... }`, where (as in TOML 1.1) newlines and comments count as space.
    inline_depth: usize,
}

type Key = Vec<Spanned<String>>;

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        self.error_at(self.pos, message)
    }

    fn error_at<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            offset,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes[self.pos..].starts_with(s.as_bytes())
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A comment runs to the end of the line; control characters other than tab are
    /// not allowed in it.
    fn skip_comment(&mut self) -> Result<(), ParseError> {
        if self.peek() != Some(b'#') {
            return Ok(());
        }
        while let Some(b) = self.peek() {
            if b == b'\n' || (b == b'\r' && self.peek_at(1) == Some(b'\n')) {
                break;
            }
            if is_control(b) {
                return self.error("control character in a comment");
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Space around keys and `=`: inside an inline table newlines and comments too.
    fn skip_key_space(&mut self) -> Result<(), ParseError> {
        if self.inline_depth > 0 {
            self.skip_array_space()
        } else {
            self.skip_whitespace();
            Ok(())
        }
    }

    /// Whitespace, then a comment, then a newline or the end.
    fn end_of_line(&mut self) -> Result<(), ParseError> {
        self.skip_whitespace();
        self.skip_comment()?;
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.pos += 2;
                Ok(())
            }
            _ => self.error("expected the end of the line"),
        }
    }

    fn document(mut self) -> Result<Table, ParseError> {
        let mut root = Table {
            origin: Origin::Header,
            ..Table::default()
        };
        // The path of the table that key/value pairs go into.
        let mut current: Vec<String> = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(root),
                Some(b'#') | Some(b'\n') | Some(b'\r') => self.end_of_line()?,
                Some(b'[') => {
                    current = self.header(&mut root)?;
                    self.end_of_line()?;
                }
                Some(_) => {
                    let table =
                        resolve_path(&mut root, &current).expect("the current table exists");
                    self.key_value(table, 0)?;
                    self.end_of_line()?;
                }
            }
        }
    }

    /// `[a.b]` or `[[a.b]]`; returns the path key/values now go into.
    fn header(&mut self, root: &mut Table) -> Result<Vec<String>, ParseError> {
        let start = self.pos;
        let array = self.starts_with("[[");
        self.pos += if array { 2 } else { 1 };
        self.skip_whitespace();
        let key = self.key()?;
        self.skip_whitespace();
        let close = if array { "]]" } else { "]" };
        if !self.starts_with(close) {
            return self.error(format!("expected `{close}` to close the table header"));
        }
        self.pos += close.len();
        let (last, parents) = key.split_last().expect("a key has a part");
        let mut table = &mut *root;
        for part in parents {
            table = descend(table, part, Origin::Implicit, true).map_err(|m| ParseError {
                message: m,
                offset: part.span.start,
            })?;
        }
        match (array, table.position(&last.value)) {
            (false, None) => {
                table
                    .entries
                    .push((last.clone(), table_value(Origin::Header, start..self.pos)));
            }
            (false, Some(i)) => match &mut table.entries[i].1.value {
                Value::Table(t) if t.origin == Origin::Implicit => t.origin = Origin::Header,
                _ => {
                    return self.error_at(
                        last.span.start,
                        format!("`{}` is defined twice", last.value),
                    )
                }
            },
            (true, None) => {
                let element = table_value(Origin::Header, start..self.pos);
                table.entries.push((
                    last.clone(),
                    Spanned {
                        value: Value::Array(vec![element]),
                        span: start..self.pos,
                    },
                ));
            }
            (true, Some(i)) => match &mut table.entries[i].1 {
                Spanned {
                    value: Value::Array(items),
                    ..
                } if is_array_of_tables(items) => {
                    items.push(table_value(Origin::Header, start..self.pos));
                }
                _ => {
                    return self.error_at(
                        last.span.start,
                        format!("`{}` is not an array of tables", last.value),
                    )
                }
            },
        }
        Ok(key.into_iter().map(|k| k.value).collect())
    }

    /// A key: bare or quoted parts joined by dots.
    fn key(&mut self) -> Result<Key, ParseError> {
        let mut parts = Vec::new();
        loop {
            self.skip_key_space()?;
            let start = self.pos;
            let name = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.string(q, false)?,
                Some(b) if is_bare_key_byte(b) => {
                    while self.peek().is_some_and(is_bare_key_byte) {
                        self.pos += 1;
                    }
                    self.text[start..self.pos].to_string()
                }
                _ => return self.error("expected a key"),
            };
            parts.push(Spanned {
                value: name,
                span: start..self.pos,
            });
            self.skip_key_space()?;
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                return Ok(parts);
            }
        }
    }

    /// `key = value`, into `table`.
    fn key_value(&mut self, table: &mut Table, depth: usize) -> Result<(), ParseError> {
        let key = self.key()?;
        if self.peek() != Some(b'=') {
            return self.error("expected `=` after the key");
        }
        self.pos += 1;
        self.skip_key_space()?;
        let value = self.value(depth)?;
        let (last, parents) = key.split_last().expect("a key has a part");
        let mut target = table;
        for part in parents {
            target = descend(target, part, Origin::Dotted, false).map_err(|m| ParseError {
                message: m,
                offset: part.span.start,
            })?;
        }
        if target.position(&last.value).is_some() {
            return self.error_at(
                last.span.start,
                format!("`{}` is defined twice", last.value),
            );
        }
        target.entries.push((last.clone(), value));
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Spanned<Value>, ParseError> {
        if depth > MAX_DEPTH {
            return self.error("values nest too deeply");
        }
        let start = self.pos;
        let value = match self.peek() {
            Some(q @ (b'"' | b'\'')) => Value::String(self.string(q, true)?),
            Some(b'[') => Value::Array(self.array(depth)?),
            Some(b'{') => Value::Table(self.inline_table(depth)?),
            Some(b't') if self.starts_with("true") && self.word_ends(4) => {
                self.pos += 4;
                Value::Boolean(true)
            }
            Some(b'f') if self.starts_with("false") && self.word_ends(5) => {
                self.pos += 5;
                Value::Boolean(false)
            }
            Some(_) => self.number_or_date()?,
            None => return self.error("expected a value"),
        };
        Ok(Spanned {
            value,
            span: start..self.pos,
        })
    }

    fn word_ends(&self, len: usize) -> bool {
        !self
            .peek_at(len)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Spanned<Value>>, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_array_space()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_array_space()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return self.error("expected `,` or `]` in the array"),
            }
        }
    }

    /// Inside arrays, newlines and comments may stand between values.
    fn skip_array_space(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'\n') => self.pos += 1,
                Some(b'\r') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                Some(b'#') => self.skip_comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// `{ a = 1, b.c = 2 }`; as in TOML 1.1, newlines, comments and a trailing comma
    /// are allowed inside.
    fn inline_table(&mut self, depth: usize) -> Result<Table, ParseError> {
        self.pos += 1;
        self.inline_depth += 1;
        let table = self.inline_table_body(depth);
        self.inline_depth -= 1;
        table
    }

    fn inline_table_body(&mut self, depth: usize) -> Result<Table, ParseError> {
        let mut table = Table::default();
        loop {
            self.skip_array_space()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                freeze(&mut table);
                return Ok(table);
            }
            self.key_value(&mut table, depth + 1)?;
            self.skip_array_space()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return self.error("expected `,` or `}` in the inline table"),
            }
        }
    }

    /// A string opened by `quote`: `"..."` (basic, with escapes) or `'...'` (literal),
    /// and with `multiline` also their `"""`/`'''` forms.
    fn string(&mut self, quote: u8, multiline: bool) -> Result<String, ParseError> {
        let escapes = quote == b'"';
        let delimiter = [quote; 3];
        let triple = multiline && self.bytes[self.pos..].starts_with(&delimiter);
        self.pos += if triple { 3 } else { 1 };
        if triple {
            self.skip_newline();
        }
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return self.error("unterminated string");
            };
            match b {
                _ if b == quote && !triple => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ if b == quote && self.bytes[self.pos..].starts_with(&delimiter) => {
                    self.close_triple(quote, &mut out);
                    return Ok(out);
                }
                b'\\' if escapes => {
                    self.pos += 1;
                    if triple && self.line_ending_backslash() {
                        continue;
                    }
                    out.push(self.escape()?);
                }
                b'\n' | b'\r' if triple => self.string_newline(&mut out)?,
                _ if is_control(b) => return self.error("control character in a string"),
                _ => out.push(self.next_char()),
            }
        }
    }

    /// After a `\` in a multi-line string: a backslash at the end of a line trims the
    /// newline and the whitespace that follows it.
    fn line_ending_backslash(&mut self) -> bool {
        let save = self.pos;
        self.skip_whitespace();
        if !matches!(self.peek(), Some(b'\n')) && !self.starts_with("\r\n") {
            self.pos = save;
            return false;
        }
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n')) || self.starts_with("\r\n") {
            self.pos += 1;
        }
        true
    }

    fn escape(&mut self) -> Result<char, ParseError> {
        let Some(b) = self.peek() else {
            return self.error("unterminated string");
        };
        self.pos += 1;
        let simple = match b {
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'"' => '"',
            b'\\' => '\\',
            b'e' => '\u{1b}',
            b'x' | b'u' | b'U' => {
                let len = match b {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = self.text.get(self.pos..self.pos + len).unwrap_or("");
                let code = (hex.len() == len && hex.bytes().all(|h| h.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(c) = code else {
                    return self.error("invalid unicode escape");
                };
                self.pos += len;
                return Ok(c);
            }
            _ => return self.error_at(self.pos - 1, "invalid escape"),
        };
        Ok(simple)
    }

    /// At the closing three quotes of a multi-line string: up to two more quotes right
    /// before them belong to the content.
    fn close_triple(&mut self, quote: u8, out: &mut String) {
        let mut run = 3;
        while run < 5 && self.peek_at(run) == Some(quote) {
            run += 1;
        }
        out.extend(std::iter::repeat_n(char::from(quote), run - 3));
        self.pos += run;
    }

    /// A line break inside a multi-line string, kept as written (`\n` or `\r\n`, as the
    /// `toml` crate keeps it); a lone `\r` is an error.
    fn string_newline(&mut self, out: &mut String) -> Result<(), ParseError> {
        if self.starts_with("\r\n") {
            out.push_str("\r\n");
        } else if self.peek() == Some(b'\n') {
            out.push('\n');
        } else {
            return self.error("control character in a string");
        }
        self.skip_newline();
        Ok(())
    }

    fn skip_newline(&mut self) {
        if self.peek() == Some(b'\n') {
            self.pos += 1;
        } else if self.starts_with("\r\n") {
            self.pos += 2;
        }
    }

    fn next_char(&mut self) -> char {
        let c = self.text[self.pos..]
            .chars()
            .next()
            .expect("not at the end");
        self.pos += c.len_utf8();
        c
    }

    /// Integers, floats, `inf`/`nan`, and dates and times (kept as text).
    fn number_or_date(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.' | b':')
        }) {
            self.pos += 1;
        }
        // A date and a time may be separated by one space.
        if is_date(&self.text[start..self.pos])
            && self.peek() == Some(b' ')
            && self.peek_at(1).is_some_and(|b| b.is_ascii_digit())
            && self.peek_at(3) == Some(b':')
        {
            self.pos += 1;
            while self.peek().is_some_and(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.' | b':')
            }) {
                self.pos += 1;
            }
        }
        let token = &self.text[start..self.pos];
        if token.is_empty() {
            return self.error("expected a value");
        }
        if let Some(v) = parse_integer(token) {
            return Ok(Value::Integer(v));
        }
        if let Some(v) = parse_float(token) {
            return Ok(Value::Float(v));
        }
        if is_datetime(token) {
            return Ok(Value::Datetime(token.to_string()));
        }
        self.error_at(
            start,
            format!("`{token}` is not a TOML value (strings need quotes)"),
        )
    }
}

fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn is_bare_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn table_value(origin: Origin, span: Range<usize>) -> Spanned<Value> {
    Spanned {
        value: Value::Table(Table {
            entries: Vec::new(),
            origin,
        }),
        span,
    }
}

/// Whether an array was made by `[[...]]` (its elements are non-inline tables).
fn is_array_of_tables(items: &[Spanned<Value>]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|v| matches!(&v.value, Value::Table(t) if t.origin != Origin::Inline))
}

/// Marks an inline table and every table inside it as closed to later additions.
fn freeze(table: &mut Table) {
    table.origin = Origin::Inline;
    for (_, v) in &mut table.entries {
        if let Value::Table(t) = &mut v.value {
            freeze(t);
        }
    }
}

/// Steps into (or creates) the table `part` of `table`, for a header (`from_header`)
/// or a dotted key. The last element of an array of tables is entered.
fn descend<'t>(
    table: &'t mut Table,
    part: &Spanned<String>,
    origin: Origin,
    from_header: bool,
) -> Result<&'t mut Table, String> {
    let index = match table.position(&part.value) {
        Some(i) => i,
        None => {
            table
                .entries
                .push((part.clone(), table_value(origin, part.span.clone())));
            table.entries.len() - 1
        }
    };
    let clash = || {
        format!(
            "`{}` is already defined as something other than a table",
            part.value
        )
    };
    match &mut table.entries[index].1.value {
        Value::Table(t) => {
            let allowed = match t.origin {
                Origin::Inline => false,
                Origin::Dotted => !from_header || origin == Origin::Implicit,
                Origin::Implicit | Origin::Header => from_header,
            };
            if allowed {
                Ok(t)
            } else {
                Err(format!("`{}` cannot be extended here", part.value))
            }
        }
        Value::Array(items) if from_header => match items.last_mut() {
            Some(Spanned {
                value: Value::Table(t),
                ..
            }) if t.origin != Origin::Inline => Ok(t),
            _ => Err(clash()),
        },
        _ => Err(clash()),
    }
}

/// The table at a path of header keys, entering the last element of arrays of tables.
fn resolve_path<'t>(root: &'t mut Table, path: &[String]) -> Option<&'t mut Table> {
    let mut table = root;
    for part in path {
        let i = table.position(part)?;
        table = match &mut table.entries[i].1.value {
            Value::Table(t) => t,
            Value::Array(items) => match items.last_mut()? {
                Spanned {
                    value: Value::Table(t),
                    ..
                } => t,
                _ => return None,
            },
            _ => return None,
        };
    }
    Some(table)
}

fn digits_with_underscores(s: &str, radix: u32) -> Option<String> {
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    cleaned
        .chars()
        .all(|c| c.is_digit(radix))
        .then_some(cleaned)
}

fn parse_integer(token: &str) -> Option<i64> {
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = token.strip_prefix(prefix) {
            return i64::from_str_radix(&digits_with_underscores(rest, radix)?, radix).ok();
        }
    }
    let unsigned = token.strip_prefix(['+', '-']).unwrap_or(token);
    let digits = digits_with_underscores(unsigned, 10)?;
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    let sign = if token.starts_with('-') { "-" } else { "" };
    format!("{sign}{digits}").parse().ok()
}

fn parse_float(token: &str) -> Option<f64> {
    let unsigned = token.strip_prefix(['+', '-']).unwrap_or(token);
    let negative = token.starts_with('-');
    match unsigned {
        "inf" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int_part, fraction) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    if fraction.is_none() && exponent.is_none() {
        return None;
    }
    let int_digits = digits_with_underscores(int_part, 10)?;
    if int_digits.len() > 1 && int_digits.starts_with('0') {
        return None;
    }
    let mut text = format!("{}{int_digits}", if negative { "-" } else { "" });
    if let Some(f) = fraction {
        text.push('.');
        text.push_str(&digits_with_underscores(f, 10)?);
    }
    if let Some(e) = exponent {
        let (sign, digits) = match e.strip_prefix(['+', '-']) {
            Some(rest) => (&e[..1], rest),
            None => ("", e),
        };
        text.push('e');
        text.push_str(sign);
        text.push_str(&digits_with_underscores(digits, 10)?);
    }
    // A finite literal too large for f64 is an error, not infinity.
    text.parse().ok().filter(|v: &f64| v.is_finite())
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && all_digits(&s[..4])
        && all_digits(&s[5..7])
        && all_digits(&s[8..])
        && valid_day(
            s[..4].parse().unwrap_or(0),
            s[5..7].parse().unwrap_or(0),
            s[8..].parse().unwrap_or(0),
        )
}

fn valid_day(year: u32, month: u32, day: u32) -> bool {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `HH:MM:SS` with an optional fraction, or `HH:MM` (TOML 1.1).
fn is_time(s: &str) -> bool {
    let (clock, fraction) = match s.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (s, None),
    };
    let b = clock.as_bytes();
    let two = |r: std::ops::Range<usize>, max: u8| {
        clock.get(r).is_some_and(|d| {
            d.len() == 2 && all_digits(d) && d.parse::<u8>().is_ok_and(|n| n <= max)
        })
    };
    let hh_mm = b.len() >= 5 && b[2] == b':' && two(0..2, 23) && two(3..5, 59);
    match b.len() {
        5 => hh_mm && fraction.is_none(),
        8 => {
            hh_mm
                && b[5] == b':'
                && two(6..8, 60)
                && fraction.is_none_or(|f| !f.is_empty() && all_digits(f))
        }
        _ => false,
    }
}

/// A time with an optional offset (`Z`, `+05:30`).
fn is_time_with_offset(s: &str) -> bool {
    if let Some(t) = s.strip_suffix(['Z', 'z']) {
        return is_time(t);
    }
    if s.len() > 6 {
        let (t, offset) = s.split_at(s.len() - 6);
        let o = offset.as_bytes();
        let hours_minutes = all_digits(&offset[1..3])
            && all_digits(&offset[4..])
            && offset[1..3].parse::<u8>().is_ok_and(|h| h < 24)
            && offset[4..].parse::<u8>().is_ok_and(|m| m < 60);
        if matches!(o[0], b'+' | b'-') && o[3] == b':' && hours_minutes {
            return is_time(t);
        }
    }
    is_time(s)
}

/// Offset or local date-times, local dates, local times.
fn is_datetime(s: &str) -> bool {
    if is_date(s) || is_time(s) {
        return true;
    }
    if s.len() > 11 && is_date(&s[..10]) && matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return is_time_with_offset(&s[11..]);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(t: &'a Table, path: &[&str]) -> &'a Value {
        let (last, parents) = path.split_last().unwrap();
        &t.table_at(parents).unwrap_or(t).get(last).unwrap().value
    }

    #[test]
    fn reads_a_cargo_toml() {
        let text = r#"
# A comment
[package]
name = "x"   # trailing comment
version = "0.1.0"
authors = [
    "A <a@b>", # first
    'B',
]
date = 1979-05-27T07:32:00Z
local = 1979-05-27 07:32:00.999

[dependencies]
cc = { version = "1.2", features = ["parallel"] }
serde.workspace = true

[[bin]]
name = "one"
[[bin]]
name = "two"

[package.metadata.gpuarch]
gpus = ["A100", "L4"]
cuda = """
12.4"""
ratio = 1_000.5e-1
hex = 0xDEAD_beef
"#;
        let doc = parse(text).unwrap();
        let gpuarch = doc.table_at(&["package", "metadata", "gpuarch"]).unwrap();
        let Value::Array(gpus) = &gpuarch.get("gpus").unwrap().value else {
            panic!()
        };
        assert_eq!(gpus[1].value, Value::String("L4".into()));
        assert_eq!(&text[gpus[1].span.clone()], "\"L4\"");
        assert_eq!(get(gpuarch, &["cuda"]), &Value::String("12.4".into()));
        assert_eq!(get(gpuarch, &["hex"]), &Value::Integer(0xdead_beef));
        assert_eq!(get(gpuarch, &["ratio"]), &Value::Float(100.05));
        assert_eq!(
            get(&doc, &["dependencies", "serde", "workspace"]),
            &Value::Boolean(true)
        );
        let Value::Array(bins) = get(&doc, &["bin"]) else {
            panic!()
        };
        assert_eq!(bins.len(), 2);
        assert!(matches!(
            get(&doc, &["package", "date"]),
            Value::Datetime(_)
        ));
        assert!(matches!(
            get(&doc, &["package", "local"]),
            Value::Datetime(_)
        ));
    }

    #[test]
    fn strings() {
        let doc = parse("a = \"tab\\there \\u00e9\\U0001F600\"\nb = 'C:\\\\x'\nc = \"\"\"\\\n   joined \\\n   line\"\"\"\nd = '''\nraw ''line'''''\n").unwrap();
        assert_eq!(get(&doc, &["a"]), &Value::String("tab\there é😀".into()));
        assert_eq!(get(&doc, &["b"]), &Value::String("C:\\\\x".into()));
        assert_eq!(get(&doc, &["c"]), &Value::String("joined line".into()));
        assert_eq!(get(&doc, &["d"]), &Value::String("raw ''line''".into()));
    }

    #[test]
    fn rejects_invalid_documents_at_the_right_place() {
        let cases = [
            ("a = 1\na = 2\n", 6),
            ("[a]\n[a]\n", 5),
            ("a = \"open\n", 9),
            ("a = [1, 2\n", 10),
            ("a = b\n", 4),
            ("a = 1 b = 2\n", 6),
            ("[a\n", 2),
            ("a = { b = 1,, }\n", 12),
            ("a = 01\n", 4),
            ("a = \"\\q\"\n", 6),
            ("a.b = 1\n[a.b]\n", 11),
            ("a = {}\n[a]\n", 8),
            ("= 1\n", 0),
            ("a = 1979-13-01\n", 4),
            ("a = 5E555\n", 4),
            ("a = 2023-02-29\n", 4),
            ("a = 1980-06-21T07:32-70:32\n", 4),
        ];
        for (text, offset) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.offset, offset, "{text:?}: {}", err.message);
            assert!(
                ::toml::from_str::<::toml::Table>(text).is_err(),
                "the toml crate accepts {text:?}"
            );
        }
    }

    /// The same documents through this reader and through the `toml` crate.
    #[test]
    fn agrees_with_the_toml_crate() {
        let docs = [
            include_str!("../../Cargo.toml"),
            include_str!("../Cargo.toml"),
            include_str!("../../cargo-gpuarch/Cargo.toml"),
            include_str!("../../xtask/Cargo.toml"),
            include_str!("../data/toolkits.toml"),
            include_str!("../data/gpus.toml"),
            include_str!("../data/families.toml"),
            include_str!("../../examples/fleet/gpuarch.toml"),
            "a.b.c = 1\na.b.d = 2\na.e = 3\n[x.y]\nz = 1\n[x]\nw = 2\n",
            "[[a.b]]\nc = 1\n[a.b.d]\ne = 2\n[[a.b]]\nc = 3\n",
            "k = [[1, 2], ['x'], { y = [] }]\n'quoted key'.\"part\" = -0.0\n",
            "t = 07:32:00\nd = 2024-02-29\nn = -inf\np = +12\n",
            "a = { b = 1,\n  # note\n  c = [2], }\ne = \"\\e\\x41\"\nm = 07:32\n",
            "crlf = \"\"\"\r\none\r\ntwo\"\"\"\r\nlit = '''x\r\ny'''\r\n",
        ];
        for doc in docs {
            let ours = parse(doc).unwrap_or_else(|e| panic!("{e:?} in\n{doc}"));
            let theirs: ::toml::Table = ::toml::from_str(doc).unwrap();
            assert_eq!(to_toml(&ours), ::toml::Value::Table(theirs), "{doc}");
        }
    }

    fn to_toml(t: &Table) -> ::toml::Value {
        let mut out = ::toml::Table::new();
        for (k, v) in &t.entries {
            out.insert(k.value.clone(), value_to_toml(&v.value));
        }
        ::toml::Value::Table(out)
    }

    fn value_to_toml(v: &Value) -> ::toml::Value {
        match v {
            Value::String(s) => ::toml::Value::String(s.clone()),
            Value::Integer(i) => ::toml::Value::Integer(*i),
            Value::Float(f) => ::toml::Value::Float(*f),
            Value::Boolean(b) => ::toml::Value::Boolean(*b),
            Value::Datetime(d) => ::toml::Value::Datetime(d.replace(' ', "T").parse().unwrap()),
            Value::Array(a) => {
                ::toml::Value::Array(a.iter().map(|x| value_to_toml(&x.value)).collect())
            }
            Value::Table(t) => to_toml(t),
        }
    }

    #[test]
    fn type_names_for_messages() {
        assert_eq!(Value::Integer(1).type_name(), "an integer");
    }
}
