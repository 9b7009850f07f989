//! The little SQL both databases speak: values, rows and one trait over a connection, so the
//! store's logic (routing, lifecycle, metrics) is written once for SQLite and PostgreSQL.
//!
//! Statements use `?1`, `?2`, ... placeholders and SQL both databases accept; PostgreSQL gets
//! them rewritten to `$1`, `$2`, .... Where the two differ, [`Db::kind`] tells which one runs.

use jiff::Timestamp;

use crate::{Result, StoreError};

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Blob(Vec<u8>),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v as i64)
            }
        }
    )*};
}
from_int!(i64, i32, u32, u8, usize);

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

/// A time is stored as RFC 3339 text in UTC with always nine fractional digits
/// (`2026-11-27T10:00:00.000000000Z`): one width, so the databases' text order (`ORDER BY
/// created_at`, `resolved_at >= ?`) is time order. Times written before migration 0011 / 0004
/// had as many digits as they needed; that migration rewrote them. This and [`FromValue`] for
/// `Timestamp` (which reads any RFC 3339 form) are the only conversions.
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Text(format!("{v:.9}"))
    }
}

/// A reason is stored by its name, as the decision JSON writes it.
impl From<baton_core::reason::ReasonName> for Value {
    fn from(v: baton_core::reason::ReasonName) -> Self {
        Value::Text(v.as_str().to_string())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&T> for Value {
    fn from(v: &T) -> Self {
        v.clone().into()
    }
}

/// `vals![a, b]`: statement parameters, each taken by reference and converted to a [`Value`].
#[macro_export]
#[doc(hidden)]
macro_rules! vals {
    ($($e:expr),* $(,)?) => {
        (&[$($crate::sql::Value::from(&$e)),*] as &[$crate::sql::Value])
    };
}
pub(crate) use vals;

/// A value read back from a column.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}

macro_rules! from_value_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
from_value_int!(u32, u8, usize);

impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Timestamp {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for baton_core::reason::ReasonName {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(baton_core::reason::ReasonName::new(s)),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as a `T`, or an error naming the column and what it held.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| {
            StoreError::Other(format!(
                "column {i} holds {v:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Column `i`, text parsed by `parse`, or an error saying the stored `what` is not valid.
    pub fn parse<T>(&self, i: usize, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
        let s: String = self.get(i)?;
        parse(&s).ok_or_else(|| bad_value(what, &s))
    }
}

/// A stored value that does not parse.
pub fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} `{value}` is not valid"))
}

/// Which database runs a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// An event a write adds, before it has its sequence number.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: baton_core::event::EventKind,
    pub subject: String,
    pub payload: String,
    pub at: Timestamp,
}

/// A connection (or transaction) that runs statements.
pub trait Db {
    fn kind(&self) -> Kind;

    /// Where the events a write adds wait for the end of its transaction, if they do: PostgreSQL
    /// writes them last, after claiming their numbers (see [`crate::postgres`]). `None`: each is written
    /// at once.
    fn deferred_events(&self) -> Option<&std::cell::RefCell<Vec<NewEvent>>> {
        None
    }

    /// Waits for this write's turn to decide where handoffs go, for a write that first writes
    /// what is its own alone (an escalation's message and its new handoff) and routes after: on
    /// PostgreSQL the routing lock (see [`crate::postgres`]), held to the end of the transaction;
    /// SQLite's single writer has its turn already.
    fn take_routing_turn(&self) -> Result<()> {
        Ok(())
    }

    /// Runs a statement; returns how many rows it changed.
    fn exec(&self, sql: &str, params: &[Value]) -> Result<usize>;
    /// Runs a query, calling `each` with every row in order.
    fn each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()>;

    /// Every row of a query, each turned into a `T`.
    fn rows_as<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>>
    where
        Self: Sized,
    {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, if any.
    fn row(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        let mut first = None;
        self.each(sql, params, &mut |r| {
            if first.is_none() {
                first = Some(r.clone());
            }
            Ok(())
        })?;
        Ok(first)
    }

    /// The first column of the first row (a count, an id).
    fn scalar<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<T>
    where
        Self: Sized,
    {
        self.row(sql, params)?
            .ok_or_else(|| StoreError::Other(format!("no row from `{sql}`")))?
            .get(0)
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (outside quoted strings).
pub fn to_dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_strings() {
        assert_eq!(
            to_dollar_placeholders("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }

    #[test]
    fn values_convert_both_ways() {
        let owned = String::from("x");
        let none: Option<&str> = None;
        let params = vals![owned, "y", 3u32, 2.5, true, none, Some(7i64)];
        assert_eq!(
            params,
            [
                Value::Text("x".into()),
                Value::Text("y".into()),
                Value::Int(3),
                Value::Real(2.5),
                Value::Bool(true),
                Value::Null,
                Value::Int(7)
            ]
        );
        let row = Row(vec![Value::Int(1), Value::Null, Value::Int(300)]);
        assert!(row.get::<bool>(0).unwrap());
        assert_eq!(row.get::<Option<String>>(1).unwrap(), None);
        assert!(row.get::<u8>(2).is_err(), "300 is not a u8");
        assert!(row.get::<String>(0).is_err());
    }

    #[test]
    fn times_are_stored_at_one_width_and_read_in_any_form() {
        for (text, stored) in [
            ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.000000000Z"),
            ("2026-11-27T10:00:00.25Z", "2026-11-27T10:00:00.250000000Z"),
            (
                "2026-11-27T10:00:00.123456789Z",
                "2026-11-27T10:00:00.123456789Z",
            ),
        ] {
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(Value::from(t), Value::Text(stored.into()));
            for form in [text, stored] {
                let row = Row(vec![Value::Text(form.into())]);
                assert_eq!(row.get::<Timestamp>(0).unwrap(), t);
            }
        }
        let bad = Row(vec![Value::Text("yesterday".into()), Value::Null]);
        let e = bad.get::<Timestamp>(0).unwrap_err().to_string();
        assert!(e.contains("yesterday"), "{e}");
        assert_eq!(bad.get::<Option<Timestamp>>(1).unwrap(), None);
    }

    proptest::proptest! {
        /// Text order of stored times is time order (years 1970..9999, any nanosecond), and the
        /// text reads back as the same time.
        #[test]
        fn stored_text_sorts_as_time(a in 0i64..253_402_300_799, an in 0i32..1_000_000_000,
                                     b in 0i64..253_402_300_799, bn in 0i32..1_000_000_000) {
            let (ta, tb) = (Timestamp::new(a, an).unwrap(), Timestamp::new(b, bn).unwrap());
            let (Value::Text(sa), Value::Text(sb)) = (Value::from(ta), Value::from(tb)) else {
                panic!("a time is stored as text");
            };
            proptest::prop_assert_eq!(sa.len(), 30);
            proptest::prop_assert_eq!(sa.cmp(&sb), ta.cmp(&tb));
            proptest::prop_assert_eq!(Row(vec![Value::Text(sa)]).get::<Timestamp>(0).unwrap(), ta);
        }
    }
}
