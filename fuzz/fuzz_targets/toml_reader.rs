//! Differential: gpuarch-build's TOML reader against the `toml` crate. Whatever one
//! accepts the other must accept, with the same values; spans must lie inside the input.
#![no_main]

use gpuarch_build::toml::{self, Table, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let ours = toml::parse(text);
    let theirs = text.parse::<::toml::Table>();
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            check_spans(&ours, text.len());
            let theirs = nan_as_marker(::toml::Value::Table(theirs));
            assert_eq!(convert(&ours), theirs, "{text:?}");
        }
        (Err(e), Err(_)) => assert!(e.offset <= text.len()),
        (Ok(_), Err(e)) => panic!("only gpuarch accepts {text:?}; toml says {e}"),
        (Err(e), Ok(_)) => panic!("only the toml crate accepts {text:?}; gpuarch says {e:?}"),
    }
});

/// NaN never equals itself: both sides compare it as the string "NaN".
fn nan_as_marker(v: ::toml::Value) -> ::toml::Value {
    match v {
        ::toml::Value::Float(f) if f.is_nan() => ::toml::Value::String("NaN".into()),
        ::toml::Value::Array(a) => ::toml::Value::Array(a.into_iter().map(nan_as_marker).collect()),
        ::toml::Value::Table(t) => ::toml::Value::Table(t.into_iter().map(|(k, v)| (k, nan_as_marker(v))).collect()),
        other => other,
    }
}

fn check_spans(t: &Table, len: usize) {
    for (k, v) in &t.entries {
        assert!(k.span.end <= len && v.span.end <= len);
        if let Value::Table(inner) = &v.value {
            check_spans(inner, len);
        }
    }
}

fn convert(t: &Table) -> ::toml::Value {
    let mut out = ::toml::Table::new();
    for (k, v) in &t.entries {
        out.insert(k.value.clone(), value(&v.value));
    }
    ::toml::Value::Table(out)
}

fn value(v: &Value) -> ::toml::Value {
    match v {
        Value::String(s) => ::toml::Value::String(s.clone()),
        Value::Integer(i) => ::toml::Value::Integer(*i),
        Value::Float(f) if f.is_nan() => ::toml::Value::String("NaN".into()),
        Value::Float(f) => ::toml::Value::Float(*f),
        Value::Boolean(b) => ::toml::Value::Boolean(*b),
        Value::Datetime(d) => d
            .parse::<::toml::value::Datetime>()
            .or_else(|_| d.replacen(' ', "T", 1).parse())
            .map(::toml::Value::Datetime)
            .unwrap_or_else(|_| ::toml::Value::String(format!("bad datetime {d}"))),
        Value::Array(a) => ::toml::Value::Array(a.iter().map(|x| value(&x.value)).collect()),
        Value::Table(t) => convert(t),
    }
}
